"""Assessments: one row per scored change, updated as the check progresses."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from gate.store.db import Database
from gate.store.tables import Assessment, AuditEntry, Deployment, utcnow


@dataclass(frozen=True)
class Started:
    id: int
    check_run_id: int | None
    existed: bool
    details_token: str


def start_pr_assessment(
    db: Database, repository: str, pr_number: int, base_sha: str, head_sha: str, delivery_pk: int
) -> Started:
    """The assessment of this PR head, created on first sight; redeliveries reuse it."""
    with db.session() as session:
        existing = session.scalar(
            select(Assessment)
            .where(
                Assessment.kind == "pr",
                Assessment.repository == repository,
                Assessment.head_sha == head_sha,
                Assessment.pr_number == pr_number,
            )
            .order_by(Assessment.id.desc())
            .limit(1)
        )
        if existing is not None:
            return Started(existing.id, existing.check_run_id, True, existing.details_token)
        row = Assessment(
            kind="pr",
            repository=repository,
            pr_number=pr_number,
            base_sha=base_sha,
            head_sha=head_sha,
            delivery_pk=delivery_pk,
        )
        session.add(row)
        session.flush()
        return Started(row.id, None, False, row.details_token)


def set_check_run(db: Database, assessment_id: int, check_run_id: int) -> None:
    with db.session() as session:
        row = session.get(Assessment, assessment_id)
        assert row is not None
        row.check_run_id = check_run_id


def save_result(
    db: Database, assessment_id: int, fields: Mapping[str, Any], policy_version: str | None = None
) -> None:
    with db.session() as session:
        row = session.get(Assessment, assessment_id)
        assert row is not None
        _fill(row, fields)
        row.policy_version = policy_version


def record_decided(
    db: Database,
    row: Assessment,
    fields: Mapping[str, Any],
    policy_version: str | None,
    entry: AuditEntry,
    deployment: Deployment | None = None,
) -> tuple[int, int | None]:
    """A new assessment with its result, the audit entry of its decision and, for a deploy, its
    deployment, in one transaction: (assessment id, deployment id)."""
    with db.session() as session:
        _fill(row, fields)
        row.policy_version = policy_version
        session.add(row)
        session.flush()
        entry.assessment_id = row.id
        session.add(entry)
        if deployment is None:
            return row.id, None
        deployment.assessment_id = row.id
        session.add(deployment)
        session.flush()
        return row.id, deployment.id


def record_local(db: Database, repository: str, fields: Mapping[str, Any]) -> int:
    with db.session() as session:
        row = Assessment(
            kind="local",
            repository=repository,
            base_sha=fields["base_sha"],
            head_sha=fields["head_sha"],
        )
        _fill(row, fields)
        session.add(row)
        session.flush()
        return row.id


def _fill(row: Assessment, fields: Mapping[str, Any]) -> None:
    """Copy a result's columns (pulls.assess.AssessmentResult.row_fields) onto the row."""
    for column, value in fields.items():
        if column not in ("base_sha", "head_sha"):
            setattr(row, column, value)
    if fields.get("decision") == "hold" and row.held_at is None:
        row.held_at = utcnow()


def get(db: Database, assessment_id: int) -> Assessment | None:
    with db.session() as session:
        return session.get(Assessment, assessment_id)


def known_pr_head(db: Database, repository: str, pr_number: int, head_sha: str) -> bool:
    """Whether riskgate has (or is making) an assessment of this pull request head."""
    with db.session() as session:
        found = session.scalar(
            select(Assessment.id)
            .where(
                Assessment.kind == "pr",
                Assessment.repository == repository,
                Assessment.pr_number == pr_number,
                Assessment.head_sha == head_sha,
            )
            .limit(1)
        )
    return found is not None
