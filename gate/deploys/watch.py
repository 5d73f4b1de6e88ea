"""The post-deploy watch: plan it from the policy, then look at Prometheus step by step."""

from __future__ import annotations

import logging
import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from gate import metrics
from gate.context import Services
from gate.deploys import rollback
from gate.deploys.judge.replay import judge_step
from gate.deploys.judge.scenario import load_scenario
from gate.deploys.judge.verdict import Verdict, verdict_to_dict
from gate.deploys.prometheus import PrometheusError, query_range
from gate.errors import PermanentError
from gate.git.cmd import GitError
from gate.policy.loader import LoadedPolicy
from gate.policy.rollback import JUDGE_KIND, RollbackPolicy, render
from gate.reports.dora import lead_time_seconds
from gate.store import audit
from gate.store import deployments as deployment_store
from gate.store import watches as watch_store
from gate.store.jobs import enqueue
from gate.store.tables import Deployment, Watch, utcnow

log = logging.getLogger(__name__)

JOB = "watch_deployment"
MAX_EXTENSIONS = 1  # an inconclusive window is watched once more, then a person decides
WATCH_JOB_ATTEMPTS = 20


# ------------------------------------------------------------------------------------ planning


def plan_watch(
    policy: RollbackPolicy, environment: str, sha: str, last_good_sha: str | None
) -> dict[str, Any] | None:
    """The watch as it will run, queries rendered; None when nothing is configured to watch."""
    settings = policy.settings_for(environment)
    slis = policy.slis_for(environment)
    if not slis or settings.prometheus is None:
        return None
    baseline = settings.baseline
    notes = []
    if baseline == "side_by_side" and last_good_sha is None:
        baseline = "before"
        notes.append("no last good version to run side by side: compared with before the deploy")
    step = settings.step_seconds
    planned = []
    for sli in slis:
        for service in sli.services or ("",):
            values = _placeholder_values(environment, service, sha, step)
            stable = _placeholder_values(environment, service, last_good_sha or sha, step)
            queries = sli.queries()
            planned.append(
                {
                    "name": f"{sli.name} ({service})" if len(sli.services) > 1 else sli.name,
                    "service": service or None,
                    "sli_kind": sli.kind,
                    "kind": JUDGE_KIND[sli.kind],
                    "direction": sli.direction,
                    "min_effect": sli.min_effect,
                    "min_abs": sli.min_abs,
                    "canary": {role: render(q, values) for role, q in queries.items()},
                    "baseline": {
                        role: render(q, stable if baseline == "side_by_side" else values)
                        for role, q in queries.items()
                    },
                }
            )
    return {
        "prometheus": settings.prometheus.url,
        "timeout_seconds": settings.prometheus.timeout_seconds,
        "step_seconds": step,
        "watch_seconds": round(settings.watch_minutes * 60),
        "baseline_seconds": round(settings.baseline_minutes * 60),
        "baseline": baseline,
        "act": settings.act,
        "freeze": settings.freeze,
        "action": settings.action.model_dump() if settings.action else None,
        "metrics": planned,
        "extensions": 0,
        "notes": notes,
    }


def _placeholder_values(environment: str, service: str, sha: str, step: int) -> dict[str, str]:
    return {
        "environment": environment,
        "service": service,
        "sha": sha,
        "version": sha[:7],
        "step": f"{step}s",
    }


