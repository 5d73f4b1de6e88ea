"""Acting on a regression: record, mark failed, roll back, open the incident, freeze, label.

Every step is recorded in the watch's `actions` once it has happened, so a retry after a crash
or a GitHub error picks up where it stopped and never rolls back twice.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from gate import metrics
from gate.context import Services
from gate.deploys.evidence_plot import evidence_png
from gate.git.cmd import git
from gate.github import GitHubAPI, GitHubError, GitHubUnavailable, Repo
from gate.policy.rollback import render
from gate.store import audit
from gate.store import watches as watch_store
from gate.store.db import Database
from gate.store.tables import Assessment, Deployment, ServiceFreeze, Watch, utcnow

log = logging.getLogger(__name__)

INCIDENT_LABEL = "riskgate-incident"
STEPS = ("mark_failed", "rollback", "evidence", "incident", "freeze", "outcome")


class ActionsIncomplete(RuntimeError):
    """Some steps failed for a reason that may pass (GitHub down): the job retries them."""


def record_regression(services: Services, watch_id: int) -> None:
    """The audit entry comes first: whatever happens next, the decision and its numbers stay."""
    watch = watch_store.load(services.db, watch_id)
    verdict = watch.verdict or {}
    regressed = [m for m in verdict.get("metrics", []) if m["verdict"] == "regressed"]
    audit.record(
        services.db,
        actor="riskgate",
        action="deployment.regressed",
        reason="; ".join(f"{m['name']}: {m['explanation']}" for m in regressed)[:4000],
        repository=watch.repository,
        sha=watch.sha,
        subject=watch_store.subject(watch),
        details={
            "watch_id": watch.id,
            "decided_at": verdict.get("decided_at"),
            "metrics": verdict.get("metrics", []),
            "act": watch.plan.get("act"),
            "last_good_sha": watch.last_good_sha,
        },
    )


@dataclass(frozen=True)
class _Scene:
    """What every step needs: the watch as it stands, its deployment, and GitHub (if any)."""

    services: Services
    watch: Watch
    deployment: Deployment
    github: GitHubAPI | None
    repo: Repo


def act_on_regression(services: Services, watch: Watch) -> None:
    """Run the steps not yet done; raise ActionsIncomplete when one may succeed on a retry."""
    deployment = _deployment(services, watch.deployment_id)
    github = services.github(deployment.installation_id) if deployment.installation_id else None
    scene = _Scene(services, watch, deployment, github, Repo.parse(watch.repository))
    steps: dict[str, Callable[[_Scene], dict[str, Any]]] = {
        "mark_failed": _mark_failed,
        "rollback": _roll_back,
        "evidence": _evidence,
        "incident": _open_incident,
        "freeze": _freeze,
        "outcome": _record_outcome,
    }
    retry = []
    for name in STEPS:
        if watch.actions.get(name, {}).get("done"):
            continue
        try:
            result = {"done": True, **steps[name](replace(scene, watch=watch))}
        except (GitHubUnavailable, GitHubError) as error:
            transient = isinstance(error, GitHubUnavailable) or error.status >= 500
            result = {"done": not transient, "error": f"{error.__class__.__name__}: {error}"}
            if transient:
                retry.append(name)
            log.warning("watch %s: %s failed: %s", watch.id, name, error)
        metrics.ROLLBACKS.labels(action=name, outcome="error" if "error" in result else "ok").inc()
        watch = _record_step(services, watch.id, name, result)
    if retry:
        raise ActionsIncomplete(f"watch {watch.id}: will retry {', '.join(retry)}")


def _record_step(services: Services, watch_id: int, name: str, result: dict[str, Any]) -> Watch:
    with services.db.session() as session:
        row = session.get(Watch, watch_id)
        assert row is not None
        row.actions = {**row.actions, name: {**result, "at": utcnow().isoformat()}}
        if name == "rollback" and result.get("done") and result.get("how") != "none":
            row.rolled_back_at = utcnow()
        if name == "incident" and result.get("issue"):
            row.incident_issue = int(result["issue"])
        session.flush()
        session.expunge(row)
        return row


# ----------------------------------------------------------------------------------- the steps


def _mark_failed(scene: _Scene) -> dict[str, Any]:
    watch, deployment, github = scene.watch, scene.deployment, scene.github
    acting = bool(watch.plan.get("act"))
    with scene.services.db.session() as session:
        row = session.get(Deployment, deployment.id)
        assert row is not None
        row.status = "rolled_back" if acting else "regressed"
        row.finished_at = row.finished_at or utcnow()
    if not acting or github is None or deployment.github_deployment_id is None:
        return {"github": False}
    github.create_deployment_status(
        scene.repo,
        deployment.github_deployment_id,
        "failure",
        f"riskgate: {_headline(watch)}; rolling back"[:140],
    )
    return {"github": True}


def _roll_back(scene: _Scene) -> dict[str, Any]:
    watch, deployment, github = scene.watch, scene.deployment, scene.github
    action = watch.plan.get("action")
    if not watch.plan.get("act") or action is None:
        return {"how": "none", "why": "act is false: alert only"}
    if github is None:
        return {"how": "none", "why": "no GitHub installation for this deployment"}
    if watch.last_good_sha is None:
        return {"how": "none", "why": "no earlier successful deployment to roll back to"}
    values = {
        "environment": watch.environment,
        "sha": watch.sha,
        "last_good_sha": watch.last_good_sha,
        "deployment": str(deployment.github_deployment_id or deployment.id),
        "service": ",".join(sorted(watch_store.regressed_services(watch))),
    }
    if action.get("redeploy"):
        new_id = github.create_deployment(
            scene.repo,
            watch.last_good_sha,
            watch.environment,
            f"riskgate rollback of {watch.sha[:10]}",
            {"riskgate_rollback_of": deployment.github_deployment_id, "watch": watch.id},
        )
        return {"how": "redeploy", "github_deployment_id": new_id, "ref": watch.last_good_sha}
    ref = action.get("ref") or watch.plan.get("default_branch", "main")
    inputs = {name: render(value, values) for name, value in action.get("inputs", {}).items()}
    github.dispatch_workflow(scene.repo, action["workflow"], ref, inputs)
    return {
        "how": "workflow_dispatch",
        "workflow": action["workflow"],
        "ref": ref,
        "inputs": inputs,
    }


def _evidence(scene: _Scene) -> dict[str, Any]:
    services, watch = scene.services, scene.watch
    if not watch.evidence:
        return {"png": False}
    png = evidence_png(watch.evidence, watch.verdict or {})
    token = secrets.token_urlsafe(18)
    with services.db.session() as session:
        row = session.get(Watch, watch.id)
        assert row is not None
        row.evidence_png, row.evidence_token = png, token
    return {"png": True, "bytes": len(png)}


def evidence_url(services: Services, watch_id: int, token: str) -> str:
    return f"{str(services.settings.public_url).rstrip('/')}/evidence/{watch_id}/{token}.png"


def _open_incident(scene: _Scene) -> dict[str, Any]:
    watch, github = scene.watch, scene.github  # as it stands: the evidence and rollback are in
    if github is None:
        return {"issue": None, "why": "no GitHub installation for this deployment"}
    body = incident_body(scene.services, watch, scene.deployment)
    number = github.create_issue(
        scene.repo,
        f"riskgate: {watch.environment} deploy of {watch.sha[:10]} regressed ({_headline(watch)})",
        body,
        [INCIDENT_LABEL],
    )
    return {"issue": number}


def incident_body(services: Services, watch: Watch, deployment: Deployment) -> str:
    verdict = watch.verdict or {}
    lines = [
        f"riskgate watched the **{watch.environment}** deployment of `{watch.sha}` and found a "
        f"regression at {_when(verdict.get('decided_at'))}, "
        f"{_minutes(verdict.get('decided_at'), watch)} after the deploy.",
        "",
        "| SLI | verdict | before | after | effect | confidence | test |",
        "|---|---|---|---|---|---|---|",
    ]
    for m in verdict.get("metrics", []):
        lines.append(
            f"| {m['name']} | **{m['verdict']}** | {_num(m['before'])} | {_num(m['after'])} | "
            f"{_pct(m['effect'])} | {_confidence(m['confidence'])} | {m['test']} |"
        )
    lines += ["", *[f"- {m['name']}: {m['explanation']}" for m in verdict.get("metrics", [])]]
    if watch.evidence_token:
        lines += [
            "",
            f"![before and after]({evidence_url(services, watch.id, watch.evidence_token)})",
        ]
    lines += ["", "### What riskgate did", *_action_lines(watch)]
    lines += ["", "### The change set", *_change_set_lines(services, watch, deployment)]
    lines += [
        "",
        "### Next",
        f"Deployments of {_frozen_words(watch)} to {watch.environment} are held until this issue "
        "is closed or an approver comments `/gate unfreeze <reason>` here (or runs "
        f"`gate unfreeze {watch.repository} {watch.environment}`)."
        if watch.plan.get("freeze")
        else "No freeze was set (freeze: false).",
        f"Replay the decision: `gate watches show {watch.id} --scenario > s.json && "
        "gate judge s.json`.",
    ]
    return "\n".join(lines)


def _action_lines(watch: Watch) -> list[str]:
    done = watch.actions.get("rollback", {})
    if done.get("how") == "workflow_dispatch":
        rolled = (
            f"- dispatched workflow `{done['workflow']}` on `{done['ref']}` with "
            f"{done.get('inputs') or 'no inputs'} to go back to `{watch.last_good_sha}`"
        )
    elif done.get("how") == "redeploy":
        rolled = f"- created deployment {done['github_deployment_id']} of `{watch.last_good_sha}`"
    elif "error" in done:
        rolled = f"- the rollback failed: {done['error']}"
    else:
        rolled = f"- no rollback: {done.get('why', 'not attempted')}"
    marked = watch.actions.get("mark_failed", {})
    return [
        "- recorded the decision in the audit log",
        "- marked the deployment failed" if marked.get("github") else "- deployment not marked",
        rolled,
    ]


def _change_set_lines(services: Services, watch: Watch, deployment: Deployment) -> list[str]:
    base = watch.last_good_sha or deployment.base_sha
    lines = [f"`{(base or '?')[:10]}..{watch.sha[:10]}`"]
    if deployment.assessment_id is None:
        return [*lines, "(not assessed before the deploy)"]
    with services.db.session() as session:
        assessment = session.get(Assessment, deployment.assessment_id)
    if assessment is None:
        return lines
    details = services.details_url(assessment.id, assessment.details_token)
    lines.append(
        f"Risk before the deploy: **{assessment.level}** ({assessment.score or 0:.2f}), "
        f"decision {assessment.decision}. [Details]({details})"
    )
    return lines + [f"- {reason}" for reason in assessment.reasons[:6]]


def _freeze(scene: _Scene) -> dict[str, Any]:
    services, watch = scene.services, scene.watch
    if not watch.plan.get("freeze"):
        return {"services": []}
    frozen = sorted(watch_store.regressed_services(watch)) or ["*"]
    with services.db.session() as session:
        for service in frozen:
            session.add(
                ServiceFreeze(
                    repository=watch.repository,
                    environment=watch.environment,
                    service=service,
                    reason=f"{_headline(watch)} after the deploy of {watch.sha[:10]}",
                    watch_id=watch.id,
                    incident_issue=watch.incident_issue,
                )
            )
        session.add(
            audit.new_entry(
                actor="riskgate",
                action="freeze.set",
                reason=f"deployments of {', '.join(frozen)} to {watch.environment} held until "
                f"the incident{f' #{watch.incident_issue}' if watch.incident_issue else ''} "
                "is closed",
                repository=watch.repository,
                sha=watch.sha,
                subject=watch_store.subject(watch),
                details={"services": frozen, "watch_id": watch.id},
            )
        )
    return {"services": frozen}


def _record_outcome(scene: _Scene) -> dict[str, Any]:
    services, watch, deployment = scene.services, scene.watch, scene.deployment
    """The deployed changes caused a failure: what `gate outcomes` hands to `gate label`."""
    shas = _change_set(services, watch, deployment)
    audit.record(
        services.db,
        actor="riskgate",
        action="outcome.rollback" if watch.plan.get("act") else "outcome.regression",
        reason=f"{len(shas)} deployed change(s) labelled as failure-causing",
        repository=watch.repository,
        sha=watch.sha,
        subject=watch_store.subject(watch),
        details={"shas": shas, "watch_id": watch.id, "ref": f"deploy-{deployment.id}"},
    )
    return {"changes": len(shas)}


def _change_set(services: Services, watch: Watch, deployment: Deployment) -> list[str]:
    base = watch.last_good_sha or deployment.base_sha
    if base is None or not services.mirrors.is_warm(watch.repository):
        return [watch.sha]
    mirror = services.mirrors.path(watch.repository)
    try:
        listed = git(mirror, "rev-list", "--no-merges", f"{base}..{watch.sha}").decode().split()
    except Exception:  # the mirror lacks a commit: label the deployed head only
        return [watch.sha]
    return listed or [watch.sha]


# --------------------------------------------------------------------------------- freezes


def active_freezes(db: Database, repository: str, environment: str) -> list[ServiceFreeze]:
    with db.session() as session:
        return list(
            session.scalars(
                select(ServiceFreeze).where(
                    ServiceFreeze.repository == repository,
                    ServiceFreeze.environment == environment,
                    ServiceFreeze.lifted_at.is_(None),
                )
            )
        )


def lift_freezes(
    db: Database,
    repository: str,
    *,
    environment: str | None = None,
    incident_issue: int | None = None,
    by: str,
    reason: str,
) -> int:
    """Lift the freezes of an environment, or those an incident set; recorded in the audit."""
    query = select(ServiceFreeze).where(
        ServiceFreeze.repository == repository, ServiceFreeze.lifted_at.is_(None)
    )
    if environment is not None:
        query = query.where(ServiceFreeze.environment == environment)
    if incident_issue is not None:
        query = query.where(ServiceFreeze.incident_issue == incident_issue)
    with db.session() as session:
        rows = list(session.scalars(query))
        for row in rows:
            row.lifted_at, row.lifted_by, row.lift_reason = utcnow(), by, reason
        lifted = [(row.environment, row.service) for row in rows]
        if lifted:
            session.add(
                audit.new_entry(
                    actor=by,
                    action="freeze.lifted",
                    reason=reason,
                    repository=repository,
                    subject=", ".join(f"{env}/{service}" for env, service in lifted)[:128],
                    details={"freezes": lifted, "incident_issue": incident_issue},
                )
            )
    return len(lifted)


# ---------------------------------------------------------------------------------- helpers


def _frozen_words(watch: Watch) -> str:
    services = sorted(watch_store.regressed_services(watch))
    return ", ".join(services) if services else "every service"


def _headline(watch: Watch) -> str:
    regressed = [m for m in (watch.verdict or {}).get("metrics", []) if m["verdict"] == "regressed"]
    if not regressed:
        return "a regression"
    first = regressed[0]
    more = f" and {len(regressed) - 1} more" if len(regressed) > 1 else ""
    return f"{first['name']} {_num(first['before'])} -> {_num(first['after'])}{more}"


def _deployment(services: Services, deployment_id: int) -> Deployment:
    with services.db.session() as session:
        row = session.get(Deployment, deployment_id)
        assert row is not None
        session.expunge(row)
        return row


def _num(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.4g}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:+.0%}" if abs(value) < 100 else f"{value:+.3g}x"


def _confidence(value: float | None) -> str:
    return "-" if value is None else f"{value:.2%}"


def _when(at: float | None) -> str:
    return "?" if at is None else datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _minutes(at: float | None, watch: Watch) -> str:
    if at is None:
        return "?"
    return f"{(at - watch.deployed_at.timestamp()) / 60:.0f} min"
