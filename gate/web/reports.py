"""A repository's autonomy report for its page, computed at most once a minute per repository."""

from __future__ import annotations

import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from gate.reports.autonomy.plot import plot_weekly_trend
from gate.reports.autonomy.report import AutonomyReport, autonomy_report
from gate.store import Database

REPORT_DAYS = 90


class RecentReports:
    """Reading every assessment and audit entry of 90 days costs more than a page may: the
    figures move slowly, so a minute-old report serves."""

    def __init__(self, db: Database, ttl: float = 60.0) -> None:
        self.db = db
        self._ttl = ttl
        self._cache: dict[str, tuple[float, AutonomyReport]] = {}
        self._lock = threading.Lock()

    def get(self, repository: str) -> AutonomyReport:
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(repository)
        if cached is not None and cached[0] > now:
            return cached[1]
        since = datetime.now(UTC) - timedelta(days=REPORT_DAYS)
        report = autonomy_report(self.db, repository, since, None)
        with self._lock:
            self._cache[repository] = (now + self._ttl, report)
        return report


def trend_png(report: AutonomyReport) -> bytes:
    """The weekly trend as `gate report --plot` draws it."""
    with tempfile.TemporaryDirectory() as work:
        return plot_weekly_trend(report, Path(work) / "trend.png").read_bytes()
