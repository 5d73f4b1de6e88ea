"""The audit trail for people (render_audit, gate audit) and machines (/api/v1/decisions)."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from gate.api import decisions as decisions_api
from gate.reports.audit import audit_command, describe, render_audit
from gate.store import Database
from gate.store.tables import AuditEntry
from gate.store.tokens import create_token

REPO = "octo-org/shop"
PR = f"{REPO}#42"
HEAD = "1a2b3c4d5e6f" + "0" * 28
FIXED = "9f8e7d6c5b4a" + "1" * 28
T0 = datetime(2024, 6, 3, 9, 12, 4, tzinfo=UTC)
POLICY = "rg-3f2e1a0"
MODEL = "xgb-14f-2024.06"
CRITICAL = "touches the payments service (critical)"
RELEASED = "approved by @alice: reviewed with payments team"


def entry(
    seconds: float, action: str, reason: str = "", actor: str = "riskgate", **fields: Any
) -> AuditEntry:
    fields.setdefault("repository", REPO)
    fields.setdefault("subject", PR)
    fields.setdefault("sha", HEAD)
    fields.setdefault("details", {})
    return AuditEntry(
        at=T0 + timedelta(seconds=seconds), actor=actor, action=action, reason=reason, **fields
    )


def held_then_approved() -> list[AuditEntry]:
    """PR #42 as the service records it: held, a refused approval, approved, released."""
    versions = {"policy_version": POLICY, "model_version": MODEL}
    return [
        entry(
            0,
            "assessment.decided",
            "Risk high: 0.71 -> hold: 1,460 lines added; touches the payments service (critical)",
            details={"rules": ["model level high -> hold"], "model_version": MODEL},
            **versions,
        ),
        entry(1, "check_run.create", "Risk high: 0.71", **versions),
        entry(1, "status.create", "pending: Risk high: 0.71: 1,460 lines added", **versions),
        entry(2, "label.add", "risk:high", **versions),
        entry(
            3_600,
            "approval.refused",
            "@mallory is not an approver",
            actor="mallory",
            details={"verdict": "approve", "source": "comment"},
            **versions,
        ),
        entry(
            5_400,
            "approval.recorded",
            "approve: reviewed with payments team",
            actor="alice",
            details={"verdict": "approve", "source": "comment"},
            **versions,
        ),
        entry(
            5_401, "hold.approved", "approved by @alice: reviewed with payments team", **versions
        ),
    ]


def lines_of(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines()]


def test_a_held_then_approved_pr_reads_as_a_person_expects():
    text = render_audit(held_then_approved())
    lines = lines_of(text)
    assert lines[0] == "Times in UTC."
    assert lines[2] == PR
    assert lines[3] == f"commit 1a2b3c4d5e6f  (policy {POLICY}, model {MODEL})"
    assert lines[4:] == [
        "2024-06-03 09:12:04  riskgate  held: high risk 0.71 — 1,460 lines added; "
        "touches the payments service (critical)",
        "2024-06-03 09:12:05  riskgate  check created: Risk high: 0.71",
        "2024-06-03 09:12:05  riskgate  commit status set to pending — "
        "Risk high: 0.71: 1,460 lines added",
        "2024-06-03 09:12:06  riskgate  label risk:high added",
        "2024-06-03 10:12:04  mallory   approval by @mallory refused: @mallory is not an approver",
        "2024-06-03 10:42:04  alice     approved by @alice via /gate approve: "
        "'reviewed with payments team'",
        "2024-06-03 10:42:05  riskgate  hold released, check set to success — "
        "approved by @alice: reviewed with payments team",
    ]
    assert text.count(POLICY) == 1 and text.count(MODEL) == 1  # versions once per group


def test_versions_are_shown_again_when_they_change_and_commits_group_under_their_pr():
    trail = [
        *held_then_approved(),
        entry(
            7_200,
            "assessment.decided",
            "Risk low: 0.12 -> pass: nothing stands out",
            sha=FIXED,
            policy_version=POLICY,
            model_version=MODEL,
        ),
        entry(
            7_300,
            "assessment.decided",
            "Risk medium: 0.40 -> review: 300 lines added",
            sha=FIXED,
            policy_version="rg-77aa001",
            model_version=MODEL,
        ),
    ]
    lines = lines_of(render_audit(trail))
    assert lines.count(PR) == 1
    second = lines.index(f"commit 9f8e7d6c5b4a  (policy {POLICY}, model {MODEL})")
    assert lines[second + 1].endswith("passed: low risk 0.12 — nothing stands out")
    assert lines[second + 2] == f"policy now rg-77aa001 (was {POLICY})"
    assert lines[second + 3].endswith("sent to review: medium risk 0.40 — 300 lines added")


