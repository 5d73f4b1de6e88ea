"""Storing webhook deliveries, once each."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from gate.store.db import Database
from gate.store.jobs import requeue_failed_delivery
from gate.store.tables import Delivery, Job, utcnow

# the columns' lengths: a longer value is not GitHub's and would not fit
FIELD_LIMITS = {"delivery_id": 64, "event": 64, "action": 64, "repository": 256}


@dataclass(frozen=True)
class IncomingDelivery:
    delivery_id: str
    event: str
    action: str | None
    installation_id: int | None
    repository: str | None
    payload: str

    def problems(self) -> list[str]:
        """Why this delivery cannot be stored as it is: fields too long or that no database takes
        (a NUL, which PostgreSQL refuses in text; a lone surrogate, which UTF-8 cannot encode)."""
        found = []
        for name, limit in FIELD_LIMITS.items():
            value = getattr(self, name)
            if value is None:
                continue
            if len(value) > limit:
                found.append(f"{name} is longer than {limit} characters")
            elif not storable(value):
                found.append(f"{name} holds a NUL or a lone surrogate")
        return found


def storable(text: str) -> bool:
    """Whether every database riskgate supports can store this text as it is."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def record_delivery(
    db: Database, incoming: IncomingDelivery, max_attempts: int, handled: bool = True
) -> int | None:
    """Store a delivery, and its processing job when a handler will act on it, in one transaction.

    Returns the delivery's primary key, or None when this delivery id was already stored
    (GitHub keeps X-GitHub-Delivery on a manual redelivery). A redelivery of a delivery whose
    job failed queues that job again and returns the stored delivery's key.
    """
    now = utcnow()
    try:
        with db.session() as session:
            # Core inserts: the intake's hot path, without the ORM's unit of work
            delivery_pk = session.execute(
                insert(Delivery).returning(Delivery.id),
                [
                    {
                        "delivery_id": incoming.delivery_id,
                        "event": incoming.event,
                        "action": incoming.action,
                        "installation_id": incoming.installation_id,
                        "repository": incoming.repository,
                        "payload": incoming.payload,
                        "received_at": now,
                        "outcome": "queued" if handled else "ignored",
                    }
                ],
            ).scalar_one()
            if handled:
                session.execute(
                    insert(Job),
                    [
                        {
                            "kind": "process_delivery",
                            "delivery_pk": delivery_pk,
                            "args": {"delivery_pk": delivery_pk},
                            "state": "queued",
                            "attempts": 0,
                            "max_attempts": max_attempts,
                            "run_after": now,
                            "created_at": now,
                        }
                    ],
                )
            return delivery_pk
    except IntegrityError:
        with db.session() as session:
            existing = session.scalar(
                select(Delivery.id).where(Delivery.delivery_id == incoming.delivery_id)
            )
            if existing is None:
                raise
            if requeue_failed_delivery(session, existing, utcnow()):
                return existing
        return None


def set_outcome(db: Database, delivery_pk: int, outcome: str) -> None:
    with db.session() as session:
        delivery = session.get(Delivery, delivery_pk)
        if delivery is not None:
            delivery.outcome = outcome


def stored_ids(db: Database, delivery_ids: list[str]) -> set[str]:
    """Which of these X-GitHub-Delivery ids riskgate has stored."""
    found: set[str] = set()
    with db.session() as session:
        for start in range(0, len(delivery_ids), 500):
            chunk = delivery_ids[start : start + 500]
            found |= set(
                session.scalars(select(Delivery.delivery_id).where(Delivery.delivery_id.in_(chunk)))
            )
    return found


def pending_for_repository(db: Database, repository: str) -> bool:
    """Whether a delivery for this repository waits for its first attempt."""
    with db.session() as session:
        found = session.scalar(
            select(Job.id)
            .join(Delivery, Delivery.id == Job.delivery_pk)
            .where(
                Delivery.repository == repository,
                Job.kind == "process_delivery",
                Job.state.in_(("queued", "running")),
                Job.attempts == 0,
            )
            .limit(1)
        )
    return found is not None
