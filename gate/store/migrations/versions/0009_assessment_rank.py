"""assessments: where the change ranks among the repository's recent changes

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("assessments") as batch:
        batch.add_column(sa.Column("rank", sa.String(200)))


def downgrade() -> None:
    with op.batch_alter_table("assessments") as batch:
        batch.drop_column("rank")
