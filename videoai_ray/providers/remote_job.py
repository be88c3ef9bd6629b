"""A job that a provider created at a remote service for one task (a RunwayML task, a fal.ai
queue request, an AssemblyAI transcript), as the store keeps it.

The provider records it through ``ctx.record_remote_job`` as soon as the remote side answers and
before it waits for the job; the record is committed in the task's row before the call returns.
An attempt that follows a crash gets it back as ``ctx.remote_job`` and re-attaches to the job
(polls it, downloads its result) instead of creating, and paying for, a second one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class RemoteJob:
    #: the provider that created it (only that provider can re-attach to it)
    provider: str
    #: the job's id at the remote service
    id: str
    #: what the provider needs to find it again (status, result and cancel URLs, the model, …)
    data: dict[str, Any] = field(default_factory=dict)
    #: the attempt that created it
    attempt: int = 0
    #: the task's owner id, added when the Scheduler cancels the job: the cancel uses its tenant's key
    owner: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"provider": self.provider, "id": self.id, "data": dict(self.data), "attempt": self.attempt}

    @classmethod
    def from_json(cls, value: Any) -> RemoteJob | None:
        """The job a task row holds; ``None`` for none, or for a value that is not one."""
        if not isinstance(value, dict) or not value.get("provider") or not value.get("id"):
            return None
        data = value.get("data")
        return cls(str(value["provider"]), str(value["id"]), dict(data) if isinstance(data, dict) else {},
                   int(value.get("attempt") or 0), str(value.get("owner") or ""))


__all__ = ["RemoteJob"]
