"""The durable inbox worker and the job functions it runs (plain functions of ids)."""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from gate import metrics
from gate.context import Services
from gate.deploys import protection as deploys
from gate.deploys import watch
from gate.errors import MalformedPayload, PermanentError
from gate.git.cmd import GitError
from gate.github import GitHubError, GitHubUnavailable
from gate.logs import delivery_context
from gate.store import deliveries
from gate.store import jobs as job_store
from gate.store.tables import Delivery
from gate.webhooks import calibration, handler_for, installation, recovery

log = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(minutes=10)


def process_delivery(services: Services, args: dict[str, Any]) -> None:
    delivery = _load_delivery(services, int(args["delivery_pk"]))
    handler = handler_for(delivery.event, delivery.action)
    if handler is None or delivery.installation_id is None:
        # events we do not act on, and deliveries not sent to an App installation
        deliveries.set_outcome(services.db, delivery.id, "ignored")
        return
    with delivery_context(delivery.delivery_id):
        handler.handle(services, delivery, _payload(delivery))
    deliveries.set_outcome(services.db, delivery.id, "done")


def give_up_delivery(services: Services, args: dict[str, Any], error: str) -> None:
    """The handler's last word on a delivery it could not process ("Risk not assessed")."""
    delivery = _load_delivery(services, int(args["delivery_pk"]))
    handler = handler_for(delivery.event, delivery.action)
    if handler is not None and handler.give_up is not None:
        with delivery_context(delivery.delivery_id):
            handler.give_up(services, delivery, _payload(delivery), error)


def _load_delivery(services: Services, delivery_pk: int) -> Delivery:
    with services.db.session() as session:
        delivery = session.get(Delivery, delivery_pk)
    if delivery is None:
        raise PermanentError(f"delivery {delivery_pk} is not in the store")
    return delivery


def _payload(delivery: Delivery) -> dict[str, Any]:
    try:
        payload = json.loads(delivery.payload)
    except json.JSONDecodeError as error:
        raise PermanentError(f"stored payload is not JSON: {error}") from None
    if not isinstance(payload, dict):
        raise PermanentError("stored payload is not a JSON object")
    return payload


JobFunction = Callable[[Services, dict[str, Any]], None]
GiveUpFunction = Callable[[Services, dict[str, Any], str], None]


def give_up(services: Services, args: dict[str, Any]) -> None:
    """Job: run a failed job's give-up function, retried like any job until GitHub takes it.

    It does nothing once the failed job was queued again (a redelivery, `gate jobs retry`).
    """
    if job_store.state_of(services.db, int(args["job_id"])) != "failed":
        return
    _, function = JOB_FUNCTIONS.get(str(args["kind"]), (None, None))
    if function is not None:
        function(services, dict(args["args"]), str(args["error"]))


JOB_FUNCTIONS: dict[str, tuple[JobFunction, GiveUpFunction | None]] = {
    "process_delivery": (process_delivery, give_up_delivery),
    "index_repository": (installation.index_repository, None),
    calibration.JOB: (calibration.calibrate_repository, None),
    "answer_deployment": (deploys.answer_deployment, deploys.answer_failed),
    watch.JOB: (watch.look, watch.gave_up),
    "give_up": (give_up, None),
}

# errors that pass with time: GitHub down or limiting us, and git failing to reach it
PASSING = (GitHubUnavailable, GitError)
SECONDARY_MIN = 60.0  # GitHub: without Retry-After, wait at least a minute


def backoff(attempt: int, base: float = 2.0, cap: float = MAX_BACKOFF.total_seconds()) -> timedelta:
    """Exponential backoff with jitter: about 2 s, 4 s, 8 s ... up to `cap` seconds.

    The jitter (half to all of the step) spreads the jobs one outage failed at once.
    """
    seconds = min(base * 2 ** max(attempt - 1, 0), cap)
    return timedelta(seconds=seconds * random.uniform(0.5, 1.0))


def retry_delay(error: Exception, job: job_store.ClaimedJob, cap: float) -> tuple[timedelta, bool]:
    """How long to wait before the next attempt, and whether the wait is a rate limit's."""
    if isinstance(error, GitHubUnavailable) and error.rate_limited:
        if error.retry_after is not None:  # Retry-After, or a primary limit's reset
            return error.retry_after + timedelta(seconds=random.uniform(0, 2)), True
        seconds = min(SECONDARY_MIN * 2**job.rate_limit_waits, max(cap, SECONDARY_MIN))
        return timedelta(seconds=seconds * random.uniform(1.0, 1.25)), True
    return backoff(job.attempt, cap=cap), False


def gives_up(error: Exception, job: job_store.ClaimedJob, now: datetime, budget: timedelta) -> bool:
    """Only errors that cannot pass end a job at once; others end when the budget is spent.

    GitHub's outages and limits are retried for the whole budget; riskgate's own errors also
    stop after the job's attempts, since a bug does not pass with time.
    """
    if isinstance(error, (PermanentError, GitHubError)):
        return True
    if now - (job.failing_since or now) >= budget:
        return True
    return not isinstance(error, PASSING) and job.attempt >= job.max_attempts


