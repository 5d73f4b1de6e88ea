"""The autonomy report: every figure checked by hand on realistic rows; text, JSON, plot, API."""

from __future__ import annotations

import io
import json
import struct
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from gate.api import report as report_api
from gate.reports.autonomy.command import report_command
from gate.reports.autonomy.plot import plot_weekly_trend
from gate.reports.autonomy.report import AutonomyReport, autonomy_report, compute_report
from gate.reports.autonomy.text import duration_words, render_text
from gate.reports.inputs import ReportError, parse_when
from gate.store import Database
from gate.store.tables import Approval, Assessment, AuditEntry
from gate.store.tokens import create_token

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


def test_every_figure_of_two_weeks_by_hand(db):
    seed(db)
    report = autonomy_report(db, REPO, SINCE, UNTIL)
    figures = report.to_json()
    check_figures(figures)
    check_weeks(figures["weeks"])
    assert figures["since"] == "2024-06-03T00:00:00+00:00"
    assert figures["until"] == "2024-06-17T00:00:00+00:00"
    assert "exceptions" in figures["definitions"]
    json.dumps(figures)  # plain JSON all the way down


def test_compute_report_is_pure_on_plain_rows():
    rows = scenario()
    for number, row in enumerate(rows.values(), start=1):
        row.id = number
    entries = [
        entry(at(11, 9), "policy.error", "broken", id=1),
        entry(at(15, 9), "check_run.give_up", "boom", id=2, assessment_id=rows["failed"].id),
    ]
    approvals = [Approval(assessment_id=rows["approved_2h30"].id, source="cli")]
    report = compute_report(rows.values(), approvals, entries, SINCE, UNTIL, repository=REPO)
    assert (report.assessed, report.held, report.exceptions) == (11, 5, 7)
    assert report.approvals_by_source == {"cli": 1}
    assert report.median_held_seconds == 8_100.0


def test_no_resolved_hold_means_no_override_rate_and_no_median():
    rows = [
        assessment(1, at(3, 9), "hold", held=at(3, 9)),
        assessment(2, at(4, 9), "pass"),
    ]
    report = compute_report(rows, [], [], SINCE, UNTIL)
    assert (report.held, report.still_held, report.resolved) == (1, 1, 0)
    assert report.override_rate is None and report.median_held_seconds is None
    assert report.exceptions_per_100 == 50.0  # 1 hold per 2 changes
    assert report.weeks[0].override_rate is None
    text = render_text(report)
    assert _line(text, "override rate").split()[2] == "-"
    assert _line(text, "median time held").split()[3] == "-"


def test_an_odd_count_median_is_the_middle_hold():
    rows = [
        assessment(n, at(4, n), "hold", held=at(4, n), resolved=timedelta(minutes=m), resolution=r)
        for n, m, r in ((1, 10, "approved"), (2, 30, "rejected"), (3, 600, "rejected"))
    ]
    report = compute_report(rows, [], [], SINCE, UNTIL)
    assert report.median_held_seconds == 1_800.0
    assert report.override_rate == pytest.approx(1 / 3)


def test_nothing_assessed_gives_empty_weeks_and_no_rates():
    report = compute_report([], [], [], SINCE, UNTIL)
    assert report.assessed == 0 and report.exceptions == 0
    assert report.exceptions_per_100 is None and report.auto_pass_share is None
    assert [w.week for w in report.weeks] == ["2024-W23", "2024-W24"]
    assert all(w.assessed == 0 for w in report.weeks)


def test_weeks_follow_iso_numbering_across_the_new_year():
    # 2024-12-30 (a Monday) is in 2025-W01; 2024-12-29 (a Sunday) closes 2024-W52
    rows = [
        assessment(1, datetime(2024, 12, 29, 23, 59, 59, tzinfo=UTC), "pass"),
        assessment(2, datetime(2024, 12, 30, tzinfo=UTC), "pass"),
        assessment(3, datetime(2025, 1, 5, 23, tzinfo=UTC), "review"),
    ]
    since = datetime(2024, 12, 20, tzinfo=UTC)
    report = compute_report(rows, [], [], since, datetime(2025, 1, 6, tzinfo=UTC))
    assert [(w.week, w.starts.isoformat(), w.assessed) for w in report.weeks] == [
        ("2024-W51", "2024-12-16", 0),
        ("2024-W52", "2024-12-23", 1),
        ("2025-W01", "2024-12-30", 2),
    ]


def test_an_open_ended_report_runs_its_weeks_to_now():
    rows = [assessment(1, at(4, 9), "pass")]
    report = compute_report(rows, [], [], SINCE, None, now=at(20, 12))
    assert [w.week for w in report.weeks] == ["2024-W23", "2024-W24", "2024-W25"]
    assert report.to_json()["until"] is None
    assert "to now" in render_text(report)


def test_a_hold_never_marked_held_still_counts_but_has_no_duration():
    rows = [assessment(1, at(4, 9), "hold", resolution="approved")]  # held_at missing
    report = compute_report(rows, [], [], SINCE, UNTIL)
    assert (report.approved, report.override_rate, report.median_held_seconds) == (1, 1.0, None)


def _line(text: str, label: str) -> str:
    return next(line for line in text.splitlines() if line.strip().startswith(label))


def _cells(*values: object) -> str:
    return "".join(f"{value!s:>10}" for value in values)


