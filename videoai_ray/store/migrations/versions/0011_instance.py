"""the instance each row of work belongs to (tasks, pipelines, batches, experiments, webhook
deliveries), so deployments sharing one database claim, recover and list only their own; rows
stored before belong to ``default``; idempotency keys become per instance

Revision ID: 0011_instance
Revises: 0010
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_instance"
down_revision = "0010"
branch_labels = None
depends_on = None

_TABLES = ("tasks", "pipelines", "batches", "experiments", "webhook_deliveries")
#: the idempotency constraint of each table that has one
_UNIQUE = {"tasks": "uq_tasks_user_idempotency", "pipelines": "uq_pipelines_user_idempotency"}
_INDEXES = {"tasks": ("ix_tasks_instance_status", ["instance", "status"]),
            "pipelines": ("ix_pipelines_instance_status", ["instance", "status"]),
            "webhook_deliveries": ("ix_webhook_deliveries_instance_due", ["instance", "status", "next_attempt_at"])}


def upgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("instance", sa.String(40), nullable=False, server_default="default"))
            if table in _UNIQUE:
                batch.drop_constraint(_UNIQUE[table], type_="unique")
                batch.create_unique_constraint(_UNIQUE[table], ["instance", "user_id", "idempotency_key"])
    for table, (name, columns) in _INDEXES.items():
        op.create_index(name, table, columns)


def downgrade() -> None:
    for table, (name, _) in _INDEXES.items():
        op.drop_index(name, table_name=table)
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            if table in _UNIQUE:
                batch.drop_constraint(_UNIQUE[table], type_="unique")
                batch.create_unique_constraint(_UNIQUE[table], ["user_id", "idempotency_key"])
            batch.drop_column("instance")
