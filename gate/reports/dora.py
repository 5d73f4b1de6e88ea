"""DORA's four figures from what riskgate sees: deploys, their change sets, failures, restores."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from gate.git.cmd import git
from gate.store.db import Database
from gate.store.tables import Deployment, Watch

FAILED = ("failure", "error", "rolled_back", "regressed")
FINISHED = ("success", *FAILED)
DEFINITIONS = {
    "deployments": "deployments that finished in the period (success, failure, error, rolled "
    "back by riskgate, or regressed while only alerting)",
    "deployments_per_week": "successful deployments per 7 days of the period",
    "lead_time_median_seconds": "median over the commits in successful deployments' change sets "
    "of the time from commit to the deployment's success; null where no change set is known",
    "change_failure_rate": "deployments that failed, or that riskgate found regressed, over all "
    "finished deployments",
    "time_to_restore_median_seconds": "median over regressions of the time from the regressed "
    "deploy to the next successful deploy to that environment",
}


@dataclass(frozen=True)
class DoraFigures:
    since: datetime
    until: datetime
    deployments: int
    successful: int
    failed: int
    deployments_per_week: float
    lead_time_median_seconds: float | None
    change_failure_rate: float | None
    regressions: int
    restored: int
    time_to_restore_median_seconds: float | None

    def to_json(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "deployments": self.deployments,
            "successful": self.successful,
            "failed": self.failed,
            "deployments_per_week": round(self.deployments_per_week, 3),
            "lead_time_median_seconds": self.lead_time_median_seconds,
            "change_failure_rate": self.change_failure_rate,
            "regressions": self.regressions,
            "restored": self.restored,
            "time_to_restore_median_seconds": self.time_to_restore_median_seconds,
        }


def dora_figures(
    db: Database, repository: str, since: datetime, until: datetime, environment: str | None = None
) -> DoraFigures:
    finished_query = select(Deployment).where(
        Deployment.repository == repository,
        Deployment.status.in_(FINISHED),
        Deployment.finished_at >= since,
        Deployment.finished_at < until,
    )
    watch_query = select(Watch).where(
        Watch.repository == repository,
        Watch.state == "regressed",
        Watch.deployed_at >= since,
        Watch.deployed_at < until,
    )
    if environment is not None:
        finished_query = finished_query.where(Deployment.environment == environment)
        watch_query = watch_query.where(Watch.environment == environment)
    with db.session() as session:
        finished = list(session.scalars(finished_query))
        regressed = list(session.scalars(watch_query))
    successful = [d for d in finished if d.status == "success"]
    failed = [d for d in finished if d.status in FAILED]
    leads = [d.lead_time_seconds for d in successful if d.lead_time_seconds is not None]
    restores = [(w.restored_at - w.deployed_at).total_seconds() for w in regressed if w.restored_at]
    weeks = max((until - since).total_seconds() / (7 * 86400), 1 / 7)
    return DoraFigures(
        since=since,
        until=until,
        deployments=len(finished),
        successful=len(successful),
        failed=len(failed),
        deployments_per_week=len(successful) / weeks,
        lead_time_median_seconds=statistics.median(leads) if leads else None,
        change_failure_rate=len(failed) / len(finished) if finished else None,
        regressions=len(regressed),
        restored=len(restores),
        time_to_restore_median_seconds=statistics.median(restores) if restores else None,
    )


def lead_time_seconds(mirror: Path, base: str | None, sha: str, deployed_at: datetime) -> float:
    """Median time from commit to this deploy over the change set base..sha (or sha alone)."""
    span = f"{base}..{sha}" if base else f"{sha}^!"
    stamps = git(mirror, "log", "--format=%ct", span).decode().split()
    ages = [deployed_at.timestamp() - int(stamp) for stamp in stamps] or [0.0]
    return max(0.0, statistics.median(ages))
