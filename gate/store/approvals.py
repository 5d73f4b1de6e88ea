"""Votes on held changes, and the assessments they belong to."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from gate.store.db import Database
from gate.store.tables import Approval, Assessment, utcnow


def latest_for_pr(db: Database, repository: str, pr_number: int) -> Assessment | None:
    with db.session() as session:
        return session.scalars(
            select(Assessment)
            .where(
                Assessment.kind == "pr",
                Assessment.repository == repository,
                Assessment.pr_number == pr_number,
            )
            .order_by(Assessment.id.desc())
            .limit(1)
        ).first()


def by_check_run(db: Database, repository: str, check_run_id: int) -> Assessment | None:
    with db.session() as session:
        return session.scalars(
            select(Assessment).where(
                Assessment.repository == repository, Assessment.check_run_id == check_run_id
            )
        ).first()


def record_vote(
    db: Database, assessment: Assessment, actor: str, verdict: str, reason: str, source: str
) -> bool:
    """Store a vote; False when this actor already cast the same vote on this head."""
    try:
        with db.session() as session:
            session.add(
                Approval(
                    assessment_id=assessment.id,
                    repository=assessment.repository,
                    head_sha=assessment.head_sha,
                    actor=actor,
                    verdict=verdict,
                    reason=reason,
                    source=source,
                )
            )
        return True
    except IntegrityError:
        return False


def votes(db: Database, assessment_id: int) -> list[Approval]:
    with db.session() as session:
        return list(
            session.scalars(
                select(Approval)
                .where(Approval.assessment_id == assessment_id)
                .order_by(Approval.id)
            )
        )


def resolve(db: Database, assessment_id: int, resolution: str) -> None:
    with db.session() as session:
        row = session.get(Assessment, assessment_id)
        assert row is not None
        row.resolution, row.resolved_at = resolution, utcnow()
