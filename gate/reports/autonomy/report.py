"""The autonomy report: how much the gate decided on its own, what it held, what people overrode."""

from __future__ import annotations

import json
import re
import statistics
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from gate.reports.dora import DEFINITIONS as DORA_DEFINITIONS
from gate.reports.dora import DoraFigures, dora_figures
from gate.store import queries
from gate.store.db import Database
from gate.store.tables import Approval, Assessment, AuditEntry

REPOSITORY = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")
VERDICTS = ("pass", "review", "hold")
SOURCE_WORDS = {
    "comment": "/gate comment",
    "button": "check button",
    "api": "API",
    "cli": "CLI",
}
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


EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC)


class ReportError(ValueError):
    """A report or audit request that cannot be answered as asked (bad repository, bad date)."""


def check_repository(repository: str) -> str:
    if not REPOSITORY.match(repository):
        raise ReportError(f"not an OWNER/NAME repository: {repository!r}")
    return repository


def parse_when(value: datetime | str, what: str = "date") -> datetime:
    """An ISO date or datetime as aware UTC; a date or naive time is taken as UTC.

    Only EARLIEST..LATEST: at the calendar's ends, converting a time zone or stepping a week
    leaves the years datetime can hold.
    """
    given = value
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ReportError(
                f"{what} is not an ISO date or datetime (2024-06-01, 2024-06-01T09:00Z): {value!r}"
            ) from None
    try:
        when = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:
        when = None
    if when is None or not EARLIEST <= when < LATEST:
        raise ReportError(
            f"{what} must be from {EARLIEST:%Y-%m-%d} to before {LATEST:%Y-%m-%d}: {given!r}"
        )
    return when


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
        return _ratio(self.approved, self.approved + self.rejected)

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
        return _ratio(self.approved, self.resolved)

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
        return _ratio(self.auto_passed, self.assessed)

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


def _ratio(part: int, whole: int) -> float | None:
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
    report.dora = dora_figures(db, repository, since, until or now)
    return report


# rendering


