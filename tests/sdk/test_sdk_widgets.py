"""Widgets: live views in a (simulated) notebook that end as their static form, text and tqdm outside one."""

from __future__ import annotations

import io
import threading
import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from PIL import Image

from videoai_ray import widgets
from videoai_ray.artifacts import ArtifactStore
from videoai_ray.models import Task, TaskError, TaskStatus

NOW = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)


def _task(status: str = "completed", **kw) -> Task:
    base = dict(id="task_w", type="image_generation", status=status, priority="medium", user_id="u", input={},
                created_at=NOW, provider="prov-a", attempts=1, progress=0.0)
    if status in ("completed", "failed"):
        base.update(started_at=NOW, finished_at=NOW + timedelta(seconds=2))
    return Task(**{**base, **kw})


class FakeFuture:
    """What the views read from a TaskFuture: ``id``, ``task`` (changing over time), the client's settings."""

    def __init__(self, tasks: list[Task], root: str) -> None:
        self._tasks = list(tasks)
        self.id = tasks[0].id
        self.client = SimpleNamespace(settings=SimpleNamespace(artifacts_root=root, storage_options={}))
        self.reads = 0

    @property
    def task(self) -> Task:
        self.reads += 1
        return self._tasks.pop(0) if len(self._tasks) > 1 else self._tasks[0]


class FakeBatch:
    def __init__(self, counts: list[dict[str, int]], total: int) -> None:
        self._counts, self.total, self.id, self.ids = list(counts), total, "batch_fake", list(range(total))

    def __len__(self) -> int:
        return self.total

    def counts(self) -> dict[str, int]:
        return self._counts.pop(0) if len(self._counts) > 1 else self._counts[0]

    def __repr__(self) -> str:
        return f"<FakeBatch {self.total}>"


@pytest.fixture
def store(tmp_path) -> ArtifactStore:
    return ArtifactStore(str(tmp_path / "artifacts"))


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buf, format="PNG")
    return buf.getvalue()


def _wait_thread(t: threading.Thread) -> None:
    t.join(10)
    assert not t.is_alive()


# -- outside a notebook ---------------------------------------------------------------------------


def test_not_a_notebook_under_pytest() -> None:
    assert widgets.in_notebook() is False


def test_future_falls_back_to_text(store, capsys) -> None:
    task = _task(output={"image_url": "file:///x/image_1.png"}, cache_hit=True)
    widgets.display_future(FakeFuture([task], store.root))
    out = capsys.readouterr().out
    assert "task_w image_generation completed provider=prov-a" in out and "(cache hit)" in out
    assert "image_url: file:///x/image_1.png" in out
    failed = _task("failed", error=TaskError(code="invalid_input", message="nope"))
    assert "error invalid_input: nope" in widgets.task_summary(failed)


def test_batch_falls_back_to_repr_and_tqdm(capsys) -> None:
    widgets.display_batch(FakeBatch([{}], 3))
    assert capsys.readouterr().out == "<FakeBatch 3>\n"
    bar = widgets.batch_progress(FakeBatch([{}], 3))
    assert isinstance(bar, widgets.TqdmBatchBar)
    bar.update([("a", "completed", 1), ("b", "failed", 2)])
    bar.update([("c", "completed", 3)])
    assert bar.counts == {"completed": 2, "failed": 1} and bar.bar.n == 3
    bar.close()
    assert "3/3" in capsys.readouterr().err


# -- live views -----------------------------------------------------------------------------------


def test_future_view_follows_the_task_to_its_end(store, monkeypatch) -> None:
    monkeypatch.setattr(widgets, "POLL_RUNNING", 0.01)
    monkeypatch.setattr(widgets, "POLL_WAITING", 0.01)
    art = store.put("task_w", "image_1.png", _png())
    seq = [_task("pending", provider=None), _task("processing", progress=0.4), _task("processing", progress=0.8),
           _task(output={"image_url": art["url"]}, cost=0.02)]
    fut = FakeFuture(seq, store.root)
    view = widgets.FutureView(fut)
    view.render(fut.task)
    assert view.bar.value == 0.0 and "pending" in view.header.value and not view.finished
    _wait_thread(view.start())
    assert view.bar.value == 1.0 and view.bar.bar_style == "success" and "prov-a" in view.header.value
    assert "2.00 s" in view.detail.value and "$0.0200" in view.detail.value
    assert view.finished and '<img src="data:image/png;base64,' in view.static()[0] and fut.reads == 4


def test_future_view_stops_and_says_so_when_the_store_fails(store) -> None:
    class Broken(FakeFuture):
        @property
        def task(self) -> Task:
            raise RuntimeError("store closed")

    view = widgets.FutureView(Broken([_task("pending")], store.root))
    _wait_thread(view.start())
    assert "view stopped: RuntimeError" in view.detail.value


