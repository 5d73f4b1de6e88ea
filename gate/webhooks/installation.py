"""installation created / repositories added: mirror and index each repository early."""

from __future__ import annotations

from typing import Any

from gate.context import Services
from gate.errors import MalformedPayload, PermanentError
from gate.git.cmd import git
from gate.git.mirror import clone_url, web_url
from gate.github import Repo
from gate.store.jobs import enqueue
from gate.store.tables import Delivery
from gate.webhooks import calibration


def handle(services: Services, delivery: Delivery, payload: dict[str, Any]) -> None:
    try:
        installation_id = int(payload["installation"]["id"])
        listed = payload.get("repositories_added") or payload.get("repositories") or []
        names = [str(repository["full_name"]) for repository in listed]
    except (KeyError, TypeError, ValueError) as error:
        raise MalformedPayload(f"{delivery.event} payload: {error!r}") from None
    with services.db.session() as session:
        for full_name in names:
            enqueue(
                session,
                "index_repository",
                {"installation_id": installation_id, "repository": full_name},
                services.settings.job_max_attempts,
            )


def index_repository(services: Services, args: dict[str, Any]) -> None:
    """Job: mirror the repository's default branch, build its history index, score its recent
    changes."""
    repo = Repo.parse(str(args["repository"]))
    github = services.github(int(args["installation_id"]))
    url = clone_url(
        services.settings.git_url_template,
        repo.full_name,
        web_url(str(services.settings.github_api_url), repo.full_name),
        github.access_token(),
    )
    mirror = services.mirrors.path(repo.full_name)
    services.mirrors.ensure(repo.full_name, url, refspecs=[], need=[])
    symref = git(mirror, "ls-remote", "--symref", url, "HEAD").decode().split("\t", 1)[0]
    if not symref.startswith("ref: refs/heads/"):
        raise PermanentError(f"{repo.full_name}: cannot tell its default branch (empty?)")
    branch = symref.removeprefix("ref: refs/heads/")
    services.mirrors.ensure(
        repo.full_name,
        url,
        refspecs=[f"+refs/heads/{branch}:refs/heads/{branch}"],
        need=[],
        force_fetch=True,
    )
    services.indexes.update(mirror, branch)
    # its recent changes scored now, so its first pull request is judged against its own
    calibration.calibrate_mirror(services, repo.full_name, mirror, branch)