def duration_words(seconds: float | None) -> str:
    """3d 4h, 2h 05m, 12m, 40s."""
    if seconds is None:
        return "-"
    whole = round(seconds)
    days, rest = divmod(whole, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m" if minutes else f"{secs}s"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}".replace(".0%", "%")


def _period(report: AutonomyReport) -> str:
    until = "now" if report.until is None else f"{report.until:%Y-%m-%d %H:%M} UTC"
    return f"{report.since:%Y-%m-%d %H:%M} UTC to {until}"


def _share(part: int, whole: int) -> str:
    return f"{_percent(_ratio(part, whole)):>6}"


def _figure(label: str, value: object, note: str = "", indent: int = 0) -> str:
    return f"{' ' * indent}{label:<{36 - indent}}{value!s:>8}  {note}".rstrip()


def render_text(report: AutonomyReport) -> str:
    """The report for a terminal: figures with their shares, then the weekly trend."""
    r = report
    lines = [
        f"Autonomy report for {r.repository}",
        f"Period: {_period(r)} (changes assessed in the period, followed to today)",
        "",
        _figure("Changes assessed", r.assessed),
        _figure("passed automatically", r.auto_passed, _share(r.auto_passed, r.assessed), 2),
        _figure("for review, not blocking", r.reviewed, _share(r.reviewed, r.assessed), 2),
        _figure("held for an approver", r.held, _share(r.held, r.assessed), 2),
        _figure("shadow mode, not enforced", r.shadow, _share(r.shadow, r.assessed), 2),
        _figure("no decision (failed or pending)", r.undecided, "", 2),
        "",
        _figure("Holds", r.held),
        _figure("approved", r.approved, "", 2),
        _figure("rejected", r.rejected, "", 2),
        _figure("still held", r.still_held, "", 2),
        _figure("override rate", _percent(r.override_rate), "approved / resolved holds", 2),
        _figure("median time held", duration_words(r.median_held_seconds), "resolved holds", 2),
        "",
        _figure("Exceptions", r.exceptions, "holds + policy errors + failed assessments"),
        _figure("holds", r.held, "", 2),
        _figure("policy errors", r.policy_errors, "broken .github/risk-gate.yml", 2),
        _figure("failed assessments", r.failed, "", 2),
        _figure(
            "per 100 assessed changes",
            "-" if r.exceptions_per_100 is None else f"{r.exceptions_per_100:.1f}",
            "",
            2,
        ),
    ]
    lines += _shadow_lines(r) + _approval_lines(r) + ["", "Weekly trend (ISO weeks, UTC)"]
    lines += _week_table(r.weeks)
    if r.dora is not None:
        lines += ["", *_dora_lines(r.dora)]
    return "\n".join(lines) + "\n"


def _dora_lines(d: DoraFigures) -> list[str]:
    return [
        "DORA (from the deployments riskgate saw)",
        _figure(
            "deployment frequency",
            f"{d.deployments_per_week:.1f}/week",
            f"{d.successful} successful of {d.deployments} finished",
            2,
        ),
        _figure("lead time for changes", duration_words(d.lead_time_median_seconds), "median", 2),
        _figure(
            "change failure rate",
            _percent(d.change_failure_rate),
            f"{d.failed} failed or rolled back",
            2,
        ),
        _figure(
            "time to restore",
            duration_words(d.time_to_restore_median_seconds),
            f"median of {d.restored} restored of {d.regressions} regressions",
            2,
        ),
    ]


def _shadow_lines(r: AutonomyReport) -> list[str]:
    if not r.shadow:
        return []
    words = {"pass": "passed", "review": "sent to review", "hold": "held", "unknown": "unknown"}
    lines = ["", _figure("Shadow mode changes", r.shadow, "what enforce mode would have done")]
    return lines + [
        _figure(
            f"would have {words[verdict]}" if verdict != "unknown" else "not recorded", n, "", 2
        )
        for verdict, n in r.shadow_would_decide.items()
    ]


def _approval_lines(r: AutonomyReport) -> list[str]:
    total = sum(r.approvals_by_source.values())
    if not total and not r.refused_approvals:
        return []
    lines = ["", _figure("Approver verdicts recorded", total)]
    lines += [
        _figure(f"via {SOURCE_WORDS.get(source, source)}", n, "", 2)
        for source, n in r.approvals_by_source.items()
    ]
    return [*lines, _figure("refused (not an approver)", r.refused_approvals, "", 2)]


WEEK_COLUMNS = ("assessed", "passed", "reviewed", "held", "approved", "rejected", "override")


def _week_table(weeks: Sequence[WeekStats]) -> list[str]:
    header = f"{'week':<10}{'starts':<12}" + "".join(f"{c:>10}" for c in WEEK_COLUMNS)
    rows = [
        f"{w.week:<10}{w.starts.isoformat():<12}"
        + "".join(
            f"{v:>10}"
            for v in (w.assessed, w.auto_passed, w.reviewed, w.held, w.approved, w.rejected)
        )
        + f"{_percent(w.override_rate):>10}"
        for w in weeks
    ]
    return [header, *rows] if rows else [header, "(no weeks in the period)"]


BAR_COLORS = {
    "passed automatically": "#2e9d57",
    "for review": "#f0a830",
    "held": "#d0413a",
    "shadow mode (not enforced)": "#a8a8a8",
    "no decision (failed or pending)": "#555555",
}


def _stacks(weeks: Sequence[WeekStats]) -> dict[str, list[int]]:
    stacks = {
        "passed automatically": [w.auto_passed for w in weeks],
        "for review": [w.reviewed for w in weeks],
        "held": [w.held for w in weeks],
        "shadow mode (not enforced)": [w.shadow for w in weeks],
        "no decision (failed or pending)": [w.undecided for w in weeks],
    }
    optional = ("shadow mode (not enforced)", "no decision (failed or pending)")
    return {k: v for k, v in stacks.items() if k not in optional or any(v)}


def _draw_bars(ax: Any, weeks: Sequence[WeekStats]) -> list[Any]:
    """The stacked bars; returns their legend handles (drawn even for a period without weeks)."""
    from matplotlib.patches import Patch
    from matplotlib.ticker import MaxNLocator

    x = range(len(weeks))
    bottom = [0] * len(weeks)
    handles = []
    for label, values in _stacks(weeks).items():
        ax.bar(x, values, bottom=bottom, color=BAR_COLORS[label], width=0.7)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
        handles.append(Patch(color=BAR_COLORS[label], label=label))
    # headroom above the tallest bar keeps the bars clear of the legend along the top
    ax.set_ylim(0, max([*bottom, 1]) * 1.35)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("changes assessed")
    ax.set_xlabel("ISO week (UTC), with its Monday")
    step = max(1, len(weeks) // 16)
    ax.set_xticks(x[::step], [f"{w.week}\n{w.starts:%d %b}" for w in weeks][::step])
    if not any(w.assessed for w in weeks):
        ax.text(0.5, 0.5, "no changes assessed", ha="center", transform=ax.transAxes)
    return handles


def _draw_override_rate(ax: Any, weeks: Sequence[WeekStats]) -> Any:
    from matplotlib.ticker import PercentFormatter

    rate = ax.twinx()
    values = [float("nan") if w.override_rate is None else w.override_rate for w in weeks]
    rate.plot(range(len(weeks)), values, color="#3355aa", marker="o", lw=2, label="override rate")
    rate.set_ylim(0, 1.35)
    rate.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    rate.yaxis.set_major_formatter(PercentFormatter(1.0))
    rate.set_ylabel("override rate (approved / resolved holds)")
    return rate


def plot_weekly_trend(report: AutonomyReport, path: Path) -> Path:
    """A 1200x600 PNG: stacked passed/reviewed/held bars per week, override rate as a line."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 6), dpi=100)
    FigureCanvasAgg(fig)  # the Agg canvas, without touching pyplot's global state
    ax = fig.add_subplot()
    handles = _draw_bars(ax, report.weeks)
    handles += _draw_override_rate(ax, report.weeks).get_legend_handles_labels()[0]
    ax.legend(handles=handles, loc="upper left", ncols=min(len(handles), 4), frameon=False)
    ax.set_title(f"riskgate autonomy for {report.repository}: {_period(report)}")
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=100)
    return path


# the CLI's commands


def report_command(
    db: Database,
    repo: str,
    since: datetime | str,
    until: datetime | str | None,
    as_json: bool,
    plot_path: Path | None,
    out: TextIO,
    err: TextIO | None = None,
) -> int:
    """`gate report`: print the report (text or JSON), optionally plot it; 2 on bad input."""
    try:
        report = autonomy_report(
            db,
            repo,
            parse_when(since, "since"),
            None if until is None else parse_when(until, "until"),
        )
    except ReportError as error:
        print(f"error: {error}", file=err or sys.stderr)
        return 2
    out.write(json.dumps(report.to_json(), indent=2) + "\n" if as_json else render_text(report))
    if plot_path is not None:
        plot_weekly_trend(report, Path(plot_path))
        if not as_json:
            out.write(f"\nweekly trend plotted to {plot_path}\n")
    return 0
