"""policy and model versions on the audit log; approvals; when a change was held and released

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("policy_version", sa.String(64)))
        batch.add_column(sa.Column("model_version", sa.String(64)))
    with op.batch_alter_table("assessments") as batch:
        batch.add_column(sa.Column("policy_version", sa.String(64)))
        batch.add_column(sa.Column("mode", sa.String(16)))
        batch.add_column(sa.Column("would_decide", sa.String(16)))
        batch.add_column(sa.Column("held_at", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("resolved_at", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("resolution", sa.String(16)))
    op.create_table(
        "approvals",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("assessment_id", sa.Integer(), sa.ForeignKey("assessments.id"), nullable=False),
        sa.Column("repository", sa.String(256), nullable=False),
        sa.Column("head_sha", sa.String(64), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("assessment_id", "actor", "verdict", name="uq_one_vote_per_actor"),
    )
    op.create_table(
        "policy_cache",
        sa.Column("repository", sa.String(256), primary_key=True),
        sa.Column("blob_sha", sa.String(64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("policy_cache")
    op.drop_table("approvals")
    with op.batch_alter_table("assessments") as batch:
        for column in (
            "resolution",
            "resolved_at",
            "held_at",
            "would_decide",
            "mode",
            "policy_version",
        ):
            batch.drop_column(column)
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("model_version")
        batch.drop_column("policy_version")
