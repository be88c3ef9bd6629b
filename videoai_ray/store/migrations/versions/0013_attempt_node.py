"""the Ray node (and GPU ids) each task's last attempt ran on

Revision ID: 0013_attempt_node
Revises: 0012_pipeline_claims
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_attempt_node"
down_revision = "0012_pipeline_claims"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("node", sa.JSON))


def downgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("node")
