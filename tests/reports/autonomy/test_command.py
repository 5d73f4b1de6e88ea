"""`gate report` as a function: text, JSON and a plot; status 2 on bad input."""

from __future__ import annotations

import io
import json

import pytest

from gate.reports.autonomy.command import report_command
from tests.reports.autonomy.rows import REPO, check_figures, png_size, seed


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
    assert png_size(plot) == (1200, 600)


def test_report_command_refuses_bad_dates_with_status_2(db):
    out, err = io.StringIO(), io.StringIO()
    assert report_command(db, REPO, "June", None, False, None, out, err) == 2
    assert "since is not an ISO date" in err.getvalue() and out.getvalue() == ""
    assert report_command(db, "shop", "2024-06-03", None, False, None, out, err) == 2
