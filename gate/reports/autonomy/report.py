"""The autonomy report's figures, from the assessments, approvals and audit entries."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from gate.reports.dora import DEFINITIONS as DORA_DEFINITIONS
from gate.reports.dora import DoraFigures, dora_figures
from gate.reports.inputs import ReportError, check_repository, parse_when
from gate.store import queries
from gate.store.db import Database
from gate.store.tables import Approval, Assessment, AuditEntry

VERDICTS = ("pass", "review", "hold")
DEFINITIONS = {
    "assessed": "pull request assessments created in the period (one per PR head commit); "
    "CLI runs are left out",
    "auto_passed": "decided pass in enforce mode: went through without a person",
    "reviewed": "decided review in enforce mode: shown for review, not blocking",
    "held": "decided hold in enforce mode: waited for an approver",
    "approved / rejected / still_held": "what became of those holds, as of the report",
    "override_rate": "approved holds / resolved (approved + rejected) holds; null without any",
    "median_held_seconds": "median of resolved_at - held_at over resolved holds; null without any",
    "exceptions": "holds + policy errors (broken risk-gate.yml) + assessments that failed",
    "exceptions_per_100": "exceptions per 100 assessed changes; null when nothing was assessed",
    "shadow": "assessed in shadow mode (always passed); shadow_would_decide says what enforce "
    "mode would have decided",
    "weeks": "ISO weeks (UTC) of when each change was assessed; holds are counted in the week "
    "the change was assessed, whenever they were resolved",
}


@dataclass(frozen=True)
class WeekStats:
    """One ISO week of the trend (changes counted in the week they were assessed)."""

    week: str  # 2024-W23
    starts: date  # its Monday
    assessed: int = 0
    auto_passed: int = 0
    reviewed: int = 0
    held: int = 0
    approved: int = 0
    rejected: int = 0
    shadow: int = 0
    undecided: int = 0

    @property
    def override_rate(self) -> float | None:
        return ratio(self.approved, self.approved + self.rejected)

    def to_json(self) -> dict[str, Any]:
        return {
            "week": self.week,
            "starts": self.starts.isoformat(),
            "assessed": self.assessed,
            "auto_passed": self.auto_passed,
            "reviewed": self.reviewed,
            "held": self.held,
            "approved": self.approved,
            "rejected": self.rejected,
            "shadow": self.shadow,
            "undecided": self.undecided,
            "override_rate": self.override_rate,
        }


@dataclass
class AutonomyReport:
    """The figures of one repository over [since, until); see DEFINITIONS for each."""

    repository: str
    since: datetime
    until: datetime | None
    assessed: int = 0
    auto_passed: int = 0
    reviewed: int = 0
    held: int = 0
    approved: int = 0
    rejected: int = 0
    still_held: int = 0
    shadow: int = 0
    shadow_would_decide: dict[str, int] = field(default_factory=dict)
    undecided: int = 0  # no decision: failed, or still being scored
    local: int = 0  # `gate assess` runs recorded under this repository: seen, not in the figures
    failed: int = 0
    policy_errors: int = 0
    refused_approvals: int = 0
    approvals_by_source: dict[str, int] = field(default_factory=dict)
    median_held_seconds: float | None = None
    weeks: list[WeekStats] = field(default_factory=list)
    dora: DoraFigures | None = None

    @property
    def resolved(self) -> int:
        return self.approved + self.rejected

    @property
    def override_rate(self) -> float | None:
        """Approved holds / resolved holds: how often a person let through what the gate held."""
        return ratio(self.approved, self.resolved)

    @property
    def exceptions(self) -> int:
        """Holds + policy errors + failed assessments: each needed a person or went wrong."""
        return self.held + self.policy_errors + self.failed

    @property
    def exceptions_per_100(self) -> float | None:
        """Exceptions per 100 assessed changes."""
        return None if not self.assessed else 100 * self.exceptions / self.assessed

    @property
    def auto_pass_share(self) -> float | None:
        return ratio(self.auto_passed, self.assessed)

    def to_json(self) -> dict[str, Any]:
        return {
            "repository": self.repository,
            "since": self.since.isoformat(),
            "until": None if self.until is None else self.until.isoformat(),
            "assessed": self.assessed,
            "auto_passed": self.auto_passed,
            "auto_pass_share": self.auto_pass_share,
            "reviewed": self.reviewed,
            "held": self.held,
            "approved": self.approved,
            "rejected": self.rejected,
            "still_held": self.still_held,
            "local_assessments": self.local,
            "override_rate": self.override_rate,
            "median_held_seconds": self.median_held_seconds,
            "undecided": self.undecided,
            "failed": self.failed,
            "policy_errors": self.policy_errors,
            "exceptions": self.exceptions,
            "exceptions_per_100": self.exceptions_per_100,
            "shadow": self.shadow,
            "shadow_would_decide": dict(self.shadow_would_decide),
            "approvals_by_source": dict(self.approvals_by_source),
            "refused_approvals": self.refused_approvals,
            "weeks": [week.to_json() for week in self.weeks],
            "dora": None if self.dora is None else self.dora.to_json(),
            "definitions": {**DEFINITIONS, **{f"dora.{k}": v for k, v in DORA_DEFINITIONS.items()}},
        }


def ratio(part: int, whole: int) -> float | None:
    return None if whole == 0 else part / whole


def _in_window(at: datetime, since: datetime, until: datetime | None) -> bool:
    return at >= since and (until is None or at < until)


def _is_shadow(row: Assessment) -> bool:
    # rows written before shadow mode existed have no mode: they were enforced
    return row.mode == "shadow"


def _outcome(row: Assessment) -> str | None:
    """auto_passed | reviewed | held | shadow, or None when nothing was decided."""
    if row.decision is None:
        return None
    if _is_shadow(row):
        return "shadow"
    return {"pass": "auto_passed", "review": "reviewed", "hold": "held"}.get(row.decision)


def compute_report(
    assessments: Iterable[Assessment],
    approvals: Iterable[Approval],
    audit_entries: Iterable[AuditEntry],
    since: datetime,
    until: datetime | None = None,
    *,
    repository: str = "",
    now: datetime | None = None,
) -> AutonomyReport:
    """The figures, from plain rows; rows outside [since, until), of another repository (when
    `repository` is given) and CLI runs are ignored.

    Changes are the pull request assessments created in the window, followed to their state now.
    With no `until`, the weekly trend runs to `now` (or to the last change when that is None).
    Exceptions are holds + policy errors + assessments that failed, and exceptions_per_100 is
    that count per 100 assessed changes: how often the gate needed a person or went wrong.
    """
    rows = [
        a
        for a in assessments
        if a.kind == "pr"
        and _in_window(a.created_at, since, until)
        and (not repository or a.repository == repository)
    ]
    entries = [
        e
        for e in audit_entries
        if _in_window(e.at, since, until) and (not repository or e.repository == repository)
    ]
    ids = {row.id for row in rows}
    outcomes = Counter(_outcome(row) for row in rows)
    holds = [row for row in rows if _outcome(row) == "held"]
    shadow = [row for row in rows if _outcome(row) == "shadow"]
    held_for = [
        (row.resolved_at - row.held_at).total_seconds()
        for row in holds
        if row.resolution is not None and row.held_at is not None and row.resolved_at is not None
    ]
    return AutonomyReport(
        repository=repository,
        since=since,
        until=until,
        assessed=len(rows),
        auto_passed=outcomes["auto_passed"],
        reviewed=outcomes["reviewed"],
        held=len(holds),
        approved=sum(1 for row in holds if row.resolution == "approved"),
        rejected=sum(1 for row in holds if row.resolution == "rejected"),
        still_held=sum(1 for row in holds if row.resolution is None),
        shadow=len(shadow),
        shadow_would_decide=_would_decide(shadow),
        undecided=outcomes[None],
        failed=len(_failed_assessments(entries)),
        policy_errors=sum(1 for e in entries if e.action == "policy.error"),
        refused_approvals=sum(1 for e in entries if e.action == "approval.refused"),
        approvals_by_source=dict(
            sorted(Counter(a.source for a in approvals if a.assessment_id in ids).items())
        ),
        median_held_seconds=statistics.median(held_for) if held_for else None,
        weeks=weekly_trend(rows, since, until if until is not None else now),
    )


def _would_decide(shadow: Sequence[Assessment]) -> dict[str, int]:
    counts = Counter(row.would_decide or "unknown" for row in shadow)
    return {verdict: counts[verdict] for verdict in (*VERDICTS, "unknown") if counts[verdict]}


def _failed_assessments(entries: Sequence[AuditEntry]) -> set[tuple[str, int]]:
    # one per assessment however many times its job gave up; an entry without one counts alone
    return {
        ("assessment", e.assessment_id) if e.assessment_id is not None else ("entry", e.id)
        for e in entries
        if e.action == "check_run.give_up"
    }


def iso_week(at: datetime) -> tuple[int, int]:
    year, week, _ = at.astimezone(UTC).isocalendar()
    return year, week


def _weeks_spanned(first: tuple[int, int], last: tuple[int, int]) -> list[tuple[int, int]]:
    monday = date.fromisocalendar(*first, 1)
    weeks = []
    while (key := monday.isocalendar()[:2]) <= last:
        weeks.append((key[0], key[1]))
        monday += timedelta(weeks=1)
    return weeks


def weekly_trend(
    rows: Sequence[Assessment], since: datetime, until: datetime | None
) -> list[WeekStats]:
    """Every ISO week in [since, until) (or to the last change), empty weeks included."""
    last_at = until - timedelta(microseconds=1) if until is not None else None
    if last_at is None:
        last_at = max((row.created_at for row in rows), default=since)
    by_week: dict[tuple[int, int], list[Assessment]] = {}
    for row in rows:
        by_week.setdefault(iso_week(row.created_at), []).append(row)
    return [
        _week_stats(key, by_week.get(key, []))
        for key in _weeks_spanned(iso_week(since), iso_week(max(last_at, since)))
    ]


def _week_stats(key: tuple[int, int], rows: Sequence[Assessment]) -> WeekStats:
    outcomes = Counter(_outcome(row) for row in rows)
    held = [row for row in rows if _outcome(row) == "held"]
    return WeekStats(
        week=f"{key[0]}-W{key[1]:02d}",
        starts=date.fromisocalendar(*key, 1),
        assessed=len(rows),
        auto_passed=outcomes["auto_passed"],
        reviewed=outcomes["reviewed"],
        held=len(held),
        approved=sum(1 for row in held if row.resolution == "approved"),
        rejected=sum(1 for row in held if row.resolution == "rejected"),
        shadow=outcomes["shadow"],
        undecided=outcomes[None],
    )


def autonomy_report(
    db: Database, repository: str, since: datetime, until: datetime | None = None
) -> AutonomyReport:
    """Read the repository's rows for [since, until) and compute its report."""
    check_repository(repository)
    since = parse_when(since)
    until = None if until is None else parse_when(until)
    if until is not None and until <= since:
        raise ReportError(f"until ({until:%Y-%m-%d %H:%M}) is not after since")
    rows = queries.pr_assessments(db, repository, since, until)
    approvals = queries.approvals_for(db, [row.id for row in rows])
    entries = queries.decisions(db, repository, since=since, until=until)
    now = datetime.now(UTC)
    report = compute_report(rows, approvals, entries, since, until, repository=repository, now=now)
    report.local = queries.local_assessment_count(db, repository, since, until)
    report.dora = dora_figures(db, repository, since, until or now)
    return report
