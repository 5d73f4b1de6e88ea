"""OIDC keys: cached as the issuer's headers say, fetched at most once a minute, 503 when the
issuer is unreachable, and waiting on them never holds up the webhook intake."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
import uvicorn
from jwt.algorithms import RSAAlgorithm

from gate.api.jwks import (
    DEFAULT_MAX_AGE_SECONDS,
    MAX_AGE_CAP_SECONDS,
    MIN_REFRESH_SECONDS,
    JWKSCache,
    JWKSUnavailable,
    cache_seconds,
)
from gate.api.oidc import OIDCError, OIDCVerifier
from tests.api.test_gate import AUDIENCE, ISSUER, oidc_token, signing_keys  # noqa: F401
from tests.conftest import WEBHOOKS, sign, wait_until


def jwks_document(signing_keys, kids=("actions-1",)) -> dict:  # noqa: F811
    keys = []
    for kid in kids:
        public = json.loads(RSAAlgorithm.to_jwk(signing_keys[kid].public_key()))
        keys.append({**public, "kid": kid, "alg": "RS256"})
    return {"keys": keys}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Issuer:
    """A JWKS endpoint behind httpx.MockTransport: counts requests, answers as told."""

    def __init__(self, document: dict, cache_control: str | None = None) -> None:
        self.document = document
        self.cache_control = cache_control
        self.down = False
        self.requests = 0

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        headers = {"cache-control": self.cache_control} if self.cache_control else {}
        return httpx.Response(200, json=self.document, headers=headers)


def verifier(issuer: Issuer, clock: Clock) -> OIDCVerifier:
    made = OIDCVerifier(
        ISSUER, AUDIENCE, "https://issuer.test/jwks", transport=httpx.MockTransport(issuer.handle)
    )
    assert isinstance(made.keys, JWKSCache)
    made.keys.clock = clock
    return made


def verify(made: OIDCVerifier, token: str):
    return asyncio.run(made.verify(token))


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        (None, DEFAULT_MAX_AGE_SECONDS),
        ("public, max-age=600", 600),
        ("max-age=5", MIN_REFRESH_SECONDS),
        ("max-age=99999999", MAX_AGE_CAP_SECONDS),
        ("no-store", MIN_REFRESH_SECONDS),
        ("no-cache, max-age=600", MIN_REFRESH_SECONDS),
        ("s-maxage=10, max-age=900", 900),
        ("private", DEFAULT_MAX_AGE_SECONDS),
    ],
)
def test_cache_lifetime_follows_cache_control_within_bounds(header, seconds):
    assert cache_seconds(header) == seconds


def test_keys_are_cached_for_max_age_then_fetched_again(signing_keys):  # noqa: F811
    issuer, clock = Issuer(jwks_document(signing_keys), "max-age=600"), Clock()
    made = verifier(issuer, clock)
    for _ in range(5):
        assert verify(made, oidc_token(signing_keys)).repository == "octo-org/shop"
    assert issuer.requests == 1
    clock.now += 599
    verify(made, oidc_token(signing_keys))
    assert issuer.requests == 1
    clock.now += 2
    verify(made, oidc_token(signing_keys))
    assert issuer.requests == 2


def test_unknown_key_ids_fetch_at_most_once_a_minute(signing_keys):  # noqa: F811
    issuer, clock = Issuer(jwks_document(signing_keys)), Clock()
    made = verifier(issuer, clock)
    verify(made, oidc_token(signing_keys))
    clock.now += MIN_REFRESH_SECONDS  # past the floor: one refresh is allowed
    stranger = oidc_token(signing_keys, kid="stranger", key=signing_keys["stranger"])
    for _ in range(100):
        with pytest.raises(OIDCError, match="does not publish"):
            verify(made, stranger)
    assert issuer.requests == 2
    # the issuer rotates in the new key; a minute later the next unknown kid finds it
    issuer.document = jwks_document(signing_keys, ("actions-1", "stranger"))
    clock.now += MIN_REFRESH_SECONDS
    assert verify(made, stranger).repository == "octo-org/shop"
    assert issuer.requests == 3


def test_an_unreachable_issuer_is_unavailable_with_a_retry_after(signing_keys):  # noqa: F811
    issuer, clock = Issuer(jwks_document(signing_keys)), Clock()
    issuer.down = True
    made = verifier(issuer, clock)
    with pytest.raises(JWKSUnavailable) as raised:
        verify(made, oidc_token(signing_keys))
    assert 1 <= raised.value.retry_after <= MIN_REFRESH_SECONDS
    for _ in range(20):  # no second fetch within the minute, and still no 500
        with pytest.raises(JWKSUnavailable):
            verify(made, oidc_token(signing_keys))
    assert issuer.requests == 1
    issuer.down = False
    clock.now += MIN_REFRESH_SECONDS
    assert verify(made, oidc_token(signing_keys)).repository == "octo-org/shop"


def test_known_keys_still_serve_while_the_issuer_is_down(signing_keys):  # noqa: F811
    issuer, clock = Issuer(jwks_document(signing_keys), "max-age=60"), Clock()
    made = verifier(issuer, clock)
    verify(made, oidc_token(signing_keys))
    issuer.down = True
    clock.now += 120
    assert verify(made, oidc_token(signing_keys)).repository == "octo-org/shop"
    assert issuer.requests == 2


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(500),
        httpx.Response(200, content=b"not json"),
        httpx.Response(200, json=[1, 2]),
        httpx.Response(200, json={"keys": "no"}),
    ],
    ids=["500", "not-json", "a-list", "bad-keys"],
)
def test_a_broken_jwks_answer_is_unavailable_not_a_crash(signing_keys, answer):  # noqa: F811
    made = OIDCVerifier(
        ISSUER,
        AUDIENCE,
        "https://issuer.test/jwks",
        transport=httpx.MockTransport(lambda _: answer),
    )
    with pytest.raises(JWKSUnavailable):
        verify(made, oidc_token(signing_keys))


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_api_answers_503_with_retry_after_when_the_jwks_is_unreachable(
    make_client,
    signing_keys,  # noqa: F811
    closed_port,
):
    client = make_client(oidc_jwks_url=f"http://127.0.0.1:{closed_port}/jwks")
    headers = {"Authorization": f"Bearer {oidc_token(signing_keys)}"}
    for _ in range(3):
        response = client.get("/api/v1/assessments/1", headers=headers)
        assert response.status_code == 503, response.text
        assert 1 <= int(response.headers["retry-after"]) <= MIN_REFRESH_SECONDS


class HangingIssuer:
    """A JWKS server whose every answer waits for `release`."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.arrived = threading.Event()
        self.requests = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.requests += 1
                owner.arrived.set()
                owner.release.wait(120)
                body = b'{"keys": []}'
                self.send_response(200)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/jwks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()


