"""The Scheduler's parts without Ray: intake, outcomes and the writer over one real store.

A cache hit is finished by ``Outcomes.finish`` like every other task (its ``on_finish``
listeners see it) and written with its row in the chunk's one transaction; idempotency keys
replay or conflict; the worker re-checks a stored input at its trust boundary; a pipeline's end,
written by its runner outside the batch, wakes whoever waits on the change version."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest

from videoai_ray.attempts import Sink, recheck_at_worker
from videoai_ray.errors import IdempotencyConflict, InvalidInput
from videoai_ray.models import TaskStatus
from videoai_ray.models.record import Active
from videoai_ray.pipelines import PipelineStatus, step
from videoai_ray.pipelines.rows import get_pipeline
from videoai_ray.pipelines.runner import PipelineRunner
from videoai_ray.pipelines.service import pipeline_row
from videoai_ray.protocol import Assignment
from videoai_ray.providers.registry import ProviderRegistry
from videoai_ray.scheduler.budgets import BudgetLedger
from videoai_ray.scheduler.caching import TaskCache
from videoai_ray.scheduler.dispatch import Dispatcher
from videoai_ray.scheduler.events import EventSink
from videoai_ray.scheduler.fairness import FairShare
from videoai_ray.scheduler.operations import Operations
from videoai_ray.scheduler.outcomes import Outcomes
from videoai_ray.scheduler.persistence import Writer
from videoai_ray.scheduler.ratelimit import ProviderRateLimiter
from videoai_ray.scheduler.remote_jobs import RemoteJobs
from videoai_ray.scheduler.state import SchedulerState
from videoai_ray.scheduler.submit import Intake
from videoai_ray.service import MediaService
from videoai_ray.settings import Settings
from videoai_ray.store import TaskStore


class Parts:
    def __init__(self, settings: Settings) -> None:
        store = TaskStore(settings.db_url, instance=settings.instance)
        self.state = SchedulerState(
            settings=settings, store=store, registry=ProviderRegistry(), limiter=ProviderRateLimiter({}),
            budgets=BudgetLedger(settings, store.engine), events=EventSink(settings),
            cache=TaskCache.from_settings(settings), fair=FairShare(settings), sink=cast(Sink, None))
        self.remote_jobs = RemoteJobs(self.state)
        self.outcomes = Outcomes(self.state, self.remote_jobs)
        self.dispatcher = Dispatcher(self.state, self.outcomes)
        self.writer = Writer(self.state, self.outcomes, self.dispatcher)
        self.intake = Intake(self.state, self.outcomes, self.writer)
        self.service = MediaService(settings, None, store)
        self.finished: list[tuple[str, TaskStatus]] = []
        self.outcomes.on_finish.append(lambda act: self.finished.append((act.id, act.status)))

    def item(self, prompt: str, **kw: Any) -> dict[str, Any]:
        return self.service.prepare("image_generation", {"prompt": prompt}, user_id="ana", **kw)

    def submit(self, items: list[dict[str, Any]], **kw: Any) -> list[dict[str, Any]]:
        """``Intake.submit`` from plain test code (its store calls run in threads)."""
        return asyncio.run(self.intake.submit(items, **kw))

    def flush(self) -> None:
        asyncio.run(self.writer.flush())


@pytest.fixture
def parts(settings: Settings) -> Parts:
    return Parts(settings)


def test_a_cache_hit_finishes_through_finish_in_the_chunks_transaction(parts: Parts) -> None:
    first = parts.item("a cat")
    [answer] = parts.submit([first])
    assert answer["status"] == "pending" and not answer["cache_hit"]
    act: Active = parts.state.active[first["id"]]
    act.provider = "p1"
    parts.outcomes.finish(act, TaskStatus.COMPLETED, output={"url": "x"}, cost=0.5)
    parts.flush()

    again = parts.item("a cat")
    [hit] = parts.submit([again], return_tasks=True)
    assert hit["status"] == "completed" and hit["cache_hit"] is True
    assert hit["task"]["output"] == {"url": "x"} and hit["task"]["provider"] == "p1"
    assert again["id"] not in parts.state.active and not parts.state.changes  # nothing left to write
    stored = parts.state.store.get(again["id"])
    assert stored is not None and stored.status is TaskStatus.COMPLETED and stored.cache_hit
    assert stored.cost == 0.0 and stored.output == {"url": "x"} and stored.attempts == 0
    assert parts.finished == [(first["id"], TaskStatus.COMPLETED), (again["id"], TaskStatus.COMPLETED)]


def test_an_idempotency_key_replays_and_conflicts(parts: Parts) -> None:
    [first] = parts.submit([parts.item("a dog", idempotency_key="k1")])
    [replay] = parts.submit([parts.item("a dog", idempotency_key="k1")])
    assert replay["existing"] and replay["id"] == first["id"]
    with pytest.raises(IdempotencyConflict):
        parts.submit([parts.item("a bird", idempotency_key="k1")])
    # twice in one chunk: the second is the first one's replay
    a, b = parts.submit([parts.item("a fox", idempotency_key="k2"), parts.item("a fox", idempotency_key="k2")])
    assert not a["existing"] and b["existing"] and b["id"] == a["id"]


def test_the_worker_rechecks_a_stored_input() -> None:
    ok = Assignment("t1", 1, "image_generation", {"prompt": "x"})
    assert recheck_at_worker(ok).model_dump()["prompt"] == "x"
    with pytest.raises(InvalidInput, match="stored input is not valid"):
        recheck_at_worker(Assignment("t2", 1, "image_generation", {"prompt": "x", "n": 99}))
    with pytest.raises(InvalidInput):
        recheck_at_worker(Assignment("t3", 1, "no_such_type", {}))


def test_a_pipelines_end_wakes_whoever_waits_for_it(parts: Parts) -> None:
    # the runner writes a pipeline's end in a transaction of its own, after its last step's end
    # was committed; a waiter woken by that step's commit reads the pipeline still running, and
    # must be woken again by the end itself (not left to its next poll)
    runner = PipelineRunner(parts.state, parts.intake,
                            Operations(parts.state, parts.outcomes, parts.dispatcher, parts.remote_jobs), parts.writer)
    spec = parts.service.pipelines.validate({"steps": [step("only", "image_generation", prompt="a fox")]})
    row = pipeline_row(spec, user_id="ana")

    async def run() -> None:
        parts.writer.start()
        await runner.create(row)
        await parts.writer.flush()
        act = next(iter(parts.state.active.values()))
        act.status, act.attempts = TaskStatus.PROCESSING, 1
        parts.outcomes.finish(act, TaskStatus.COMPLETED, output={"images": []})
        await parts.writer.flush()  # the step's end is committed: waiters wake and see a running pipeline
        seen = parts.writer.version
        waiter = asyncio.ensure_future(parts.writer.wait_version(seen, 30))
        await asyncio.sleep(0)
        await runner.advance(row["id"])  # the runner's turn: the pipeline ends
        assert await asyncio.wait_for(waiter, 5) > seen

    asyncio.run(run())
    store = parts.service.store
    assert get_pipeline(store.engine, row["id"], instance=store.instance)["status"] == PipelineStatus.COMPLETED.value


def test_written_waits_for_its_own_flush_not_a_commit_elsewhere(parts: Parts) -> None:
    # report() and record_remote_job() answer only once their change is committed: a row committed
    # outside the batch (a submitted chunk, a pipeline's end) bumps the version, not that promise
    [answer] = parts.submit([parts.item("a heron")])

    async def run() -> None:
        parts.writer.start()
        parts.state.change(answer["id"], progress=0.5)
        waiter = asyncio.ensure_future(parts.writer.written())
        await asyncio.sleep(0)
        parts.writer.committed()
        await asyncio.sleep(0.05)
        assert not waiter.done()
        await parts.writer.flush()
        await asyncio.wait_for(waiter, 5)

    asyncio.run(run())
    assert parts.service.tasks.get(answer["id"]).progress == 0.5
