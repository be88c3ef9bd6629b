"""scheduled tasks: cron (with a time zone) or one-time schedules fired by the Scheduler

Revision ID: 0009
Revises: 0007
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "schedules",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("instance", sa.String(40), nullable=False),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("name", sa.String(200)),
        sa.Column("cron", sa.String(200)),
        sa.Column("at", sa.DateTime(timezone=True)),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("target", sa.JSON, nullable=False),
        sa.Column("context", sa.JSON, nullable=False),
        sa.Column("misfire", sa.String(16), nullable=False),
        sa.Column("misfire_grace_seconds", sa.Float, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("next_run_at", sa.DateTime(timezone=True)),
        sa.Column("last_tick_at", sa.DateTime(timezone=True)),
        sa.Column("last_task_id", sa.String(40)),
        sa.Column("last_error", sa.Text),
        sa.Column("ticks_fired", sa.Integer, nullable=False),
        sa.Column("ticks_missed", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_schedules_user_created", "schedules", ["user_id", "created_at"])
    op.create_index("ix_schedules_due", "schedules", ["instance", "state", "next_run_at"])


def downgrade() -> None:
    op.drop_index("ix_schedules_due", "schedules")
    op.drop_index("ix_schedules_user_created", "schedules")
    op.drop_table("schedules")
