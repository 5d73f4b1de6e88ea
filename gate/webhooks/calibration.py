"""Job: score a repository's recent changes, so its thresholds are shares of its own changes."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from gate.context import Services
from gate.github import Repo
from gate.policy.shares import Distribution
from gate.pulls.calibration import calibrate, load, save, scores_file, stale
from gate.store.jobs import enqueue

log = logging.getLogger(__name__)

JOB = "calibrate_repository"


def calibrate_mirror(services: Services, full_name: str, mirror: Path, branch: str) -> str:
    """Calibrate `branch` of the mirror when its distribution is stale; say why (or "")."""
    model = services.model_for(full_name).model
    tip = f"refs/heads/{branch}"
    path = scores_file(mirror)
    why = stale(load(path), mirror, tip, model.version)
    if not why:
        return ""
    index = services.indexes.update(mirror, branch)
    distribution = calibrate(
        mirror,
        tip,
        model,
        index=index,
        now=int(services.clock().timestamp()),
        objects=services.mirrors.objects.get(mirror),
    )
    save(path, distribution)
    log.info("calibrated %s (%s): %d changes scored", full_name, why, distribution.count)
    return why


def calibrate_repository(services: Services, args: dict[str, Any]) -> None:
    """Job: `{"repository": "o/r", "branch": "main"}`, the mirror already fetched."""
    repo = Repo.parse(str(args["repository"]))
    calibrate_mirror(
        services, repo.full_name, services.mirrors.path(repo.full_name), str(args["branch"])
    )


def enqueue_if_stale(
    services: Services, full_name: str, branch: str, distribution: Distribution | None
) -> bool:
    """Queue a calibration when the one at hand is missing, of another model or outgrown."""
    mirror = services.mirrors.path(full_name)
    model = services.model_for(full_name).model
    try:
        why = stale(distribution, mirror, f"refs/heads/{branch}", model.version)
    except Exception:
        # never cost a change its check for a calibration that can wait
        log.warning("calibration: cannot tell whether %s is stale", full_name, exc_info=True)
        return False
    if not why:
        return False
    with services.db.session() as session:
        enqueue(
            session,
            JOB,
            {"repository": full_name, "branch": branch},
            services.settings.job_max_attempts,
        )
    return True
