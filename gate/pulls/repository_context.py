"""What every assessment needs first: the commits in the mirror, a current history index, the
policy in force. Webhooks, the gate API and the deployment gate prepare it the same way."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from gate.context import Services
from gate.features.history import HistoryIndex
from gate.git.mirror import clone_url, web_url
from gate.git.objects import ObjectReader
from gate.github import GitHubAPI, Repo
from gate.policy.loader import LoadedPolicy
from gate.policy.shares import Distribution
from gate.pulls.calibration import load, scores_file
from gate.store.tables import utcnow
from gate.store.watches import incidents_by_service

INCIDENT_DAYS = 90


@dataclass(frozen=True)
class RepositoryContext:
    mirror: Path
    objects: ObjectReader  # the mirror's kept reader: pass it on to save git processes
    index: HistoryIndex
    policy: LoadedPolicy
    # regressions the post-deploy watch found in the last 90 days, per service ("*": any)
    incidents: dict[str, int]
    # the scores of its recent changes (None until calibrated), beside the history index
    distribution: Distribution | None = None


def prepare_repository(
    services: Services,
    github: GitHubAPI,
    repo: Repo,
    *,
    default_branch: str,
    need: Sequence[str],
    payload_clone_url: str | None = None,
    index_branch: str | None = None,
    extra_refspecs: Sequence[str] = (),
) -> RepositoryContext:
    """Mirror `need` (fetching `index_branch`, the default branch and `extra_refspecs` when any
    commit is missing), bring the index of `index_branch` (default: the default branch) up to
    date, and load the policy of the default branch.

    Raises gate.git.mirror.MissingCommit when a commit in `need` cannot be fetched.
    """
    index_branch = index_branch or default_branch
    url = clone_url(
        services.settings.git_url_template,
        repo.full_name,
        payload_clone_url or web_url(str(services.settings.github_api_url), repo.full_name),
        github.access_token(),
    )
    branches = dict.fromkeys([index_branch, default_branch])
    refspecs = [f"+refs/heads/{branch}:refs/heads/{branch}" for branch in branches]
    mirror = services.mirrors.ensure(
        repo.full_name, url, refspecs=[*refspecs, *extra_refspecs], need=list(need)
    )
    return RepositoryContext(
        mirror=mirror,
        objects=services.mirrors.objects.get(mirror),
        index=services.indexes.update(mirror, index_branch),
        policy=services.policies.load(repo.full_name, mirror, f"refs/heads/{default_branch}"),
        incidents=incidents_by_service(
            services.db, repo.full_name, utcnow() - timedelta(days=INCIDENT_DAYS)
        ),
        distribution=load(scores_file(mirror)),
    )
