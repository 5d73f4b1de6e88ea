"""Hostile and odd deliveries: form encoding, a streamed size limit, odd headers, bad strings."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import func, select

from gate.store import Delivery, Job
from gate.webhooks.intake import MAX_BODY_BYTES
from tests.conftest import APP_ID, GATE_SCRIPT, WEBHOOK_SECRET, WEBHOOKS, deliver, sign, wait_until

pytestmark = pytest.mark.skipif(not WEBHOOKS.is_dir(), reason="../shared is absent")


def stored(client) -> list[Delivery]:
    with client.app.state.services.db.session() as session:
        return list(session.scalars(select(Delivery).order_by(Delivery.id)))


def job_count(client) -> int:
    with client.app.state.services.db.session() as session:
        return session.scalar(select(func.count()).select_from(Job)) or 0


def headers(body: bytes, event: str = "ping", **extra: str | bytes) -> dict[str, str | bytes]:
    return {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": str(uuid.uuid4()),
        "X-Hub-Signature-256": sign(body),
        "Content-Type": "application/json",
        **extra,
    }


def ping() -> bytes:
    return (WEBHOOKS / "ping" / "ping.json").read_bytes()


def button() -> bytes:
    return (WEBHOOKS / "check_run" / "requested_action.json").read_bytes()


def form(payload: bytes) -> bytes:
    return urlencode({"payload": payload.decode()}).encode()


def test_a_form_encoded_delivery_is_stored_as_its_json_and_processed_like_json(client):
    sent = {}
    for kind, body, content_type in [
        ("json", button(), "application/json"),
        ("form", form(button()), "application/x-www-form-urlencoded; charset=utf-8"),
    ]:
        response = client.post(
            "/webhooks/github",
            content=body,
            headers=headers(body, "check_run", **{"Content-Type": content_type}),
        )
        assert response.status_code == 202, response.text
        sent[kind] = response.json()["delivery"]
    rows = {row.delivery_id: row for row in stored(client)}
    form_row, json_row = rows[sent["form"]], rows[sent["json"]]
    assert json.loads(form_row.payload) == json.loads(button())
    assert (form_row.event, form_row.action, form_row.repository, form_row.installation_id) == (
        json_row.event,
        json_row.action,
        json_row.repository,
        json_row.installation_id,
    )

    def outcomes() -> tuple[str, str] | None:
        with client.app.state.services.db.session() as session:
            found = tuple(
                session.scalar(select(Delivery.outcome).where(Delivery.delivery_id == sent[kind]))
                for kind in ("json", "form")
            )
        return found if "queued" not in found else None

    json_outcome, form_outcome = wait_until(outcomes, what="both deliveries processed")
    assert form_outcome == json_outcome


@pytest.mark.parametrize(
    "body",
    [
        b"payload=%7B",  # not JSON
        b"other=1",
        urlencode({"payload": "{}", "other": "1"}).encode(),
        b"payload=%FF%FE",  # not UTF-8
        b"payload=\xff",  # not ASCII, as a form must be
        b"",
    ],
    ids=["not-json", "no-payload", "two-fields", "bad-utf8", "raw-byte", "empty"],
)
def test_a_bad_form_is_400_and_nothing_is_stored(client, body):
    response = client.post(
        "/webhooks/github",
        content=body,
        headers=headers(body, **{"Content-Type": "application/x-www-form-urlencoded"}),
    )
    assert response.status_code == 400
    assert stored(client) == [] and job_count(client) == 0


@pytest.mark.parametrize(
    "signature",
    [b"sha256=\xff" + b"0" * 63, b"sha256=\xe9t\xe9", ("sha256=" + "é" * 64).encode()],
    ids=["xff", "latin-1", "64-non-ascii"],
)
def test_a_non_ascii_signature_header_is_401_not_500(client, signature):
    body = ping()
    response = client.post(
        "/webhooks/github",
        content=body,
        headers=headers(body, **{"X-Hub-Signature-256": signature}),
    )
    assert response.status_code == 401
    assert stored(client) == []


@pytest.mark.parametrize(
    ("event", "delivery_id"),
    [(b"pi\xffng", "d-1"), ("ping", b"\xff" * 8), ("ping", "a b"), ("x" * 65, "d-2")],
    ids=["event-byte", "delivery-byte", "space", "long-event"],
)
def test_odd_event_or_delivery_headers_are_400(client, event, delivery_id):
    body = ping()
    response = client.post(
        "/webhooks/github",
        content=body,
        headers=headers(body, **{"X-GitHub-Event": event, "X-GitHub-Delivery": delivery_id}),
    )
    assert response.status_code == 400
    assert stored(client) == []


def _with(field: str, raw_json_value: str) -> bytes:
    """The button delivery with `field` set to a raw JSON value (escapes kept as sent)."""
    payload = json.loads(button())
    marker = "@@MARKER@@"
    if field == "action":
        payload["action"] = marker
    else:
        payload["repository"]["full_name"] = marker
    return json.dumps(payload).replace(f'"{marker}"', raw_json_value).encode()


@pytest.mark.parametrize(
    ("field", "value", "why"),
    [
        ("repository", r'"octo\ud800cat/repo"', "surrogate"),
        ("action", r'"requested\udfff"', "surrogate"),
        ("action", r'"requested\u0000"', "NUL"),
        ("repository", r'"octo\u0000cat/repo"', "NUL"),
        ("action", '"' + "a" * 65 + '"', "longer than 64"),
        ("repository", '"' + "o/" + "r" * 255 + '"', "longer than 256"),
    ],
    ids=[
        "surrogate-repo",
        "surrogate-action",
        "nul-action",
        "nul-repo",
        "long-action",
        "long-repo",
    ],
)
def test_strings_no_database_stores_are_400_and_nothing_is_stored(client, field, value, why):
    body = _with(field, value)
    response = client.post("/webhooks/github", content=body, headers=headers(body, "check_run"))
    assert response.status_code == 400, response.text
    assert field in response.json()["detail"] and why.split()[0] in response.json()["detail"]
    assert stored(client) == [] and job_count(client) == 0
    # the same delivery with storable strings is accepted
    fine = _with(field, '"octo/repo"' if field == "repository" else '"requested_action"')
    assert client.post("/webhooks/github", content=fine, headers=headers(fine)).status_code == 202


def test_a_chunked_body_over_the_limit_is_413_and_nothing_is_stored(client):
    def chunks():
        piece = b" " * (1024 * 1024)
        for _ in range(MAX_BODY_BYTES // len(piece) + 2):
            yield piece

    response = client.post("/webhooks/github", content=chunks(), headers=headers(b""))
    assert response.status_code == 413
    assert stored(client) == [] and job_count(client) == 0


def test_a_body_of_exactly_the_limit_is_read(client):
    body = ping()
    padded = body + b" " * (MAX_BODY_BYTES - len(body))  # JSON allows trailing whitespace
    assert deliver(client, "ping", padded).status_code == 202


def _peak_rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM")))


def _stream_chunked(port: int, total: int) -> bytes:
    """POST `total` bytes, chunked, from a thread while this one reads the answer."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.settimeout(60)
    head = (
        "POST /webhooks/github HTTP/1.1\r\nHost: gate\r\nTransfer-Encoding: chunked\r\n"
        "X-GitHub-Event: ping\r\nX-GitHub-Delivery: big-1\r\n"
        f"X-Hub-Signature-256: sha256={'0' * 64}\r\nContent-Type: application/json\r\n\r\n"
    )
    piece = b" " * (1024 * 1024)
    frame = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"

    def send() -> None:
        try:
            sock.sendall(head.encode())
            for _ in range(total // len(piece)):
                sock.sendall(frame)
            sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server answered and closed: the rest is never read

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    answer = b""
    try:
        while b"\r\n\r\n" not in answer:
            received = sock.recv(65536)
            if not received:
                break
            answer += received
    finally:
        sender.join(60)
        sock.close()
    return answer


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc for peak RSS")
def test_a_300_mb_chunked_body_raises_the_servers_peak_memory_by_under_50_mb(
    tmp_path: Path, app_key: tuple[str, str]
):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "GATE_APP_ID": str(APP_ID),
        "GATE_PRIVATE_KEY": app_key[0],
        "GATE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "GATE_DATABASE_URL": f"sqlite:///{tmp_path / 'gate.db'}",
        "GATE_WORKER_ENABLED": "false",
        "GATE_LOG_JSON": "false",
    }
    server = subprocess.Popen(
        [str(GATE_SCRIPT), "serve", "--port", str(port)],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"

        def healthy() -> bool:
            try:
                return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(healthy, timeout=90, what="gate serve")
        body = ping()
        warm = httpx.post(f"{url}/webhooks/github", content=body, headers=headers(body))
        assert warm.status_code == 202
        time.sleep(0.2)
        before = _peak_rss_kib(server.pid)
        answer = _stream_chunked(port, 300 * 1024 * 1024)
        after = _peak_rss_kib(server.pid)
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        assert (after - before) / 1024 < 50, f"peak RSS grew {(after - before) / 1024:.0f} MiB"
        assert healthy()
    finally:
        server.terminate()
        server.wait(30)
