"""A model provider's pool reaches Ray only through ``RayCalls``, as the rest of dispatch does: its
actors are started and stopped by the stand-in, so the pool's lifecycle runs without a cluster."""

from __future__ import annotations

import asyncio
from typing import Any

from test_dispatch_policies import FakeRay, Harness

from videoai_ray.attempts import Sink
from videoai_ray.models import TaskStatus
from videoai_ray.protocol import Assignment, AttemptResult
from videoai_ray.providers.model import ModelProvider
from videoai_ray.providers.testing import BatchSleepProvider
from videoai_ray.settings import Settings


class Remote:
    """An actor method's handle: ``.remote(...)``."""

    def __init__(self, fn: Any) -> None:
        self.remote = fn


class FakeMember:
    """A pool actor's handle: it is ready at once and completes every attempt of a batch."""

    def __init__(self, batches: list[list[str]]) -> None:
        async def info() -> dict[str, Any]:
            return {"models": []}

        async def run_batch(batch: list[Assignment], model: Any) -> list[AttemptResult]:
            batches.append([a.task_id for a in batch])
            return [AttemptResult(a.task_id, a.attempt, True, output={"ok": 1}, provider="pool") for a in batch]

        self.info = Remote(info)
        self.run_batch = Remote(run_batch)


class FakePoolRay(FakeRay):
    def __init__(self) -> None:
        super().__init__()
        self.members: list[tuple[str, FakeMember]] = []
        self.batches: list[list[str]] = []
        self.stopped: list[Any] = []

    def start_pool_member(self, provider: ModelProvider, settings: Settings, sink: Sink, member_id: str) -> Any:
        member = FakeMember(self.batches)
        self.members.append((provider.name, member))
        return member

    def kill(self, handle: Any, *, quiet: bool = False) -> None:
        self.stopped.append(handle)


def test_a_pool_starts_runs_and_stops_its_actors_through_ray_calls(settings: Settings) -> None:
    h = Harness(settings, BatchSleepProvider(name="pool", max_batch_size=4, pool_max=1, batch_wait_s=0.0))
    fake = h.dispatcher.ray = FakePoolRay()
    for tid in ("m1", "m2"):
        h.queue(tid)

    async def go() -> None:
        h.dispatcher.dispatch_once()
        for _ in range(10):  # the actor says it is ready, takes the batch, answers
            await asyncio.sleep(0)
        h.dispatcher.pools.forget("pool")  # the provider is unregistered: its idle actor stops

    asyncio.run(go())
    assert [name for name, _ in fake.members] == ["pool"]  # one actor, started by RayCalls
    assert fake.batches == [["m1", "m2"]]
    assert h.status("m1") is TaskStatus.COMPLETED and h.status("m2") is TaskStatus.COMPLETED
    assert fake.stopped == [fake.members[0][1]]  # stopped by RayCalls too
    assert fake.workers_started == [] and fake.cpu == []  # nothing else reached "Ray"
