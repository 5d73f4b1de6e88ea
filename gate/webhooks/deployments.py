"""deployment_protection_rule: gate the deployment; deployment_status: remember outcomes."""

from __future__ import annotations

import contextlib
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from gate.context import Services
from gate.deploys import protection as deploys
from gate.deploys import watch as post_deploy_watch
from gate.errors import MalformedPayload
from gate.git.mirror import MissingCommit
from gate.github import GitHubAPI, Repo
from gate.policy.loader import DEFAULT_VERSION, LoadedPolicy
from gate.policy.schema import DEFAULT_POLICY
from gate.pulls.approvals import approver_words
from gate.pulls.repository_context import prepare_repository
from gate.store import audit
from gate.store import deployments as store
from gate.store.tables import Assessment, Delivery, Deployment, DeploymentPR, utcnow

RUN_ID = re.compile(r"/actions/runs/(\d+)/deployment_protection_rule")


def _request(payload: dict[str, Any]) -> dict[str, Any]:
    try:
        callback = str(payload["deployment_callback_url"])
        found = RUN_ID.search(callback)
        if found is None:
            raise ValueError(f"no run id in {callback!r}")
        repository = payload["repository"]
        return {
            "repo": Repo.parse(repository["full_name"]),
            "default_branch": str(repository.get("default_branch") or "main"),
            "clone_url": repository.get("clone_url"),
            "environment": str(payload["environment"]),
            "sha": str(payload["deployment"]["sha"]),
            "github_deployment_id": int(payload["deployment"]["id"]),
            "run_id": int(found.group(1)),
            "installation_id": int(payload["installation"]["id"]),
            "prs": [int(pr["number"]) for pr in payload.get("pull_requests") or []],
        }
    except (KeyError, TypeError, ValueError) as error:
        raise MalformedPayload(f"deployment_protection_rule payload: {error!r}") from None


def _deployment(
    services: Services, delivery: Delivery, request: dict[str, Any], github: GitHubAPI
) -> Deployment:
    existing = store.for_delivery(services.db, delivery.id)
    if existing is not None:
        return existing
    repo: Repo = request["repo"]
    base = store.last_good_sha(services.db, repo.full_name, request["environment"])
    if base is None:
        base = github.last_successful_deployment(repo, request["environment"])
    deployment = _new_deployment(services, delivery, request, base)
    store.link_prs(services.db, deployment.id, request["prs"])
    return deployment


def _new_deployment(
    services: Services, delivery: Delivery, request: dict[str, Any], base: str | None
) -> Deployment:
    return store.create(
        services.db,
        repository=request["repo"].full_name,
        environment=request["environment"],
        sha=request["sha"],
        base_sha=base,
        github_deployment_id=request["github_deployment_id"],
        run_id=request["run_id"],
        installation_id=request["installation_id"],
        delivery_pk=delivery.id,
        source="protection_rule",
        state="requested",
    )


def on_protection_rule(services: Services, delivery: Delivery, payload: dict[str, Any]) -> None:
    request = _request(payload)
    repo: Repo = request["repo"]
    github = services.github(request["installation_id"])
    deployment = _deployment(services, delivery, request, github)
    if deployment.state != "requested":
        return  # a redelivery or a retry after the answer: already handled
    context = prepare_repository(
        services,
        github,
        repo,
        default_branch=request["default_branch"],
        need=[deployment.sha] + ([deployment.base_sha] if deployment.base_sha else []),
        payload_clone_url=request["clone_url"],
    )
    loaded = context.policy
    scored = deploys.assess_deployment(services, context, deployment)
    assessment_id = deploys.record_assessment(services, deployment, scored, loaded.version)
    deployment = store.update(services.db, deployment.id, assessment_id=assessment_id)
    words = "; ".join(scored.reasons[:4])
    summary = f"risk {scored.level} {scored.probability:.2f} -> {scored.verdict}: {words}"
    audit.record(
        services.db,
        actor="riskgate",
        action="deployment.decided",
        reason=summary,
        repository=repo.full_name,
        sha=deployment.sha,
        subject=f"{deployment.environment} deployment {deployment.id}",
        details={"rules": scored.rules, "commits": len(scored.commits)},
        assessment_id=assessment_id,
        policy_version=loaded.version,
        model_version=services.model_for(repo.full_name).model.version,
    )
    if scored.verdict != "hold":
        deploys.settle(
            services, deployment, "approved", f"riskgate: {summary}", "riskgate", loaded.version
        )
        return
    _hold(services, github, repo, deployment, loaded, summary)


