"""What an ``Idempotency-Key`` is bound to: a request sent again with the same key is the same
request only if its fingerprint is."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ..models import TaskRequest


def request_fingerprint(route: str, task_type: str, priority: str, request: TaskRequest) -> str:
    """What an ``Idempotency-Key`` is bound to: the route kind, the task type and the whole
    validated body (defaults filled in, so ``{"n": 1}`` and ``{}`` are the same request)."""
    return fingerprint([route, task_type, priority, request.model_dump(mode="json")])


def fingerprint(doc: Any) -> str:
    """The SHA-256 of ``doc`` as canonical JSON: what an ``Idempotency-Key`` is bound to."""
    return hashlib.sha256(json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


__all__ = ["fingerprint", "request_fingerprint"]
