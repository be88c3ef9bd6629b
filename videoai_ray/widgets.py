"""Notebook views of futures and batches: live ipywidgets inside a Jupyter kernel, plain text and a
tqdm bar everywhere else (scripts, tests, a terminal IPython), so nothing breaks outside Jupyter.

A view refreshes from a daemon thread that reads the task store a few times per second and stops
at the terminal state. A thread (not an asyncio task) keeps the view moving while a later cell
blocks in ``fut.result()``, and reading the store (not Ray) keeps it harmless after
``ray.shutdown()``. A batch gets ONE aggregate view whatever its size, never a widget per task.
"""

from __future__ import annotations

import html
import json
import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from .artifacts import ArtifactStore
from .futures import terminal_count
from .models import Task, TaskStatus, TaskType

if TYPE_CHECKING:
    from .futures import Batch, TaskFuture

log = logging.getLogger("videoai.widgets")

#: seconds between refreshes while a task runs, and while it waits
POLL_RUNNING = 0.25
POLL_WAITING = 1.0
#: artifacts larger than this are linked, not embedded in the notebook
MAX_INLINE_BYTES = 20 * 1024 * 1024
_COLORS = {"pending": "#888", "processing": "#1f77b4", "retrying": "#ff7f0e", "completed": "#2ca02c",
           "failed": "#d62728", "cancelled": "#555"}
_BAR_STYLE = {"completed": "success", "failed": "danger", "cancelled": "warning", "retrying": "warning"}
_ORDER = [s.value for s in TaskStatus]


def in_notebook() -> bool:
    """True inside a Jupyter kernel that has ipywidgets; False in scripts, tests and terminals."""
    try:
        import ipywidgets  # noqa: F401
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def _chip(status: str, n: int | None = None) -> str:
    text = status if n is None else f"{status} {n}"
    return (f'<span style="background:{_COLORS.get(status, "#888")};color:white;border-radius:3px;'
            f'padding:1px 6px;margin-right:4px;font-size:90%">{html.escape(text)}</span>')


def _pre(text: str, limit: int = 4000) -> str:
    if len(text) > limit:
        text = text[:limit] + f"\n… ({len(text) - limit} more characters)"
    return f'<pre style="white-space:pre-wrap;max-height:18em;overflow:auto">{html.escape(text)}</pre>'


def task_summary(task: Task) -> str:
    """A few plain-text lines about a task: what it is, where it is, and its output or error."""
    pct = f" {task.progress:.0%}" if task.status is TaskStatus.PROCESSING else ""
    lines = [f"{task.id} {task.type.value} {task.status.value}{pct} provider={task.provider or '-'}"
             f" attempts={task.attempts}" + (" (cache hit)" if task.cache_hit else "")]
    if task.error is not None and task.status is not TaskStatus.COMPLETED:
        lines.append(f"error {task.error.code}: {task.error.message}")
    out = task.output or {}
    for key in ("image_url", "video_url", "subtitle_url", "transcript_url"):
        if out.get(key):
            lines.append(f"{key}: {out[key]}")
    if out.get("text"):
        lines.append(f"text: {str(out['text'])[:500]}")
    return "\n".join(lines)


class _LiveView:
    """A widget refreshed by ``step()`` from a daemon thread until ``step`` returns ``None``
    (the terminal state) or ``stop()`` is called; ``step`` returns the seconds to the next call."""

    detail: Any

    def __init__(self) -> None:
        self._stop = threading.Event()

    def step(self) -> float | None:
        raise NotImplementedError

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                delay = self.step()
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


