"""Deployments riskgate was asked about: their change sets, holds and answers."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from gate.store.db import Database
from gate.store.tables import Assessment, Deployment, DeploymentPR, utcnow


def get(db: Database, deployment_id: int) -> Deployment | None:
    with db.session() as session:
        return session.get(Deployment, deployment_id)


def for_delivery(db: Database, delivery_pk: int) -> Deployment | None:
    with db.session() as session:
        return session.scalars(
            select(Deployment).where(Deployment.delivery_pk == delivery_pk)
        ).first()


def create(db: Database, **fields: object) -> Deployment:
    with db.session() as session:
        row = Deployment(**fields)
        session.add(row)
        session.flush()
        return row


def update(db: Database, deployment_id: int, **fields: object) -> Deployment:
    with db.session() as session:
        row = session.get(Deployment, deployment_id)
        assert row is not None
        for name, value in fields.items():
            setattr(row, name, value)
        return row


def link_prs(db: Database, deployment_id: int, numbers: list[int]) -> None:
    with db.session() as session:
        for number in dict.fromkeys(numbers):
            session.merge(DeploymentPR(deployment_id=deployment_id, pr_number=number))


def last_good_sha(db: Database, repository: str, environment: str) -> str | None:
    """The SHA of the newest deployment to the environment that finished successfully."""
    with db.session() as session:
        return session.scalar(
            select(Deployment.sha)
            .where(
                Deployment.repository == repository,
                Deployment.environment == environment,
                Deployment.status == "success",
            )
            .order_by(Deployment.id.desc())
            .limit(1)
        )


def previous_good_sha(db: Database, deployment: Deployment) -> str | None:
    """What this deployment replaced: the newest other successful deploy of another commit."""
    with db.session() as session:
        found = session.scalar(
            select(Deployment.sha)
            .where(
                Deployment.repository == deployment.repository,
                Deployment.environment == deployment.environment,
                Deployment.status == "success",
                Deployment.id != deployment.id,
                Deployment.sha != deployment.sha,
            )
            .order_by(Deployment.id.desc())
            .limit(1)
        )
    if found is None and deployment.base_sha != deployment.sha:
        return deployment.base_sha
    return found


def last_deployed_at(db: Database, repository: str, environment: str) -> datetime | None:
    with db.session() as session:
        return session.scalar(
            select(Deployment.finished_at)
            .where(
                Deployment.repository == repository,
                Deployment.environment == environment,
                Deployment.finished_at.is_not(None),
            )
            .order_by(Deployment.finished_at.desc())
            .limit(1)
        )


def recent_failures(db: Database, repository: str, environment: str, days: int = 1) -> int:
    with db.session() as session:
        return len(
            session.scalars(
                select(Deployment.id).where(
                    Deployment.repository == repository,
                    Deployment.environment == environment,
                    Deployment.status.in_(("failure", "error", "rolled_back", "regressed")),
                    Deployment.finished_at >= utcnow() - timedelta(days=days),
                )
            ).all()
        )


def held_for_pr(db: Database, repository: str, pr_number: int) -> list[Deployment]:
    """Held deployments whose change set contains this pull request."""
    with db.session() as session:
        return list(
            session.scalars(
                select(Deployment)
                .join(DeploymentPR, DeploymentPR.deployment_id == Deployment.id)
                .where(
                    Deployment.repository == repository,
                    Deployment.state == "held",
                    DeploymentPR.pr_number == pr_number,
                )
                .order_by(Deployment.id)
            )
        )


def by_assessment(db: Database, assessment_id: int) -> Deployment | None:
    with db.session() as session:
        return session.scalars(
            select(Deployment).where(Deployment.assessment_id == assessment_id)
        ).first()


def due_to_expire(db: Database, now: datetime) -> list[Deployment]:
    with db.session() as session:
        return list(
            session.scalars(
                select(Deployment).where(Deployment.state == "held", Deployment.expires_at <= now)
            )
        )


def pending(db: Database, repository: str | None = None) -> list[tuple[Deployment, Assessment]]:
    query = (
        select(Deployment, Assessment)
        .join(Assessment, Assessment.id == Deployment.assessment_id)
        .where(Deployment.state == "held")
        .order_by(Deployment.requested_at)
    )
    if repository:
        query = query.where(Deployment.repository == repository)
    with db.session() as session:
        return [(d, a) for d, a in session.execute(query).all()]
