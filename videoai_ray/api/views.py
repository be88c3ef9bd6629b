"""How tasks look over HTTP: the stored ``Task`` plus links, its files as this API's download
paths (never a server path), and opaque cursors for paging through lists."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..artifacts import ArtifactStore, file_name, output_urls, public_output, safe_name, task_folder
from ..errors import InvalidRequest
from ..models import Task
from .context import API_PREFIX


class TaskLinks(BaseModel):
    """Where to read, cancel and retry the task (paths on this server)."""

    model_config = ConfigDict(populate_by_name=True)

    self_: str = Field(alias="self")
    cancel: str
    retry: str


class TaskResponse(Task):
    """A task as the API returns it. In ``output``, every stored file (``*_url`` or a ``url`` key)
    is this API's download path, repeated as a sibling ``*_download_url`` / ``download_url``."""

    links: TaskLinks


class TaskPage(BaseModel):
    """One page of ``GET /tasks``, newest first; pass ``next_cursor`` as ``cursor`` for more."""

    tasks: list[TaskResponse]
    next_cursor: str | None = None
    limit: int


class BatchResponse(BaseModel):
    """``POST /batch``: the batch id and its tasks, in the order sent."""

    batch_id: str
    count: int
    tasks: list[TaskResponse]


def task_links(task_id: str) -> dict[str, str]:
    base = f"{API_PREFIX}/tasks/{task_id}"
    return {"self": base, "cancel": f"{base}/cancel", "retry": f"{base}/retry"}


def task_view(task: Task | dict[str, Any], artifacts: ArtifactStore) -> dict[str, Any]:
    """The JSON body for one task."""
    data = task.model_dump(mode="json") if isinstance(task, Task) else dict(task)
    if data.get("output"):
        data["output"] = public_output(data["output"], data["id"], artifacts)
    data["links"] = task_links(data["id"])
    return data


def _local_name(url: str, artifacts: ArtifactStore) -> str | None:
    return file_name(url) if artifacts.owns(url) else None


def artifact_candidates(task: Task, name: str, artifacts: ArtifactStore) -> list[str]:
    """URLs ``name`` may refer to for this task: the file in the task's own artifact folder, and
    a file of that name the task's output points to inside the store (a cached result's output
    points to the folder of the task that computed it)."""
    if safe_name(name) != name:
        return []
    found = [artifacts.url_for(task_folder(task.id, task.user_id), name)]
    if task_folder(task.id, task.user_id) != task.id:  # a tenant's task written before tenant prefixes
        found.append(artifacts.url_for(task.id, name))
    for url in output_urls(task.output or {}):
        # only a task folder of the owner's own space: never another tenant's files
        if url not in found and _local_name(url, artifacts) == name and \
                artifacts.output_folder(url, task.user_id) is not None:
            found.append(url)
    return found


# -- cursors ---------------------------------------------------------------------------------


def encode_cursor(task: Task) -> str:
    raw = json.dumps([task.created_at.isoformat(), task.id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """``(created_at, id)`` of the last task of the previous page; 422 naming ``cursor`` if bad."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        ts, tid = json.loads(raw)
        return datetime.fromisoformat(ts), str(tid)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise InvalidRequest("cursor: not a cursor returned by this API", field="cursor") from None
