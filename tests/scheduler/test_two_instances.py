"""Two instances (two Schedulers with two ``VIDEOAI_INSTANCE`` names) on one database, SQLite and
PostgreSQL, started close together with work of both already stored (as after a restart of
both): each recovers, runs and lists only its own tasks, pipelines, batches and webhook
deliveries, and every task runs exactly once, by its own instance.

Each instance's provider is called ``inst`` and records each completed attempt in a folder of its
own, so a task that ran in the other instance (or twice) shows there."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from loopback import QuietHandler, serving

import videoai_ray as vai
from videoai_ray.errors import TaskNotFound
from videoai_ray.models.record import row_from_submission
from videoai_ray.pipelines import ref, step
from videoai_ray.pipelines.model import step_task_id
from videoai_ray.pipelines.service import pipeline_row
from videoai_ray.providers.testing import FixedLatencyProvider
from videoai_ray.scheduler import kill_scheduler
from videoai_ray.service import MediaService
from videoai_ray.store import utcnow
from videoai_ray.store.schema import pipelines, tasks

pytestmark = pytest.mark.slow

STORED = 6  # tasks of each instance stored before the Schedulers start
LIVE = 3  # tasks of each instance sent as a batch once both run


class Hooks:
    """A webhook receiver on 127.0.0.1: ``(webhook-id, task id, event type)`` per delivery."""

    def __init__(self) -> None:
        self.got: list[tuple[str, str, str]] = []
        self.lock = threading.Lock()
        self.url = ""

    def handler(self) -> type[QuietHandler]:
        hooks = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)))
                with hooks.lock:
                    hooks.got.append((self.headers["webhook-id"], body["task_id"], body["event_type"]))
                self.answer(200, b"ok")

        return Handler

    def completed(self) -> set[str]:
        with self.lock:
            return {tid for _, tid, event in self.got if event == "task.completed"}


@pytest.fixture
def hooks() -> Iterator[Hooks]:
    h = Hooks()
    with serving(h.handler()) as base:
        h.url = base + "/hook"
        yield h


def wait_for(cond: Callable[[], bool], *, timeout: float = 120.0, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def _settings(home: Path, instance: str, url: str) -> vai.Settings:
    return vai.Settings(home=home, instance=instance, database_url=url, prefetch=0, retry_schedule=(0.2, 0.4),
                        url_allowlist=("127.0.0.1",), redis_url=None)


def _body(prompt: str, hook: str) -> dict[str, Any]:
    return {"prompt": prompt, "provider": "inst", "use_cache": False, "webhook_url": hook}


def _store_work(settings: vai.Settings, hook: str) -> tuple[list[str], str, list[str]]:
    """Tasks and a two-step pipeline of ``settings.instance``, stored as its Scheduler left them:
    accepted, not yet run (the pipeline's first step not yet submitted)."""
    media = MediaService(settings, None, migrate=True)
    try:
        items = [media.prepare("image_generation", _body(f"{settings.instance} {i}", hook), user_id="local")
                 for i in range(STORED)]
        media.store.update_many([], [(tasks, [row_from_submission(it, utcnow()) for it in items])])
        spec = media.pipelines.validate({"steps": [
            step("first", "image_generation", prompt=f"{settings.instance} pipe", provider="inst", use_cache=False),
            step("second", "image_generation", prompt=ref("first.output.provider"), provider="inst",
                 use_cache=False)]})
        row = pipeline_row(spec, user_id="local")
        media.store.update_many([], [(pipelines, [row])])
    finally:
        media.close()
    return [it["id"] for it in items], row["id"], [step_task_id(row["id"], s) for s in ("first", "second")]


def _runs(folder: Path, task_id: str) -> int:
    return len(list(folder.glob(f"{task_id}.*.done")))


@pytest.fixture
def shared_url(db_url: str | None, tmp_path: Path) -> str:
    """One database for both instances: the fault suite's PostgreSQL schema, or a SQLite file."""
    return db_url or f"sqlite:///{tmp_path}/shared.db"


def test_two_instances_on_one_database_each_run_only_their_own_work_once(
        ray_session: None, shared_url: str, tmp_path: Path, hooks: Hooks) -> None:
    tag = uuid.uuid4().hex[:6]
    names = {"a": f"t-inst-a-{tag}", "b": f"t-inst-b-{tag}"}
    done = {k: tmp_path / f"done-{k}" for k in names}
    settings = {k: _settings(tmp_path / f"home-{k}", names[k], shared_url) for k in names}
    for k in names:
        done[k].mkdir()
        kill_scheduler(settings[k])
    stored = {k: _store_work(settings[k], hooks.url) for k in names}
    clients: dict[str, vai.Client] = {}
    try:
        for k in names:  # started one right after the other: each recovers what it finds stored
            clients[k] = vai.connect(settings=settings[k], providers=[
                FixedLatencyProvider(0.3, 2, name="inst", log_dir=done[k])])
        batches = {k: clients[k].batch([{"task_type": "image_generation", "input_data": _body(f"{k} live {i}",
                                                                                          hooks.url)}
                                        for i in range(LIVE)]) for k in names}
        own = {k: {*stored[k][0], *stored[k][2], *batches[k].ids} for k in names}

        for k in names:
            pipe = clients[k].pipeline_from_id(stored[k][1])
            assert pipe.result(timeout=180).status.value == "completed"
            wait_for(lambda k=k: all(clients[k].get(t).status.terminal for t in own[k]),
                     what=f"instance {k}'s tasks")
        for k, other in (("a", "b"), ("b", "a")):
            for tid in own[k]:
                task = clients[k].get(tid)
                assert task.status.value == "completed", (k, tid, task.status, task.error)
                assert (_runs(done[k], tid), _runs(done[other], tid)) == (1, 0), (k, tid)
            # lists and counts show only the instance's own work
            assert set(clients[k].tasks(limit=500)["id"]) == own[k]
            assert clients[k].statistics().raw["total_tasks"] == len(own[k])
            assert list(clients[k].batches().index) == [batches[k].id]
            assert list(clients[k].pipelines()["id"]) == [stored[k][1]]
            with pytest.raises(TaskNotFound):
                clients[k].get(next(iter(own[other])))

        # webhooks: every event of each task arrives once, sent by its own instance's dispatcher
        everything = {*stored["a"][0], *batches["a"].ids, *stored["b"][0], *batches["b"].ids}
        wait_for(lambda: hooks.completed() >= everything, what="every task's completed event")
        for k in names:  # the dispatcher writes "delivered" just after the receiver answered
            wait_for(lambda k=k: set(clients[k].webhook_deliveries(limit=1000)["status"]) == {"delivered"},
                     what=f"instance {k}'s deliveries recorded")
            assert set(clients[k].webhook_deliveries(limit=1000)["task_id"]) <= own[k]
        twice = [w for w, n in Counter(w for w, _, _ in hooks.got).items() if n > 1]
        assert twice == []
    finally:
        for k in names:
            kill_scheduler(settings[k])
