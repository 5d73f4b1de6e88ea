"""The console's reads: what waits, recent assessments, decision shares; all by repository."""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import func, select

from gate.store.db import Database
from gate.store.tables import Assessment, Delivery, Deployment, DeploymentPR

LEVELS = ("low", "medium", "high")
STATES = ("held", "approved", "rejected", "pass", "review")


@dataclass(frozen=True)
class Filters:
    repository: str | None = None
    level: str | None = None
    state: str | None = None  # held | approved | rejected | pass | review


def _filtered(query, repositories: Collection[str], filters: Filters):  # type: ignore[no-untyped-def]
    names = list(repositories)
    if filters.repository is not None:
        names = [n for n in names if n == filters.repository]
    query = query.where(Assessment.repository.in_(names))
    if filters.level is not None:
        query = query.where(Assessment.level == filters.level)
    if filters.state == "held":
        query = query.where(Assessment.decision == "hold", Assessment.resolution.is_(None))
    elif filters.state in ("approved", "rejected"):
        query = query.where(Assessment.resolution == filters.state)
    elif filters.state in ("pass", "review"):
        query = query.where(Assessment.decision == filters.state)
    return query


def waiting(
    db: Database, repositories: Collection[str], filters: Filters, limit: int, offset: int
) -> list[tuple[Assessment, Deployment | None]]:
    """Held and unresolved, oldest first, with the deployment a deploy assessment holds."""
    query = _filtered(
        select(Assessment, Deployment).outerjoin(
            Deployment, Deployment.assessment_id == Assessment.id
        ),
        repositories,
        Filters(filters.repository, filters.level, None),
    ).where(Assessment.decision == "hold", Assessment.resolution.is_(None))
    query = query.where((Deployment.id.is_(None)) | (Deployment.state == "held"))
    query = query.order_by(func.coalesce(Assessment.held_at, Assessment.created_at), Assessment.id)
    with db.session() as session:
        return [(a, d) for a, d in session.execute(query.limit(limit).offset(offset))]


def recent(
    db: Database, repositories: Collection[str], filters: Filters, limit: int, offset: int
) -> list[Assessment]:
    query = _filtered(select(Assessment), repositories, filters)
    query = query.order_by(Assessment.id.desc()).limit(limit).offset(offset)
    with db.session() as session:
        return list(session.scalars(query))


def decision_counts(db: Database, repository: str) -> dict[str, int]:
    query = (
        select(Assessment.decision, func.count())
        .where(Assessment.repository == repository, Assessment.decision.is_not(None))
        .group_by(Assessment.decision)
    )
    with db.session() as session:
        return {str(decision): int(count) for decision, count in session.execute(query)}


def deployments_of(db: Database, repository: str, limit: int = 20) -> list[Deployment]:
    query = (
        select(Deployment)
        .where(Deployment.repository == repository)
        .order_by(Deployment.id.desc())
        .limit(limit)
    )
    with db.session() as session:
        return list(session.scalars(query))


def change_set(db: Database, deployment: Deployment) -> list[Assessment]:
    """The pull requests' newest assessments that the deployment carries."""
    numbers = select(DeploymentPR.pr_number).where(DeploymentPR.deployment_id == deployment.id)
    newest = (
        select(func.max(Assessment.id))
        .where(
            Assessment.repository == deployment.repository,
            Assessment.kind == "pr",
            Assessment.pr_number.in_(numbers),
        )
        .group_by(Assessment.pr_number)
    )
    query = select(Assessment).where(Assessment.id.in_(newest)).order_by(Assessment.pr_number)
    with db.session() as session:
        return list(session.scalars(query))


def default_branch(db: Database, repository: str) -> str:
    """The branch its policy is read from, as the newest delivery about it names it."""
    query = (
        select(Delivery.payload)
        .where(Delivery.repository == repository)
        .order_by(Delivery.id.desc())
        .limit(1)
    )
    with db.session() as session:
        payload = session.scalars(query).first()
    if payload is None:
        return "main"
    try:
        branch = json.loads(payload).get("repository", {}).get("default_branch")
    except (ValueError, AttributeError):
        return "main"
    return str(branch or "main")
