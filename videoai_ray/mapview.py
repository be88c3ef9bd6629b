"""``client.map(df, ...)``: a DataFrame whose rows became tasks, with result columns that fill in
as the tasks finish. Each read of ``frame`` asks the store only for what changed since the last
one (tasks finished since a cursor, and the states of those still running)."""

from __future__ import annotations

import html
from typing import Any

import numpy as np
import pandas as pd

from .frames import STATUSES
from .futures import Batch
from .models import ACTIVE_STATUSES

_ACTIVE = [s.value for s in ACTIVE_STATUSES]
#: the columns a view adds to the caller's frame
RESULT_COLUMNS = ["task_id", "status", "provider", "cost", "output", "error"]


class MapView:
    """The caller's DataFrame plus ``task_id``, ``status``, ``provider``, ``cost``, ``output`` and
    ``error`` (``code: message``) per row; ``frame`` is up to date each time it is read."""

    def __init__(self, batch: Batch, source: pd.DataFrame) -> None:
        self.batch = batch
        self.id = batch.id
        self._source = source
        n = len(source)
        ids = list(batch.ids)
        self._pos = {tid: i for i, tid in enumerate(ids)}
        self._ids = np.array(ids, dtype=object)
        self._status = np.full(n, "pending", dtype=object)
        self._provider = np.full(n, None, dtype=object)
        self._cost = np.full(n, np.nan, dtype="float64")
        self._output = np.full(n, None, dtype=object)
        self._error = np.full(n, None, dtype=object)
        self._cursor = 0

    def __len__(self) -> int:
        return len(self._ids)

    def refresh(self) -> None:
        """Read what changed in the store since the last refresh."""
        service = self.batch.client.service
        while rows := service.batches.finished_since(self.id, self._cursor):
            self._cursor = rows[-1][2]
            for task in service.tasks.get_many([r[0] for r in rows]):
                i = self._pos.get(task.id)
                if i is None:
                    continue
                self._status[i], self._provider[i] = task.status.value, task.provider
                self._cost[i] = np.nan if task.cost is None else task.cost
                self._output[i] = task.output
                self._error[i] = f"{task.error.code}: {task.error.message}" if task.error else None
        for tid, status, provider in service.batches.states(self.id, _ACTIVE):
            i = self._pos.get(tid)
            if i is not None:  # still running, or running again after a retry
                self._status[i], self._provider[i] = status, provider
                self._cost[i], self._output[i], self._error[i] = np.nan, None, None

    @property
    def frame(self) -> pd.DataFrame:
        """The source rows with their tasks' results, as of now."""
        self.refresh()
        out = self._source.copy()
        out["task_id"] = pd.array(self._ids, dtype="string")
        out["status"] = pd.Categorical(self._status, categories=STATUSES)
        out["provider"] = pd.Categorical(self._provider)
        out["cost"] = self._cost.copy()
        out["output"] = self._output.copy()
        out["error"] = pd.array(self._error, dtype="string")
        return out

    def to_pandas(self) -> pd.DataFrame:
        return self.frame

    def counts(self) -> dict[str, int]:
        return self.batch.counts()

    def wait(self, timeout: float | None = None, progress: bool = False) -> pd.DataFrame:
        """Wait for every row's task to end; the filled frame."""
        self.batch.wait(timeout, progress)
        return self.frame

    def to_parquet(self, url: str, *, chunk_rows: int | None = None) -> int:
        """The batch's rows as Parquet at ``url`` (``Batch.to_parquet``)."""
        return self.batch.to_parquet(url, chunk_rows=chunk_rows)

    def to_dataset(self, *, chunk_rows: int | None = None) -> Any:
        """The batch's rows as a ``ray.data.Dataset`` (``Batch.to_dataset``)."""
        return self.batch.to_dataset(chunk_rows=chunk_rows)

    def retry_failed(self) -> int:
        """Run the failed rows' tasks again; how many."""
        return self.batch.retry_failed()

    def cancel(self) -> list[dict[str, Any]]:
        return self.batch.cancel()

    def __repr__(self) -> str:
        counts = ", ".join(f"{k}={v}" for k, v in sorted(self.counts().items()))
        return f"<MapView {self.id} {len(self)} rows: {counts}>"

    def _repr_html_(self) -> str:
        return f"<b>{html.escape(repr(self))}</b>{self.frame.to_html(max_rows=20)}"


__all__ = ["RESULT_COLUMNS", "MapView"]