def start_watch(
    services: Services,
    deployment: Deployment,
    deployed_at: datetime,
    loaded: LoadedPolicy,
    last_good: str | None,
    default_branch: str,
) -> Watch | None:
    """Store the watch and queue its first look; once per deployment, whoever asks twice."""
    if loaded.policy.rollback is None:
        return None
    plan = plan_watch(loaded.policy.rollback, deployment.environment, deployment.sha, last_good)
    if plan is None:
        return None
    plan["default_branch"] = default_branch  # where a rollback workflow runs unless told
    deployed_at = deployed_at.astimezone(UTC).replace(microsecond=0)
    with services.db.session() as session:
        existing = session.scalars(
            select(Watch).where(Watch.deployment_id == deployment.id)
        ).first()
        if existing is not None:
            return existing
        watch = Watch(
            deployment_id=deployment.id,
            repository=deployment.repository,
            environment=deployment.environment,
            sha=deployment.sha,
            last_good_sha=last_good,
            deployed_at=deployed_at,
            ends_at=deployed_at + timedelta(seconds=plan["watch_seconds"]),
            plan={**plan, "ticket": secrets.token_hex(8)},
            state="watching",
            looks=0,
            actions={},
        )
        session.add(watch)
        session.flush()
        enqueue(
            session,
            JOB,
            {"watch_id": watch.id, "ticket": watch.plan["ticket"]},
            WATCH_JOB_ATTEMPTS,
        )
    audit.record(
        services.db,
        actor="riskgate",
        action="watch.started",
        reason=(
            f"watching {len(plan['metrics'])} SLI(s) of {deployment.environment} for "
            f"{plan['watch_seconds'] // 60} min after the deploy of {deployment.sha[:10]}, "
            f"against {_baseline_words(plan)}"
        ),
        repository=deployment.repository,
        sha=deployment.sha,
        subject=f"{deployment.environment} deployment {deployment.id}",
        details={"watch_id": watch.id, "metrics": [m["name"] for m in plan["metrics"]]},
        policy_version=loaded.version,
    )
    return watch


def after_success(
    services: Services, deployment: Deployment, deployed_at: datetime, branch: str
) -> Watch | None:
    """A deploy succeeded: it may end an incident, it has a lead time, and it is watched.

    The policy is the default branch's in the mirror, which the caller brought up to date.
    """
    watch_store.mark_restored(
        services.db, deployment.repository, deployment.environment, deployed_at
    )
    if not services.mirrors.is_warm(deployment.repository):
        return None
    mirror = services.mirrors.path(deployment.repository)
    last_good = deployment_store.previous_good_sha(services.db, deployment)
    try:
        lead = lead_time_seconds(mirror, last_good, deployment.sha, deployed_at)
    except GitError:  # a commit the mirror lacks: no lead time, still watched
        lead = None
    deployment_store.update(services.db, deployment.id, lead_time_seconds=lead)
    loaded = services.policies.load(deployment.repository, mirror, f"refs/heads/{branch}")
    return start_watch(services, deployment, deployed_at, loaded, last_good, branch)


def _baseline_words(plan: dict[str, Any]) -> str:
    if plan["baseline"] == "side_by_side":
        return "the stable version running beside it"
    return f"the {plan['baseline_seconds'] // 60} min before it"


# ------------------------------------------------------------------------------------- looking


