"""Recovery from what never arrived: redeliver failed webhooks, assess PRs without a check."""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import timedelta
from typing import Any

from gate.context import Services
from gate.github import GitHubAppAPI, GitHubError, Repo
from gate.pulls import checks
from gate.store import assessments, deliveries
from gate.store.deliveries import IncomingDelivery, record_delivery

log = logging.getLogger(__name__)


def redeliver_failed(services: Services, app: GitHubAppAPI) -> list[str]:
    """Ask GitHub again for the deliveries it could not hand us and riskgate never stored.

    GitHub never redelivers on its own. Only deliveries that failed on our side of the wire
    (no answer, a timeout, 5xx) are asked for; a 4xx was riskgate refusing them on purpose.
    Returns the GUIDs (X-GitHub-Delivery) asked for again.
    """
    since = services.clock() - timedelta(hours=services.settings.job_retry_budget_hours)
    failed: dict[str, int] = {}
    for item in app.failed_deliveries(since):
        code = int(item.get("status_code") or 0)
        if code and code < 500:
            continue
        failed.setdefault(str(item["guid"]), int(item["id"]))  # newest attempt first
    stored = deliveries.stored_ids(services.db, list(failed))
    asked = []
    for guid, hook_delivery_id in failed.items():
        if guid in stored:
            continue  # it did arrive (another attempt, or a redelivery): its job runs it
        try:
            app.redeliver(hook_delivery_id)
        except GitHubError as error:  # one GitHub will not resend must not stop the others
            log.warning("GitHub refused a redelivery", extra={"guid": guid, "why": str(error)})
            continue
        asked.append(guid)
    if asked:
        log.info("asked GitHub to redeliver failed deliveries", extra={"count": len(asked)})
    return asked


def reconcile(services: Services, app: GitHubAppAPI) -> list[str]:
    """Queue an assessment for each open pull request whose head has no riskgate check.

    Heads riskgate already knows (an assessment, finished or under way) are left to their jobs.
    Each is queued as a stored pull_request delivery with an id of its own, so a second pass
    over the same head is a duplicate. Returns the PRs queued, as owner/name#number.
    """
    queued = []
    for installation_id in app.installation_ids():
        github = services.github(installation_id)
        for full_name in github.installation_repositories():
            if deliveries.pending_for_repository(services.db, full_name):
                continue  # a delivery not yet run may be for one of its heads: next round
            repo = Repo.parse(full_name)
            for pull in github.open_pull_requests(repo):
                number, head = int(pull["number"]), str(pull["head"]["sha"])
                if assessments.known_pr_head(services.db, full_name, number, head):
                    continue
                if github.find_check_runs(repo, head, checks.CHECK_NAME):
                    continue
                if _queue(services, installation_id, pull):
                    queued.append(f"{full_name}#{number}")
    if queued:
        log.info("queued pull requests that had no check", extra={"pulls": queued[:50]})
    return queued


def _queue(services: Services, installation_id: int, pull: dict[str, Any]) -> bool:
    repository = pull["base"]["repo"]
    key = f"{repository['full_name']}#{pull['number']}@{pull['head']['sha']}"
    payload = {
        "action": "synchronize",
        "number": pull["number"],
        "pull_request": pull,
        "repository": repository,
        "installation": {"id": installation_id},
    }
    incoming = IncomingDelivery(
        delivery_id="reconcile-" + hashlib.sha256(key.encode()).hexdigest()[:40],
        event="pull_request",
        action="synchronize",
        installation_id=installation_id,
        repository=str(repository["full_name"])[:256],
        payload=json.dumps(payload),
    )
    return record_delivery(services.db, incoming, services.settings.job_max_attempts) is not None
