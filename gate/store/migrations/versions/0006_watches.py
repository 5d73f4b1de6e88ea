"""post-deploy watches, the service freezes a regression leaves behind, deploy lead times

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "watches",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("deployment_id", sa.Integer(), sa.ForeignKey("deployments.id"), nullable=False),
        sa.Column("repository", sa.String(256), nullable=False),
        sa.Column("environment", sa.String(256), nullable=False),
        sa.Column("sha", sa.String(64), nullable=False),
        sa.Column("last_good_sha", sa.String(64)),
        sa.Column("deployed_at", TIMESTAMP, nullable=False),
        sa.Column("ends_at", TIMESTAMP, nullable=False),
        sa.Column("plan", sa.JSON(), nullable=False),
        sa.Column(
            "state", sa.String(16), nullable=False
        ),  # watching|healthy|inconclusive|regressed
        sa.Column("looks", sa.Integer(), nullable=False),
        sa.Column("verdict", sa.JSON()),
        sa.Column("last_error", sa.Text()),
        sa.Column("evidence", sa.JSON()),
        sa.Column("evidence_png", sa.LargeBinary()),
        sa.Column("evidence_token", sa.String(64)),
        sa.Column("actions", sa.JSON(), nullable=False),
        sa.Column("incident_issue", sa.Integer()),
        sa.Column("rolled_back_at", TIMESTAMP),
        sa.Column("restored_at", TIMESTAMP),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("finished_at", TIMESTAMP),
        sa.UniqueConstraint("deployment_id", name="uq_watches_deployment"),
    )
    op.create_index("ix_watches_env", "watches", ["repository", "environment", "id"])
    op.create_index("ix_watches_state", "watches", ["state"])
    op.create_table(
        "service_freezes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("repository", sa.String(256), nullable=False),
        sa.Column("environment", sa.String(256), nullable=False),
        sa.Column("service", sa.String(256), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("watch_id", sa.Integer(), sa.ForeignKey("watches.id")),
        sa.Column("incident_issue", sa.Integer()),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("lifted_at", TIMESTAMP),
        sa.Column("lifted_by", sa.String(128)),
        sa.Column("lift_reason", sa.Text()),
    )
    op.create_index("ix_freezes_env", "service_freezes", ["repository", "environment", "lifted_at"])
    with op.batch_alter_table("deployments") as batch:
        batch.add_column(sa.Column("lead_time_seconds", sa.Float()))


def downgrade() -> None:
    with op.batch_alter_table("deployments") as batch:
        batch.drop_column("lead_time_seconds")
    op.drop_table("service_freezes")
    op.drop_table("watches")
