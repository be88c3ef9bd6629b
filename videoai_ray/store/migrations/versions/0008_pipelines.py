"""pipelines: small DAGs of tasks whose steps feed each other

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pipelines",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("spec", sa.JSON, nullable=False),
        sa.Column("priority", sa.String(8), nullable=False),
        sa.Column("webhook_url", sa.String(2048)),
        sa.Column("webhook_secret", sa.String(256)),
        sa.Column("meta", sa.JSON, nullable=False),
        sa.Column("idempotency_key", sa.String(255)),
        sa.Column("request_hash", sa.String(64)),
        sa.Column("error", sa.JSON),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("user_id", "idempotency_key", name="uq_pipelines_user_idempotency"),
    )
    op.create_index("ix_pipelines_user_created", "pipelines", ["user_id", "created_at"])
    op.create_index("ix_pipelines_status", "pipelines", ["status"])


def downgrade() -> None:
    op.drop_index("ix_pipelines_status", table_name="pipelines")
    op.drop_index("ix_pipelines_user_created", table_name="pipelines")
    op.drop_table("pipelines")
