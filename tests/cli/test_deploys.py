"""`gate approve` and `gate reject` on held deployments in a real SQLite database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from gate.store import Database
from gate.store import deployments as deployment_store
from gate.store.tables import Approval, Assessment, Delivery, Job, utcnow
from tests.conftest import APP_ID, WEBHOOK_SECRET, gate
from tests.gitrepo import GitRepo, lines

REPOSITORY = "octo-org/shop"
POLICY = "approvers:\n  users: [alice]\n"


class Held:
    """Two held deployments of one repository, as riskgate leaves them for its approvers."""

    def __init__(self, tmp_path: Path, private_key: str) -> None:
        self.url = f"sqlite:///{tmp_path / 'gate.db'}"
        mirrors = tmp_path / "mirrors"
        project = GitRepo(tmp_path / "project")
        base = project.commit("initial", {"app/main.py": lines(40)})
        head = project.commit("policy", {".github/risk-gate.yml": POLICY})
        # the service's bare mirror: the policy is read from its default branch
        (mirrors / "octo-org").mkdir(parents=True)
        project.git(
            "clone", "--quiet", "--bare", str(project.path), str(mirrors / f"{REPOSITORY}.git")
        )
        self.env = {
            "GATE_APP_ID": str(APP_ID),
            "GATE_PRIVATE_KEY": private_key,
            "GATE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "GATE_DATABASE_URL": self.url,
            "GATE_MIRROR_DIR": str(mirrors),
        }
        self.db = Database(self.url)
        self.db.migrate()
        with self.db.session() as session:
            session.add(
                Delivery(
                    delivery_id="d-1",
                    event="push",
                    installation_id=1,
                    repository=REPOSITORY,
                    payload=json.dumps({"repository": {"default_branch": "master"}}),
                )
            )
        self.deployments = [self._hold(base, head, environment) for environment in ("prod", "eu")]

    def _hold(self, base: str, head: str, environment: str) -> int:
        with self.db.session() as session:
            assessment = Assessment(
                kind="deploy",
                repository=REPOSITORY,
                base_sha=base,
                head_sha=head,
                model_version="test",
                score=0.91,
                level="high",
                decision="hold",
                reasons=[{"text": "touches payments"}],
                held_at=utcnow(),
            )
            session.add(assessment)
            session.flush()
            assessment_id = assessment.id
        return deployment_store.create(
            self.db,
            repository=REPOSITORY,
            environment=environment,
            sha=head,
            base_sha=base,
            run_id=77,
            installation_id=1,
            assessment_id=assessment_id,
            source="protection_rule",
            state="held",
        ).id

    def vote(self, verdict: str, deployment: int, login: str, tmp_path: Path):
        return gate(
            verdict,
            str(deployment),
            "--as",
            login,
            "--reason",
            "dashboards are green",
            cwd=tmp_path,
            env=self.env,
        )

    def answer_jobs(self) -> list[dict[str, object]]:
        with self.db.session() as session:
            jobs = session.scalars(select(Job).where(Job.kind == "answer_deployment"))
            return [job.args for job in jobs]


@pytest.fixture
def held(tmp_path: Path, app_key: tuple[str, str]):
    state = Held(tmp_path, app_key[0])
    yield state
    state.db.dispose()


@pytest.mark.covers("approve --as --reason")
def test_an_approver_releases_a_held_deployment(held, tmp_path: Path):
    prod, _ = held.deployments
    done = held.vote("approve", prod, "@alice", tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Approved by @alice" in done.stdout and "prod is approved" in done.stdout
    deployment = deployment_store.get(held.db, prod)
    assert (deployment.state, deployment.answer) == ("answered", "approved")
    assert "(cli): dashboards are green" in deployment.answer_reason
    # the worker delivers the answer to GitHub's protection rule
    assert held.answer_jobs() == [{"deployment_id": prod}]
    with held.db.session() as session:
        vote = session.scalars(select(Approval)).one()
    assert (vote.actor, vote.verdict, vote.source) == ("alice", "approve", "cli")

    again = held.vote("reject", prod, "alice", tmp_path)
    assert again.returncode == 1
    assert again.stderr.strip() == f"refused: deployment {prod} was already answered: approved"


@pytest.mark.covers("reject --as --reason")
def test_an_approver_rejects_a_held_deployment(held, tmp_path: Path):
    _, eu = held.deployments
    done = held.vote("reject", eu, "alice", tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Rejected by @alice" in done.stdout
    assert deployment_store.get(held.db, eu).answer == "rejected"
    assert held.answer_jobs() == [{"deployment_id": eu}]


def test_a_non_approver_is_refused_and_the_deployment_stays_held(held, tmp_path: Path):
    prod, _ = held.deployments
    done = held.vote("approve", prod, "mallory", tmp_path)
    assert done.returncode == 1
    assert done.stderr.startswith("refused: Thanks @mallory, but only approvers")
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) <= 2
    assert deployment_store.get(held.db, prod).state == "held"
    assert held.answer_jobs() == []


def test_an_unknown_deployment_is_a_one_line_refusal(held, tmp_path: Path):
    done = held.vote("approve", 999, "alice", tmp_path)
    assert (done.returncode, done.stderr.strip()) == (1, "refused: no deployment 999")


def test_without_the_services_mirror_it_says_where_it_looked(held, tmp_path: Path):
    prod, _ = held.deployments
    done = gate(
        "approve",
        str(prod),
        "--as",
        "alice",
        "--reason",
        "ok",
        cwd=tmp_path,
        env={**held.env, "GATE_MIRROR_DIR": str(tmp_path / "elsewhere")},
    )
    assert done.returncode == 1
    assert done.stderr.startswith(f"error: no mirror of {REPOSITORY} in {tmp_path / 'elsewhere'}")
    assert len(done.stderr.strip().splitlines()) <= 2
    assert deployment_store.get(held.db, prod).state == "held"
