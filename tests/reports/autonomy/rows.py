"""Shared by the autonomy tests: two realistic weeks of rows, their figures, output readers."""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from gate.store import Database
from gate.store.tables import Approval, Assessment, AuditEntry

REPO = "octo-org/shop"
SINCE = datetime(2024, 6, 3, tzinfo=UTC)  # a Monday: ISO week 2024-W23 starts
UNTIL = datetime(2024, 6, 17, tzinfo=UTC)  # the Monday after 2024-W24: excluded


def at(day: int, hour: int = 0, minute: int = 0, second: int = 0, month: int = 6) -> datetime:
    return datetime(2024, month, day, hour, minute, second, tzinfo=UTC)


def assessment(
    number: int,
    created: datetime,
    decision: str | None,
    *,
    mode: str | None = "enforce",
    would: str | None = None,
    held: datetime | None = None,
    resolved: timedelta | None = None,
    resolution: str | None = None,
    kind: str = "pr",
    repository: str = REPO,
) -> Assessment:
    return Assessment(
        kind=kind,
        repository=repository,
        pr_number=number,
        base_sha="b" * 40,
        head_sha=f"{number:040x}",
        decision=decision,
        level={"pass": "low", "review": "medium", "hold": "high"}.get(decision or ""),
        mode=mode,
        would_decide=would,
        held_at=held,
        resolved_at=None if held is None or resolved is None else held + resolved,
        resolution=resolution,
        created_at=created,
        updated_at=created,
    )


def scenario() -> dict[str, Assessment]:
    """Two ISO weeks of a repository, plus rows the report must leave out."""
    h = timedelta(hours=1)
    return {
        # 2024-W23
        "pass": assessment(1, at(3, 9), "pass"),
        "pass_legacy": assessment(2, at(4, 10), "pass", mode=None),  # before shadow mode existed
        "review": assessment(3, at(5, 9), "review"),
        "approved_90m": assessment(
            4, at(5, 10), "hold", held=at(5, 10), resolved=1.5 * h, resolution="approved"
        ),
        # held late on Sunday, rejected early on Monday: counted in the week it was assessed
        "rejected_2h": assessment(
            5, at(9, 23), "hold", held=at(9, 23), resolved=2 * h, resolution="rejected"
        ),
        "shadow_hold": assessment(6, at(6, 12), "pass", mode="shadow", would="hold"),
        # 2024-W24, from its first instant to its last
        "approved_2h30": assessment(
            7, at(10), "hold", held=at(10), resolved=2.5 * h, resolution="approved"
        ),
        "approved_4h": assessment(
            8, at(12, 15), "hold", held=at(12, 15), resolved=4 * h, resolution="approved"
        ),
        "still_held": assessment(9, at(14, 11), "hold", held=at(14, 11)),
        "failed": assessment(10, at(15, 8), None),
        "shadow_pass": assessment(11, at(16, 23, 59, 59), "pass", mode="shadow", would="pass"),
        # outside: at `until`, before `since`, a CLI run, another repository
        "at_until": assessment(12, UNTIL, "pass"),
        "before": assessment(
            13, at(2, 23, 59, 59), "hold", held=at(2, 23), resolved=h, resolution="approved"
        ),
        "local": assessment(14, at(5, 12), "hold", kind="local", held=at(5, 12)),
        "elsewhere": assessment(15, at(5, 12), "hold", repository="octo-org/other", held=at(5)),
    }


def entry(when: datetime, action: str, reason: str = "", **fields: Any) -> AuditEntry:
    fields.setdefault("actor", "riskgate")
    fields.setdefault("repository", REPO)
    return AuditEntry(at=when, action=action, reason=reason, details={}, **fields)


def seed(db: Database) -> dict[str, Assessment]:
    rows = scenario()
    with db.session() as session:
        session.add_all(rows.values())
        session.flush()
        approvals = [
            ("approved_90m", "alice", "approve", "comment"),
            ("rejected_2h", "bob", "reject", "button"),
            ("approved_2h30", "alice", "approve", "api"),
            ("approved_4h", "carol", "approve", "comment"),
            ("before", "alice", "approve", "comment"),
        ]
        for key, actor, verdict, source in approvals:
            row = rows[key]
            session.add(
                Approval(
                    assessment_id=row.id,
                    repository=REPO,
                    head_sha=row.head_sha,
                    actor=actor,
                    verdict=verdict,
                    reason="looked at it",
                    source=source,
                    at=row.resolved_at,
                )
            )
        failed_id = rows["failed"].id
        session.add_all(
            [
                entry(at(11, 9), "policy.error", "risk-gate.yml: line 3: expected a mapping"),
                entry(at(1, 9), "policy.error", "outside the period"),
                entry(
                    at(15, 8, 5), "check_run.give_up", "git fetch failed", assessment_id=failed_id
                ),
                # redelivered and given up again: still one failed assessment
                entry(at(15, 9), "check_run.give_up", "git fetch failed", assessment_id=failed_id),
                entry(
                    at(12, 16), "approval.refused", "@mallory is not an approver", actor="mallory"
                ),
                entry(at(12, 16), "policy.error", "other repository", repository="octo-org/other"),
            ]
        )
    return rows


EXPECTED = {
    "assessed": 11,
    "auto_passed": 2,
    "reviewed": 1,
    "held": 5,
    "approved": 3,
    "rejected": 1,
    "still_held": 1,
    "shadow": 2,
    "shadow_would_decide": {"pass": 1, "hold": 1},
    "undecided": 1,
    "failed": 1,
    "policy_errors": 1,
    "refused_approvals": 1,
    "approvals_by_source": {"api": 1, "button": 1, "comment": 2},
    # resolved holds: 1.5 h, 2 h, 2.5 h, 4 h -> the mean of the middle two, 2.25 h
    "median_held_seconds": 8_100.0,
    "override_rate": 0.75,  # 3 approved of 4 resolved
    "exceptions": 7,  # 5 holds + 1 policy error + 1 failed assessment
}


def check_figures(figures: dict[str, Any]) -> None:
    for name, value in EXPECTED.items():
        assert figures[name] == value, name
    assert figures["exceptions_per_100"] == pytest.approx(700 / 11)  # 63.6
    assert figures["auto_pass_share"] == pytest.approx(2 / 11)


def check_weeks(weeks: list[dict[str, Any]]) -> None:
    assert weeks == [
        {
            "week": "2024-W23",
            "starts": "2024-06-03",
            "assessed": 6,
            "auto_passed": 2,
            "reviewed": 1,
            "held": 2,
            "approved": 1,
            "rejected": 1,
            "shadow": 1,
            "undecided": 0,
            "override_rate": 0.5,
        },
        {
            "week": "2024-W24",
            "starts": "2024-06-10",
            "assessed": 5,
            "auto_passed": 0,
            "reviewed": 0,
            "held": 3,
            "approved": 2,
            "rejected": 0,
            "shadow": 1,
            "undecided": 1,
            "override_rate": 1.0,
        },
    ]


def line_of(text: str, label: str) -> str:
    return next(line for line in text.splitlines() if line.strip().startswith(label))


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])
