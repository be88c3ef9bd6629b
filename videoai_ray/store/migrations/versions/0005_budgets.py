"""budgets: a batch's budget, users' own budgets; a streamed batch's size is known when it is sealed

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("batches") as batch:
        batch.add_column(sa.Column("budget_usd", sa.Float))
        batch.alter_column("expected", existing_type=sa.Integer, nullable=True)
    op.create_table(
        "user_budgets",
        sa.Column("user_id", sa.String(128), primary_key=True),
        sa.Column("budget_usd", sa.Float, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("user_budgets")
    with op.batch_alter_table("batches") as batch:
        batch.alter_column("expected", existing_type=sa.Integer, nullable=False)
        batch.drop_column("budget_usd")
