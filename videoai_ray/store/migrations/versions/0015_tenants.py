"""tenants: the teams one deployment serves, each active or suspended (docs/tenants.md)

Revision ID: 0015_tenants
Revises: 0014_model_catalogue
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0015_tenants"
down_revision = "0014_model_catalogue"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tenants",
        sa.Column("instance", sa.String(40), primary_key=True),
        sa.Column("id", sa.String(63), primary_key=True),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("limits", sa.JSON),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("tenants")
