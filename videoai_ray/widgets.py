"""Notebook views of futures and batches: live ipywidgets inside a Jupyter kernel, plain text and a
tqdm bar everywhere else (scripts, tests, a terminal IPython), so nothing breaks outside Jupyter.

A view refreshes from a daemon thread that reads the task store a few times per second and stops
at the terminal state. A thread (not an asyncio task) keeps the view moving while a later cell
blocks in ``fut.result()``, and reading the store (not Ray) keeps it harmless after
``ray.shutdown()``. A batch gets ONE aggregate view whatever its size, never a widget per task.

Each displayed view also carries a static HTML form of its state (:mod:`videoai_ray.snapshots`)
next to the widget, refreshed when the status changes; at the terminal state the output becomes
that HTML alone, so a saved, shared or exported notebook shows the picture, the player, the
transcript or the final counts instead of a widget's ``VBox(...)`` repr. ``fut.result()`` and
``batch.wait()`` publish the final form from the waiting cell too (:func:`settle`), so a notebook
executed headless (nbclient, ``nbconvert --execute``) records it.
"""

from __future__ import annotations

import html
import logging
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any

from .artifacts import ArtifactStore
from .models import Task, TaskStatus
from .models.enums import terminal_count
from .snapshots import (
    ORDER,
    batch_html,
    batch_summary,
    chip,
    task_detail,
    task_header,
    task_html,
    task_summary,
)

if TYPE_CHECKING:
    from .futures import Batch, TaskFuture

log = logging.getLogger("videoai.widgets")

__all__ = ["BatchView", "FutureView", "TqdmBatchBar", "batch_progress", "display_batch", "display_future",
           "in_notebook", "settle", "task_summary"]

#: seconds between refreshes while a task runs, and while it waits
POLL_RUNNING = 0.25
POLL_WAITING = 1.0
_BAR_STYLE = {"completed": "success", "failed": "danger", "cancelled": "warning", "retrying": "warning"}
#: views shown and not yet settled, by task or batch id (see :func:`settle`)
_LIVE: dict[str, list[LiveView]] = {}
_LIVE_LOCK = threading.Lock()


def in_notebook() -> bool:
    """True inside a Jupyter kernel that has ipywidgets; False in scripts, tests and terminals."""
    try:
        import ipywidgets  # noqa: F401
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


class LiveView:
    """A widget refreshed by ``step()`` from a daemon thread until ``step`` returns ``None``
    (the terminal state) or ``stop()`` is called; ``step`` returns the seconds to the next call.

    Once :meth:`show` has displayed it, every refresh publishes the static form when
    ``state_key()`` changed, and the terminal state replaces the widget with the static form."""

    key: str
    detail: Any
    widget: Any

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._lock = threading.RLock()
        self.finished = False
        self.display_id: str | None = None
        self.final: dict[str, str] | None = None
        self._published: str | None = None

    def step(self) -> float | None:
        raise NotImplementedError

    def static(self) -> tuple[str, str]:
        """The last rendered state as ``(html, plain text)``."""
        raise NotImplementedError

    def state_key(self) -> str:
        """Changes when the static form is worth publishing again (not on every progress tick)."""
        raise NotImplementedError

    def bundle(self) -> dict[str, Any]:
        """The display data: the final static form, or the live widget with the static form beside it."""
        if self.finished:
            if self.final is None:
                page, text = self.static()
                self.final = {"text/html": page, "text/plain": text}
            return self.final
        page, text = self.static()
        return {**self.widget._repr_mimebundle_(), "text/html": page, "text/plain": text}

    def publish(self, force: bool = False) -> None:
        """Send the current bundle to the view's output if its state changed (or ``force``)."""
        if self.display_id is None:
            return
        key = "final" if self.finished else self.state_key()
        if key == self._published and not force:
            return
        from IPython.display import update_display

        self._published = key
        update_display(self.bundle(), raw=True, display_id=self.display_id)

    def show(self) -> None:
        """Display the view (after a first ``render``); live views keep refreshing from a thread."""
        from IPython.display import display

        self.display_id = f"videoai-{uuid.uuid4().hex}"
        self._published = "final" if self.finished else self.state_key()
        display(self.bundle(), raw=True, display_id=self.display_id)
        if not self.finished:
            with _LIVE_LOCK:
                _LIVE.setdefault(self.key, []).append(self)
            self.start()

    def refresh(self, force: bool = False) -> float | None:
        with self._lock:
            delay = self.step()
            self.publish(force)
            return delay

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                delay = self.refresh()
            except Exception as e:  # the store went away (kernel shutting down): say so and stop
                log.debug("view refresh failed; stopping", exc_info=True)
                self.detail.value += f" <i>(view stopped: {html.escape(type(e).__name__)})</i>"
                return
            if delay is None:
                return
            self._stop.wait(delay)

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self._loop, name=f"videoai-view-{id(self):x}", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()


def settle(key: str) -> None:
    """Publish the final form of the views of task or batch ``key`` from the calling thread.

    ``TaskFuture.wait()`` and ``Batch.wait()`` call it once the work has ended: a headless run
    (nbclient) records only the messages sent while a cell runs, and the refresh thread may
    publish between two cells; the waiting cell's own message is always recorded."""
    with _LIVE_LOCK:
        views = _LIVE.pop(key, [])
    for view in views:
        view.stop()
        try:
            view.refresh(force=True)
        except Exception:  # the store went away: the view already said so, nothing to publish
            log.debug("settling view %s failed", key, exc_info=True)


