"""push to the default branch: fetch it and extend the repository's history index."""

from __future__ import annotations

from typing import Any

from gate.context import Services
from gate.errors import MalformedPayload
from gate.git.mirror import clone_url
from gate.github import Repo
from gate.pulls.calibration import load, scores_file
from gate.store.tables import Delivery
from gate.webhooks import calibration

DELETED = "0" * 40


def handle(services: Services, delivery: Delivery, payload: dict[str, Any]) -> None:
    try:
        repository = payload["repository"]
        repo = Repo.parse(repository["full_name"])
        default_branch = str(repository["default_branch"])
        ref, after = str(payload["ref"]), str(payload["after"])
        installation_id = int(payload["installation"]["id"])
    except (KeyError, TypeError, ValueError) as error:
        raise MalformedPayload(f"push payload: {error!r}") from None
    if ref != f"refs/heads/{default_branch}" or after == DELETED:
        return  # only the default branch's history feeds the features
    github = services.github(installation_id)
    url = clone_url(
        services.settings.git_url_template,
        repo.full_name,
        repository.get("clone_url"),
        github.access_token(),
    )
    # the commit may already be here (a PR head fetched earlier, then fast-forwarded): the
    # branch must still move, so fetch whenever the default branch is pushed
    mirror = services.mirrors.ensure(
        repo.full_name, url, refspecs=[f"+{ref}:{ref}"], need=[after], force_fetch=True
    )
    services.indexes.update(mirror, default_branch)
    # recalibrated as the repository grows: a job, so the push's delivery is not held up
    calibration.enqueue_if_stale(
        services,
        repo.full_name,
        default_branch,
        load(scores_file(mirror)),
    )
