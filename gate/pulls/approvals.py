"""Approving or rejecting a held change: one path for comments, the check's buttons, the API."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from gate.context import Services
from gate.github import GitHubAPI, Repo
from gate.policy.schema import Policy
from gate.pulls import checks
from gate.store import approvals as store
from gate.store import audit
from gate.store.tables import Assessment

Vote = Literal["approve", "reject"]
RELEASING_PERMISSIONS = {"admin", "maintain"}


@dataclass(frozen=True)
class VoteRequest:
    repo: Repo
    assessment: Assessment
    actor: str
    verdict: Vote
    reason: str
    source: str  # button | comment | api | cli


@dataclass(frozen=True)
class VoteOutcome:
    accepted: bool
    message: str  # what to tell the person, in a reply


# Settling a held deployment answers GitHub's protection rule, which lives in gate.deploys, a
# layer above this one: callers that can receive deployment votes pass it in.
DeploymentSettler = Callable[["Services", VoteRequest, str, str], VoteOutcome]


def approver_words(policy: Policy) -> str:
    names = [f"@{user}" for user in policy.approvers.users]
    names += [f"@{team}" for team in policy.approvers.teams]
    return ", ".join(names) or "repository admins and maintainers (no approvers configured)"


def may_approve(github: GitHubAPI, repo: Repo, policy: Policy, login: str) -> bool:
    """Configured approvers; without any, the repository's admins and maintainers."""
    if login.lower() in {user.lower() for user in policy.approvers.users}:
        return True
    for team in policy.approvers.teams:
        org, _, slug = team.partition("/")
        if github.team_membership(org, slug, login) == "active":
            return True
    if not policy.approvers.users and not policy.approvers.teams:
        return github.repo_permission(repo, login) in RELEASING_PERMISSIONS
    return False


def cast_vote(
    services: Services,
    github: GitHubAPI,
    request: VoteRequest,
    policy: Policy,
    policy_version: str,
    settle_deployment: DeploymentSettler | None = None,
) -> VoteOutcome:
    assessment = request.assessment
    subject = f"{request.repo.full_name}#{assessment.pr_number}"

    def record(action: str, reason: str, **details: object) -> None:
        audit.record(
            services.db,
            actor=request.actor,
            action=action,
            reason=reason,
            repository=request.repo.full_name,
            sha=assessment.head_sha,
            subject=subject,
            details={"verdict": request.verdict, "source": request.source, **details},
            assessment_id=assessment.id,
            policy_version=policy_version,
            model_version=assessment.model_version,
        )

    if assessment.decision != "hold" or assessment.resolution is not None:
        state = assessment.resolution or f"not held ({assessment.decision})"
        record("approval.ignored", f"{request.verdict} on a change that is {state}")
        return VoteOutcome(False, f"Nothing to {request.verdict}: this commit is {state}.")
    if not may_approve(github, request.repo, policy, request.actor):
        record("approval.refused", f"@{request.actor} is not an approver")
        return VoteOutcome(
            False,
            f"Thanks @{request.actor}, but only approvers can release or reject a held change: "
            f"{approver_words(policy)}. Your comment is on record; it does not count as a vote.",
        )
    if not store.record_vote(
        services.db, assessment, request.actor, request.verdict, request.reason, request.source
    ):
        return VoteOutcome(False, f"@{request.actor}, your {request.verdict} was already counted.")
    record("approval.recorded", f"{request.verdict}: {request.reason}")
    return _settle(services, github, request, policy, policy_version, settle_deployment)


def _settle(
    services: Services,
    github: GitHubAPI,
    request: VoteRequest,
    policy: Policy,
    policy_version: str,
    settle_deployment: DeploymentSettler | None,
) -> VoteOutcome:
    assessment = request.assessment
    votes = [(v.actor, v.verdict, v.reason) for v in store.votes(services.db, assessment.id)]
    approvals = len({actor for actor, verdict, _ in votes if verdict == "approve"})
    rejected = any(verdict == "reject" for _, verdict, _ in votes)
    details_url = services.details_url(assessment.id, assessment.details_token)
    title_text = f"risk {assessment.level} {assessment.score or 0:.2f}"
    if rejected or approvals >= policy.approvers.required_approvals:
        resolution = "rejected" if rejected else "approved"
        audit.record(
            services.db,
            actor="riskgate",
            action=f"hold.{resolution}",
            reason=f"{resolution} by @{request.actor}: {request.reason}",
            repository=request.repo.full_name,
            sha=assessment.head_sha,
            subject=f"{request.repo.full_name}#{assessment.pr_number}",
            assessment_id=assessment.id,
            policy_version=policy_version,
            model_version=assessment.model_version,
        )
        store.resolve(services.db, assessment.id, resolution)
        if assessment.kind == "deploy":
            if settle_deployment is None:
                raise RuntimeError("a deployment vote needs the deployment settler")
            return settle_deployment(services, request, resolution, policy_version)
        if assessment.check_run_id is not None:
            github.update_check_run(
                request.repo,
                assessment.check_run_id,
                checks.resolved_body(resolution, title_text, votes, details_url),
            )
        github.create_commit_status(
            request.repo,
            assessment.head_sha,
            checks.resolved_status(resolution, votes, details_url),
        )
        return VoteOutcome(
            True, f"{resolution.capitalize()} by @{request.actor}; risk-gate is updated."
        )
    if assessment.check_run_id is not None:
        github.update_check_run(
            request.repo,
            assessment.check_run_id,
            checks.held_progress_body(
                title_text,
                approvals,
                policy.approvers.required_approvals,
                votes,
                approver_words(policy),
                details_url,
            ),
        )
    required = policy.approvers.required_approvals
    return VoteOutcome(
        True, f"Approval by @{request.actor} counted: {approvals} of {required} needed."
    )
