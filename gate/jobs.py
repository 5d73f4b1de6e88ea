"""The durable inbox worker and the job functions it runs (plain functions of ids)."""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from gate import metrics
from gate.context import Services
from gate.deploys import protection as deploys
from gate.deploys import watch
from gate.errors import PermanentError
from gate.github import GitHubUnavailable
from gate.logs import delivery_context
from gate.store import deliveries
from gate.store import jobs as job_store
from gate.store.tables import Delivery
from gate.webhooks import handler_for, installation

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

JOB_FUNCTIONS: dict[str, tuple[JobFunction, GiveUpFunction | None]] = {
    "process_delivery": (process_delivery, give_up_delivery),
    "index_repository": (installation.index_repository, None),
    "answer_deployment": (deploys.answer_deployment, deploys.answer_failed),
    watch.JOB: (watch.look, watch.gave_up),
}


def backoff(attempt: int, base: float = 2.0) -> timedelta:
    """Exponential backoff with jitter: about 2 s, 4 s, 8 s ... capped at ten minutes."""
    seconds = min(base * 2 ** (attempt - 1), MAX_BACKOFF.total_seconds())
    return timedelta(seconds=seconds * random.uniform(0.8, 1.2))


def run_one(services: Services, running: set[int] | None = None) -> bool:
    """Claim and run one job; False when there was nothing to run.

    `running` is the worker's set of jobs in progress, whose leases its keeper renews.
    """
    lease = timedelta(seconds=services.settings.job_lease_seconds)
    job = job_store.claim_next(services.db, lease)
    if job is None:
        return False
    function, give_up = JOB_FUNCTIONS.get(job.kind, (None, None))
    started = time.perf_counter()
    if running is not None:
        running.add(job.id)
    try:
        if function is None:
            raise PermanentError(f"no job function named {job.kind!r}")
        function(services, job.args)
    except Exception as error:  # a job's failure must never stop the worker
        _after_failure(services, job, error, give_up)
    else:
        job_store.finish(services.db, job.id)
        metrics.JOBS.labels(kind=job.kind, outcome="done").inc()
    finally:
        if running is not None:
            running.discard(job.id)
        metrics.JOB_SECONDS.labels(kind=job.kind).observe(time.perf_counter() - started)
    return True


def _after_failure(
    services: Services, job: job_store.ClaimedJob, error: Exception, give_up: GiveUpFunction | None
) -> None:
    message = f"{error.__class__.__name__}: {error}"
    if isinstance(error, PermanentError):
        job = job_store.ClaimedJob(job.id, job.kind, job.args, job.max_attempts, job.max_attempts)
    delay = error.retry_after if isinstance(error, GitHubUnavailable) else backoff(job.attempt)
    outcome = job_store.retry_or_fail(services.db, job, message, delay)
    metrics.JOBS.labels(kind=job.kind, outcome=outcome).inc()
    log.error(
        "job failed",
        exc_info=not isinstance(error, PermanentError),
        extra={"job_id": job.id, "kind": job.kind, "attempt": job.attempt, "outcome": outcome},
    )
    if outcome == "failed" and give_up is not None:
        try:
            give_up(services, job.args, message)
        except Exception:
            log.exception("could not report the failed job", extra={"job_id": job.id})


class Worker:
    """Threads that drain the job table; woken at once by the intake, else they poll.

    One more thread sweeps for held deployments past their expiry, at start and every minute,
    so a restart never forgets to answer one.
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