def test_times_follow_the_time_zone_asked_for():
    text = render_audit(held_then_approved()[:1], tz=ZoneInfo("Europe/Berlin"))
    assert text.startswith("Times in Europe/Berlin.")
    assert "2024-06-03 11:12:04  riskgate  held: high risk 0.71" in text


def test_entries_are_put_in_time_order_and_unattached_ones_get_their_own_group():
    trail = held_then_approved()
    for number, row in enumerate(trail, start=1):
        row.id = number  # ties in time keep the order the log gave them
    coverage = entry(
        -60,
        "coverage.received",
        "cobertura report for 12 files",
        subject=None,
        actor="coverage:api",
    )
    policy = entry(
        30, "policy.error", "risk-gate.yml: line 3: not a mapping", subject=None, sha=None
    )
    lines = lines_of(render_audit([*reversed(trail), coverage, policy]))
    assert lines[2:7] == [
        f"{REPO} (no pull request)",
        "commit 1a2b3c4d5e6f",
        "2024-06-03 09:11:04  coverage:api  coverage received: cobertura report for 12 files",
        "commit (none)",
        "2024-06-03 09:12:34  riskgate      policy error: risk-gate.yml: line 3: not a mapping",
    ]
    assert lines[8] == PR
    assert lines[10].endswith("held: high risk 0.71 — 1,460 lines added; " + CRITICAL)
    assert lines[-1].endswith("hold released, check set to success — " + RELEASED)


@pytest.mark.parametrize(
    ("action", "reason", "details", "words"),
    [
        (
            "approval.recorded",
            "reject: too close to the freeze",
            {"verdict": "reject", "source": "button"},
            "rejected by @alice via the check's Reject button: 'too close to the freeze'",
        ),
        (
            "approval.refused",
            "approve: stale: a newer commit was pushed",
            {},
            "approval by @alice refused: stale: a newer commit was pushed",
        ),
        (
            "approval.refused",
            "approve pressed on check run 7, which is not a riskgate check of this commit",
            {},
            "vote by @alice refused: approve pressed on check run 7, which is not a riskgate "
            "check of this commit",
        ),
        (
            "approval.ignored",
            "approve on a change that is approved",
            {"verdict": "approve", "source": "comment"},
            "vote by @alice ignored: approve on a change that is approved",
        ),
        (
            "hold.rejected",
            "rejected by @alice: not before the freeze",
            {},
            "hold closed, check set to failure — rejected by @alice: not before the freeze",
        ),
        (
            "approval.recorded",
            "",
            {"verdict": "approve", "source": "api"},
            "approved by @alice via the API",
        ),
        (
            "assessment.decided",
            "Risk high: 0.81 -> pass: 900 lines added",
            {"rules": ["shadow mode: would hold, passes"], "would": "hold"},
            "passed in shadow mode (enforcing would have held it): high risk 0.81 — "
            "900 lines added",
        ),
        (
            "assessment.decided",
            "Risk medium: 0.40 -> review: 300 lines added",
            {"rules": ["model thresholds -> medium"], "would": None},
            "sent to review: medium risk 0.40 — 300 lines added",
        ),
        ("assessment.decided", "something new", {}, "decided: something new"),
        (
            "label.remove",
            "risk:low: risk is now risk:high",
            {},
            "label risk:low removed (risk is now risk:high)",
        ),
        ("check_run.give_up", "git fetch timed out", {}, "assessment failed: git fetch timed out"),
        (
            "check_run.update",
            "Risk low: 0.10",
            {"conclusion": "success"},
            "check set to success — Risk low: 0.10",
        ),
        (
            "coverage.refused",
            "not a coverage report",
            {},
            "coverage refused: not a coverage report",
        ),
        ("something.else", "why", {}, "something.else: why"),
    ],
)
def test_actions_in_words(action, reason, details, words):
    assert describe(entry(0, action, reason, actor="alice", details=details)) == words


