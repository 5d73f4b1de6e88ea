"""jobs: retried for a time budget, not a number of attempts; rate-limit waits counted apart

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        # when the job's current run of failures began: the retry budget counts from here
        batch.add_column(sa.Column("failing_since", sa.DateTime(timezone=True)))
        batch.add_column(
            sa.Column("rate_limit_waits", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("rate_limit_waits")
        batch.drop_column("failing_since")
