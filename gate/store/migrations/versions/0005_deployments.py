"""deployments held by the protection rule, the PRs in their change sets; token owners

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "deployments",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("repository", sa.String(256), nullable=False),
        sa.Column("environment", sa.String(256), nullable=False),
        sa.Column("sha", sa.String(64), nullable=False),
        sa.Column("base_sha", sa.String(64)),
        sa.Column("github_deployment_id", sa.BigInteger()),
        sa.Column("run_id", sa.BigInteger()),
        sa.Column("installation_id", sa.BigInteger()),
        sa.Column("assessment_id", sa.Integer(), sa.ForeignKey("assessments.id")),
        sa.Column("delivery_pk", sa.Integer(), sa.ForeignKey("deliveries.id")),
        sa.Column("source", sa.String(16), nullable=False),  # protection_rule | api
        # requested -> held | answered ; answered: approved | rejected (answer)
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("answer", sa.String(16)),
        sa.Column("answer_reason", sa.Text()),
        sa.Column("answered_at", TIMESTAMP),
        sa.Column("expires_at", TIMESTAMP),
        sa.Column("status", sa.String(16)),  # what the pipeline reported: success | failure ...
        sa.Column("finished_at", TIMESTAMP),
        sa.Column("requested_at", TIMESTAMP, nullable=False),
    )
    op.create_index("ix_deployments_env", "deployments", ["repository", "environment", "id"])
    op.create_index("ix_deployments_state", "deployments", ["state", "expires_at"])
    op.create_table(
        "deployment_prs",
        sa.Column("deployment_id", sa.Integer(), sa.ForeignKey("deployments.id"), primary_key=True),
        sa.Column("pr_number", sa.Integer(), primary_key=True),
    )
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("actor", sa.String(128)))


def downgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("actor")
    op.drop_table("deployment_prs")
    op.drop_table("deployments")
