"""Deployment gate: score a deployment's change set, decide, and always give GitHub an answer."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from gate.context import Services
from gate.deploys.rollback import active_freezes
from gate.git.cmd import first_parent, git
from gate.git.commit_range import merge_base
from gate.github import Repo
from gate.policy.decide import DecisionContext, decide
from gate.policy.repo_config import repo_services
from gate.pulls.approvals import VoteOutcome, VoteRequest
from gate.pulls.assess import AssessmentResult, assess_change, usable
from gate.pulls.repository_context import RepositoryContext
from gate.store import audit
from gate.store import deployments as store
from gate.store.jobs import enqueue
from gate.store.tables import Assessment, Deployment, utcnow

log = logging.getLogger(__name__)

MAX_COMMITS_SCORED = 50


@dataclass
class DeploymentAssessment:
    base: str
    probability: float
    level: str
    verdict: str
    rules: list[str]
    reasons: list[str]
    range_result: AssessmentResult | None
    commits: list[tuple[str, float, str]]  # (sha, probability, level), riskiest first


def assess_deployment(
    services: Services,
    context: RepositoryContext,
    deployment: Deployment,
    now: datetime | None = None,
) -> DeploymentAssessment:
    """Score the changes since the environment's last good deploy, and decide under the policy."""
    now = now or utcnow()
    mirror, loaded, objects = context.mirror, context.policy, context.objects
    base = deployment.base_sha or first_parent(mirror, deployment.sha)
    if base == deployment.sha:
        return DeploymentAssessment(
            base,
            0.0,
            "low",
            "pass",
            ["nothing new since the last successful deploy"],
            ["redeploys the same commit"],
            None,
            [],
        )
    diff_base = merge_base(objects, mirror, base, deployment.sha)
    index = context.index
    service_map, _notes = repo_services(mirror, deployment.sha, objects)
    chosen = services.model_for(deployment.repository)
    range_result = assess_change(
        mirror,
        diff_base,
        deployment.sha,
        chosen.model,
        shadow=chosen.shadow,
        index=index,
        services=service_map,
        policy=loaded.policy,
        now=now,
        objects=objects,
        service_incidents=context.incidents,
    )
    commits = []
    for sha in _commits(mirror, diff_base, deployment.sha)[:MAX_COMMITS_SCORED]:
        scored = assess_change(
            mirror,
            first_parent(mirror, sha),
            sha,
            chosen.model,
            index=index,
            services=service_map,
            objects=objects,
        )
        commits.append((sha, scored.score.probability, scored.score.level))
    commits.sort(key=lambda item: item[1], reverse=True)
    probability = max([range_result.score.probability, *(p for _, p, _ in commits)])
    model_level = chosen.model.artifact.thresholds.level(probability)
    decision = decide(
        probability,
        model_level,
        loaded.policy,
        DecisionContext(
            paths=range_result.paths,
            now=now,
            distribution=usable(context.distribution, chosen.model)[0],
        ),
    )
    verdict, rules = decision.verdict, list(decision.rules)
    frozen = _frozen(services, deployment, range_result)
    if frozen and decision.mode == "enforce":
        verdict = "hold"
        rules.append(frozen)
    failures = store.recent_failures(services.db, deployment.repository, deployment.environment)
    if failures and verdict == "review" and decision.mode == "enforce":
        verdict = "hold"
        rules.append(f"{failures} failed deploy(s) to {deployment.environment} in 24 h -> hold")
    return DeploymentAssessment(
        base=diff_base,
        probability=probability,
        level=decision.level,
        verdict=verdict,
        rules=rules,
        reasons=[frozen] * bool(frozen)
        + _reasons(services, deployment, range_result, commits, now),
        range_result=range_result,
        commits=commits,
    )


def _frozen(services: Services, deployment: Deployment, result: AssessmentResult) -> str | None:
    """A regression froze a service this change set touches (or the whole environment)."""
    touched = {service.name for service in result.services}
    hits = [
        freeze
        for freeze in active_freezes(services.db, deployment.repository, deployment.environment)
        if freeze.service == "*" or freeze.service in touched
    ]
    if not hits:
        return None
    what = ", ".join(sorted({"every service" if f.service == "*" else f.service for f in hits}))
    incidents = sorted({f"#{f.incident_issue}" for f in hits if f.incident_issue})
    since = f" (incident {', '.join(incidents)})" if incidents else ""
    return f"{what} frozen in {deployment.environment} after a regression{since} -> hold"


def _commits(mirror: Path, base: str, head: str) -> list[str]:
    return git(mirror, "rev-list", "--no-merges", f"{base}..{head}").decode().split()


def _reasons(
    services: Services,
    deployment: Deployment,
    result: AssessmentResult,
    commits: list[tuple[str, float, str]],
    now: datetime,
) -> list[str]:
    lines = []
    if commits:
        sha, probability, level = commits[0]
        high = sum(1 for _, _, lvl in commits if lvl == "high")
        lines.append(
            f"{len(commits)} change{'s' * (len(commits) != 1)}; the riskiest, {sha[:10]}, "
            f"scores {probability:.2f} ({level}); {high} high-risk"
        )
    churn = (result.features.values.get("la") or 0) + (result.features.values.get("ld") or 0)
    lines.append(f"{churn:,.0f} lines changed in total")
    lines += [reason.text for reason in result.reasons]
    lines += [f"to lower it: {step}" for step in result.suggestions]
    last = store.last_deployed_at(services.db, deployment.repository, deployment.environment)
    if last is not None:
        lines.append(f"last deploy to {deployment.environment} {(now - last).days} days ago")
    return list(dict.fromkeys(lines))


