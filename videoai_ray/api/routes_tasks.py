"""Reading and changing one's own tasks, and downloading their output files.

Another user's task id answers exactly like an unknown one (404): the service reads tasks by
``(id, user)``. A tenant admin (``tenant_admin`` claim) reads, by id and in the list, every task
of its own tenant's users (owner ids ``<tenant>/...``), and changes only its own. The handlers
are plain functions, so FastAPI runs the store reads and the service's blocking Scheduler calls
in its thread pool, off the event loop.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Iterator
from typing import IO, Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse

from ..errors import TaskNotFound
from ..models import Task, TaskStatus, TaskType
from .auth import Caller
from .context import ApiContext, get_context
from .deps import authorized
from .errors import ERROR_RESPONSES, ErrorBody, not_found
from .views import TaskPage, TaskResponse, artifact_candidates, decode_cursor, encode_cursor, task_view

#: most tasks one page of ``GET /tasks`` returns
MAX_PAGE = 200

router = APIRouter(tags=["tasks"])

_TASK_ID = Path(min_length=1, max_length=100, description="the task id (`task_...`)")
_NOT_FOUND = {404: {"model": ErrorBody, "description": "no such task for this user"}, **ERROR_RESPONSES}


@router.get("/tasks/{task_id}", response_model=TaskResponse, summary="Get a task", responses=_NOT_FOUND)
def get_task(task_id: str = _TASK_ID, caller: Caller = Depends(authorized),
             ctx: ApiContext = Depends(get_context)) -> JSONResponse:
    user_id, prefix = caller.reads
    task = ctx.service.tasks.get(task_id, user_id)
    if prefix is not None and not task.user_id.startswith(prefix):
        raise TaskNotFound(f"no task {task_id}")  # as the plain read says it
    return JSONResponse(task_view(task, ctx.artifacts))


@router.get("/tasks", response_model=TaskPage, summary="List tasks, newest first", responses=ERROR_RESPONSES)
def list_tasks(
    task_type: TaskType | None = Query(None, description="only tasks of this type"),
    status: TaskStatus | None = Query(None, description="only tasks in this status"),
    batch_id: str | None = Query(None, max_length=100, description="only tasks of this batch"),
    limit: int = Query(50, ge=1, le=MAX_PAGE, description=f"page size (at most {MAX_PAGE})"),
    cursor: str | None = Query(None, max_length=500, description="`next_cursor` of the previous page"),
    caller: Caller = Depends(authorized),
    ctx: ApiContext = Depends(get_context),
) -> JSONResponse:
    before = decode_cursor(cursor) if cursor else None
    user_id, prefix = caller.reads  # a tenant admin lists the tenant's
    rows = ctx.service.tasks.list(user_id, user_prefix=prefix,
                             task_type=task_type.value if task_type else None,
                             status=status.value if status else None, batch_id=batch_id, limit=limit + 1,
                             before=before)
    page, more = rows[:limit], len(rows) > limit
    return JSONResponse({"tasks": [task_view(t, ctx.artifacts) for t in page],
                         "next_cursor": encode_cursor(page[-1]) if more else None, "limit": limit})


@router.post("/tasks/{task_id}/cancel", response_model=TaskResponse, summary="Cancel a task",
             description="Stops a waiting or running task; a finished task is returned unchanged.",
             responses=_NOT_FOUND)
def cancel_task(task_id: str = _TASK_ID, caller: Caller = Depends(authorized),
                ctx: ApiContext = Depends(get_context)) -> JSONResponse:
    return JSONResponse(task_view(ctx.service.tasks.cancel(task_id, caller.user_id), ctx.artifacts))


@router.delete("/tasks/{task_id}", response_model=TaskResponse, summary="Cancel a task (same as POST .../cancel)",
               responses=_NOT_FOUND)
def delete_task(task_id: str = _TASK_ID, caller: Caller = Depends(authorized),
                ctx: ApiContext = Depends(get_context)) -> JSONResponse:
    return cancel_task(task_id, caller, ctx)


@router.post("/tasks/{task_id}/retry", status_code=202, response_model=TaskResponse, summary="Retry a task",
             description="Runs a failed or cancelled task again with a fresh retry budget (409 otherwise).",
             responses={**_NOT_FOUND, 409: {"model": ErrorBody, "description": "the task is not failed or cancelled"}})
def retry_task(task_id: str = _TASK_ID, caller: Caller = Depends(authorized),
               ctx: ApiContext = Depends(get_context)) -> JSONResponse:
    # the Scheduler answers another user's task id as unknown (404), active or not
    return JSONResponse(task_view(ctx.service.tasks.retry(task_id, caller.user_id), ctx.artifacts), status_code=202)


@router.get("/tasks/{task_id}/files/{name}", summary="Download an output file", response_class=FileResponse,
            responses={200: {"content": {"application/octet-stream": {}},
                             "description": "the file, with its content type"}, **_NOT_FOUND},
            description="Files of a task's output (the `url` and `download_url` values in it), from "
                        "whichever artifact store holds them. Only the task's owner can download them.")
def download_file(task_id: str = _TASK_ID, name: str = Path(min_length=1, max_length=255),
                  caller: Caller = Depends(authorized), ctx: ApiContext = Depends(get_context)) -> Response:
    task = ctx.service.tasks.get(task_id, caller.user_id)
    for url in artifact_candidates(task, name, ctx.artifacts):
        if not ctx.artifacts.is_local:
            # object storage: streamed in blocks from whichever node serves this request
            try:
                fh, size = ctx.artifacts.open_remote(url)
            except (OSError, ValueError):
                continue
            return StreamingResponse(_blocks(fh), media_type=_content_type(task, url, name),
                                     headers={"Content-Disposition": f'inline; filename="{name}"',
                                              "Content-Length": str(size)})
        try:
            path = ctx.artifacts.local_path(url)
        except ValueError:
            continue
        if path.is_file():
            return FileResponse(path, media_type=_content_type(task, url, name), filename=name,
                                content_disposition_type="inline")
    raise not_found("file", f"{name} for task {task_id}")


def _blocks(fh: IO[bytes], size: int = 1 << 20) -> Iterator[bytes]:
    """The file's bytes in blocks, closing it at the end (or when the client goes away)."""
    with fh:
        while block := fh.read(size):
            yield block


def _content_type(task: Task, url: str, name: str) -> str:
    """The type the provider stored with the artifact, else one guessed from the name."""
    stack: list[Any] = [task.output or {}]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if item.get("url") == url and isinstance(item.get("content_type"), str):
                return str(item["content_type"])
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return mimetypes.guess_type(name)[0] or "application/octet-stream"
