"""Storing webhook deliveries, once each."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from gate.store.db import Database
from gate.store.jobs import enqueue
from gate.store.tables import Delivery


@dataclass(frozen=True)
class IncomingDelivery:
    delivery_id: str
    event: str
    action: str | None
    installation_id: int | None
    repository: str | None
    payload: str


def record_delivery(db: Database, incoming: IncomingDelivery, max_attempts: int) -> int | None:
    """Store a delivery and its processing job in one transaction.

    Returns the delivery's primary key, or None when this delivery id was already stored
    (GitHub keeps X-GitHub-Delivery on a manual redelivery).
    """
    try:
        with db.session() as session:
            delivery = Delivery(
                delivery_id=incoming.delivery_id,
                event=incoming.event,
                action=incoming.action,
                installation_id=incoming.installation_id,
                repository=incoming.repository,
                payload=incoming.payload,
            )
            session.add(delivery)
            session.flush()
            enqueue(
                session,
                "process_delivery",
                {"delivery_pk": delivery.id},
                max_attempts,
                delivery_pk=delivery.id,
            )
            return delivery.id
    except IntegrityError:
        with db.session() as session:
            existing = session.scalar(
                select(Delivery.id).where(Delivery.delivery_id == incoming.delivery_id)
            )
        if existing is None:
            raise
        return None


def set_outcome(db: Database, delivery_pk: int, outcome: str) -> None:
    with db.session() as session:
        delivery = session.get(Delivery, delivery_pk)
        if delivery is not None:
            delivery.outcome = outcome