def record_assessment(
    services: Services, deployment: Deployment, scored: DeploymentAssessment, policy_version: str
) -> int:
    """Store the deployment's assessment (kind deploy) so votes and reports work as for PRs."""
    with services.db.session() as session:
        row = Assessment(
            kind="deploy",
            repository=deployment.repository,
            base_sha=scored.base,
            head_sha=deployment.sha,
            delivery_pk=deployment.delivery_pk,
            features=dict(scored.range_result.features.values) if scored.range_result else {},
            feature_schema_version=(
                scored.range_result.features.schema_version if scored.range_result else None
            ),
            model_version=services.model_for(deployment.repository).model.version,
            score=scored.probability,
            level=scored.level,
            decision=scored.verdict,
            mode="enforce",
            reasons=[{"text": text} for text in scored.reasons],
            policy_version=policy_version,
            held_at=utcnow() if scored.verdict == "hold" else None,
        )
        shadow = scored.range_result.shadow if scored.range_result else None
        if shadow is not None:  # the change set as a whole, as the shadow model sees it
            row.shadow_model_version = shadow.model_version
            row.shadow_score, row.shadow_level = shadow.probability, shadow.level
        session.add(row)
        session.flush()
        return row.id


def settle(
    services: Services,
    deployment: Deployment,
    answer: str,
    reason: str,
    actor: str,
    policy_version: str | None = None,
) -> None:
    """Decide the answer: record it first, then queue its delivery to GitHub (retried)."""
    audit.record(
        services.db,
        actor=actor,
        action=f"deployment.{answer}",
        reason=reason,
        repository=deployment.repository,
        sha=deployment.sha,
        subject=f"{deployment.environment} deployment {deployment.id}",
        assessment_id=deployment.assessment_id,
        policy_version=policy_version,
        model_version=services.model_for(deployment.repository).model.version,
    )
    store.update(
        services.db,
        deployment.id,
        state="answered",
        answer=answer,
        answer_reason=reason,
        answered_at=utcnow(),
    )
    if deployment.run_id is not None:
        with services.db.session() as session:
            enqueue(
                session,
                "answer_deployment",
                {"deployment_id": deployment.id},
                services.settings.job_max_attempts,
            )


def answer_deployment(services: Services, args: dict[str, object]) -> None:
    """Job: deliver a recorded answer to GitHub's protection rule callback."""
    deployment = store.get(services.db, int(args["deployment_id"]))  # type: ignore[arg-type]
    if deployment is None or deployment.answer is None or deployment.run_id is None:
        return
    github = services.github(int(deployment.installation_id or 0))
    github.review_deployment(
        Repo.parse(deployment.repository),
        deployment.run_id,
        deployment.environment,
        deployment.answer,
        deployment.answer_reason or deployment.answer,
    )


def answer_failed(services: Services, args: dict[str, object], error: str) -> None:
    deployment = store.get(services.db, int(args["deployment_id"]))  # type: ignore[arg-type]
    if deployment is not None:
        audit.record(
            services.db,
            actor="riskgate",
            action="deployment.answer_failed",
            reason=f"GitHub did not take the {deployment.answer} answer: {error}",
            repository=deployment.repository,
            sha=deployment.sha,
            subject=f"{deployment.environment} deployment {deployment.id}",
        )


def expire_held(services: Services, now: datetime | None = None) -> int:
    """Reject held deployments nobody approved in time; returns how many."""
    now = now or utcnow()
    expired = store.due_to_expire(services.db, now)
    for deployment in expired:
        waited = (now - deployment.requested_at) / timedelta(hours=1)
        settle(
            services,
            deployment,
            "rejected",
            f"Rejected by riskgate: held {waited:.0f} h without an approver's answer. Re-run the "
            "deployment to ask again.",
            "riskgate",
        )
        if deployment.assessment_id is not None:
            from gate.store.approvals import resolve

            resolve(services.db, deployment.assessment_id, "expired")
    return len(expired)


def settle_vote(
    services: Services, request: VoteRequest, resolution: str, policy_version: str
) -> VoteOutcome:
    """The approvers' verdict on a held deployment, answered to GitHub's protection rule."""
    deployment = store.by_assessment(services.db, request.assessment.id)
    if deployment is None or deployment.state != "held":
        return VoteOutcome(False, "This deployment was already answered.")
    verb = "Approved" if resolution == "approved" else "Rejected"
    settle(
        services,
        deployment,
        resolution,
        f"{verb} by @{request.actor} ({request.source}): {request.reason}",
        request.actor,
        policy_version,
    )
    return VoteOutcome(
        True,
        f"{verb} by @{request.actor}: the deployment of `{deployment.sha[:10]}` to "
        f"{deployment.environment} is {resolution}.",
    )
