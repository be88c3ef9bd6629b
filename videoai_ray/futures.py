"""TaskFuture and Batch: handles on submitted work that wait without polling the database in a
loop (they sleep on the Scheduler's change version) and work from sync and async code alike."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Generator, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from .artifacts import ArtifactStore
from .errors import TaskCancelled, TaskFailed
from .frames import tasks_frame
from .models import Task, TaskStatus
from .models.enums import terminal_count
from .snapshots import batch_html, batch_summary, task_html
from .widgets import batch_progress, display_batch, display_future, settle

if TYPE_CHECKING:
    from .client import Client


def _done_or_timeout(task: Task) -> Task:
    if not task.done:
        raise TimeoutError(f"task {task.id} is still {task.status.value}")
    return task


def raise_if_failed(task: Task) -> Task:
    if task.status is TaskStatus.FAILED:
        raise TaskFailed(task)
    if task.status is TaskStatus.CANCELLED:
        raise TaskCancelled(task)
    return task


class TaskFuture:
    """A submitted task. ``result()`` waits for it; ``await fut`` does the same asynchronously."""

    def __init__(self, client: Client, task_id: str, cache_hit: bool = False) -> None:
        self.client = client
        self.id = task_id
        self.cache_hit = cache_hit

    @property
    def task(self) -> Task:
        """The task as stored now."""
        return self.client.get(self.id)

    @property
    def status(self) -> TaskStatus:
        return self.task.status

    @property
    def progress(self) -> float:
        return self.task.progress

    def done(self) -> bool:
        return self.task.done

    def wait(self, timeout: float | None = None) -> Task:
        """Wait until the task is terminal and return it (whatever its end state)."""
        task = _done_or_timeout(self.client.service.tasks.wait(self.id, self.client.user_id, timeout))
        settle(self.id)
        return task

    def result(self, timeout: float | None = None) -> Task:
        """The finished task; raises ``TaskFailed`` / ``TaskCancelled``, or ``TimeoutError``."""
        return raise_if_failed(self.wait(timeout))

    async def result_async(self, timeout: float | None = None) -> Task:
        task = _done_or_timeout(await self.client.service.tasks.wait_async(self.id, self.client.user_id, timeout))
        settle(self.id)
        return raise_if_failed(task)

    def __await__(self) -> Generator[Any, None, Task]:
        return self.result_async().__await__()

    def cancel(self) -> Task:
        return self.client.cancel(self.id)

    def retry(self) -> TaskFuture:
        self.client.retry(self.id)
        return self

    def __repr__(self) -> str:
        t = self.task
        pct = f" {t.progress:.0%}" if t.status is TaskStatus.PROCESSING else ""
        return f"<TaskFuture {t.id} {t.type.value} {t.status.value}{pct} provider={t.provider}>"

    def _repr_html_(self) -> str:
        """The task's state now as static HTML (with its output once finished)."""
        return task_html(self.task, ArtifactStore.of(self.client.settings))

    def _ipython_display_(self) -> None:
        display_future(self)


