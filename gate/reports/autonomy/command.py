"""`gate report`: the autonomy report printed as text or JSON, and plotted on request."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import TextIO

from gate.reports.autonomy.plot import plot_weekly_trend
from gate.reports.autonomy.report import autonomy_report
from gate.reports.autonomy.text import render_text
from gate.reports.inputs import ReportError, parse_when
from gate.store.db import Database


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
