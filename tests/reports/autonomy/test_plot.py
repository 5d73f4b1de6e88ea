"""The weekly trend plotted as a 1200x600 PNG, with or without changes."""

from __future__ import annotations

import pytest

from gate.reports.autonomy.plot import plot_weekly_trend
from gate.reports.autonomy.report import AutonomyReport, autonomy_report
from tests.reports.autonomy.rows import REPO, SINCE, UNTIL, png_size, seed


def test_plot_is_a_1200_by_600_png(db, tmp_path):
    pytest.importorskip("matplotlib")
    seed(db)
    path = plot_weekly_trend(autonomy_report(db, REPO, SINCE, UNTIL), tmp_path / "trend.png")
    assert png_size(path) == (1200, 600)


def test_plot_of_an_empty_period_still_draws(tmp_path):
    pytest.importorskip("matplotlib")
    report = AutonomyReport(repository=REPO, since=SINCE, until=UNTIL)
    assert png_size(plot_weekly_trend(report, tmp_path / "empty.png")) == (1200, 600)
