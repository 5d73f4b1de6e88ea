"""The gate API that GitHub Actions calls: OIDC and API tokens, assessments, deployment votes."""

from __future__ import annotations

import json
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from gate.store.tokens import create_token
from tests.conftest import ProjectRepo, deliver, needs_shared, real_payload, wait_until
from tests.gitrepo import lines

pytestmark = needs_shared

ISSUER = "https://token.actions.githubusercontent.com"
AUDIENCE = "riskgate"
POLICY = "approvers:\n  users: [alice]\n"


@pytest.fixture(scope="module")
def signing_keys() -> dict[str, rsa.RSAPrivateKey]:
    return {
        kid: rsa.generate_private_key(public_exponent=65537, key_size=2048)
        for kid in ("actions-1", "stranger")
    }


@pytest.fixture
def jwks_file(tmp_path: Path, signing_keys) -> Path:
    public = json.loads(RSAAlgorithm.to_jwk(signing_keys["actions-1"].public_key()))
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [{**public, "kid": "actions-1", "alg": "RS256"}]}))
    return path


def oidc_token(keys, *, repository="octo-org/shop", kid="actions-1", key=None, **claims) -> str:
    now = int(time.time())
    body = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "repository": repository,
        "actor": "octocat",
        "run_id": "77",
        **claims,
    }
    return jwt.encode(body, key or keys[kid], algorithm="RS256", headers={"kid": kid})


@pytest.fixture
def api(make_client, jwks_file, fake_github, remotes):
    client = make_client(oidc_jwks_path=jwks_file)
    project = ProjectRepo(remotes)
    project.repo.commit("policy", {".github/risk-gate.yml": POLICY})
    push = real_payload("push", "push")
    push["repository"].update(full_name=project.full_name, default_branch="master")
    push.update(
        ref="refs/heads/master", after=project.repo.git("rev-parse", "HEAD"), installation={"id": 1}
    )
    deliver(client, "push", push)  # riskgate learns the installation and indexes the repo
    wait_until(lambda: client.app.state.services.mirrors.is_warm(project.full_name))
    return client, project


def assess(client, token, project, head, base, kind="pr", **extra):
    return client.post(
        "/api/v1/assessments",
        headers={"Authorization": f"Bearer {token}"},
        json={"repository": project.full_name, "base": base, "head": head, "kind": kind, **extra},
    )


def test_an_actions_job_assesses_a_change_with_its_oidc_token(api, signing_keys):
    client, project = api
    base = project.repo.git("rev-parse", "HEAD")
    head = project.repo.commit("change", {"web/app.py": lines(90, "app")})
    response = assess(client, oidc_token(signing_keys), project, head, base)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["level"] in ("low", "medium", "high") and 0 <= body["score"] <= 1
    assert body["decision"] in ("pass", "review", "hold")
    assert f"/assessments/{body['id']}/" in body["details_url"]
    page = client.get(body["details_url"].removeprefix("https://gate.example.com"))
    assert page.status_code == 200 and project.full_name in page.text
    fetched = client.get(
        f"/api/v1/assessments/{body['id']}",
        headers={"Authorization": f"Bearer {oidc_token(signing_keys)}"},
    ).json()
    assert fetched["head_sha"] == head and fetched["kind"] == "pr"


@pytest.mark.parametrize(
    ("claims", "key_name", "why"),
    [
        ({"exp": int(time.time()) - 120}, None, "expired"),
        ({"aud": "someone-else"}, None, "another audience"),
        ({"iss": "https://evil.example.com"}, None, "another issuer"),
        ({}, "stranger", "key the issuer does not publish"),
    ],
    ids=["expired", "audience", "issuer", "foreign-key"],
)
def test_bad_oidc_tokens_are_refused_with_the_reason(api, signing_keys, claims, key_name, why):
    client, project = api
    sha = project.repo.git("rev-parse", "HEAD")
    kid = key_name or "actions-1"
    token = oidc_token(signing_keys, kid=kid, **claims)
    response = assess(client, token, project, sha, sha)
    assert response.status_code == 401 and why in response.json()["detail"]


