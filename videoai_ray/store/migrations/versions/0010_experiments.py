"""provider A/B experiments, and the experiment and arm each task was assigned to

Revision ID: 0010
Revises: 0007
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "experiments",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("owner_id", sa.String(128), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("task_type", sa.String(32), nullable=False),
        sa.Column("arms", sa.JSON, nullable=False),
        sa.Column("baseline", sa.String(64), nullable=False),
        sa.Column("user_filter", sa.String(128)),
        sa.Column("metadata_filter", sa.JSON),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stopped_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_experiments_owner_created", "experiments", ["owner_id", "created_at"])
    op.create_index("ix_experiments_type_stopped", "experiments", ["task_type", "stopped_at"])
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("experiment_id", sa.String(40)))
        batch.add_column(sa.Column("experiment_arm", sa.String(64)))
    op.create_index("ix_tasks_experiment", "tasks", ["experiment_id", "experiment_arm"])


def downgrade() -> None:
    op.drop_index("ix_tasks_experiment", table_name="tasks")
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("experiment_arm")
        batch.drop_column("experiment_id")
    op.drop_index("ix_experiments_type_stopped", table_name="experiments")
    op.drop_index("ix_experiments_owner_created", table_name="experiments")
    op.drop_table("experiments")
