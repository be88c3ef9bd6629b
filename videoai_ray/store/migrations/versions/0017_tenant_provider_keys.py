"""tenant_provider_keys: a tenant's own cloud provider keys, encrypted (docs/tenants.md)

Revision ID: 0017_tenant_provider_keys
Revises: 0016_progress_message
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0017_tenant_provider_keys"
down_revision = "0016_progress_message"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tenant_provider_keys",
        sa.Column("instance", sa.String(40), primary_key=True),
        sa.Column("tenant", sa.String(63), primary_key=True),
        sa.Column("provider", sa.String(32), primary_key=True),
        sa.Column("ciphertext", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("tenant_provider_keys")