def run_one(services: Services, running: set[int] | None = None) -> bool:
    """Claim and run one job; False when there was nothing to run.

    `running` is the worker's set of jobs in progress, whose leases its keeper renews.
    """
    lease = timedelta(seconds=services.settings.job_lease_seconds)
    job = job_store.claim_next(services.db, lease, now=services.clock())
    if job is None:
        return False
    function, give_up_function = JOB_FUNCTIONS.get(job.kind, (None, None))
    started = time.perf_counter()
    if running is not None:
        running.add(job.id)
    try:
        if function is None:
            raise PermanentError(f"no job function named {job.kind!r}")
        function(services, job.args)
    except Exception as error:  # a job's failure must never stop the worker
        _after_failure(services, job, error, give_up_function is not None)
    else:
        job_store.finish(services.db, job.id)
        metrics.JOBS.labels(kind=job.kind, outcome="done").inc()
    finally:
        if running is not None:
            running.discard(job.id)
        metrics.JOB_SECONDS.labels(kind=job.kind).observe(time.perf_counter() - started)
    return True


def _after_failure(
    services: Services, job: job_store.ClaimedJob, error: Exception, has_give_up: bool
) -> None:
    settings = services.settings
    message = f"{error.__class__.__name__}: {error}"
    now = services.clock()
    budget = timedelta(hours=settings.job_retry_budget_hours)
    final = gives_up(error, job, now, budget)
    delay, rate_limited = retry_delay(error, job, settings.job_backoff_cap_seconds)
    # the give-up (the "not assessed" check, the fallback answer) is a job of its own, retried
    # until GitHub takes it; queued with the failure, so a crash cannot lose it
    follow_up = (
        ("give_up", {"job_id": job.id, "kind": job.kind, "args": job.args, "error": message})
        if has_give_up and not isinstance(error, MalformedPayload)  # it could not parse it either
        else None
    )
    outcome = job_store.retry_or_fail(
        services.db,
        job,
        message,
        delay,
        now,
        final=final,
        rate_limited=rate_limited,
        follow_up=follow_up,
    )
    metrics.JOBS.labels(kind=job.kind, outcome=outcome).inc()
    log.error(
        "job failed",
        exc_info=not isinstance(error, (PermanentError, *PASSING)),
        extra={
            "job_id": job.id,
            "kind": job.kind,
            "attempt": job.attempt,
            "outcome": outcome,
            "retry_in_s": None if final else round(delay.total_seconds(), 1),
            "why": message[:300],
        },
    )


class Worker:
    """Threads that drain the job table; woken at once by the intake, else they poll.

    One more thread sweeps for held deployments past their expiry, at start and every minute,
    so a restart never forgets to answer one; another recovers, at start and every
    GATE_RECOVERY_INTERVAL_MINUTES, the deliveries GitHub failed to hand over and the pull
    requests left without a check.
    """

    def __init__(
        self,
        services: Services,
        threads: int = 2,
        poll_seconds: float = 1.0,
        sweep_seconds: float = 60.0,
    ) -> None:
        self.services = services
        self.poll_seconds = poll_seconds
        self.sweep_seconds = sweep_seconds
        self._threads = [
            threading.Thread(target=self._loop, name=f"gate-worker-{n}", daemon=True)
            for n in range(threads)
        ] + [
            threading.Thread(target=self._sweep, name="gate-sweeper", daemon=True),
            threading.Thread(target=self._keep_leases, name="gate-leases", daemon=True),
        ]
        if services.app is not None and services.settings.recovery_interval_minutes > 0:
            self._threads.append(
                threading.Thread(target=self._recover, name="gate-recovery", daemon=True)
            )
        self._running: set[int] = set()
        self._wake = threading.Event()
        self._stop = threading.Event()

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            if thread.is_alive():
                thread.join(timeout)

    def _keep_leases(self) -> None:
        """Renew the leases of running jobs, so only a dead worker's jobs are taken over."""
        lease = timedelta(seconds=self.services.settings.job_lease_seconds)
        while not self._stop.wait(lease.total_seconds() / 3):
            for job_id in list(self._running):
                try:
                    job_store.extend_lease(self.services.db, job_id, lease)
                except Exception:
                    log.exception("could not extend a job's lease", extra={"job_id": job_id})

    def _sweep(self) -> None:
        while not self._stop.is_set():
            try:
                if deploys.expire_held(self.services):
                    self.wake()
            except Exception:
                log.exception("could not expire held deployments")
            self._stop.wait(self.sweep_seconds)

    def _recover(self) -> None:
        app = self.services.app
        assert app is not None
        settings = self.services.settings
        reconciled_at = -float("inf")
        while not self._stop.is_set():
            steps = [recovery.redeliver_failed]
            reconcile_every = settings.reconcile_interval_minutes * 60
            if reconcile_every > 0 and time.monotonic() - reconciled_at >= reconcile_every:
                steps.append(recovery.reconcile)
            for step in steps:
                try:
                    if step(self.services, app):
                        self.wake()
                    if step is recovery.reconcile:
                        reconciled_at = time.monotonic()
                except Exception:  # GitHub down too: the next round tries again
                    log.exception("recovery step failed", extra={"step": step.__name__})
            self._stop.wait(settings.recovery_interval_minutes * 60)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                ran = run_one(self.services, self._running)
            except Exception:  # the store itself failed: wait and try again
                log.exception("worker could not claim a job")
                ran = False
            if not ran:
                self._wake.wait(self.poll_seconds)
                self._wake.clear()
