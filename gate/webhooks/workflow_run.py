"""workflow_run completed: take the run's `coverage` artifact as the head commit's coverage."""

from __future__ import annotations

import logging
from typing import Any

from gate.context import Services
from gate.errors import MalformedPayload
from gate.features.coverage.report import CoverageError
from gate.github import Repo
from gate.pulls.coverage_intake import accept_report, report_from_artifact
from gate.store import audit
from gate.store.tables import Delivery

log = logging.getLogger(__name__)
ARTIFACT_NAME = "coverage"


def handle(services: Services, delivery: Delivery, payload: dict[str, Any]) -> None:
    try:
        run = payload["workflow_run"]
        repo = Repo.parse(payload["repository"]["full_name"])
        run_id, head_sha = int(run["id"]), str(run["head_sha"])
        installation_id = int(payload["installation"]["id"])
    except (KeyError, TypeError, ValueError) as error:
        raise MalformedPayload(f"workflow_run payload: {error!r}") from None
    github = services.github(installation_id)
    artifacts = [
        a for a in github.list_run_artifacts(repo, run_id, ARTIFACT_NAME) if not a["expired"]
    ]
    if not artifacts:
        return  # most workflows upload no coverage
    try:
        content = report_from_artifact(github.download_artifact(repo, int(artifacts[0]["id"])))
        accept_report(
            services.db,
            repo.full_name,
            head_sha,
            content,
            None,
            "artifact",
            services.settings.job_max_attempts,
        )
    except CoverageError as error:
        # a broken report is the workflow's problem, not a reason to retry: record and move on
        audit.record(
            services.db,
            actor="coverage:artifact",
            action="coverage.refused",
            repository=repo.full_name,
            sha=head_sha,
            reason=str(error),
            details={"run_id": run_id},
        )
