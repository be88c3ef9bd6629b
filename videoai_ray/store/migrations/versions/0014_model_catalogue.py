"""the model catalogue: named weights (a folder, a storage URL or a Hub repo) for the local providers

Revision ID: 0014_model_catalogue
Revises: 0013_attempt_node
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_model_catalogue"
down_revision = "0013_attempt_node"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "model_catalogue",
        sa.Column("instance", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("provider", sa.String(20), nullable=False),
        sa.Column("source", sa.String(1024), nullable=False),
        sa.Column("revision", sa.String(160), nullable=False),
        sa.Column("base", sa.String(64)),
        sa.Column("download", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("registered_by", sa.String(128), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("model_catalogue")
