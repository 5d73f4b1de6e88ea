"""The autonomy report for a terminal: figures with their shares, then the weekly trend."""

from __future__ import annotations

from collections.abc import Sequence

from gate.reports.autonomy.report import AutonomyReport, WeekStats, ratio
from gate.reports.dora import DoraFigures

SOURCE_WORDS = {
    "comment": "/gate comment",
    "button": "check button",
    "api": "API",
    "cli": "CLI",
}


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


def period(report: AutonomyReport) -> str:
    until = "now" if report.until is None else f"{report.until:%Y-%m-%d %H:%M} UTC"
    return f"{report.since:%Y-%m-%d %H:%M} UTC to {until}"


def _share(part: int, whole: int) -> str:
    return f"{_percent(ratio(part, whole)):>6}"


def _figure(label: str, value: object, note: str = "", indent: int = 0) -> str:
    return f"{' ' * indent}{label:<{36 - indent}}{value!s:>8}  {note}".rstrip()


def render_text(report: AutonomyReport) -> str:
    """The report for a terminal: figures with their shares, then the weekly trend."""
    r = report
    lines = [
        f"Autonomy report for {r.repository}",
        f"Period: {period(r)} (changes assessed in the period, followed to today)",
        "",
        _figure("Changes assessed", r.assessed),
        _figure("passed automatically", r.auto_passed, _share(r.auto_passed, r.assessed), 2),
        _figure("for review, not blocking", r.reviewed, _share(r.reviewed, r.assessed), 2),
        _figure("held for an approver", r.held, _share(r.held, r.assessed), 2),
        _figure("shadow mode, not enforced", r.shadow, _share(r.shadow, r.assessed), 2),
        _figure("no decision (failed or pending)", r.undecided, "", 2),
        _figure("Local runs (gate assess)", r.local, "recorded, not counted above"),
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
    """One row a week; a run of two or more weeks with nothing in them is one line."""
    header = f"{'week':<10}{'starts':<12}" + "".join(f"{c:>10}" for c in WEEK_COLUMNS)
    rows: list[str] = []
    empty: list[WeekStats] = []
    for week in [*weeks, None]:
        if week is not None and _is_empty(week):
            empty.append(week)
            continue
        if len(empty) == 1:
            rows.append(_week_row(empty[0]))
        elif empty:
            rows.append(
                f"{empty[0].week}..{empty[-1].week}  {len(empty)} weeks with no changes "
                f"(from {empty[0].starts.isoformat()})"
            )
        empty = []
        if week is not None:
            rows.append(_week_row(week))
    return [header, *rows] if rows else [header, "(no weeks in the period)"]


def _is_empty(w: WeekStats) -> bool:
    return not (w.assessed or w.approved or w.rejected or w.shadow or w.undecided)


def _week_row(w: WeekStats) -> str:
    return (
        f"{w.week:<10}{w.starts.isoformat():<12}"
        + "".join(
            f"{v:>10}"
            for v in (w.assessed, w.auto_passed, w.reviewed, w.held, w.approved, w.rejected)
        )
        + f"{_percent(w.override_rate):>10}"
    )
