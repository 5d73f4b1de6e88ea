"""Read-only queries behind the decisions API, the audit trail and the autonomy report."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Mapped

from gate.store.db import Database
from gate.store.tables import Approval, Assessment, AuditEntry


def decisions(
    db: Database,
    repository: str,
    *,
    sha: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[AuditEntry]:
    """A repository's audit entries, oldest first; `sha` may be a prefix of the commit."""
    query = select(AuditEntry).where(AuditEntry.repository == repository)
    if sha is not None:
        query = query.where(AuditEntry.sha.startswith(sha, autoescape=True))
    query = _between(query, AuditEntry.at, since, until)
    query = query.order_by(AuditEntry.at, AuditEntry.id).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    with db.session() as session:
        return list(session.scalars(query))


def pr_assessments(
    db: Database, repository: str, since: datetime, until: datetime | None = None
) -> list[Assessment]:
    """Pull request assessments created in [since, until); CLI (`local`) runs are left out."""
    query = select(Assessment).where(Assessment.repository == repository, Assessment.kind == "pr")
    query = _between(query, Assessment.created_at, since, until).order_by(Assessment.id)
    with db.session() as session:
        return list(session.scalars(query))


def local_assessment_count(
    db: Database, repository: str, since: datetime, until: datetime | None = None
) -> int:
    """`gate assess` runs recorded under the repository in [since, until)."""
    query = select(func.count(Assessment.id)).where(
        Assessment.repository == repository, Assessment.kind == "local"
    )
    with db.session() as session:
        return session.scalar(_between(query, Assessment.created_at, since, until)) or 0


def approvals_for(db: Database, assessment_ids: list[int]) -> list[Approval]:
    """Every approver verdict recorded on these assessments."""
    if not assessment_ids:
        return []
    query = select(Approval).where(Approval.assessment_id.in_(assessment_ids)).order_by(Approval.id)
    with db.session() as session:
        return list(session.scalars(query))


def _between(
    query: Select[Any], column: Mapped[datetime], since: datetime | None, until: datetime | None
) -> Select[Any]:
    if since is not None:
        query = query.where(column >= since)
    if until is not None:
        query = query.where(column < until)
    return query