def look(services: Services, args: dict[str, Any]) -> None:
    """One look (job `watch_deployment`): catch up on every step due, act, or come back later."""
    watch = watch_store.get(services.db, int(args["watch_id"]))
    if watch is None:
        raise PermanentError(f"watch {args['watch_id']} is not in the store")
    if watch.state != "watching":
        if watch.state == "regressed":
            rollback.act_on_regression(services, watch)  # finish what a crash interrupted
        return
    if args.get("ticket") != watch.plan.get("ticket"):
        return  # a look queued twice (a worker died after queueing the next one): one chain only
    plan = watch.plan
    deployed_at, step = int(watch.deployed_at.timestamp()), int(plan["step_seconds"])
    ends_at = int(watch.ends_at.timestamp())
    now = min(int(time.time()), ends_at)
    due = _looks_due(deployed_at, step, watch.looks, now, ends_at)
    if not due:
        _come_back(services, watch, deployed_at, step, watch.looks, ends_at)
        return
    try:
        scenario, errors = fetch_scenario(plan, deployed_at, due[-1], ends_at)
    except PrometheusError as error:
        # no data is never a verdict: look again later, and say so
        metrics.WATCH_LOOKS.labels(outcome="prometheus_error").inc()
        _save(services, watch.id, last_error=str(error)[:2000])
        log.warning("watch %s: %s", watch.id, error)
        retry_at = time.time() + min(step, 60)  # not at once, even when looks are overdue
        _come_back(services, watch, deployed_at, step, watch.looks, ends_at, retry_at)
        return
    verdict: Verdict | None = None
    judged = load_scenario(scenario)
    looks = watch.looks
    for at in due:
        verdict = judge_step(judged, at)
        looks += 1
        if verdict.verdict == "regressed":
            break
    assert verdict is not None
    metrics.WATCH_LOOKS.labels(outcome=verdict.verdict).inc()
    fields: dict[str, Any] = {
        "looks": looks,
        "verdict": verdict_to_dict(verdict),
        "evidence": scenario,
        "last_error": "; ".join(errors)[:2000] or None,
    }
    if verdict.verdict == "regressed":
        _save(services, watch.id, state="regressed", finished_at=utcnow(), **fields)
        rollback.record_regression(services, watch.id)
        rollback.act_on_regression(services, watch_store.load(services.db, watch.id))
        return
    if due[-1] < ends_at:
        _save(services, watch.id, **fields)
        _come_back(services, watch, deployed_at, step, looks, ends_at)
        return
    _end_of_window(services, watch, verdict, fields)


def gave_up(services: Services, args: dict[str, Any], error: str) -> None:
    """A look failed every attempt: the watch stops without a verdict, and says so."""
    watch = watch_store.load(services.db, int(args["watch_id"]))
    if watch.state != "watching":
        return  # a regression whose follow-up steps failed: those are on the watch's record
    _save(services, watch.id, state="inconclusive", finished_at=utcnow(), last_error=error[:2000])
    audit.record(
        services.db,
        actor="riskgate",
        action="watch.failed",
        reason=f"the watch could not continue ({error[:300]}): a person should look",
        repository=watch.repository,
        sha=watch.sha,
        subject=watch_store.subject(watch),
        details={"watch_id": watch.id},
    )