def test_no_entries_says_so():
    assert render_audit([]) == "No audit entries.\n"


def seed(db: Database) -> list[int]:
    trail = held_then_approved()
    others = [
        entry(10, "assessment.decided", "Risk low: 0.1 -> pass: x", repository="octo-org/other"),
        entry(20, "label.add", "risk:low", sha=FIXED),
    ]
    with db.session() as session:
        session.add_all([*trail, *others])
        session.flush()
        return [e.id for e in sorted([*trail, others[1]], key=lambda e: (e.at, e.id))]


def test_audit_command_prints_the_trail(db):
    seed(db)
    out = io.StringIO()
    assert audit_command(db, REPO, "2024-06-03T10:00:00Z", out) == 0
    text = out.getvalue()
    assert text.startswith(
        "Audit trail for octo-org/shop since 2024-06-03 10:00 UTC. Times in UTC."
    )
    assert "approved by @alice via /gate approve: 'reviewed with payments team'" in text
    assert "held: high risk" not in text  # before `since`


def test_audit_command_refuses_a_bad_repository(db):
    out, err = io.StringIO(), io.StringIO()
    assert audit_command(db, "octo-org/shop/extra", None, out, err) == 2
    assert "OWNER/NAME" in err.getvalue()
    assert audit_command(db, REPO, "soon", out, err) == 2
    assert audit_command(db, REPO, None, out) == 0 and "No audit entries." in out.getvalue()


def _with_router(client):
    """The app's /api/v1/decisions, called with a token of REPO."""
    if not any(getattr(r, "path", None) == "/api/v1/decisions" for r in client.app.routes):
        client.app.include_router(decisions_api.router)
    token = create_token(client.app.state.services.db, REPO, "test")
    client.headers["Authorization"] = f"Bearer {token}"
    return client


def test_decisions_api_pages_through_a_repository(client):
    _with_router(client)
    ids = seed(client.app.state.services.db)
    seen, offset, pages = [], 0, 0
    while offset is not None:
        body = client.get(
            "/api/v1/decisions", params={"repo": REPO, "limit": 3, "offset": offset}
        ).json()
        seen += body["items"]
        offset, pages = body["next_offset"], pages + 1
    assert [item["id"] for item in seen] == ids and pages == 3  # 8 entries, 3 a page
    first = seen[0]
    assert first["action"] == "assessment.decided" and first["actor"] == "riskgate"
    assert first["at"] == "2024-06-03T09:12:04+00:00"
    assert (first["sha"], first["subject"]) == (HEAD, PR)
    assert (first["policy_version"], first["model_version"]) == (POLICY, MODEL)
    assert first["details"]["rules"] == ["model level high -> hold"]


def test_decisions_api_filters_by_commit_and_time(client):
    _with_router(client)
    seed(client.app.state.services.db)
    by_sha = client.get("/api/v1/decisions", params={"repo": REPO, "sha": FIXED}).json()
    assert [item["action"] for item in by_sha["items"]] == ["label.add"]
    assert by_sha["next_offset"] is None
    prefix = client.get("/api/v1/decisions", params={"repo": REPO, "sha": "1A2B3C4D"}).json()
    assert len(prefix["items"]) == 7
    later = client.get(
        "/api/v1/decisions", params={"repo": REPO, "since": "2024-06-03T12:00:00+02:00"}
    ).json()
    assert [item["action"] for item in later["items"]][:2] == [
        "approval.refused",
        "approval.recorded",
    ]
    exact = client.get("/api/v1/decisions", params={"repo": REPO, "limit": 8}).json()
    assert len(exact["items"]) == 8 and exact["next_offset"] is None


@pytest.mark.parametrize(
    "params",
    [
        {"repo": "octo-org"},
        {"repo": "octo org/shop"},
        {"repo": REPO, "since": "last week"},
        {"repo": REPO, "sha": "not-hex"},
        {"repo": REPO, "limit": 501},
        {"repo": REPO, "limit": 0},
        {"repo": REPO, "offset": -1},
        {},
    ],
)
def test_decisions_api_refuses_malformed_queries(client, params):
    _with_router(client)
    response = client.get("/api/v1/decisions", params=params)
    assert response.status_code == 422