class FutureView(LiveView):
    """Live view of one task: type, provider, status and a progress bar; once shown, its output
    becomes the static form at the end (the picture, the player, the text or the error)."""

    def __init__(self, fut: TaskFuture) -> None:
        import ipywidgets as w

        super().__init__()
        self.fut = fut
        self.key = fut.id
        self.task: Task | None = None
        self.header = w.HTML()
        self.bar = w.FloatProgress(value=0.0, min=0.0, max=1.0, layout=w.Layout(width="50%"))
        self.detail = w.HTML()
        self.widget = w.VBox([self.header, w.HBox([self.bar, self.detail])])

    def render(self, task: Task) -> None:
        """Show ``task`` (as stored now)."""
        self.task = task
        self.finished = task.done
        self.header.value = task_header(task)
        self.bar.value = 1.0 if task.status is TaskStatus.COMPLETED else task.progress
        self.bar.bar_style = _BAR_STYLE.get(task.status.value, "info")
        self.detail.value = html.escape(task_detail(task))

    def static(self) -> tuple[str, str]:
        assert self.task is not None, "render() first"
        return task_html(self.task, ArtifactStore.of(self.fut.client.settings)), task_summary(self.task)

    def state_key(self) -> str:
        return self.task.status.value if self.task is not None else ""

    def step(self) -> float | None:
        task = self.fut.task
        self.render(task)
        if task.done:
            return None
        return POLL_RUNNING if task.status is TaskStatus.PROCESSING else POLL_WAITING


def display_future(fut: TaskFuture) -> None:
    """``_ipython_display_`` of a ``TaskFuture``: a live widget in Jupyter, plain text elsewhere."""
    if not in_notebook():
        print(task_summary(fut.task))
        return
    view = FutureView(fut)
    view.render(fut.task)
    view.show()


class BatchView(LiveView):
    """ONE aggregate view of a batch: a bar of finished tasks, counts per status, throughput."""

    def __init__(self, batch: Batch) -> None:
        import ipywidgets as w

        super().__init__()
        self.batch = batch
        self.key = batch.id
        self.total = len(batch)
        self.counts: dict[str, int] = {}
        self.note = ""
        self.bar = w.IntProgress(value=0, min=0, max=max(1, self.total), layout=w.Layout(width="60%"))
        self.header = w.HTML(f"<b>batch</b> <code>{html.escape(batch.id)}</code>, {self.total} tasks")
        self.detail = w.HTML()
        self.widget = w.VBox([self.header, self.bar, self.detail])
        self._t0 = time.monotonic()
        self._done0: int | None = None

    def render(self, counts: dict[str, int]) -> bool:
        """Show ``counts`` (tasks per status); returns True once every task is terminal."""
        done = terminal_count(counts)
        if self._done0 is None:
            self._done0 = done
        elapsed = time.monotonic() - self._t0
        rate = (done - self._done0) / elapsed if elapsed > 0 else 0.0
        self.bar.value = done
        finished = done >= self.total
        self.bar.bar_style = ("danger" if counts.get("failed") else "success") if finished else "info"
        chips = "".join(chip(s, counts[s]) for s in ORDER if counts.get(s))
        speed = f" · {rate:.1f} tasks/s" if done > self._done0 or not finished else ""
        eta = f", ETA {(self.total - done) / rate:.0f} s" if rate > 0 and not finished else ""
        self.counts, self.finished = dict(counts), finished
        self.note = f"{speed} · {elapsed:.1f} s{eta}" if speed or not finished else ""
        self.detail.value = f"{chips} &nbsp; {done}/{self.total} done{speed} · {elapsed:.1f} s{eta}"
        return finished

    def static(self) -> tuple[str, str]:
        return (batch_html(self.batch.id, self.total, self.counts, self.note),
                batch_summary(self.batch.id, self.total, self.counts))

    def state_key(self) -> str:
        return "running"

    def step(self) -> float | None:
        return None if self.render(self.batch.counts()) else 0.5

    def update(self, rows: list[tuple[str, str, int]]) -> None:
        """``Batch.wait(progress=True)`` reports finished rows; the polling thread shows them."""

    def close(self) -> None:
        self.stop()
        with _LIVE_LOCK:
            views = _LIVE.get(self.key, [])
            if self in views:
                views.remove(self)
        self.refresh(force=True)


def display_batch(batch: Batch) -> None:
    """``_ipython_display_`` of a ``Batch``: one live aggregate widget in Jupyter, text elsewhere."""
    if not in_notebook():
        print(repr(batch))
        return
    view = BatchView(batch)
    view.render(batch.counts())
    view.show()


class TqdmBatchBar:
    """Terminal progress of a batch: one tqdm bar, counts per end state and tasks/s."""

    def __init__(self, batch: Batch) -> None:
        from tqdm.std import tqdm

        self.bar = tqdm(total=len(batch), desc=batch.id[:14], unit="task", dynamic_ncols=True)
        self.counts: dict[str, int] = {}

    def update(self, rows: list[tuple[str, str, int]]) -> None:
        for _, status, _ in rows:
            self.counts[status] = self.counts.get(status, 0) + 1
        self.bar.set_postfix(self.counts, refresh=False)
        self.bar.update(len(rows))

    def close(self) -> None:
        self.bar.close()


def batch_progress(batch: Batch) -> BatchView | TqdmBatchBar:
    """The bar ``Batch.wait(progress=True)`` drives: a live widget in Jupyter, tqdm elsewhere."""
    if in_notebook():
        view = BatchView(batch)
        view.render(batch.counts())
        view.show()
        return view
    return TqdmBatchBar(batch)
