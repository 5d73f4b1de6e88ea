"""Holding a PR and releasing it: approvers by comment or button, and every abuse case."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from gate.reports.audit import render_audit
from gate.store import Assessment, AuditEntry
from gate.store import audit as audit_store
from tests.conftest import ProjectRepo, deliver, needs_shared, pr_payload, real_payload, wait_until
from tests.fakes import FakeGitHub
from tests.gitrepo import lines

pytestmark = needs_shared

POLICY = """\
mode: enforce
approvers:
  users: [alice]
  teams: [octo-org/release-managers]
  required_approvals: 1
always_hold:
  - "db/migrations/**"
never_hold:
  - "docs/**"
"""


def risky_change() -> dict[str, str]:
    return {
        "payments/charge.py": lines(300, "rewritten"),
        "web/app.py": lines(200, "rewritten"),
        **{f"payments/gateway/part{m}.py": lines(120, f"gateway{m}") for m in range(8)},
    }


class HeldPR:
    """A project with a policy on master and a pull request that riskgate holds."""

    def __init__(
        self,
        client,
        fake: FakeGitHub,
        remotes: Path,
        policy: str = POLICY,
        number: int = 41,
        files: dict | None = None,
    ) -> None:
        self.client, self.fake, self.number = client, fake, number
        self.project = ProjectRepo(remotes)
        self.project.base = self.project.repo.commit("policy", {".github/risk-gate.yml": policy})
        self.head = self.project.pull_request(number, files or risky_change())
        self.statuses_before = 0
        deliver(client, "pull_request", self.payload("opened", self.head))
        wait_until(lambda: len(self.fake.statuses) == 1, what="the first check")

    def payload(self, action: str, head: str) -> dict:
        payload = pr_payload(action, self.project.full_name, self.number, self.project.base, head)
        payload["repository"]["default_branch"] = "master"
        return payload

    @property
    def run(self) -> dict:
        return self.fake.check_runs[self.assessment().check_run_id]

    def assessment(self) -> Assessment:
        with self.client.app.state.services.db.session() as session:
            return session.scalars(select(Assessment).where(Assessment.head_sha == self.head)).one()

    def comment(
        self, login: str, body: str, action: str = "created", written_at: datetime | None = None
    ) -> None:
        payload = real_payload("issue_comment", "created")
        payload["action"] = action
        payload["repository"]["full_name"] = self.project.full_name
        payload["issue"]["number"] = self.number
        payload["issue"]["pull_request"] = {"url": "https://api.github.com/pulls/1"}
        payload["comment"]["body"] = body
        payload["comment"]["user"]["login"] = login
        payload["comment"]["created_at"] = (written_at or datetime.now(UTC)).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        )
        payload["sender"]["login"] = login
        payload["installation"] = {"id": 1}
        deliver(self.client, "issue_comment", payload)

    def press(
        self,
        login: str,
        identifier: str = "approve",
        check_run_id: int | None = None,
        head: str | None = None,
    ) -> None:
        payload = real_payload("check_run", "requested_action")
        payload["repository"]["full_name"] = self.project.full_name
        payload["check_run"]["id"] = check_run_id or self.assessment().check_run_id
        payload["check_run"]["head_sha"] = head or self.head
        payload["requested_action"]["identifier"] = identifier
        payload["sender"]["login"] = login
        payload["installation"] = {"id": 1}
        deliver(self.client, "check_run", payload)

    def replies(self, count: int) -> list[str]:
        wait_until(lambda: len(self.fake.comments) >= count, what=f"{count} replies")
        return [c["body"] for c in self.fake.comments]

    def audit(self, action: str) -> list[AuditEntry]:
        entries = audit_store.entries(self.client.app.state.services.db, self.project.full_name)
        return [entry for entry in entries if entry.action == action]


@pytest.fixture
def held(client, fake_github, remotes) -> HeldPR:
    pr = HeldPR(client, fake_github, remotes)
    assert pr.run["conclusion"] == "action_required"
    assert [a["identifier"] for a in pr.run["actions"]] == ["approve", "reject"]
    assert fake_github.statuses[-1]["state"] == "pending"
    return pr


def test_an_approver_releases_a_held_pr_by_comment(held):
    held.comment("alice", "/gate approve reviewed the gateway split with payments")
    wait_until(lambda: held.run["conclusion"] == "success", what="the released check")
    assert held.run["output"]["title"].startswith("Approved by @alice")
    wait_until(lambda: held.fake.statuses[-1]["state"] == "success", what="the status")
    assert "reviewed the gateway split" in held.fake.statuses[-1]["description"]
    assert "Approved by @alice" in held.replies(1)[0]
    assessment = held.assessment()
    assert (assessment.resolution, assessment.resolved_at is not None) == ("approved", True)


def test_a_team_member_approves_with_the_button(held):
    held.fake.team_members["octo-org/release-managers"] = {"rm-bob"}
    held.press("rm-bob")
    wait_until(lambda: held.run["conclusion"] == "success")
    assert held.audit("approval.recorded")[0].details["source"] == "button"


def test_a_non_approver_gets_a_polite_answer_and_nothing_changes(held):
    held.comment("mallory", "/gate approve trust me")
    (reply,) = held.replies(1)
    assert "only approvers" in reply and "@alice" in reply
    assert "@octo-org/release-managers" in reply
    assert held.run["conclusion"] == "action_required"
    assert held.audit("approval.refused")[0].actor == "mallory"


def test_a_rejection_fails_the_check(held):
    held.comment("alice", "/gate reject split it into two pull requests")
    wait_until(lambda: held.run["conclusion"] == "failure")
    wait_until(lambda: held.fake.statuses[-1]["state"] == "failure", what="the failed status")
    assert held.assessment().resolution == "rejected"


def test_an_approval_needs_a_reason(held):
    held.comment("alice", "/gate approve")
    assert "please give a reason" in held.replies(1)[0]
    assert held.run["conclusion"] == "action_required"


def test_a_forged_button_press_for_another_check_run_is_refused(held):
    held.press("alice", check_run_id=999_999)
    wait_until(lambda: held.audit("approval.refused"), what="the refusal")
    assert held.run["conclusion"] == "action_required"
    assert "not a riskgate check" in held.audit("approval.refused")[0].reason


def test_an_edited_comment_changes_nothing(held):
    held.comment("alice", "/gate approve looks fine", action="edited")
    held.comment("mallory", "harmless")  # a later delivery, to know the edit was processed
    wait_until(lambda: held.audit("approval.recorded") == [] and _all_done(held), what="idle")
    assert held.run["conclusion"] == "action_required"


def _all_done(pr: HeldPR) -> bool:
    from gate.store import Delivery

    with pr.client.app.state.services.db.session() as session:
        return all(d.outcome != "queued" for d in session.scalars(select(Delivery)))


def test_an_approval_does_not_carry_over_to_a_new_push(held):
    old_check = held.assessment().check_run_id
    held.project.repo.checkout(f"pr-{held.number}")
    new_head = held.project.repo.commit("more", {"payments/charge.py": lines(320, "again")})
    held.project.repo.set_ref(f"refs/pull/{held.number}/head", new_head)
    held.project.repo.checkout("master")
    deliver(held.client, "pull_request", held.payload("synchronize", new_head))
    wait_until(lambda: len(held.fake.statuses) == 2, what="the new head's check")

    held.press("alice", check_run_id=old_check, head=held.head)  # replay on the old head
    wait_until(lambda: held.audit("approval.refused"), what="the stale refusal")
    assert "stale" in held.audit("approval.refused")[0].reason
    held.head = new_head
    assert held.run["conclusion"] == "action_required"


def test_a_comment_written_before_the_newest_push_does_not_count(held):
    held.comment("alice", "/gate approve ok", written_at=datetime.now(UTC) - timedelta(hours=1))
    assert "a new commit arrived" in held.replies(1)[0]
    assert held.run["conclusion"] == "action_required"


def test_two_required_approvals_count_people_not_comments(client, fake_github, remotes):
    policy = POLICY.replace("required_approvals: 1", "required_approvals: 2").replace(
        "users: [alice]", "users: [alice, carol]"
    )
    pr = HeldPR(client, fake_github, remotes, policy=policy)
    pr.comment("alice", "/gate approve first look")
    wait_until(lambda: pr.run["output"]["title"].startswith("Held: 1 of 2"))
    pr.comment("alice", "/gate approve first look")  # the same vote again
    assert "already counted" in pr.replies(2)[1]
    pr.comment("carol", "/gate approve second look")
    wait_until(lambda: pr.run["conclusion"] == "success")
    assert "@alice, @carol" in pr.run["output"]["title"]


def test_shadow_mode_never_holds_and_records_what_it_would_have_done(client, fake_github, remotes):
    pr = HeldPR(client, fake_github, remotes, policy=POLICY.replace("enforce", "shadow"))
    assert pr.run["conclusion"] == "success"
    assert fake_github.statuses[-1]["state"] == "success"
    assert "would hold" in pr.run["output"]["summary"]
    assessment = pr.assessment()
    assert (assessment.decision, assessment.would_decide, assessment.mode) == (
        "pass",
        "hold",
        "shadow",
    )


def test_always_hold_holds_a_small_migration(client, fake_github, remotes):
    pr = HeldPR(client, fake_github, remotes, files={"db/migrations/0002_add.sql": "ALTER x;\n"})
    assert pr.run["conclusion"] == "action_required"
    assert "always_hold: db/migrations/0002_add.sql" in pr.run["output"]["summary"]


def test_never_hold_keeps_a_large_docs_change_from_being_held(client, fake_github, remotes):
    files = {f"docs/chapter{n}.md": lines(400, f"chapter{n}") for n in range(6)}
    pr = HeldPR(client, fake_github, remotes, files=files)
    assert pr.run["conclusion"] in ("success", "neutral")


def test_a_broken_policy_is_reported_on_the_check_and_the_defaults_apply(
    client, fake_github, remotes
):
    pr = HeldPR(
        client,
        fake_github,
        remotes,
        policy="mode: enforce\nrequired_approvals: [1, 2\n",
        files={"web/app.py": "small\n"},
    )
    summary = pr.run["output"]["summary"]
    assert ".github/risk-gate.yml is broken, so the defaults apply" in summary
    assert "line 3: not valid YAML" in summary  # the list is left open until the end
    assert pr.audit("policy.error")


def test_the_audit_trail_of_a_held_then_approved_pr_reads_like_a_story(held):
    held.comment("alice", "/gate approve reviewed with the payments team")
    wait_until(lambda: held.run["conclusion"] == "success")
    text = render_audit(
        audit_store.entries(held.client.app.state.services.db, held.project.full_name)
    )
    for expected in ("held", "alice", "reviewed with the payments team", "success"):
        assert expected in text, text