def test_text_report_reads_and_aligns(db):
    seed(db)
    text = render_text(autonomy_report(db, REPO, SINCE, UNTIL))
    assert text.startswith("Autonomy report for octo-org/shop\n")
    assert "2024-06-03 00:00 UTC to 2024-06-17 00:00 UTC" in text
    assert _line(text, "Changes assessed").split()[-1] == "11"
    assert _line(text, "passed automatically").split()[2:] == ["2", "18.2%"]
    assert _line(text, "override rate").split()[2:4] == ["75%", "approved"]
    assert _line(text, "median time held").split()[3:5] == ["2h", "15m"]
    assert _line(text, "per 100 assessed changes").split()[-1] == "63.6"
    assert _line(text, "would have held").split()[-1] == "1"
    assert _line(text, "via /gate comment").split()[-1] == "2"
    assert _line(text, "2024-W23") == "2024-W23  2024-06-03  " + _cells(6, 2, 1, 2, 1, 1, "50%")
    assert _line(text, "2024-W24") == "2024-W24  2024-06-10  " + _cells(5, 0, 0, 3, 2, 0, "100%")
    # the figures line up in one column
    figures = [_line(text, label) for label in ("Changes assessed", "approved", "still held")]
    assert {len(line) for line in figures} == {44}


@pytest.mark.parametrize(
    ("seconds", "words"),
    [(None, "-"), (40, "40s"), (720, "12m"), (8_100, "2h 15m"), (3 * 86_400 + 4 * 3_600, "3d 4h")],
)
def test_durations_in_words(seconds, words):
    assert duration_words(seconds) == words


def test_bad_input_is_a_clear_error(db):
    with pytest.raises(ReportError, match="OWNER/NAME"):
        autonomy_report(db, "not a repo", SINCE)
    with pytest.raises(ReportError, match="not after since"):
        autonomy_report(db, REPO, SINCE, SINCE)
    with pytest.raises(ReportError, match="ISO date"):
        parse_when("last tuesday")
    assert parse_when("2024-06-03") == SINCE
    assert parse_when("2024-06-03T02:00+02:00") == SINCE


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_plot_is_a_1200_by_600_png(db, tmp_path):
    pytest.importorskip("matplotlib")
    seed(db)
    path = plot_weekly_trend(autonomy_report(db, REPO, SINCE, UNTIL), tmp_path / "trend.png")
    assert _png_size(path) == (1200, 600)


def test_plot_of_an_empty_period_still_draws(tmp_path):
    pytest.importorskip("matplotlib")
    report = AutonomyReport(repository=REPO, since=SINCE, until=UNTIL)
    assert _png_size(plot_weekly_trend(report, tmp_path / "empty.png")) == (1200, 600)


def test_report_command_prints_text_json_and_plots(db, tmp_path):
    pytest.importorskip("matplotlib")
    seed(db)
    out = io.StringIO()
    assert report_command(db, REPO, "2024-06-03", "2024-06-17", False, None, out) == 0
    assert "Autonomy report for octo-org/shop" in out.getvalue()
    out = io.StringIO()
    plot = tmp_path / "trend.png"
    assert report_command(db, REPO, "2024-06-03", "2024-06-17", True, plot, out) == 0
    check_figures(json.loads(out.getvalue()))
    assert _png_size(plot) == (1200, 600)


def test_report_command_refuses_bad_dates_with_status_2(db):
    out, err = io.StringIO(), io.StringIO()
    assert report_command(db, REPO, "June", None, False, None, out, err) == 2
    assert "since is not an ISO date" in err.getvalue() and out.getvalue() == ""
    assert report_command(db, "shop", "2024-06-03", None, False, None, out, err) == 2


def _with_router(client):
    """The app's /api/v1/report, called with a token of REPO."""
    if not any(getattr(r, "path", None) == "/api/v1/report" for r in client.app.routes):
        client.app.include_router(report_api.router)
    token = create_token(client.app.state.services.db, REPO, "test")
    client.headers["Authorization"] = f"Bearer {token}"
    return client


def test_report_api_answers_the_same_figures(client):
    _with_router(client)
    seed(client.app.state.services.db)
    response = client.get(
        "/api/v1/report", params={"repo": REPO, "since": "2024-06-03", "until": "2024-06-17"}
    )
    assert response.status_code == 200
    check_figures(response.json())
    check_weeks(response.json()["weeks"])


@pytest.mark.parametrize(
    "params",
    [
        {"repo": "octo-org", "since": "2024-06-03"},
        {"repo": REPO, "since": "yesterday"},
        {"repo": REPO, "since": "2024-06-03", "until": "2024-06-01"},
        {"repo": REPO},
    ],
)
def test_report_api_refuses_bad_queries(client, params):
    _with_router(client)
    assert client.get("/api/v1/report", params=params).status_code == 422


def test_the_text_report_shows_dora_s_four_figures():
    from gate.reports.autonomy.text import _dora_lines
    from gate.reports.dora import DoraFigures

    at = datetime(2026, 1, 1, tzinfo=UTC)
    figures = DoraFigures(at, at, 4, 3, 1, 3.5, 7200.0, 0.25, 1, 1, 2100.0)
    assert [line.split()[0:2] for line in _dora_lines(figures)[1:]] == [
        ["deployment", "frequency"],
        ["lead", "time"],
        ["change", "failure"],
        ["time", "to"],
    ]
    text = "\n".join(_dora_lines(figures))
    assert "3.5/week  3 successful of 4 finished" in text
    assert "2h 00m  median" in text and "25%  1 failed or rolled back" in text
    assert "35m  median of 1 restored of 1 regressions" in text
