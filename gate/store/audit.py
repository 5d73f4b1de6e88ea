"""The append-only audit log: record what the app does, and why, before it does it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from gate.logs import current_delivery_id
from gate.store.db import Database
from gate.store.tables import AuditEntry


def record(
    db: Database,
    *,
    actor: str,
    action: str,
    reason: str,
    repository: str | None = None,
    sha: str | None = None,
    subject: str | None = None,
    details: dict[str, Any] | None = None,
    assessment_id: int | None = None,
    policy_version: str | None = None,
    model_version: str | None = None,
) -> int:
    with db.session() as session:
        entry = new_entry(
            actor=actor,
            action=action,
            reason=reason,
            repository=repository,
            sha=sha,
            subject=subject,
            details=details,
            assessment_id=assessment_id,
            policy_version=policy_version,
            model_version=model_version,
        )
        session.add(entry)
        session.flush()
        return entry.id


def new_entry(
    *,
    actor: str,
    action: str,
    reason: str,
    repository: str | None = None,
    sha: str | None = None,
    subject: str | None = None,
    details: dict[str, Any] | None = None,
    assessment_id: int | None = None,
    policy_version: str | None = None,
    model_version: str | None = None,
) -> AuditEntry:
    """An entry to add within a transaction that writes what it records (see `record`)."""
    return AuditEntry(
        actor=actor,
        action=action,
        reason=reason,
        repository=repository,
        sha=sha,
        subject=subject,
        details=details or {},
        delivery_id=current_delivery_id(),
        assessment_id=assessment_id,
        policy_version=policy_version,
        model_version=model_version,
    )


def entries(
    db: Database,
    repository: str | None = None,
    since: datetime | None = None,
    assessment_id: int | None = None,
) -> list[AuditEntry]:
    query = select(AuditEntry).order_by(AuditEntry.id)
    if assessment_id is not None:
        query = query.where(AuditEntry.assessment_id == assessment_id)
    if repository is not None:
        query = query.where(AuditEntry.repository == repository)
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    with db.session() as session:
        return list(session.scalars(query))
