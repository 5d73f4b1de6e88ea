"""The incident issue a regression opened: closing it, or an approver's `/gate unfreeze <reason>`
on it, lifts the deploy freeze it set."""

from __future__ import annotations

import re
from typing import Any

from gate.context import Services
from gate.deploys import rollback
from gate.errors import MalformedPayload
from gate.github import Repo
from gate.policy.schema import DEFAULT_POLICY
from gate.pulls.approvals import approver_words, may_approve
from gate.store import audit
from gate.store.tables import Delivery
from gate.webhooks import votes

UNFREEZE = re.compile(r"^\s*/gate\s+unfreeze\b[ \t]*(.*)$", re.IGNORECASE | re.MULTILINE)


def on_issue_closed(services: Services, delivery: Delivery, payload: dict[str, Any]) -> None:
    try:
        repository = str(payload["repository"]["full_name"])
        number = int(payload["issue"]["number"])
        closer = str((payload.get("sender") or {}).get("login") or "someone")
    except (KeyError, TypeError, ValueError) as error:
        raise MalformedPayload(f"issues payload: {error!r}") from None
    rollback.lift_freezes(
        services.db,
        repository,
        incident_issue=number,
        by=closer,
        reason=f"incident #{number} closed by {closer}",
    )


def on_comment(services: Services, delivery: Delivery, payload: dict[str, Any]) -> None:
    """`/gate unfreeze` on an incident issue; every other comment is a vote or nothing."""
    body = str((payload.get("comment") or {}).get("body") or "")
    found = UNFREEZE.search(body)
    if found is None or "pull_request" in (payload.get("issue") or {}):
        votes.on_comment(services, delivery, payload)
        return
    try:
        repo = Repo.parse(payload["repository"]["full_name"])
        branch = str(payload["repository"].get("default_branch") or "main")
        number = int(payload["issue"]["number"])
        login = str(payload["comment"]["user"]["login"])
        github = services.github(int(payload["installation"]["id"]))
    except (KeyError, TypeError, ValueError) as error:
        raise MalformedPayload(f"issue_comment payload: {error!r}") from None
    reason = found.group(1).strip()
    if not reason:
        github.create_comment(
            repo, number, f"@{login}, please give a reason: `/gate unfreeze <reason>`."
        )
        return
    policy = DEFAULT_POLICY
    if services.mirrors.is_warm(repo.full_name):
        mirror = services.mirrors.path(repo.full_name)
        policy = services.policies.load(repo.full_name, mirror, f"refs/heads/{branch}").policy
    if not may_approve(github, repo, policy, login):
        audit.record(
            services.db,
            actor=login,
            action="freeze.lift_refused",
            reason=f"not an approver ({approver_words(policy)}): {reason}"[:2000],
            repository=repo.full_name,
            subject=f"incident #{number}",
        )
        github.create_comment(
            repo,
            number,
            f"@{login}, only approvers ({approver_words(policy)}) can lift the freeze.",
        )
        return
    lifted = rollback.lift_freezes(
        services.db,
        repo.full_name,
        incident_issue=number,
        by=login,
        reason=f"lifted by {login} on #{number}: {reason}",
    )
    github.create_comment(
        repo,
        number,
        f"Freeze lifted by @{login}: deployments may go out again."
        if lifted
        else "Nothing is frozen by this issue (already lifted, or it set no freeze).",
    )
