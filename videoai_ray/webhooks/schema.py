"""The webhook tables: the delivery outbox (one row per event and URL) and users' signing secrets.

Deliveries are rows, not messages in memory: the Scheduler inserts them in the same transaction as
the task transition that caused them, and the dispatcher works from the table, so nothing is lost
when either process restarts. Alembic revision ``0002_webhooks`` creates these tables.
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, DateTime, Float, Index, Integer, String, Table, Text

from ..store.schema import instance_column, metadata

#: delivery states (``status`` column)
PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"
DELIVERY_STATUSES: tuple[str, ...] = (PENDING, DELIVERED, FAILED)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    #: the Standard Webhooks ``webhook-id`` (``msg_...``); the same on every retry of the event
    Column("id", String(40), primary_key=True),
    #: the instance whose dispatcher sends it
    instance_column(),
    Column("task_id", String(40), nullable=False),
    Column("user_id", String(128), nullable=False),
    Column("event_type", String(32), nullable=False),
    #: increases with every event of a task; events of one task are sent strictly in this order
    Column("seq", BigInteger, nullable=False),
    Column("url", String(2048), nullable=False),
    #: the exact JSON text that is signed and sent, fixed when the event is created
    Column("body", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_status_code", Integer),
    Column("last_error", Text),
    Column("last_latency_ms", Float),
    Column("next_attempt_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    #: start of the current delivery cycle (creation, or a manual redelivery); the age limit counts
    #: from here
    Column("cycle_started_at", DateTime(timezone=True), nullable=False),
    Column("delivered_at", DateTime(timezone=True)),
    #: one entry per attempt: attempt, at, status_code, latency_ms, error, url
    Column("log", JSON, nullable=False),
    Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    Index("ix_webhook_deliveries_instance_due", "instance", "status", "next_attempt_at"),
    Index("ix_webhook_deliveries_task_seq", "task_id", "seq"),
    Index("ix_webhook_deliveries_user_created", "user_id", "created_at"),
)

webhook_secrets = Table(
    "webhook_secrets",
    metadata,
    Column("user_id", String(128), primary_key=True),
    #: ``whsec_<base64 of 32 random bytes>``; signs deliveries of tasks that carry no secret
    Column("secret", String(256), nullable=False),
    #: the secret before the last rotation: also signs (Standard Webhooks header) for a grace period
    Column("previous_secret", String(256)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("rotated_at", DateTime(timezone=True)),
)

__all__ = [
    "DELIVERED",
    "DELIVERY_STATUSES",
    "FAILED",
    "PENDING",
    "webhook_deliveries",
    "webhook_secrets",
]
