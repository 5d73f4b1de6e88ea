"""The autonomy report for a terminal: figures in one column, durations in words, DORA."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gate.reports.autonomy.report import autonomy_report
from gate.reports.autonomy.text import duration_words, render_text
from tests.reports.autonomy.rows import REPO, SINCE, UNTIL, line_of, seed


def _cells(*values: object) -> str:
    return "".join(f"{value!s:>10}" for value in values)


def test_text_report_reads_and_aligns(db):
    seed(db)
    text = render_text(autonomy_report(db, REPO, SINCE, UNTIL))
    assert text.startswith("Autonomy report for octo-org/shop\n")
    assert "2024-06-03 00:00 UTC to 2024-06-17 00:00 UTC" in text
    assert line_of(text, "Changes assessed").split()[-1] == "11"
    assert line_of(text, "passed automatically").split()[2:] == ["2", "18.2%"]
    assert line_of(text, "override rate").split()[2:4] == ["75%", "approved"]
    assert line_of(text, "median time held").split()[3:5] == ["2h", "15m"]
    assert line_of(text, "per 100 assessed changes").split()[-1] == "63.6"
    assert line_of(text, "would have held").split()[-1] == "1"
    assert line_of(text, "via /gate comment").split()[-1] == "2"
    assert line_of(text, "2024-W23") == "2024-W23  2024-06-03  " + _cells(6, 2, 1, 2, 1, 1, "50%")
    assert line_of(text, "2024-W24") == "2024-W24  2024-06-10  " + _cells(5, 0, 0, 3, 2, 0, "100%")
    # the figures line up in one column
    figures = [line_of(text, label) for label in ("Changes assessed", "approved", "still held")]
    assert {len(line) for line in figures} == {44}


@pytest.mark.parametrize(
    ("seconds", "words"),
    [(None, "-"), (40, "40s"), (720, "12m"), (8_100, "2h 15m"), (3 * 86_400 + 4 * 3_600, "3d 4h")],
)
def test_durations_in_words(seconds, words):
    assert duration_words(seconds) == words


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
