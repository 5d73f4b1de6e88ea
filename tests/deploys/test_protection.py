"""The deployment gate through the real webhook path: approve, hold, release, reject, expire."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from gate.deploys import protection as deploys
from gate.store import Deployment
from gate.store.tables import utcnow
from tests.conftest import ProjectRepo, deliver, needs_shared, real_payload, wait_until
from tests.deployment_payloads import protection_rule_payload
from tests.fakes import FakeGitHub
from tests.gitrepo import lines

pytestmark = needs_shared

POLICY = """\
approvers:
  users: [alice, carol]
hold_expiry_hours: 24
"""


class Release:
    """A repository with a deployed base and a new commit asking to go to production."""

    def __init__(
        self, client, fake: FakeGitHub, remotes: Path, change: dict[str, str], policy: str = POLICY
    ) -> None:
        self.client, self.fake = client, fake
        self.project = ProjectRepo(remotes)
        self.good = self.project.repo.commit("policy", {".github/risk-gate.yml": policy})
        # GitHub knows the last successful production deploy
        fake.deployments.append(
            {"id": 1, "sha": self.good, "environment": "production", "statuses": ["success"]}
        )
        self.head = self.project.repo.commit("release", change)

    def request(self, run_id: int = 4242, sha: str | None = None, prs: tuple[int, ...] = (7,)):
        payload = protection_rule_payload(
            self.project.full_name, sha or self.head, run_id=run_id, pr_numbers=prs
        )
        deliver(self.client, "deployment_protection_rule", payload)

    def review(self, count: int = 1) -> dict:
        wait_until(lambda: len(self.fake.reviews) >= count, what=f"{count} answers to GitHub")
        return self.fake.reviews[count - 1]

    def deployment(self) -> Deployment:
        with self.client.app.state.services.db.session() as session:
            return session.scalars(select(Deployment).order_by(Deployment.id.desc())).first()

    def comment(self, login: str, body: str, number: int = 7) -> None:
        payload = real_payload("issue_comment", "created")
        payload["repository"]["full_name"] = self.project.full_name
        payload["issue"]["number"] = number
        payload["issue"]["pull_request"] = {"url": "https://api.github.com/pulls/7"}
        payload["comment"]["body"], payload["comment"]["user"]["login"] = body, login
        payload["comment"]["created_at"] = utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")
        payload["installation"] = {"id": 1}
        deliver(self.client, "issue_comment", payload)


def risky() -> dict[str, str]:
    return {
        "payments/charge.py": lines(300, "rewritten"),
        "web/app.py": lines(200, "rewritten"),
        **{f"payments/gateway/part{m}.py": lines(120, f"gateway{m}") for m in range(8)},
    }


def held_release(client, fake_github, remotes) -> Release:
    release = Release(client, fake_github, remotes, risky())
    release.request()
    report = release.review()
    assert "state" not in report  # a status report: the job keeps waiting
    assert report["comment"].startswith("Held by riskgate")
    assert release.deployment().state == "held"
    return release


def test_a_low_risk_deployment_is_approved_with_its_reasons(client, fake_github, remotes):
    release = Release(client, fake_github, remotes, {"web/app.py": lines(81, "app")})
    release.request()
    answer = release.review()
    assert (answer["state"], answer["environment_name"], answer["run_id"]) == (
        "approved",
        "production",
        4242,
    )
    assert answer["comment"].startswith("riskgate: risk low")
    deployment = release.deployment()
    assert (deployment.base_sha, deployment.answer) == (release.good, "approved")


def test_a_held_deployment_is_announced_on_its_prs_and_released_by_an_approver(
    client, fake_github, remotes
):
    release = held_release(client, fake_github, remotes)
    wait_until(
        lambda: any(
            "held the deployment" in c["body"] and c["number"] == 7 for c in fake_github.comments
        ),
        what="the note on the pull request",
    )
    release.comment("alice", "/gate approve payments on-call is watching")
    answer = release.review(2)
    assert answer["state"] == "approved"
    assert "Approved by @alice" in answer["comment"]
    assert release.deployment().answer == "approved"


def test_another_approver_can_reject_it(client, fake_github, remotes):
    release = held_release(client, fake_github, remotes)
    release.comment("carol", "/gate reject not during the sale")
    answer = release.review(2)
    assert answer["state"] == "rejected" and "not during the sale" in answer["comment"]


def test_a_non_approver_cannot_release_it(client, fake_github, remotes):
    release = held_release(client, fake_github, remotes)
    release.comment("mallory", "/gate approve please")
    wait_until(lambda: any("only approvers" in c["body"] for c in fake_github.comments))
    assert len(fake_github.reviews) == 1 and release.deployment().state == "held"


def test_a_hold_nobody_answers_is_rejected_when_it_expires(client, fake_github, remotes):
    release = held_release(client, fake_github, remotes)
    services = client.app.state.services
    with services.db.session() as session:
        session.execute(update(Deployment).values(expires_at=utcnow() - timedelta(minutes=1)))
    assert deploys.expire_held(services) == 1
    client.app.state.worker.wake()
    answer = release.review(2)
    assert answer["state"] == "rejected" and "without an approver" in answer["comment"]


def test_a_restart_while_held_forgets_nothing(make_client, fake_github, remotes):
    first = make_client()
    release = held_release(first, fake_github, remotes)
    first.__exit__(None, None, None)

    second = make_client()  # a new process: the hold is in the store
    release.client = second
    release.comment("alice", "/gate approve after the restart")
    assert release.review(2)["state"] == "approved"


def test_an_unknown_sha_falls_back_to_on_error(make_client, fake_github, remotes):
    client = make_client(job_max_attempts=1)
    release = Release(client, fake_github, remotes, {"web/app.py": "x\n"})
    release.request(sha="f" * 40)
    answer = release.review()
    assert answer["state"] == "approved"  # on_error: fail-open (the default)
    assert "could not assess" in answer["comment"]


def test_fail_closed_rejects_when_assessment_fails(make_client, fake_github, remotes):
    client = make_client(job_max_attempts=1)
    release = Release(
        client,
        fake_github,
        remotes,
        {"web/app.py": "x\n"},
        policy=POLICY + "on_error: fail-closed\n",
    )
    # the mirror must know the policy for the fallback: an earlier deploy fetched it
    release.request(run_id=1)
    release.review()
    release.request(run_id=2, sha="e" * 40)
    answer = release.review(2)
    assert answer["state"] == "rejected" and "fail-closed" in answer["comment"]


def test_a_callback_github_refuses_is_recorded(make_client, fake_github, remotes):
    client = make_client()
    fake_github.fail_next(
        "POST", r".*/deployment_protection_rule", 422, times=10, message="Validation Failed"
    )
    release = Release(client, fake_github, remotes, {"web/app.py": lines(81, "app")})
    release.request()
    from gate.store import audit

    def failure():
        entries = audit.entries(client.app.state.services.db, release.project.full_name)
        return [e for e in entries if e.action == "deployment.answer_failed"]

    (entry,) = wait_until(failure, timeout=60, what="the recorded failure")
    assert "422" in entry.reason
    assert release.deployment().answer == "approved"  # the decision stands, on record


def test_a_callback_github_cannot_take_yet_is_retried_until_it_does(
    make_client, fake_github, remotes
):
    client = make_client(job_max_attempts=1)  # outages spend time, not attempts
    fake_github.fail_next("POST", r".*/deployment_protection_rule", 502, times=6)
    release = Release(client, fake_github, remotes, {"web/app.py": lines(81, "app")})
    release.request()
    answer = release.review()
    assert answer["state"] == "approved"
    assert len(fake_github.calls("POST", r".*/deployment_protection_rule")) == 7


@pytest.mark.parametrize("state", ["success", "failure"])
def test_deployment_status_sets_the_next_change_sets_base(client, fake_github, remotes, state):
    release = Release(client, fake_github, remotes, {"web/app.py": lines(81, "app")})
    release.request()
    release.review()
    payload = real_payload("deployment_status", "created")
    payload["repository"]["full_name"] = release.project.full_name
    payload["deployment"].update(id=9001, sha=release.head, environment="production")
    payload["deployment_status"]["state"] = state
    payload["installation"] = {"id": 1}
    deliver(client, "deployment_status", payload)
    wait_until(lambda: release.deployment().status == state)
    from gate.store import deployments

    expected = release.head if state == "success" else None
    db = client.app.state.services.db
    assert deployments.last_good_sha(db, release.project.full_name, "production") == expected
