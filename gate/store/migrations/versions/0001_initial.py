"""deliveries, jobs, assessments and the append-only audit log

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("delivery_id", sa.String(64), nullable=False, unique=True),
        sa.Column("event", sa.String(64), nullable=False),
        sa.Column("action", sa.String(64)),
        sa.Column("installation_id", sa.BigInteger()),
        sa.Column("repository", sa.String(256)),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("received_at", TIMESTAMP, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
    )
    op.create_table(
        "assessments",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("repository", sa.String(256), nullable=False),
        sa.Column("pr_number", sa.Integer()),
        sa.Column("base_sha", sa.String(64), nullable=False),
        sa.Column("head_sha", sa.String(64), nullable=False),
        sa.Column("delivery_pk", sa.Integer(), sa.ForeignKey("deliveries.id")),
        sa.Column("features", sa.JSON(), nullable=False),
        sa.Column("feature_schema_version", sa.String(16)),
        sa.Column("notes", sa.JSON(), nullable=False),
        sa.Column("model_version", sa.String(64)),
        sa.Column("score", sa.Float()),
        sa.Column("level", sa.String(16)),
        sa.Column("decision", sa.String(16)),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("check_run_id", sa.BigInteger()),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
    )
    op.create_index("ix_assessments_change", "assessments", ["repository", "head_sha"])
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("delivery_pk", sa.Integer(), sa.ForeignKey("deliveries.id")),
        sa.Column("args", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("run_after", TIMESTAMP, nullable=False),
        sa.Column("lease_until", TIMESTAMP),
        sa.Column("last_error", sa.Text()),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("finished_at", TIMESTAMP),
    )
    op.create_index("ix_jobs_claimable", "jobs", ["state", "run_after"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", TIMESTAMP, nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("repository", sa.String(256)),
        sa.Column("sha", sa.String(64)),
        sa.Column("subject", sa.String(128)),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("delivery_id", sa.String(64)),
        sa.Column("assessment_id", sa.Integer(), sa.ForeignKey("assessments.id")),
    )
    op.create_index("ix_audit_repository_at", "audit_log", ["repository", "at"])
    _forbid_audit_changes()


def _forbid_audit_changes() -> None:
    """The audit log is evidence: the database itself refuses updates and deletes."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION audit_log_is_append_only() RETURNS trigger AS $$
            BEGIN RAISE EXCEPTION 'audit_log is append-only'; END;
            $$ LANGUAGE plpgsql
            """
        )
        op.execute(
            "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION audit_log_is_append_only()"
        )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
                "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION audit_log_is_append_only()")
    op.drop_table("audit_log")
    op.drop_table("jobs")
    op.drop_table("assessments")
    op.drop_table("deliveries")
