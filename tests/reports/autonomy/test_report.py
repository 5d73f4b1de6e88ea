"""The autonomy report's figures, every one checked by hand on realistic rows."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from gate.reports.autonomy.report import autonomy_report, compute_report
from gate.reports.autonomy.text import render_text
from gate.reports.inputs import ReportError
from gate.store.tables import Approval
from tests.reports.autonomy.rows import (
    REPO,
    SINCE,
    UNTIL,
    assessment,
    at,
    check_figures,
    check_weeks,
    entry,
    line_of,
    scenario,
    seed,
)


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
    assert line_of(text, "override rate").split()[2] == "-"
    assert line_of(text, "median time held").split()[3] == "-"


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


def test_bad_input_is_a_clear_error(db):
    with pytest.raises(ReportError, match="OWNER/NAME"):
        autonomy_report(db, "not a repo", SINCE)
    with pytest.raises(ReportError, match="not after since"):
        autonomy_report(db, REPO, SINCE, SINCE)
