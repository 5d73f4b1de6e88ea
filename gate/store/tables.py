"""The database tables: deliveries, jobs, assessments and the append-only audit log."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_details_token() -> str:
    """The unguessable part of an assessment's details link (256 random bits)."""
    return secrets.token_urlsafe(32)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on every backend (SQLite drops the zone otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: store aware UTC datetimes only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {  # noqa: RUF012
        datetime: UTCDateTime(),
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


class Delivery(Base):
    """A webhook delivery exactly as GitHub sent it, stored before we answer 202."""

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery_id: Mapped[str] = mapped_column(String(64), unique=True)
    event: Mapped[str] = mapped_column(String(64))
    action: Mapped[str | None] = mapped_column(String(64))
    installation_id: Mapped[int | None] = mapped_column(BigInteger)
    repository: Mapped[str | None] = mapped_column(String(256))
    payload: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    # queued -> done | ignored | failed
    outcome: Mapped[str] = mapped_column(String(16), default="queued")


class Job(Base):
    """A durable unit of work: a function name and the ids it needs."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_claimable", "state", "run_after"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    delivery_pk: Mapped[int | None] = mapped_column(ForeignKey("deliveries.id"))
    args: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # queued -> running -> done | queued (retry) | failed
    state: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=5)
    run_after: Mapped[datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()
    # the retry budget counts from the first failure of the current run of failures
    failing_since: Mapped[datetime | None] = mapped_column()
    # rate-limit waits spend no attempt; secondary limits back off on this count
    rate_limit_waits: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Assessment(Base):
    """One scored change: its features, the model's score and the decision taken."""

    __tablename__ = "assessments"
    __table_args__ = (Index("ix_assessments_change", "repository", "head_sha"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # pr | local
    repository: Mapped[str] = mapped_column(String(256))
    pr_number: Mapped[int | None] = mapped_column(Integer)
    base_sha: Mapped[str] = mapped_column(String(64))
    head_sha: Mapped[str] = mapped_column(String(64))
    delivery_pk: Mapped[int | None] = mapped_column(ForeignKey("deliveries.id"))
    features: Mapped[dict[str, Any]] = mapped_column(default=dict)
    feature_schema_version: Mapped[str | None] = mapped_column(String(16))
    notes: Mapped[list[Any]] = mapped_column(default=list)
    model_version: Mapped[str | None] = mapped_column(String(64))
    score: Mapped[float | None] = mapped_column(Float)
    level: Mapped[str | None] = mapped_column(String(16))
    decision: Mapped[str | None] = mapped_column(String(16))
    reasons: Mapped[list[Any]] = mapped_column(default=list)
    check_run_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    policy_version: Mapped[str | None] = mapped_column(String(64))
    mode: Mapped[str | None] = mapped_column(String(16))  # enforce | shadow
    # in shadow mode: what enforce mode would have decided
    would_decide: Mapped[str | None] = mapped_column(String(16))
    held_at: Mapped[datetime | None] = mapped_column()
    resolved_at: Mapped[datetime | None] = mapped_column()
    resolution: Mapped[str | None] = mapped_column(String(16))  # approved | rejected
    # the repository's model in shadow, scored beside the decision and never affecting it
    shadow_model_version: Mapped[str | None] = mapped_column(String(64))
    shadow_score: Mapped[float | None] = mapped_column(Float)
    shadow_level: Mapped[str | None] = mapped_column(String(16))
    # details pages answer only to links that carry it: ids count up and are easy to guess
    details_token: Mapped[str] = mapped_column(String(64), default=new_details_token)
    # where the change ranks among the repository's recent changes, in words
    rank: Mapped[str | None] = mapped_column(String(200))


class RepoModel(Base):
    """A model trained on one repository's history, and where it stands."""

    __tablename__ = "repo_models"
    __table_args__ = (
        UniqueConstraint("repository", "model_version", name="uq_repo_model_version"),
        Index("ix_repo_models_state", "repository", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repository: Mapped[str] = mapped_column(String(256))
    model_version: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(Text)  # the model directory, as the service reads it
    # shadow -> promoted -> retired; shadow -> retired (replaced by a newer shadow)
    state: Mapped[str] = mapped_column(String(16), default="shadow")
    labelled_rows: Mapped[int] = mapped_column(Integer)
    labelled_failures: Mapped[int] = mapped_column(Integer)
    # the shadow comparison on the recent window: both models' figures, the rule and its verdict
    evaluation: Mapped[dict[str, Any]] = mapped_column(default=dict)
    trained_at: Mapped[datetime] = mapped_column(default=utcnow)
    promoted_at: Mapped[datetime | None] = mapped_column()
    retired_at: Mapped[datetime | None] = mapped_column()


class AuditEntry(Base):
    """What the app did or decided, and why. Rows are only ever inserted."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_repository_at", "repository", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    repository: Mapped[str | None] = mapped_column(String(256))
    sha: Mapped[str | None] = mapped_column(String(64))
    subject: Mapped[str | None] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    delivery_id: Mapped[str | None] = mapped_column(String(64))
    assessment_id: Mapped[int | None] = mapped_column(ForeignKey("assessments.id"))
    policy_version: Mapped[str | None] = mapped_column(String(64))
    model_version: Mapped[str | None] = mapped_column(String(64))


class CoverageUpload(Base):
    """A coverage report for one commit, as uploaded (parsed again when a change is scored)."""

    __tablename__ = "coverage_reports"
    __table_args__ = (Index("ix_coverage_commit", "repository", "sha"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repository: Mapped[str] = mapped_column(String(256))
    sha: Mapped[str] = mapped_column(String(64))
    format: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(32))  # api | artifact | cli
    content: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiToken(Base):
    """A repository's API token; only its SHA-256 is kept, the token is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repository: Mapped[str] = mapped_column(String(256))
    name: Mapped[str] = mapped_column(String(128))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # the GitHub login the token acts for (approvals through the API need an approver's token)
    actor: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column()


class Approval(Base):
    """An approver's verdict on a held change, for exactly one head commit."""

    __tablename__ = "approvals"
    __table_args__ = (
        UniqueConstraint("assessment_id", "actor", "verdict", name="uq_one_vote_per_actor"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    assessment_id: Mapped[int] = mapped_column(ForeignKey("assessments.id"))
    repository: Mapped[str] = mapped_column(String(256))
    head_sha: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(128))
    verdict: Mapped[str] = mapped_column(String(16))  # approve | reject
    reason: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16))  # button | comment | api | cli
    at: Mapped[datetime] = mapped_column(default=utcnow)


class PolicyCache(Base):
    """The last valid .github/risk-gate.yml of a repository, by blob SHA."""

    __tablename__ = "policy_cache"

    repository: Mapped[str] = mapped_column(String(256), primary_key=True)
    blob_sha: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    loaded_at: Mapped[datetime] = mapped_column(default=utcnow)


class Deployment(Base):
    """A deployment riskgate was asked about, and the answer it gave."""

    __tablename__ = "deployments"
    __table_args__ = (
        Index("ix_deployments_env", "repository", "environment", "id"),
        Index("ix_deployments_state", "state", "expires_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repository: Mapped[str] = mapped_column(String(256))
    environment: Mapped[str] = mapped_column(String(256))
    sha: Mapped[str] = mapped_column(String(64))
    base_sha: Mapped[str | None] = mapped_column(String(64))
    github_deployment_id: Mapped[int | None] = mapped_column(BigInteger)
    run_id: Mapped[int | None] = mapped_column(BigInteger)
    installation_id: Mapped[int | None] = mapped_column(BigInteger)
    assessment_id: Mapped[int | None] = mapped_column(ForeignKey("assessments.id"))
    delivery_pk: Mapped[int | None] = mapped_column(ForeignKey("deliveries.id"))
    source: Mapped[str] = mapped_column(String(16))  # protection_rule | api
    state: Mapped[str] = mapped_column(String(16), default="requested")  # requested|held|answered
    answer: Mapped[str | None] = mapped_column(String(16))  # approved | rejected
    answer_reason: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime | None] = mapped_column()
    expires_at: Mapped[datetime | None] = mapped_column()
    status: Mapped[str | None] = mapped_column(String(16))
    finished_at: Mapped[datetime | None] = mapped_column()
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    # median commit-to-deploy time of its change set, for DORA's lead time
    lead_time_seconds: Mapped[float | None] = mapped_column(Float)


class DeploymentPR(Base):
    """A pull request in a deployment's change set (where `/gate approve` may be written)."""

    __tablename__ = "deployment_prs"

    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployments.id"), primary_key=True)
    pr_number: Mapped[int] = mapped_column(Integer, primary_key=True)


class Watch(Base):
    """The post-deploy watch of one deployment: its plan, its looks, its verdict and what it did."""

    __tablename__ = "watches"
    __table_args__ = (
        Index("ix_watches_env", "repository", "environment", "id"),
        Index("ix_watches_state", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployments.id"), unique=True)
    repository: Mapped[str] = mapped_column(String(256))
    environment: Mapped[str] = mapped_column(String(256))
    sha: Mapped[str] = mapped_column(String(64))
    last_good_sha: Mapped[str | None] = mapped_column(String(64))
    deployed_at: Mapped[datetime] = mapped_column()
    ends_at: Mapped[datetime] = mapped_column()
    # the SLIs with their queries rendered, Prometheus, steps and the action: fixed at the start
    plan: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # watching -> healthy | inconclusive | regressed
    state: Mapped[str] = mapped_column(String(16), default="watching")
    looks: Mapped[int] = mapped_column(Integer, default=0)
    verdict: Mapped[dict[str, Any] | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(Text)
    evidence: Mapped[dict[str, Any] | None] = mapped_column()  # the scenario the verdict saw
    evidence_png: Mapped[bytes | None] = mapped_column(LargeBinary)
    evidence_token: Mapped[str | None] = mapped_column(String(64))
    actions: Mapped[dict[str, Any]] = mapped_column(default=dict)  # what was done, step by step
    incident_issue: Mapped[int | None] = mapped_column(Integer)
    rolled_back_at: Mapped[datetime | None] = mapped_column()
    restored_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()


class ServiceFreeze(Base):
    """Deployments of a service held after a regression, until its incident is closed or lifted."""

    __tablename__ = "service_freezes"
    __table_args__ = (Index("ix_freezes_env", "repository", "environment", "lifted_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repository: Mapped[str] = mapped_column(String(256))
    environment: Mapped[str] = mapped_column(String(256))
    service: Mapped[str] = mapped_column(String(256))  # "*": the whole environment
    reason: Mapped[str] = mapped_column(Text)
    watch_id: Mapped[int | None] = mapped_column(ForeignKey("watches.id"))
    incident_issue: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    lifted_at: Mapped[datetime | None] = mapped_column()
    lifted_by: Mapped[str | None] = mapped_column(String(128))
    lift_reason: Mapped[str | None] = mapped_column(Text)