def test_batch_view_shows_counts_and_throughput(monkeypatch) -> None:
    batch = FakeBatch([{"pending": 4}, {"pending": 2, "processing": 1, "completed": 1},
                       {"completed": 3, "failed": 1}], 4)
    view = widgets.BatchView(batch)
    assert view.render(batch.counts()) is False and view.bar.value == 0
    time.sleep(0.05)
    assert view.render(batch.counts()) is False
    assert "processing 1" in view.detail.value and "1/4 done" in view.detail.value and "tasks/s" in view.detail.value
    assert view.step() is None  # all terminal: the thread would stop here
    assert view.bar.value == 4 and view.bar.bar_style == "danger" and "failed 1" in view.detail.value


class FakeDisplay:
    """What IPython.display sends to the frontend: ``display`` and ``update_display`` calls."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[tuple[str, dict[str, str], str]] = []
        monkeypatch.setattr(widgets, "in_notebook", lambda: True)
        monkeypatch.setattr("IPython.display.display", lambda obj, **kw: self._record("display", obj, kw))
        monkeypatch.setattr("IPython.display.update_display", lambda obj, **kw: self._record("update", obj, kw))

    def _record(self, kind: str, obj: dict[str, str], kw: dict[str, object]) -> None:
        assert kw["raw"] is True
        self.calls.append((kind, obj, str(kw["display_id"])))


WIDGET = "application/vnd.jupyter.widget-view+json"


def test_notebook_mode_shows_a_live_widget_then_its_static_form(store, monkeypatch) -> None:
    shown = FakeDisplay(monkeypatch)
    monkeypatch.setattr(widgets, "POLL_WAITING", 0.01)
    fut = FakeFuture([_task("pending"), _task("failed", error=TaskError(code="x_code", message="y <b>"))],
                     store.root)
    widgets.display_future(fut)
    deadline = time.monotonic() + 10
    while len(shown.calls) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    [(kind, first, did), (kind2, final, did2)] = shown.calls
    assert kind == "display" and kind2 == "update" and did == did2
    # while it runs: the live widget, and beside it the static form of the same state
    assert WIDGET in first and "pending" in first["text/html"] and "VBox" not in first["text/plain"]
    assert first["text/plain"].startswith("task_w image_generation pending")
    # at the end: the static form alone (what a saved notebook keeps), with the error
    assert set(final) == {"text/html", "text/plain"}
    assert "x_code: y &lt;b&gt;" in final["text/html"] and "error x_code: y <b>" in final["text/plain"]
    # the waiting cell publishes it again, from its own thread, once
    widgets.settle("task_w")
    assert shown.calls[-1] == ("update", final, did) and len(shown.calls) == 3
    widgets.settle("task_w")
    assert len(shown.calls) == 3


def test_a_finished_task_is_shown_static_only(store, monkeypatch) -> None:
    shown = FakeDisplay(monkeypatch)
    art = store.put("task_w", "image_1.png", _png())
    widgets.display_future(FakeFuture([_task(output={"image_url": art["url"]})], store.root))
    [(kind, bundle, _)] = shown.calls
    assert kind == "display" and WIDGET not in bundle and '<img src="data:image/png;base64,' in bundle["text/html"]
    assert widgets._LIVE.get("task_w") is None  # nothing left to refresh or settle


def test_batch_views_publish_their_final_counts(monkeypatch) -> None:
    shown = FakeDisplay(monkeypatch)
    batch = FakeBatch([{"pending": 3}, {"completed": 2, "failed": 1}], 3)
    bar = widgets.batch_progress(batch)
    assert isinstance(bar, widgets.BatchView)
    bar.update([("a", "completed", 1)])
    bar.close()
    [(kind, first, did), *_, (last_kind, final, last_did)] = shown.calls
    assert kind == "display" and WIDGET in first and "0/3 done" in first["text/html"]
    assert last_kind == "update" and last_did == did and WIDGET not in final
    assert "3/3 done" in final["text/html"] and "failed 1" in final["text/html"]
    assert final["text/plain"] == "<Batch batch_fake 3 tasks: completed=2, failed=1>"
    widgets.display_batch(FakeBatch([{"completed": 3}], 3))
    assert shown.calls[-1][0] == "display" and WIDGET not in shown.calls[-1][1]


# -- with the real engine -------------------------------------------------------------------------


@pytest.mark.slow
def test_views_on_real_tasks(sdk_client, monkeypatch, capsys) -> None:
    monkeypatch.setattr(widgets, "POLL_RUNNING", 0.05)
    fut = sdk_client.subtitles.generate(text="Live view test.", provider="lat", use_cache=False)
    view = widgets.FutureView(fut)
    _wait_thread(view.start())
    assert fut.status is TaskStatus.COMPLETED and view.bar.value == 1.0 and "lat" in view.header.value
    batch = sdk_client.batch([{"task_type": "subtitle_generation",
                               "input_data": {"text": f"b {i}", "provider": "noop", "use_cache": False}}
                              for i in range(50)])
    assert batch.wait(timeout=60, progress=True) == {"completed": 50}
    assert "50/50" in capsys.readouterr().err
    bview = widgets.BatchView(batch)
    assert bview.step() is None and "completed 50" in bview.detail.value
    # the static forms, read from the real store
    assert "&quot;slept&quot;: 0.3" in fut._repr_html_() and "completed" in fut._repr_html_()
    assert "50/50 done" in batch._repr_html_() and 'title="completed 50" style="width:100.00%' in batch._repr_html_()
