"""The one wait loop (``version_wait``): each read follows a committed change or a slice, the
sleeps never pass the deadline, and a wait ends at once when what it read is final. The clock
and the Scheduler's version are fakes: no Ray, no real sleeping."""

import asyncio
from dataclasses import dataclass

import pytest

from videoai_ray import version_wait
from videoai_ray.version_wait import WAIT_SLICE, AsyncVersionWait, VersionWait


@dataclass
class Item:
    done: bool


class FakeScheduler:
    """A change version that never moves: each wait on it sleeps its whole timeout (on the fake
    clock)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = 1000.0
        self.calls: list[tuple[int, float]] = []
        monkeypatch.setattr(version_wait.time, "monotonic", lambda: self.now)

    def version(self, since: int, timeout: float) -> int:
        self.calls.append((since, timeout))
        self.now += timeout
        return 7

    async def version_async(self, since: int, timeout: float) -> int:
        return self.version(since, timeout)


def test_a_wait_sleeps_in_slices_up_to_its_deadline_then_returns_what_it_read(monkeypatch):
    sched = FakeScheduler(monkeypatch)
    reads = []
    item = VersionWait(sched.version, 12.0).until_done(lambda: reads.append(1) or Item(False))
    assert item == Item(False)
    # the first call only learns the version; then slices of WAIT_SLICE, the last one cut short
    assert sched.calls == [(0, 0), (7, WAIT_SLICE), (7, WAIT_SLICE), (7, 12.0 - 2 * WAIT_SLICE)]
    assert len(reads) == 4  # one read before each sleep, and one after the last


def test_a_wait_ends_at_the_first_read_that_is_done(monkeypatch):
    sched = FakeScheduler(monkeypatch)
    states = iter([Item(False), Item(False), Item(True), Item(False)])
    assert VersionWait(sched.version, None).until_done(lambda: next(states)) == Item(True)
    assert sched.calls == [(0, 0), (7, WAIT_SLICE), (7, WAIT_SLICE)]


def test_a_wait_with_no_time_left_reads_once_and_does_not_sleep(monkeypatch):
    sched = FakeScheduler(monkeypatch)
    wait = VersionWait(sched.version, 0.0)
    assert wait.until_done(lambda: Item(False)) == Item(False)
    assert not wait.sleep()
    assert sched.calls == [(0, 0)]


def test_the_async_wait_is_the_same_loop(monkeypatch):
    sched = FakeScheduler(monkeypatch)
    states = iter([Item(False), Item(True)])

    async def read() -> Item:
        return next(states)

    async def run() -> Item:
        wait = await AsyncVersionWait.start(sched.version_async, 3.0)
        return await wait.until_done(read)

    assert asyncio.run(run()) == Item(True)
    assert sched.calls == [(0, 0), (7, 3.0)]