def _hold(
    services: Services,
    github: GitHubAPI,
    repo: Repo,
    deployment: Deployment,
    loaded: LoadedPolicy,
    summary: str,
) -> None:
    expires = utcnow() + timedelta(hours=loaded.policy.hold_expiry_hours)
    store.update(services.db, deployment.id, state="held", expires_at=expires)
    how = (
        f"Approvers ({approver_words(loaded.policy)}) release it with `/gate approve <reason>` "
        f"on a pull request in it, `gate approve {deployment.id}`, or POST "
        f"/api/v1/deployments/{deployment.id}/approve. Rejected automatically after "
        f"{loaded.policy.hold_expiry_hours:g} h."
    )
    audit.record(
        services.db,
        actor="riskgate",
        action="deployment.held",
        reason=summary,
        repository=repo.full_name,
        sha=deployment.sha,
        subject=f"{deployment.environment} deployment {deployment.id}",
        assessment_id=deployment.assessment_id,
        policy_version=loaded.version,
        model_version=services.model_for(repo.full_name).model.version,
    )
    github.review_deployment(
        repo,
        deployment.run_id or 0,
        deployment.environment,
        None,
        f"Held by riskgate: {summary}. {how}",
    )
    with services.db.session() as session:
        numbers = session.scalars(
            select(DeploymentPR.pr_number).where(DeploymentPR.deployment_id == deployment.id)
        ).all()
        assessment = session.get(Assessment, deployment.assessment_id or 0)
    details = (
        f" [Details]({services.details_url(assessment.id, assessment.details_token)})"
        if assessment is not None
        else ""
    )
    for number in numbers:
        github.create_comment(
            repo,
            number,
            f"**riskgate held the deployment of `{deployment.sha[:10]}` to "
            f"{deployment.environment}**, which includes this pull request: {summary}.\n\n"
            f"{how}{details}",
        )


def give_up_protection_rule(
    services: Services, delivery: Delivery, payload: dict[str, Any], error: str
) -> None:
    """Every request gets an answer: when assessing failed, the policy's on_error decides."""
    request = _request(payload)
    deployment = store.for_delivery(services.db, delivery.id) or _new_deployment(
        services, delivery, request, None
    )
    if deployment.state == "answered":
        return
    loaded = LoadedPolicy(DEFAULT_POLICY, DEFAULT_VERSION)
    mirror = services.mirrors.path(request["repo"].full_name)
    if services.mirrors.is_warm(request["repo"].full_name):
        loaded = services.policies.load(
            request["repo"].full_name, mirror, f"refs/heads/{request['default_branch']}"
        )
    answer = "approved" if loaded.policy.on_error == "fail-open" else "rejected"
    deploys.settle(
        services,
        deployment,
        answer,
        f"riskgate could not assess this deployment ({error[:300]}); on_error is "
        f"{loaded.policy.on_error}, so it is {answer}.",
        "riskgate",
        loaded.version,
    )


def on_deployment_status(services: Services, delivery: Delivery, payload: dict[str, Any]) -> None:
    """Remember how deployments ended; a success starts the watch and may end an incident."""
    try:
        status = str(payload["deployment_status"]["state"])
        deployment_id = int(payload["deployment"]["id"])
        repository = str(payload["repository"]["full_name"])
        environment = str(payload["deployment"]["environment"])
        sha = str(payload["deployment"]["sha"])
        at = _timestamp(payload["deployment_status"].get("created_at"))
    except (KeyError, TypeError, ValueError) as error:
        raise MalformedPayload(f"deployment_status payload: {error!r}") from None
    if status not in ("success", "failure", "error"):
        return
    with services.db.session() as session:
        row = session.scalars(
            select(Deployment).where(
                Deployment.repository == repository,
                Deployment.github_deployment_id == deployment_id,
            )
        ).first()
        if row is None:
            row = Deployment(
                repository=repository,
                environment=environment,
                sha=sha,
                github_deployment_id=deployment_id,
                installation_id=(payload.get("installation") or {}).get("id"),
                source="observed",
                state="observed",
            )
            session.add(row)
        if row.status == "rolled_back":
            return  # riskgate already failed it; a late success from the pipeline changes nothing
        row.status, row.finished_at = status, at
        session.flush()
        session.expunge(row)
    if status == "success":
        _after_success(services, payload, row, at)


def _after_success(
    services: Services, payload: dict[str, Any], deployment: Deployment, at: datetime
) -> None:
    branch = str(payload["repository"].get("default_branch") or "main")
    # deployed from elsewhere than the default branch (MissingCommit): its policy is what we have
    with contextlib.suppress(MissingCommit):
        prepare_repository(
            services,
            services.github(int(payload["installation"]["id"])),
            Repo.parse(deployment.repository),
            default_branch=branch,
            need=[deployment.sha],
            payload_clone_url=payload["repository"].get("clone_url"),
        )
    post_deploy_watch.after_success(services, deployment, at, branch)


def _timestamp(text: Any) -> datetime:
    if not text:
        return utcnow()
    return datetime.fromisoformat(str(text).replace("Z", "+00:00")).astimezone(UTC)