def _looks_due(deployed_at: int, step: int, done: int, now: int, ends_at: int) -> list[int]:
    """The look times not yet judged, up to now: every step boundary, and the window's end."""
    times = [deployed_at + k * step for k in range(done + 1, (now - deployed_at) // step + 1)]
    times = [t for t in times if t < ends_at]
    if now >= ends_at:
        times.append(ends_at)
    return times


def _come_back(
    services: Services,
    watch: Watch,
    deployed_at: int,
    step: int,
    looks: int,
    ends_at: int,
    not_before: float = 0.0,
) -> None:
    # a little after the step closes, so Prometheus has scraped it
    next_at = max(min(deployed_at + (looks + 1) * step, ends_at) + min(step / 4, 15), not_before)
    ticket = secrets.token_hex(8)
    with services.db.session() as session:
        row = session.get(Watch, watch.id)
        assert row is not None
        row.plan = {**row.plan, "ticket": ticket}
        enqueue(
            session,
            JOB,
            {"watch_id": watch.id, "ticket": ticket},
            WATCH_JOB_ATTEMPTS,
            run_after=datetime.fromtimestamp(next_at, UTC),
        )


def _end_of_window(
    services: Services, watch: Watch, verdict: Verdict, fields: dict[str, Any]
) -> None:
    plan = dict(watch.plan)
    if verdict.verdict == "inconclusive" and plan.get("extensions", 0) < MAX_EXTENSIONS:
        plan["extensions"] = plan.get("extensions", 0) + 1
        longer = watch.ends_at + timedelta(seconds=plan["watch_seconds"])
        _save(services, watch.id, plan=plan, ends_at=longer, **fields)
        audit.record(
            services.db,
            actor="riskgate",
            action="watch.extended",
            reason=f"inconclusive at the window's end ({_why(verdict)}): watching "
            f"{plan['watch_seconds'] // 60} min more",
            repository=watch.repository,
            sha=watch.sha,
            subject=watch_store.subject(watch),
            details={"watch_id": watch.id, "verdict": fields["verdict"]},
        )
        deployed_at = int(watch.deployed_at.timestamp())
        _come_back(
            services,
            watch,
            deployed_at,
            int(plan["step_seconds"]),
            fields["looks"],
            int(longer.timestamp()),
        )
        return
    _save(services, watch.id, state=verdict.verdict, finished_at=utcnow(), **fields)
    audit.record(
        services.db,
        actor="riskgate",
        action=f"watch.{verdict.verdict}",
        reason=(
            f"no regression in {len(verdict.metrics)} SLI(s) over the watch"
            if verdict.verdict == "healthy"
            else f"no decision ({_why(verdict)}): a person should look; nothing was rolled back"
        ),
        repository=watch.repository,
        sha=watch.sha,
        subject=watch_store.subject(watch),
        details={"watch_id": watch.id, "verdict": fields["verdict"]},
    )


def _why(verdict: Verdict) -> str:
    unsure = [m for m in verdict.metrics if m.verdict != "healthy"]
    return "; ".join(f"{m.name}: {m.explanation}" for m in unsure[:3])[:600]


def _save(services: Services, watch_id: int, **fields: Any) -> None:
    with services.db.session() as session:
        watch = session.get(Watch, watch_id)
        assert watch is not None
        for name, value in fields.items():
            setattr(watch, name, value)


# ---------------------------------------------------------------------------------- data


def fetch_scenario(
    plan: dict[str, Any], deployed_at: int, now: int, ends_at: int
) -> tuple[dict[str, Any], list[str]]:
    """The judge's scenario (the `gate judge` file format) from Prometheus, up to `now`.

    A query Prometheus refuses leaves its metric without data (inconclusive), noted in errors;
    Prometheus being unreachable raises PrometheusError: the whole look waits.
    """
    step = int(plan["step_seconds"])
    canary_range = (deployed_at + step, now)
    if plan["baseline"] == "side_by_side":
        baseline_range = canary_range
    else:
        baseline_range = (deployed_at - int(plan["baseline_seconds"]) + step, deployed_at)
    errors: list[str] = []

    def series(query: str, span: tuple[int, int]) -> list[list[float]]:
        try:
            points = query_range(
                plan["prometheus"],
                query,
                span[0],
                span[1],
                step,
                timeout=float(plan["timeout_seconds"]),
            )
        except PrometheusError as error:
            if type(error) is PrometheusError:
                raise
            errors.append(str(error))
            return []
        return [[t, v] for t, v in points]

    scenario_metrics = []
    for metric in plan["metrics"]:
        sides = {
            side: _side(metric, metric[side], span, series)
            for side, span in (("baseline", baseline_range), ("canary", canary_range))
        }
        scenario_metrics.append(
            {
                "name": metric["name"],
                "kind": metric["sli_kind"],
                "direction": metric["direction"],
                **{k: metric[k] for k in ("min_effect", "min_abs") if metric[k] is not None},
                **sides,
            }
        )
    scenario = {
        "deployed_at": deployed_at,
        "step_seconds": step,
        "ends_at": ends_at,
        "metrics": scenario_metrics,
    }
    return scenario, errors


def _side(
    metric: dict[str, Any], queries: dict[str, str], span: tuple[int, int], series: Any
) -> dict[str, Any]:
    if metric["kind"] != "errors":
        return {"values": series(queries["query"], span)}
    if metric["sli_kind"] == "error_count":
        return {"errors": series(queries["query"], span)}  # a count per step; gaps stay gaps
    requests = series(queries["requests"], span)
    served = {t: n for t, n in requests}
    # counts from increase() are extrapolated: never more errors than requests in a step
    errors = [[t, min(n, served[t])] for t, n in series(queries["errors"], span) if t in served]
    return {"errors": errors, "requests": requests}
