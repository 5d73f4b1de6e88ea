"""assessments: the random token a details link carries, so that ids alone open no page

Revision ID: 0010
Revises: 0009
"""

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("assessments") as batch:
        batch.add_column(sa.Column("details_token", sa.String(64)))
    assessments = sa.table("assessments", sa.column("id"), sa.column("details_token"))
    connection = op.get_bind()
    ids = connection.execute(sa.select(assessments.c.id)).scalars().all()
    for assessment_id in ids:  # links sent before this revision stop working: they had no token
        connection.execute(
            assessments.update()
            .where(assessments.c.id == assessment_id)
            .values(details_token=secrets.token_urlsafe(32))
        )
    with op.batch_alter_table("assessments") as batch:
        batch.alter_column("details_token", existing_type=sa.String(64), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("assessments") as batch:
        batch.drop_column("details_token")
