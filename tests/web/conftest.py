"""The console's fixtures: people with access, held changes in the store, a signed-in client."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from gate.store import Database
from gate.store.tables import Assessment, Deployment, ServiceFreeze, Watch, utcnow
from tests.fake_people import CLIENT_ID, CLIENT_SECRET
from tests.fakes import FakeGitHub

SHOP = "octo-org/shop"  # alice (admin) and bob (write) read it
SECRET_REPO = "octo-org/vault"  # only carol reads it
INSTALLATION = 7


@dataclass
class Held:
    pr: int  # assessment id of the held pull request
    check_run: int
    deploy: int  # assessment id of the held deployment
    deployment: int  # its deployment id
    vault: int  # a held pull request of the repository alice cannot read


def png() -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure = plt.figure(figsize=(2, 1))
    figure.gca().plot([0, 1], [1, 0])
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return buffer.getvalue()


def seed(db: Database, fake: FakeGitHub) -> Held:
    """Held changes as the webhook handlers leave them, and GitHub's view of who reads what."""
    fake.people.access = {
        "alice": {INSTALLATION: [SHOP]},
        "bob": {INSTALLATION: [SHOP]},
        "carol": {INSTALLATION: [SECRET_REPO]},
    }
    fake.permissions.update({"alice": "admin", "bob": "write", "carol": "admin"})
    now = utcnow()
    check_run = 5001
    fake.check_runs[check_run] = {
        "id": check_run,
        "name": "risk-gate",
        "head_sha": "a" * 40,
        "status": "completed",
        "conclusion": "action_required",
    }
    reasons = [{"text": "touches payments/charge.py, where 3 of the last 10 changes failed"}]
    with db.session() as session:
        pr = Assessment(
            kind="pr",
            repository=SHOP,
            pr_number=12,
            base_sha="b" * 40,
            head_sha="a" * 40,
            features={"lines_added": 420.0, "coverage_new_lines": 0.1},
            score=0.91,
            level="high",
            decision="hold",
            reasons=reasons,
            check_run_id=check_run,
            held_at=now - timedelta(hours=3),
            policy_version="defaults",
        )
        deploy = Assessment(
            kind="deploy",
            repository=SHOP,
            base_sha="c" * 40,
            head_sha="d" * 40,
            score=0.7,
            level="high",
            decision="hold",
            reasons=[{"text": "a deploy of 14 commits"}],
            held_at=now - timedelta(hours=1),
        )
        vault = Assessment(
            kind="pr",
            repository=SECRET_REPO,
            pr_number=99,
            base_sha="e" * 40,
            head_sha="f" * 40,
            score=0.95,
            level="high",
            decision="hold",
            reasons=[{"text": "vault-secret-reason"}],
            held_at=now - timedelta(hours=5),
        )
        session.add_all([pr, deploy, vault])
        session.flush()
        deployment = Deployment(
            repository=SHOP,
            environment="production",
            sha="d" * 40,
            installation_id=INSTALLATION,
            run_id=777,
            assessment_id=deploy.id,
            source="protection_rule",
            state="held",
            expires_at=now + timedelta(hours=20),
        )
        session.add(deployment)
        session.flush()
        session.add(
            Watch(
                deployment_id=deployment.id,
                repository=SHOP,
                environment="production",
                sha="d" * 40,
                deployed_at=now - timedelta(minutes=30),
                ends_at=now + timedelta(minutes=30),
                state="regressed",
                looks=3,
                verdict={"verdict": "regressed", "summary": "error rate up 4x"},
                evidence_png=png(),
            )
        )
        session.add(
            ServiceFreeze(
                repository=SHOP, environment="production", service="*", reason="regressed"
            )
        )
        held = Held(pr.id, check_run, deploy.id, deployment.id, vault.id)
    return held


@pytest.fixture
def console_settings() -> dict[str, Any]:
    return {
        "github_client_id": CLIENT_ID,
        # model_copy(update=...) does not validate: secrets go in as SecretStr
        "github_client_secret": SecretStr(CLIENT_SECRET),
        "session_secret": SecretStr("console-session-secret"),
    }


@pytest.fixture
def console(
    make_client: Callable[..., TestClient], fake_github: FakeGitHub, console_settings: dict
) -> tuple[TestClient, Held]:
    client = make_client(**console_settings)
    held = seed(client.app.state.services.db, fake_github)
    # the cookies are Secure (public_url is https): the client must speak https
    client.base_url = httpx.URL("https://gate.example.com")
    return client, held


def sign_in(client: TestClient, fake: FakeGitHub, login: str) -> TestClient:
    """The OAuth web flow as a browser takes it, GitHub's side answered by the fake."""
    client.cookies.clear()
    fake.people.signing_in = login
    start = client.get("/login/github", params={"next": "/"}, follow_redirects=False)
    assert start.status_code == 303, start.text
    authorized = fake.handle(httpx.Request("GET", start.headers["location"]))
    assert authorized.status_code == 302, authorized.text
    back = urlsplit(authorized.headers["location"])
    assert back.path == "/login/callback"
    done = client.get(f"/login/callback?{back.query}", follow_redirects=False)
    assert done.status_code == 303, done.text
    return client


def form_token(html: str) -> str:
    marker = 'name="csrf" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


def query_of(location: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(location).query)
