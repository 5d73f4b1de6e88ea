"""Shared fixtures: databases (SQLite, PostgreSQL), App keys, the fake GitHub, signed deliveries."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from sqlalchemy import text

from gate.app import create_app
from gate.github import RetryPolicy
from gate.settings import Settings
from gate.store import Database
from tests.fakes import OPENAPI_PATH, SHARED, FakeGitHub
from tests.gitrepo import GitRepo, lines

WEBHOOKS = SHARED / "conformance" / "github-webhooks"
WEBHOOK_SECRET = "it's a secret to everybody"
APP_ID = 4242
POSTGRES_URL = os.environ.get("GATE_TEST_DATABASE_URL")

needs_shared = pytest.mark.skipif(
    not WEBHOOKS.is_dir() or not OPENAPI_PATH.is_file(),
    reason="../shared (GitHub's webhook payloads, OpenAPI description) is not beside the checkout",
)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each test that stores anything runs on SQLite and, where configured, on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'gate.db'}"
        return
    if not POSTGRES_URL:
        pytest.skip("GATE_TEST_DATABASE_URL is not set: PostgreSQL run skipped")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = Database(POSTGRES_URL)
    with admin.engine.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in POSTGRES_URL else "?"
    yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    with admin.engine.begin() as connection:
        connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    database.migrate()
    yield database
    database.dispose()


@pytest.fixture(scope="session")
def app_key() -> tuple[str, str]:
    """A fresh RSA key pair for the test App: (private PEM, public PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


@pytest.fixture
def fake_github(app_key: tuple[str, str]) -> Iterator[FakeGitHub]:
    if not OPENAPI_PATH.is_file():
        pytest.skip("../shared/conformance/github-openapi is absent: cannot validate requests")
    fake = FakeGitHub(app_id=APP_ID, public_key_pem=app_key[1])
    yield fake
    assert fake.violations == [], "the app sent requests GitHub would refuse"


@pytest.fixture
def remotes(tmp_path: Path) -> Path:
    """Where the test's 'GitHub' repositories live, as owner/name directories."""
    path = tmp_path / "remotes"
    path.mkdir()
    return path


@pytest.fixture
def settings(
    database_url: str, app_key: tuple[str, str], tmp_path: Path, remotes: Path
) -> Settings:
    return Settings(
        app_id=APP_ID,
        private_key=app_key[0],
        webhook_secret=WEBHOOK_SECRET,
        database_url=database_url,
        git_url_template=str(remotes / "{full_name}"),
        mirror_dir=tmp_path / "mirrors",
        public_url="https://gate.example.com",
        worker_threads=2,
        job_lease_seconds=30,
        recovery_interval_minutes=0,  # tests that want the recovery thread turn it on
        log_json=False,
    )


def no_sleep(_seconds: float) -> None:
    pass


@pytest.fixture
def make_client(settings: Settings, fake_github: FakeGitHub) -> Iterator[Callable[..., TestClient]]:
    """Start the app (and its worker) against the fake GitHub; several times for restart tests."""
    clients: list[TestClient] = []

    def start(**overrides: Any) -> TestClient:
        app = create_app(
            settings.model_copy(update=overrides),
            github_transport=fake_github.transport,
            retry=RetryPolicy(sleep=no_sleep),
        )
        client = TestClient(app)
        client.__enter__()
        clients.append(client)
        return client

    yield start
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client()


def sign(body: bytes, secret: str = WEBHOOK_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def deliver(
    client: TestClient,
    event: str,
    body: bytes | dict[str, Any],
    delivery_id: str | None = None,
    signature: str | None = None,
) -> Any:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery_id or str(uuid.uuid4()),
        "X-Hub-Signature-256": signature if signature is not None else sign(raw),
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/test",
    }
    return client.post("/webhooks/github", content=raw, headers=headers)


GATE_SCRIPT = Path(sys.executable).with_name("gate")  # the console script pip installed


def gate(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run `gate ARGS` as a user does: the installed console script, in its own process."""
    return subprocess.run(
        [str(GATE_SCRIPT), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "GATE_LOG_JSON": "false", **(env or {})},
        timeout=timeout,
    )


def wait_until(condition: Callable[[], Any], timeout: float = 20.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what or condition}")


def real_payload(event: str, name: str) -> dict[str, Any]:
    return json.loads((WEBHOOKS / event / f"{name}.json").read_text())


def pr_payload(
    action: str, repo: str, number: int, base_sha: str, head_sha: str, **extra: Any
) -> dict[str, Any]:
    """GitHub's real pull_request delivery, pointed at a repository the test built."""
    payload = real_payload("pull_request", "opened" if action == "ready_for_review" else action)
    payload["action"] = action
    owner, name = repo.split("/")
    payload["repository"]["full_name"] = repo
    payload["repository"]["name"] = name
    payload["repository"]["owner"]["login"] = owner
    pr = payload["pull_request"]
    pr["number"] = payload["number"] = number
    pr["base"]["sha"], pr["head"]["sha"] = base_sha, head_sha
    pr["labels"] = extra.pop("labels", [])
    payload.setdefault("installation", {"id": 1})
    payload.update(extra)
    return payload


class ProjectRepo:
    """A repository the fake GitHub serves, with a base branch and pull requests."""

    def __init__(self, remotes: Path, full_name: str = "octo-org/shop") -> None:
        self.full_name = full_name
        self.repo = GitRepo(remotes / full_name)
        self.base = self.repo.commit(
            "initial",
            {
                "README.md": "# shop\n",
                "payments/charge.py": lines(120, "charge"),
                "web/app.py": lines(80, "app"),
                "docs/guide.md": lines(30, "doc"),
            },
        )

    def pull_request(self, number: int, files: dict[str, str | bytes | None]) -> str:
        """Commit `files` on a PR branch off master; publish refs/pull/N/head like GitHub."""
        self.repo.branch(f"pr-{number}", "master")
        head = self.repo.commit(f"change for #{number}", files)
        self.repo.set_ref(f"refs/pull/{number}/head", head)
        self.repo.checkout("master")
        return head
