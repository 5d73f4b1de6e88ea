"""What the console does for a person, through the functions comments, buttons and the API use."""

from __future__ import annotations

import logging
import threading
import time

from fastapi import HTTPException

from gate.context import Services
from gate.deploys import protection
from gate.deploys.rollback import lift_freezes
from gate.github import GitHubAPI, GitHubError, GitHubUnavailable, Repo
from gate.policy.loader import DEFAULT_VERSION, LoadedPolicy
from gate.policy.schema import DEFAULT_POLICY
from gate.pulls.approvals import VoteOutcome, VoteRequest, approver_words, cast_vote, may_approve
from gate.store import assessments
from gate.store.console import default_branch
from gate.store.tables import Assessment
from gate.web.auth import Viewer

log = logging.getLogger(__name__)


class Approvers:
    """Whether a person may approve in a repository, as the policy says, cached for a while so
    that a page listing twenty held changes does not ask GitHub twenty times."""

    def __init__(self, services: Services, ttl: float) -> None:
        self.services = services
        self._ttl = ttl
        self._cache: dict[tuple[str, str], tuple[float, bool]] = {}
        self._lock = threading.Lock()

    def policy(self, repository: str) -> LoadedPolicy:
        mirror = self.services.mirrors.path(repository)
        if not mirror.is_dir():  # never fetched: nothing configured that riskgate could read
            return LoadedPolicy(DEFAULT_POLICY, DEFAULT_VERSION)
        branch = default_branch(self.services.db, repository)
        return self.services.policies.load(repository, mirror, f"refs/heads/{branch}")

    def github(self, viewer: Viewer, repository: str) -> GitHubAPI:
        installation = viewer.readable.installation(repository)
        if installation is None:
            raise HTTPException(404, "not found")
        return self.services.github(installation)

    def may_approve(self, viewer: Viewer, repository: str) -> bool:
        key = (viewer.login.lower(), repository.lower())
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            allowed = may_approve(
                self.github(viewer, repository),
                Repo.parse(repository),
                self.policy(repository).policy,
                viewer.login,
            )
        except (GitHubError, GitHubUnavailable) as error:  # no button now; a vote asks again
            log.warning("approver check for %s failed: %s", repository, error)
            return False
        with self._lock:
            self._cache[key] = (now + self._ttl, allowed)
        return allowed

    def who(self, repository: str) -> str:
        return approver_words(self.policy(repository).policy)


def readable_assessment(services: Services, viewer: Viewer, assessment_id: int) -> Assessment:
    """The row, when the person may read its repository; otherwise not even its existence."""
    row = assessments.get(services.db, assessment_id)
    if row is None or not viewer.may_read(row.repository):
        raise HTTPException(404, f"no assessment {assessment_id}")
    return row


def vote(
    approvers: Approvers, viewer: Viewer, assessment_id: int, verdict: str, reason: str
) -> VoteOutcome:
    services = approvers.services
    row = readable_assessment(services, viewer, assessment_id)
    loaded = approvers.policy(row.repository)
    request = VoteRequest(
        Repo.parse(row.repository),
        row,
        viewer.login,
        verdict,  # type: ignore[arg-type]
        reason,
        "console",
    )
    return cast_vote(
        services,
        approvers.github(viewer, row.repository),
        request,
        loaded.policy,
        loaded.version,
        protection.settle_vote,
    )


def unfreeze(
    approvers: Approvers, viewer: Viewer, repository: str, environment: str, reason: str
) -> int:
    if not approvers.may_approve(viewer, repository):
        raise HTTPException(403, f"@{viewer.login} is not an approver of {repository}")
    return lift_freezes(
        approvers.services.db,
        repository,
        environment=environment,
        by=viewer.login,
        reason=f"{reason} (console)",
    )