def output_widgets(task: Task, artifacts_root: str) -> list[Any]:
    """Widgets showing a finished task's output inline (images, players, text) or its error."""
    import ipywidgets as w

    if task.status is not TaskStatus.COMPLETED:
        err = task.error
        msg = f"{err.code}: {err.message}" if err else task.status.value
        return [w.HTML(f'<div style="color:{_COLORS["failed"]}"><b>{task.status.value}</b> {html.escape(msg)}</div>')]
    out = task.output or {}
    store = ArtifactStore(artifacts_root)

    def media(url: str | None, kind: str, size: int | None = None, **kw: Any) -> Any:
        if not url:
            return None
        fmt = url.rsplit(".", 1)[-1].lower() if "." in url.rsplit("/", 1)[-1] else kind
        try:
            if size is not None and size > MAX_INLINE_BYTES:
                raise ValueError("too large to embed")
            data = store.read_bytes(url)
        except Exception as e:  # unreachable store, too large: link instead of failing
            return w.HTML(f"{kind}: <code>{html.escape(url)}</code> ({html.escape(str(e)[:200])})")
        cls = {"image": w.Image, "video": w.Video, "audio": w.Audio}[kind]
        return cls(value=data, format=fmt, **kw)

    items: list[Any] = []
    if task.type is TaskType.IMAGE_GENERATION:
        for img in out.get("images") or [{"url": out.get("image_url")}]:
            width = min(int(img.get("width") or 320), 320)
            items.append(media(img.get("url"), "image", img.get("size_bytes"), width=width))
    elif task.type is TaskType.VIDEO_GENERATION:
        items.append(media(out.get("video_url"), "video", (out.get("metadata") or {}).get("size_bytes"),
                           width=480, autoplay=False, loop=False, controls=True))
    elif task.type is TaskType.AUDIO_TRANSCRIPTION:
        src = task.input.get("audio_url")
        if isinstance(src, str) and src.startswith("upload://"):  # the file the SDK uploaded
            src = store.upload_url(src, task.user_id)
        if src and store.owns(src):
            items.append(media(src, "audio", None, autoplay=False, loop=False, controls=True))
        if "text" in out:
            items.append(w.HTML(_pre(str(out["text"]))))
    elif task.type is TaskType.SUBTITLE_GENERATION and "content" in out:
        items.append(w.HTML(f"<small>{html.escape(str(out.get('format', '')))}, {out.get('cues', '?')} cues</small>"
                            + _pre(str(out["content"]))))
    items = [i for i in items if i is not None]
    if not items:
        items.append(w.HTML(_pre(json.dumps(out, indent=1, default=str), 2000)))
    return items


class FutureView(_LiveView):
    """Live view of one task: type, provider, status, a progress bar, then the output or error."""

    def __init__(self, fut: TaskFuture) -> None:
        import ipywidgets as w

        super().__init__()
        self.fut = fut
        self.header = w.HTML()
        self.bar = w.FloatProgress(value=0.0, min=0.0, max=1.0, layout=w.Layout(width="50%"))
        self.detail = w.HTML()
        self.output = w.VBox()
        self.widget = w.VBox([self.header, w.HBox([self.bar, self.detail]), self.output])
        self._shown_output = False

    def render(self, task: Task) -> None:
        """Show ``task`` (as stored now); the output is rendered once, at the terminal state."""
        status = task.status.value
        self.header.value = (f"<b>{task.type.value}</b> <code>{task.id}</code> {_chip(status)}"
                             f" provider <b>{html.escape(task.provider or '—')}</b>"
                             + (" (cache hit)" if task.cache_hit else ""))
        self.bar.value = 1.0 if task.status is TaskStatus.COMPLETED else task.progress
        self.bar.bar_style = _BAR_STYLE.get(status, "info")
        parts = [f"{task.progress:.0%}", f"attempt {task.attempts}" if task.attempts else ""]
        if task.duration is not None:
            parts.append(f"{task.duration:.2f} s")
        if task.cost:
            parts.append(f"${task.cost:.4f}")
        self.detail.value = " · ".join(p for p in parts if p)
        if task.done and not self._shown_output:
            self._shown_output = True
            self.output.children = tuple(output_widgets(task, self.fut.client.settings.artifacts_root))

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
    from IPython.display import display

    view, task = FutureView(fut), fut.task
    view.render(task)
    display(view.widget)
    if not task.done:
        view.start()


class BatchView(_LiveView):
    """ONE aggregate view of a batch: a bar of finished tasks, counts per status, throughput."""

    def __init__(self, batch: Batch) -> None:
        import ipywidgets as w

        super().__init__()
        self.batch = batch
        self.total = len(batch)
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
        chips = "".join(_chip(s, counts[s]) for s in _ORDER if counts.get(s))
        speed = f" · {rate:.1f} tasks/s" if done > self._done0 or not finished else ""
        eta = f", ETA {(self.total - done) / rate:.0f} s" if rate > 0 and not finished else ""
        self.detail.value = f"{chips} &nbsp; {done}/{self.total} done{speed} · {elapsed:.1f} s{eta}"
        return finished

    def step(self) -> float | None:
        return None if self.render(self.batch.counts()) else 0.5

    def update(self, rows: list[tuple[str, str, int]]) -> None:
        """``Batch.wait(progress=True)`` reports finished rows; the polling thread shows them."""

    def close(self) -> None:
        self.stop()
        self.render(self.batch.counts())


def display_batch(batch: Batch) -> None:
    """``_ipython_display_`` of a ``Batch``: one live aggregate widget in Jupyter, text elsewhere."""
    if not in_notebook():
        print(repr(batch))
        return
    from IPython.display import display

    view = BatchView(batch)
    display(view.widget)
    if not view.render(batch.counts()):
        view.start()


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
        from IPython.display import display

        view = BatchView(batch)
        display(view.widget)
        view.start()
        return view
    return TqdmBatchBar(batch)
