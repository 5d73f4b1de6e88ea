"""The gate API for CI: assess a change, approve or reject a deployment, report it finished."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Literal

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from gate.api.auth import Caller, CallerDep
from gate.api.errors import unprocessable
from gate.api.params import RowId
from gate.context import Services
from gate.deploys import protection
from gate.deploys.watch import after_success
from gate.features.coverage.parse import parse_coverage
from gate.features.coverage.report import CoverageError
from gate.git.cmd import GitError
from gate.git.commit_range import merge_base
from gate.git.mirror import MissingCommit
from gate.git.objects import repo_paths
from gate.github import Repo
from gate.policy.repo_config import repo_services
from gate.pulls.approvals import VoteRequest, approver_words, cast_vote
from gate.pulls.assess import assess_change
from gate.pulls.repository_context import prepare_repository
from gate.store import assessments, audit
from gate.store import deployments as deployment_store
from gate.store.tables import Assessment, Delivery, Deployment, utcnow

router = APIRouter(prefix="/api/v1", tags=["gate"])

REPOSITORY = r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$"
REVISION = r"^[0-9a-fA-F]{7,64}$"


class CoverageIn(BaseModel):
    format: str | None = Field(None, max_length=32)
    content_base64: str = Field(max_length=140_000_000)


class AssessmentIn(BaseModel):
    repository: str = Field(pattern=REPOSITORY, max_length=256)
    base: str = Field(pattern=REVISION)
    head: str = Field(pattern=REVISION)
    kind: Literal["pr", "deploy"] = "pr"
    environment: str | None = Field(None, min_length=1, max_length=255)
    coverage: CoverageIn | None = None


class AssessmentOut(BaseModel):
    id: int
    score: float
    level: str
    decision: str
    reasons: list[str]
    details_url: str
    deployment_id: int | None = None
    # where the change ranks among the repository's recent changes, when enough are scored
    rank: str | None = None


class VoteIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


class FinishedIn(BaseModel):
    status: Literal["success", "failure", "error"]


class DeploymentOut(BaseModel):
    deployment_id: int
    state: str
    answer: str | None
    message: str


def _repository_context(services: Services, full_name: str) -> tuple[int, str]:
    """(installation id, default branch) from the newest delivery about the repository."""
    with services.db.session() as session:
        delivery = session.scalars(
            select(Delivery)
            .where(Delivery.repository == full_name, Delivery.installation_id.is_not(None))
            .order_by(Delivery.id.desc())
            .limit(1)
        ).first()
    if delivery is None or delivery.installation_id is None:
        raise HTTPException(409, f"riskgate is not installed on {full_name} (no deliveries yet)")
    default_branch = json.loads(delivery.payload).get("repository", {}).get("default_branch")
    return delivery.installation_id, str(default_branch or "main")


def _default_branch(services: Services, full_name: str) -> str:
    try:
        return _repository_context(services, full_name)[1]
    except HTTPException:
        return "main"


def _assess(services: Services, body: AssessmentIn) -> AssessmentOut:
    repo = Repo.parse(body.repository)
    installation_id, branch = _repository_context(services, repo.full_name)
    github = services.github(installation_id)
    try:
        context = prepare_repository(
            services, github, repo, default_branch=branch, need=[body.base, body.head]
        )
        base = merge_base(context.objects, context.mirror, body.base, body.head)
    except (MissingCommit, GitError) as error:
        raise unprocessable(str(error), "body") from None
    mirror, loaded = context.mirror, context.policy
    report = None
    if body.coverage is not None:
        try:
            content = base64.b64decode(body.coverage.content_base64, validate=True)
            report = parse_coverage(
                content, body.coverage.format, repo_paths=repo_paths(mirror, body.head)
            )
        except (ValueError, CoverageError) as error:  # binascii.Error is a ValueError
            raise unprocessable(f"coverage refused: {error}", "body", "coverage") from None
    service_map, notes = repo_services(mirror, base, context.objects)
    chosen = services.model_for(repo.full_name)
    result = assess_change(
        mirror,
        base,
        body.head,
        chosen.model,
        shadow=chosen.shadow,
        index=context.index,
        services=service_map,
        coverage=report,
        notes=[*loaded.notes(), *notes],
        policy=loaded.policy,
        objects=context.objects,
        service_incidents=context.incidents,
        distribution=context.distribution,
    )
    decided = audit.new_entry(
        actor="api",
        action="assessment.decided",
        reason=f"Risk {result.decision.level}: {result.score.probability:.2f} -> "
        f"{result.decision.verdict}: " + "; ".join(r.text for r in result.reasons),
        repository=repo.full_name,
        sha=result.head,
        subject=f"api {body.kind}",
        policy_version=loaded.version,
        model_version=result.model_version,
    )
    deployment = None
    if body.kind == "deploy":
        held = result.decision.verdict == "hold"
        deployment = Deployment(
            repository=repo.full_name,
            environment=body.environment or "default",
            sha=result.head,
            base_sha=base,
            installation_id=installation_id,
            source="api",
            state="held" if held else "answered",
            answer=None if held else "approved",
            answered_at=None if held else utcnow(),
            expires_at=utcnow() + timedelta(hours=loaded.policy.hold_expiry_hours)
            if held
            else None,
        )
    row = Assessment(kind=body.kind, repository=repo.full_name, base_sha=base, head_sha=result.head)
    assessment_id, deployment_id = assessments.record_decided(
        services.db, row, result.row_fields(), loaded.version, decided, deployment
    )
    return AssessmentOut(
        id=assessment_id,
        score=round(result.score.probability, 4),
        level=result.decision.level,
        decision=result.decision.verdict,
        reasons=[r.text for r in result.reasons],
        details_url=services.details_url(assessment_id, row.details_token),
        deployment_id=deployment_id,
        rank=result.decision.rank,
    )


@router.post("/assessments", response_model=AssessmentOut, status_code=201)
async def create_assessment(
    request: Request, caller: CallerDep, body: AssessmentIn
) -> AssessmentOut:
    caller.require(body.repository)
    if body.kind == "deploy" and not body.environment:
        raise unprocessable("a deploy assessment needs its environment", "body", "environment")
    return await run_in_threadpool(_assess, request.app.state.services, body)


def _deployment(services: Services, deployment_id: int, caller: Caller) -> Deployment:
    """The deployment this credential may act on; another repository's ids are not even
    confirmed (404, as for assessments), let alone who owns them."""
    deployment = deployment_store.get(services.db, deployment_id)
    if deployment is None or not caller.may_read(deployment.repository):
        raise HTTPException(404, f"no deployment {deployment_id}")
    caller.require(deployment.repository)  # an admin token sees it but may not act on it
    return deployment


def _vote(
    services: Services, deployment_id: int, caller: Caller, verdict: str, reason: str
) -> DeploymentOut:
    deployment = _deployment(services, deployment_id, caller)
    login = caller.actor
    if login is None:
        raise HTTPException(
            403,
            "approvals need an API token that acts for an approver "
            "(gate token create --repo R --user LOGIN)",
        )
    if deployment.state != "held":
        raise HTTPException(
            409, f"deployment {deployment_id} was already answered: {deployment.answer}"
        )
    target = assessments.get(services.db, deployment.assessment_id or 0)
    if target is None:
        raise HTTPException(409, "this deployment has no assessment to approve")
    repo = Repo.parse(deployment.repository)
    github = services.github(int(deployment.installation_id or 0))
    mirror = services.mirrors.path(repo.full_name)
    _, branch = _repository_context(services, repo.full_name)
    loaded = services.policies.load(repo.full_name, mirror, f"refs/heads/{branch}")
    outcome = cast_vote(
        services,
        github,
        VoteRequest(repo, target, login, verdict, reason, "api"),  # type: ignore[arg-type]
        loaded.policy,
        loaded.version,
        protection.settle_vote,
    )
    if not outcome.accepted and "only approvers" in outcome.message:
        raise HTTPException(403, f"@{login} is not an approver: {approver_words(loaded.policy)}")
    fresh = deployment_store.get(services.db, deployment_id)
    assert fresh is not None
    return DeploymentOut(
        deployment_id=deployment_id, state=fresh.state, answer=fresh.answer, message=outcome.message
    )


@router.post("/deployments/{deployment_id}/finished", response_model=DeploymentOut)
async def deployment_finished(
    request: Request, caller: CallerDep, deployment_id: RowId, body: FinishedIn
) -> DeploymentOut:
    services = request.app.state.services

    def finish() -> DeploymentOut:
        deployment = _deployment(services, deployment_id, caller)
        audit.record(
            services.db,
            actor=caller.actor or caller.via,
            action="deployment.finished",
            reason=f"pipeline reported {body.status}",
            repository=deployment.repository,
            sha=deployment.sha,
            subject=f"{deployment.environment} deployment {deployment.id}",
        )
        finished_at = utcnow()
        updated = deployment_store.update(
            services.db, deployment_id, status=body.status, finished_at=finished_at
        )
        message = f"recorded: {body.status}"
        if body.status == "success":
            watch = after_success(
                services, updated, finished_at, _default_branch(services, updated.repository)
            )
            if watch is not None:
                message += f"; watching its SLIs until {watch.ends_at:%H:%M} UTC (watch {watch.id})"
        return DeploymentOut(
            deployment_id=deployment_id,
            state=updated.state,
            answer=updated.answer,
            message=message,
        )

    return await run_in_threadpool(finish)


# after /finished: a literal path must be declared before the {verdict} pattern
@router.post("/deployments/{deployment_id}/{verdict}", response_model=DeploymentOut)
async def vote_on_deployment(
    request: Request,
    caller: CallerDep,
    deployment_id: RowId,
    verdict: Literal["approve", "reject"],
    body: VoteIn,
) -> DeploymentOut:
    """Release (approve) or reject a held deployment, with an approver's API token."""
    return await run_in_threadpool(
        _vote,
        request.app.state.services,
        deployment_id,
        caller,
        verdict,
        body.reason,
    )
