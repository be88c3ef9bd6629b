"""what a task's progress measures now (``downloading weights of <model>: 12.3 of 40.0 MB``)

Revision ID: 0016_progress_message
Revises: 0015_tenants
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0016_progress_message"
down_revision = "0015_tenants"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("progress_message", sa.String(200)))


def downgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("progress_message")
