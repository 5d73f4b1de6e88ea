"""per-repository models and their state; the shadow model's score beside each assessment

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "repo_models",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("repository", sa.String(256), nullable=False),
        sa.Column("model_version", sa.String(64), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),  # shadow | promoted | retired
        sa.Column("labelled_rows", sa.Integer(), nullable=False),
        sa.Column("labelled_failures", sa.Integer(), nullable=False),
        sa.Column("evaluation", sa.JSON(), nullable=False),
        sa.Column("trained_at", TIMESTAMP, nullable=False),
        sa.Column("promoted_at", TIMESTAMP),
        sa.Column("retired_at", TIMESTAMP),
        sa.UniqueConstraint("repository", "model_version", name="uq_repo_model_version"),
    )
    op.create_index("ix_repo_models_state", "repo_models", ["repository", "state"])
    with op.batch_alter_table("assessments") as batch:
        batch.add_column(sa.Column("shadow_model_version", sa.String(64)))
        batch.add_column(sa.Column("shadow_score", sa.Float()))
        batch.add_column(sa.Column("shadow_level", sa.String(16)))


def downgrade() -> None:
    with op.batch_alter_table("assessments") as batch:
        batch.drop_column("shadow_level")
        batch.drop_column("shadow_score")
        batch.drop_column("shadow_model_version")
    op.drop_table("repo_models")
