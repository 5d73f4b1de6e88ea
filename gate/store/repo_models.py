"""The registry of per-repository models: which is promoted, which is in shadow, how they did."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from gate.store.db import Database
from gate.store.tables import Assessment, RepoModel, utcnow

SHADOW, PROMOTED, RETIRED = "shadow", "promoted", "retired"


@dataclass(frozen=True)
class ActiveModels:
    """A repository's promoted model and its model in shadow (either may be absent)."""

    promoted: RepoModel | None
    shadow: RepoModel | None


def register(
    db: Database,
    *,
    repository: str,
    model_version: str,
    path: str,
    labelled_rows: int,
    labelled_failures: int,
    evaluation: dict[str, Any],
) -> RepoModel:
    """Put a newly trained model in shadow; it replaces the repository's earlier shadow model.

    Retraining to the same booster (same data and seed) updates its row instead: a promoted
    model stays promoted.
    """
    now = utcnow()
    with db.session() as session:
        row = session.scalar(
            select(RepoModel).where(
                RepoModel.repository == repository, RepoModel.model_version == model_version
            )
        )
        for earlier in session.scalars(
            select(RepoModel).where(
                RepoModel.repository == repository,
                RepoModel.state == SHADOW,
                RepoModel.model_version != model_version,
            )
        ):
            earlier.state, earlier.retired_at = RETIRED, now
        if row is None:
            row = RepoModel(repository=repository, model_version=model_version, trained_at=now)
            session.add(row)
        if row.state != PROMOTED:
            row.state, row.retired_at = SHADOW, None
        row.path = path
        row.labelled_rows = labelled_rows
        row.labelled_failures = labelled_failures
        row.evaluation = evaluation
        session.flush()
        return row


def promote(db: Database, repository: str, model_version: str) -> None:
    """Make this model the repository's promoted one; the one it replaces is retired."""
    now = utcnow()
    with db.session() as session:
        target = session.scalar(
            select(RepoModel).where(
                RepoModel.repository == repository, RepoModel.model_version == model_version
            )
        )
        if target is None:
            raise LookupError(f"{repository} has no model {model_version}")
        for current in session.scalars(
            select(RepoModel).where(
                RepoModel.repository == repository,
                RepoModel.state == PROMOTED,
                RepoModel.id != target.id,
            )
        ):
            current.state, current.retired_at = RETIRED, now
        target.state, target.promoted_at, target.retired_at = PROMOTED, now, None


def active(db: Database, repository: str) -> ActiveModels:
    with db.session() as session:
        rows = session.scalars(
            select(RepoModel)
            .where(RepoModel.repository == repository, RepoModel.state.in_([SHADOW, PROMOTED]))
            .order_by(RepoModel.id.desc())
        ).all()
    return ActiveModels(
        promoted=next((row for row in rows if row.state == PROMOTED), None),
        shadow=next((row for row in rows if row.state == SHADOW), None),
    )


def listing(db: Database, repository: str | None = None) -> list[RepoModel]:
    """Every registered model, by repository, newest first."""
    query = select(RepoModel).order_by(RepoModel.repository, RepoModel.id.desc())
    if repository is not None:
        query = query.where(RepoModel.repository == repository)
    with db.session() as session:
        return list(session.scalars(query))


def live_shadow_scores(db: Database, repository: str | None = None) -> dict[tuple[str, str], int]:
    """How many live changes each shadow model scored: (repository, version) -> count."""
    query = (
        select(Assessment.repository, Assessment.shadow_model_version, func.count())
        .where(Assessment.shadow_model_version.is_not(None))
        .group_by(Assessment.repository, Assessment.shadow_model_version)
    )
    if repository is not None:
        query = query.where(Assessment.repository == repository)
    with db.session() as session:
        return {(repo, version): count for repo, version, count in session.execute(query)}
