"""Notebook views of futures and batches, with a plain-text fallback outside Jupyter."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .futures import Batch, TaskFuture


def display_future(fut: TaskFuture) -> None:
    print(repr(fut))


def display_batch(batch: Batch) -> None:
    print(repr(batch))


class _TqdmBatchBar:
    def __init__(self, batch: Batch) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(total=len(batch), desc=batch.id[:14], unit="task")
        self.counts: dict[str, int] = {}

    def update(self, rows: list[tuple[str, str, int]]) -> None:
        for _, status, _ in rows:
            self.counts[status] = self.counts.get(status, 0) + 1
        self.bar.set_postfix(self.counts, refresh=False)
        self.bar.update(len(rows))

    def close(self) -> None:
        self.bar.close()


def batch_progress(batch: Batch) -> Any:
    return _TqdmBatchBar(batch)