@pytest.fixture
def hanging() -> Iterator[HangingIssuer]:
    issuer = HangingIssuer()
    yield issuer
    issuer.close()


@pytest.mark.skipif(not WEBHOOKS.is_dir(), reason="../shared is absent")
def test_sixty_bad_tokens_waiting_on_a_hung_jwks_do_not_hold_up_a_webhook(
    make_client,
    signing_keys,  # noqa: F811
    hanging: HangingIssuer,
    closed_port,
):
    client = make_client(oidc_jwks_url=hanging.url)
    client.app.state.oidc.keys.timeout = 120  # the fetch hangs for as long as the test wants
    server = uvicorn.Server(
        uvicorn.Config(
            client.app, host="127.0.0.1", port=closed_port, log_level="warning", lifespan="off"
        )
    )
    threading.Thread(target=server.run, daemon=True).start()
    wait_until(lambda: server.started, what="uvicorn")
    url = f"http://127.0.0.1:{closed_port}"
    answers: list[int] = []

    def bad_token(index: int) -> None:
        token = oidc_token(signing_keys, kid=f"made-up-{index}", key=signing_keys["stranger"])
        response = httpx.get(
            f"{url}/api/v1/assessments/1", headers={"Authorization": f"Bearer {token}"}, timeout=180
        )
        answers.append(response.status_code)

    callers = [threading.Thread(target=bad_token, args=(i,), daemon=True) for i in range(60)]
    try:
        for thread in callers:
            thread.start()
        assert hanging.arrived.wait(30), "no JWKS fetch started"
        body = (WEBHOOKS / "ping" / "ping.json").read_bytes()
        webhook = httpx.post(
            f"{url}/webhooks/github",
            content=body,
            headers={
                "X-GitHub-Event": "ping",
                "X-GitHub-Delivery": str(uuid.uuid4()),
                "X-Hub-Signature-256": sign(body),
                "Content-Type": "application/json",
            },
            timeout=60,
        )
        # answered while every token still waits on the hung issuer
        assert webhook.status_code == 202
        assert answers == [] and not hanging.release.is_set()
        hanging.release.set()
        for thread in callers:
            thread.join(60)
        assert len(answers) == 60 and set(answers) <= {401, 503}, answers
        assert hanging.requests == 1  # one fetch for sixty unknown key ids
    finally:
        hanging.release.set()
        server.should_exit = True