class Batch:
    """Many tasks submitted together; follows their completions in the order they finish.

    ``client.batch(...)`` returns one, and ``client.batch_from_id(id)`` gives the same object back
    in another driver or after a kernel restart (progress view, ``as_completed``, ``to_pandas``,
    ``cancel``)."""

    def __init__(self, client: Client, batch_id: str, ids: Sequence[str], expected: int | None = None,
                 columns: Mapping[str, str] | None = None) -> None:
        self.client = client
        self.id = batch_id
        self.ids = ids
        #: items the driver meant to send (``None``: not recorded, e.g. an HTTP batch)
        self.expected = expected
        #: ``client.map``'s request field -> source column (names the input columns of ``to_parquet``)
        self.columns = dict(columns) if columns else None

    def __len__(self) -> int:
        return len(self.ids)

    def futures(self) -> list[TaskFuture]:
        return [TaskFuture(self.client, i) for i in self.ids]

    def counts(self) -> dict[str, int]:
        """Tasks per status, now; ``not_submitted`` counts the items a driver meant to send but
        did not (it stopped early, or is still sending): ``client.resume_batch`` sends them."""
        return self.client.service.batches.counts(self.id)

    @property
    def progress(self) -> float:
        counts = self.counts()
        done = terminal_count(counts)
        total = max(len(self.ids), self.expected or 0)
        return done / total if total else 1.0

    def done(self) -> bool:
        return self.progress >= 1.0

    def _finished(self, timeout: float | None) -> Iterator[list[tuple[str, str, int]]]:
        """Chunks of ``(id, status, seq)`` as tasks end, until all have or ``timeout`` passes."""
        service = self.client.service
        wait = service.version_wait(timeout)
        cursor, seen = 0, 0
        while seen < len(self.ids):
            rows = service.batches.finished_since(self.id, cursor)
            if rows:
                cursor = rows[-1][2]
                seen += len(rows)
                yield rows
                continue
            if not wait.sleep():
                raise TimeoutError(f"batch {self.id}: {seen}/{len(self.ids)} tasks finished")

    def as_completed(self, timeout: float | None = None) -> Iterator[Task]:
        """Finished tasks, in the order they finished."""
        for rows in self._finished(timeout):
            yield from self.client.service.tasks.get_many([r[0] for r in rows])

    async def as_completed_async(self, timeout: float | None = None) -> AsyncIterator[Task]:
        it = self.as_completed(timeout)
        while True:
            task = await asyncio.to_thread(next, it, None)
            if task is None:
                return
            yield task

    def wait(self, timeout: float | None = None, progress: bool = False) -> dict[str, int]:
        """Wait for every task to end; returns the counts per status."""
        bar = None
        if progress:
            bar = batch_progress(self)
        try:
            for rows in self._finished(timeout):
                if bar is not None:
                    bar.update(rows)
        finally:
            if bar is not None:
                bar.close()
        settle(self.id)
        return self.counts()

    def results(self) -> list[Task]:
        return self.client.service.tasks.get_many(self.ids)

    def to_pandas(self) -> pd.DataFrame:
        return tasks_frame(self.results())

    def to_parquet(self, url: str, *, chunk_rows: int | None = None) -> int:
        """Write one row per task (``row``, ``id``, ``status``, the input columns, ``output.<key>``
        per output field, ``cost``, ``provider``, ``error_code``/``error_message``, ...; see
        ``videoai_ray.result_rows``) to ``url`` as Parquet: any fsspec URL (``s3://bucket/out.parquet``),
        opened with the deployment's storage options. Read from the store and written a chunk
        at a time (a row group each); the rows are the tasks' states now (``wait()`` first for
        final results). Returns how many rows were written."""
        from .result_rows import CHUNK_ROWS, write_parquet

        return write_parquet(self, str(url), chunk_rows=chunk_rows or CHUNK_ROWS)

    def to_dataset(self, *, chunk_rows: int | None = None) -> Any:
        """The rows of ``to_parquet`` as a lazy ``ray.data.Dataset``: each block is read from the
        store by a Ray task when the Dataset runs, so the rows never pass through this driver."""
        from .result_rows import CHUNK_ROWS, to_dataset

        return to_dataset(self, chunk_rows=chunk_rows or CHUNK_ROWS)

    def cancel(self) -> list[dict[str, Any]]:
        """Cancel every unfinished task of the batch."""
        return self.client.service.batches.cancel(self.id, self.client.user_id)

    def retry_failed(self) -> int:
        """Run the batch's failed tasks again (each with a fresh retry budget); how many."""
        service = self.client.service
        failed = [tid for tid, _, _ in service.batches.states(self.id, [TaskStatus.FAILED.value])]
        return service.tasks.retry_many(failed, self.client.user_id)

    def cost(self) -> float:
        """What the batch's tasks have cost so far, in USD."""
        cost = self.client.service.batches.cost(self.id)
        return cost if cost is not None else float(self.to_pandas()["cost"].sum())

    def __repr__(self) -> str:
        return batch_summary(self.id, len(self.ids), self.counts())

    def _repr_html_(self) -> str:
        """The counts per status now as static HTML (a bar and a chip per status)."""
        return batch_html(self.id, len(self.ids), self.counts())

    def _ipython_display_(self) -> None:
        display_batch(self)
