"""Who may read what: report, decisions and assessments need a credential, scoped to its repository
(an admin token reads every repository and acts on none); a report's span is bounded."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from jwt.algorithms import RSAAlgorithm

from gate.store import audit
from gate.store.tables import Assessment, Deployment
from gate.store.tokens import ADMIN_SCOPE, create_token, revoke_tokens

OURS, THEIRS = "octo-org/shop", "octo-org/bank"
KID = "access-1"
READS = ["report", "decisions", "assessment"]


@pytest.fixture(scope="module")
def signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def app(
    make_client: Callable[..., TestClient], signing_key: rsa.RSAPrivateKey, tmp_path: Path
) -> TestClient:
    public = json.loads(RSAAlgorithm.to_jwk(signing_key.public_key()))
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [{**public, "kid": KID, "alg": "RS256"}]}))
    return make_client(oidc_jwks_path=jwks)


def oidc(key: rsa.RSAPrivateKey, repository: str) -> str:
    now = int(time.time())
    claims = {
        "iss": "https://token.actions.githubusercontent.com",
        "aud": "riskgate",
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "repository": repository,
    }
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": KID})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def seed(app: TestClient) -> dict[str, int]:
    """One assessment and one audit entry in each repository: their assessment ids."""
    db = app.app.state.services.db
    ids = {}
    for repository in (OURS, THEIRS):
        with db.session() as session:
            row = Assessment(kind="pr", repository=repository, base_sha="a" * 40, head_sha="b" * 40)
            session.add(row)
            session.flush()
            ids[repository] = row.id
        audit.record(db, actor="riskgate", action="test", reason="seeded", repository=repository)
    return ids


def read(app: TestClient, what: str, repository: str, ids: dict[str, int], token: str | None):
    headers = bearer(token) if token is not None else {}
    if what == "assessment":
        return app.get(f"/api/v1/assessments/{ids[repository]}", headers=headers)
    params = {"repo": repository} | ({"since": "2024-06-01"} if what == "report" else {})
    if what == "report":
        params["until"] = "2024-12-01"
    return app.get(f"/api/v1/{what}", params=params, headers=headers)


@pytest.mark.parametrize("what", READS)
def test_reading_needs_a_credential(app: TestClient, what: str):
    ids = seed(app)
    for token in (None, "garbage", "rg_not-a-token"):
        response = read(app, what, OURS, ids, token)
        assert response.status_code == 401, (token, response.text)
        assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("what", READS)
def test_a_repository_token_reads_its_repository_only(app: TestClient, what: str):
    ids = seed(app)
    token = create_token(app.app.state.services.db, OURS, "ci")
    assert read(app, what, OURS, ids, token).status_code == 200
    other = read(app, what, THEIRS, ids, token)
    # another repository's assessment ids are not even confirmed to exist
    assert other.status_code == (404 if what == "assessment" else 403), other.text


@pytest.mark.parametrize("what", READS)
def test_an_actions_oidc_token_reads_its_repository_only(
    app: TestClient, signing_key: rsa.RSAPrivateKey, what: str
):
    ids = seed(app)
    token = oidc(signing_key, OURS)
    assert read(app, what, OURS, ids, token).status_code == 200
    assert read(app, what, THEIRS, ids, token).status_code in (403, 404)


@pytest.mark.parametrize("what", READS)
def test_an_admin_token_reads_every_repository(app: TestClient, what: str):
    ids = seed(app)
    token = create_token(app.app.state.services.db, ADMIN_SCOPE, "ops")
    for repository in (OURS, THEIRS):
        response = read(app, what, repository, ids, token)
        assert response.status_code == 200, response.text
    if what == "assessment":
        assert read(app, what, THEIRS, ids, token).json()["repository"] == THEIRS


def test_an_admin_token_acts_on_no_repository(app: TestClient):
    token = create_token(app.app.state.services.db, ADMIN_SCOPE, "ops")
    assessed = app.post(
        "/api/v1/assessments",
        headers=bearer(token),
        json={"repository": OURS, "base": "a" * 40, "head": "b" * 40},
    )
    assert assessed.status_code == 403 and "acts on none" in assessed.text
    uploaded = app.post(
        "/api/v1/coverage",
        headers=bearer(token),
        data={"repository": OURS, "sha": "b" * 40},
        files={"file": ("coverage.xml", b"<coverage/>")},
    )
    assert uploaded.status_code == 403
    finished = app.post(
        "/api/v1/deployments/1/finished", headers=bearer(token), json={"status": "success"}
    )
    assert finished.status_code in (403, 404)


def test_a_revoked_token_reads_nothing(app: TestClient):
    ids = seed(app)
    db = app.app.state.services.db
    token = create_token(db, OURS, "old-ci")
    assert read(app, "decisions", OURS, ids, token).status_code == 200
    assert revoke_tokens(db, OURS, "old-ci") == 1
    assert read(app, "decisions", OURS, ids, token).status_code == 401


@pytest.mark.parametrize(
    ("params", "where"),
    [
        ({"since": "2023-01-01", "until": "2024-06-01"}, "until"),  # 517 days
        ({"since": "2020-01-01"}, "since"),  # to now
        ({"since": "2024-06-02", "until": "2024-06-01"}, "until"),
        ({"since": "0001-01-01T00:00:00+01:00"}, "since"),
        ({"since": "2024-06-01", "until": "9999-12-31"}, "until"),
    ],
)
def test_a_report_span_is_bounded_with_a_clear_422(app: TestClient, params, where):
    token = create_token(app.app.state.services.db, OURS, "ci")
    response = app.get("/api/v1/report", params={"repo": OURS, **params}, headers=bearer(token))
    assert response.status_code == 422, response.text
    (error,) = response.json()["detail"]
    assert error["loc"] == ["query", where] and error["type"] == "value_error"
    assert error["msg"]


def test_a_year_is_reported(app: TestClient):
    token = create_token(app.app.state.services.db, OURS, "ci")
    params = {"repo": OURS, "since": "2024-01-01", "until": "2024-12-31"}
    response = app.get("/api/v1/report", params=params, headers=bearer(token))
    assert response.status_code == 200, response.text
    assert len(response.json()["weeks"]) == 53


def test_a_details_page_opens_with_its_links_token_only(app: TestClient):
    ids = seed(app)
    with app.app.state.services.db.session() as session:
        ours, theirs = (session.get(Assessment, ids[repo]) for repo in (OURS, THEIRS))
    assert ours is not None and theirs is not None
    assert len(ours.details_token) >= 43 and ours.details_token != theirs.details_token
    page = app.get(f"/assessments/{ours.id}/{ours.details_token}")
    assert page.status_code == 200 and OURS in page.text
    for path in (
        f"/assessments/{ours.id}",
        f"/assessments/{ours.id}/",
        f"/assessments/{ours.id}/{theirs.details_token}",
        f"/assessments/{ours.id}/{ours.details_token[:-1]}",
        f"/assessments/{ours.id}/{'é' * 43}",
        f"/assessments/{ours.id + 100}/{ours.details_token}",
    ):
        refused = app.get(path, follow_redirects=False)
        # not found, or sent to sign in (the console's pages): never the assessment
        assert refused.status_code == 404 or (
            refused.status_code in (303, 307)
            and refused.headers["location"].startswith(("/login", "http://testserver/assessments"))
        ), path
        assert OURS not in refused.text and THEIRS not in refused.text


def _deployment(app: TestClient, repository: str) -> int:
    with app.app.state.services.db.session() as session:
        row = Deployment(
            repository=repository, environment="production", sha="b" * 40, source="api"
        )
        row.state = "held"
        session.add(row)
        session.flush()
        return row.id


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("approve", {"reason": "looked fine"}),
        ("reject", {"reason": "no"}),
        ("finished", {"status": "success"}),
    ],
)
def test_another_repositorys_deployment_is_404_without_naming_its_owner(
    app: TestClient, signing_key: rsa.RSAPrivateKey, path: str, body: dict[str, str]
):
    theirs = _deployment(app, THEIRS)
    db = app.app.state.services.db
    for token in (create_token(db, OURS, "ci", actor="alice"), oidc(signing_key, OURS)):
        response = app.post(
            f"/api/v1/deployments/{theirs}/{path}", headers=bearer(token), json=body
        )
        assert response.status_code == 404, response.text
        assert THEIRS not in response.text
    # its own repository's token gets past the lookup
    own = app.post(
        f"/api/v1/deployments/{theirs}/{path}",
        headers=bearer(create_token(db, THEIRS, "ci")),
        json=body,
    )
    assert own.status_code != 404
