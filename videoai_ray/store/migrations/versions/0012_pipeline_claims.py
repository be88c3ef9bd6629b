"""pipelines.context: the door a pipeline came through and its token's tenant and fair-share claims

Revision ID: 0012_pipeline_claims
Revises: 0011_instance
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_pipeline_claims"
down_revision = "0011_instance"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("pipelines") as batch:
        batch.add_column(sa.Column("context", sa.JSON))


def downgrade() -> None:
    with op.batch_alter_table("pipelines") as batch:
        batch.drop_column("context")
