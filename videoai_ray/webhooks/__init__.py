"""Webhooks: signed delivery of task events to users' URLs, from a transactional outbox.

- ``schema``: the ``webhook_deliveries`` outbox and ``webhook_secrets`` tables
- ``outbox``: events → outbox rows (the Scheduler's side), progress throttling
- ``signing``: the VideoAI API contract's ``sha256=`` HMAC and Standard Webhooks headers
- ``delivery`` / ``dispatcher``: the sending loop and the Ray actor hosting it
- ``service``: delivery status, listing, statistics, redelivery, user secrets (API and SDK)
- ``validation``: webhook URL checks at task creation

The Ray actor is imported lazily (``get_or_create_dispatcher``), so importing this package does
not import Ray.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .outbox import ProgressThrottle, WebhookEvent, outbox_rows
from .schema import webhook_deliveries, webhook_secrets
from .service import (
    delivery_status,
    get_user_secret,
    list_deliveries,
    purge_deliveries,
    redeliver,
    rotate_user_secret,
    statistics,
)
from .signing import sign_headers
from .validation import InvalidWebhookURL, validate_webhook_url

if TYPE_CHECKING:
    from .dispatcher import get_or_create_dispatcher, wake_dispatcher


def __getattr__(name: str) -> Any:
    if name in ("get_or_create_dispatcher", "wake_dispatcher"):
        from . import dispatcher

        return getattr(dispatcher, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "InvalidWebhookURL",
    "ProgressThrottle",
    "WebhookEvent",
    "delivery_status",
    "get_or_create_dispatcher",
    "get_user_secret",
    "list_deliveries",
    "outbox_rows",
    "purge_deliveries",
    "redeliver",
    "rotate_user_secret",
    "sign_headers",
    "statistics",
    "validate_webhook_url",
    "wake_dispatcher",
    "webhook_deliveries",
    "webhook_secrets",
]
