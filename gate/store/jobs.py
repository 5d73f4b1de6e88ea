"""The durable job queue: enqueue, claim with a lease, finish, retry with backoff."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from gate.store.db import Database
from gate.store.tables import Delivery, Job, utcnow


@dataclass(frozen=True)
class ClaimedJob:
    id: int
    kind: str
    args: dict[str, Any]
    attempt: int
    max_attempts: int
    failing_since: datetime | None = None
    rate_limit_waits: int = 0


def enqueue(
    session: Session,
    kind: str,
    args: dict[str, Any],
    max_attempts: int,
    *,
    delivery_pk: int | None = None,
    run_after: datetime | None = None,
) -> Job:
    job = Job(
        kind=kind,
        args=args,
        delivery_pk=delivery_pk,
        max_attempts=max_attempts,
        run_after=run_after or utcnow(),
    )
    session.add(job)
    session.flush()
    return job


def claim_next(db: Database, lease: timedelta, now: datetime | None = None) -> ClaimedJob | None:
    """Take the oldest runnable job, or one whose worker died holding it (lease expired).

    The conditional UPDATE is the lock: of two workers that pick the same row only one
    sees rowcount 1, on SQLite and PostgreSQL alike.
    """
    now = now or utcnow()
    runnable = or_(
        (Job.state == "queued") & (Job.run_after <= now),
        (Job.state == "running") & (Job.lease_until < now),
    )
    for _ in range(5):
        with db.session() as session:
            candidate = session.execute(
                select(Job.id, Job.attempts).where(runnable).order_by(Job.id).limit(1)
            ).first()
            if candidate is None:
                return None
            job_id, attempts = candidate
            claimed = session.execute(
                update(Job)
                .where(Job.id == job_id, Job.attempts == attempts, runnable)
                .values(state="running", attempts=attempts + 1, lease_until=now + lease)
            ).rowcount
            if claimed == 1:
                job = session.get(Job, job_id)
                assert job is not None
                return ClaimedJob(
                    job.id,
                    job.kind,
                    dict(job.args),
                    job.attempts,
                    job.max_attempts,
                    job.failing_since,
                    job.rate_limit_waits,
                )
    return None


def extend_lease(db: Database, job_id: int, lease: timedelta) -> None:
    with db.session() as session:
        session.execute(
            update(Job)
            .where(Job.id == job_id, Job.state == "running")
            .values(lease_until=utcnow() + lease)
        )


def finish(db: Database, job_id: int) -> None:
    with db.session() as session:
        session.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(state="done", finished_at=utcnow(), lease_until=None)
        )


def retry_or_fail(
    db: Database,
    job: ClaimedJob,
    error: str,
    delay: timedelta,
    now: datetime | None = None,
    *,
    final: bool | None = None,
    rate_limited: bool = False,
    follow_up: tuple[str, dict[str, Any]] | None = None,
) -> str:
    """After a failed attempt: queue the job again after `delay`, or mark it failed for good.

    `final` defaults to "the last attempt"; a rate-limited attempt is given back (a wait is not
    an attempt). `follow_up` is a job queued in the same transaction when this one fails.
    """
    now = now or utcnow()
    if final is None:
        final = job.attempt >= job.max_attempts
    with db.session() as session:
        values: dict[str, Any] = {"last_error": error[:10_000], "lease_until": None}
        if final:
            values |= {"state": "failed", "finished_at": now}
        else:
            values |= {
                "state": "queued",
                "run_after": now + delay,
                "failing_since": job.failing_since or now,
            }
            if rate_limited:
                values |= {
                    "attempts": max(job.attempt - 1, 0),
                    "rate_limit_waits": job.rate_limit_waits + 1,
                }
        session.execute(update(Job).where(Job.id == job.id).values(**values))
        if final:
            session.execute(
                update(Delivery)
                .where(
                    Delivery.id == select(Job.delivery_pk).where(Job.id == job.id).scalar_subquery()
                )
                .values(outcome="failed")
            )
            if follow_up is not None:
                enqueue(session, follow_up[0], follow_up[1], job.max_attempts, run_after=now)
    return "failed" if final else "retry"


def requeue(
    db: Database,
    job_ids: list[int] | None = None,
    *,
    failed: bool = False,
    now: datetime | None = None,
) -> list[int]:
    """Queue jobs again from scratch (attempts, budget); `failed` takes every failed job.

    Running jobs are left alone. Returns the ids queued again.
    """
    now = now or utcnow()
    with db.session() as session:
        query = select(Job.id).where(Job.state != "running")
        if failed:
            query = query.where(Job.state == "failed")
        if job_ids is not None:
            query = query.where(Job.id.in_(job_ids))
        elif not failed:
            return []
        ids = list(session.scalars(query.order_by(Job.id)))
        if ids:
            _requeue_rows(session, ids, now)
        return ids


def requeue_failed_delivery(session: Session, delivery_pk: int, now: datetime) -> bool:
    """A redelivery of a delivery whose job failed: run that job again. False: nothing failed."""
    ids = list(
        session.scalars(
            select(Job.id).where(
                Job.delivery_pk == delivery_pk,
                Job.kind == "process_delivery",
                Job.state == "failed",
            )
        )
    )
    if ids:
        _requeue_rows(session, ids, now)
    return bool(ids)


def _requeue_rows(session: Session, ids: list[int], now: datetime) -> None:
    session.execute(
        update(Job)
        .where(Job.id.in_(ids))
        .values(
            state="queued",
            attempts=0,
            rate_limit_waits=0,
            failing_since=None,
            run_after=now,
            lease_until=None,
            finished_at=None,
        )
    )
    session.execute(
        update(Delivery)
        .where(Delivery.id.in_(select(Job.delivery_pk).where(Job.id.in_(ids))))
        .values(outcome="queued")
    )


def state_of(db: Database, job_id: int) -> str | None:
    with db.session() as session:
        return session.scalar(select(Job.state).where(Job.id == job_id))


def next_run_after(db: Database) -> datetime | None:
    """When the earliest queued job becomes runnable (tests step their clock to it)."""
    with db.session() as session:
        return session.scalar(select(func.min(Job.run_after)).where(Job.state == "queued"))


def count_by_state(db: Database) -> dict[str, int]:
    with db.session() as session:
        rows = session.execute(select(Job.state, func.count()).group_by(Job.state)).all()
    return {state: count for state, count in rows}