def test_a_token_signed_with_the_right_kid_but_another_key_is_refused(api, signing_keys):
    client, project = api
    sha = project.repo.git("rev-parse", "HEAD")
    forged = oidc_token(signing_keys, key=signing_keys["stranger"])  # kid actions-1, wrong key
    assert assess(client, forged, project, sha, sha).status_code == 401


def test_malformed_and_unsigned_tokens_are_refused(api, signing_keys):
    client, project = api
    sha = project.repo.git("rev-parse", "HEAD")
    assert assess(client, "not.a.jwt", project, sha, sha).status_code == 401
    hs256 = jwt.encode({"repository": project.full_name}, "secret", algorithm="HS256")
    response = assess(client, hs256, project, sha, sha)
    assert response.status_code == 401 and "only RS256" in response.json()["detail"]
    assert client.post("/api/v1/assessments", json={}).status_code == 401


def test_a_token_for_another_repository_is_forbidden(api, signing_keys):
    client, project = api
    sha = project.repo.git("rev-parse", "HEAD")
    token = oidc_token(signing_keys, repository="octo-org/other")
    response = assess(client, token, project, sha, sha)
    assert response.status_code == 403


def test_an_unknown_commit_is_a_clear_422(api, signing_keys):
    client, project = api
    sha = project.repo.git("rev-parse", "HEAD")
    response = assess(client, oidc_token(signing_keys), project, "f" * 40, sha)
    assert response.status_code == 422 and "not found" in response.json()["detail"][0]["msg"]


def risky(project) -> tuple[str, str]:
    base = project.repo.git("rev-parse", "HEAD")
    head = project.repo.commit(
        "big",
        {
            "payments/charge.py": lines(300, "rewritten"),
            "web/app.py": lines(200, "rewritten"),
            **{f"payments/gateway/part{m}.py": lines(120, f"gateway{m}") for m in range(8)},
        },
    )
    return base, head


def test_a_held_deploy_is_approved_through_the_api_by_an_approvers_token(api, signing_keys):
    client, project = api
    base, head = risky(project)
    held = assess(
        client,
        oidc_token(signing_keys),
        project,
        head,
        base,
        kind="deploy",
        environment="production",
    ).json()
    assert held["decision"] == "hold" and held["deployment_id"]
    deployment = held["deployment_id"]
    db = client.app.state.services.db
    ci_token = create_token(db, project.full_name, "ci")  # no user: cannot approve
    mallory = create_token(db, project.full_name, "mallory-laptop", actor="mallory")
    alice = create_token(db, project.full_name, "laptop", actor="alice")

    def vote(token, verdict="approve"):
        return client.post(
            f"/api/v1/deployments/{deployment}/{verdict}",
            headers={"Authorization": f"Bearer {token}"},
            json={"reason": "watched the dashboards"},
        )

    assert vote(oidc_token(signing_keys)).status_code == 403  # a workflow is not a person
    assert vote(ci_token).status_code == 403
    assert vote(mallory).status_code == 403
    approved = vote(alice)
    assert approved.status_code == 200 and approved.json()["answer"] == "approved"
    assert vote(alice, "reject").status_code == 409  # already answered

    finished = client.post(
        f"/api/v1/deployments/{deployment}/finished",
        headers={"Authorization": f"Bearer {ci_token}"},
        json={"status": "success"},
    )
    assert finished.status_code == 200
    from gate.store import deployments

    assert deployments.last_good_sha(db, project.full_name, "default") is None
    assert deployments.last_good_sha(db, project.full_name, "production") == head


def test_a_deploy_assessment_needs_an_environment(api, signing_keys):
    client, project = api
    sha = project.repo.git("rev-parse", "HEAD")
    response = assess(client, oidc_token(signing_keys), project, sha, sha, kind="deploy")
    assert response.status_code == 422
