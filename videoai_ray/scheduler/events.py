"""Task events on their way to webhooks: built in the Scheduler, written to the outbox table in
the same transaction as the state change they describe, then handed to the webhook dispatcher."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from ..artifacts import ArtifactStore, public_output
from ..errors import ProviderError
from ..models import EventType
from ..models.events import event_payload
from ..settings import Settings
from ..store import utcnow

if TYPE_CHECKING:
    from sqlalchemy import Table

    from .state import Active

log = logging.getLogger("videoai.scheduler")


class EventSink:
    """Collects the events of tasks that have a webhook URL until the next flush."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._artifacts = ArtifactStore.of(settings)
        self._events: list[Any] = []
        self._dispatcher: Any = None

    @property
    def pending(self) -> bool:
        return bool(self._events)

    def emit(self, act: Active, event_type: EventType, *, output: dict[str, Any] | None = None,
             error: ProviderError | None = None) -> None:
        if not act.webhook_url:
            return
        from ..webhooks.outbox import WebhookEvent

        payload = event_payload(
            event_type, task_id=act.id, task_type=act.type.value, status=act.status.value,
            user_id=act.user_id, timestamp=utcnow(), progress=act.progress,
            progress_message=act.progress_message,
            output=public_output(output, act.id, self._artifacts) if output is not None else None,
            error={"code": error.code, "message": error.message, "retryable": error.retryable} if error else None,
            metadata=act.metadata, attempt=act.attempts,
        )
        self._events.append(WebhookEvent(task_id=act.id, user_id=act.user_id, url=act.webhook_url,
                                         event_type=event_type, payload=payload,
                                         events_filter=act.webhook_events))

    def progress(self, act: Active) -> None:
        """A ``task.progress`` event, at most one per task per configured interval."""
        if not act.webhook_url:
            return
        now = time.monotonic()
        if now - act.last_progress_event < self.settings.webhook_progress_interval:
            return
        act.last_progress_event = now
        self.emit(act, EventType.PROGRESS)

    def take(self) -> tuple[list[Any], list[tuple[Table, list[dict[str, Any]]]]]:
        """The pending events and their outbox rows, for the caller's transaction."""
        if not self._events:
            return [], []
        from ..webhooks.outbox import outbox_rows
        from ..webhooks.schema import webhook_deliveries

        events, self._events = self._events, []
        return events, [(webhook_deliveries, outbox_rows(events, utcnow(), self.settings.instance))]

    def take_events(self) -> list[Any]:
        """The pending events, for a write that builds their outbox rows itself."""
        events, self._events = self._events, []
        return events

    def give_back(self, events: list[Any], drop: set[str] | frozenset[str] = frozenset()) -> None:
        """The transaction failed: keep the events for the next one, except those of ``drop``
        (tasks that were never accepted)."""
        self._events = [e for e in events if e.task_id not in drop] + self._events

    def committed(self, events: list[Any]) -> None:
        """The rows are committed: wake the dispatcher (fire and forget)."""
        if not events:
            return
        try:
            if self._dispatcher is None:
                from ..webhooks.dispatcher import get_or_create_dispatcher

                self._dispatcher = get_or_create_dispatcher(self.settings)
            self._dispatcher.wake.remote()
        except Exception:
            # the rows are safe in the store; the dispatcher finds them when it (re)starts
            log.warning("could not wake the webhook dispatcher", exc_info=True)
            self._dispatcher = None
