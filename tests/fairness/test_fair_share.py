"""Fair sharing between users on a real Scheduler (local Ray, SQLite): a light user's tasks start
within a few slots behind a heavy user's queue (and, as a control, only after all of it with fair
sharing off), and a user at their cap of attempts in flight does not hold another user back."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from videoai_bench.fairness import heavy_and_light, light_user_slots
from videoai_ray.client import Client, connect
from videoai_ray.providers.testing import FixedLatencyProvider
from videoai_ray.scheduler import kill_scheduler
from videoai_ray.settings import Settings

HEAVY, LIGHT = 500, 10


def _settings(home: Path, instance: str, **kw: object) -> Settings:
    return Settings(home=home, instance=instance, cache_enabled=False, database_url=None, redis_url=None,
                    **kw)


@pytest.fixture(scope="module")
def fair(ray_session: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Client, Client]]:
    """A Scheduler with fair sharing on; the user ``capped`` may have one attempt in flight."""
    settings = _settings(tmp_path_factory.mktemp("fair"), "t-fair-on",
                         user_max_in_flight_by_user={"capped": 1})
    yield heavy_and_light(settings, latency=0.01, cap=4)
    kill_scheduler(settings)


@pytest.mark.slow
def test_a_light_user_starts_within_a_few_slots_behind_a_heavy_queue(fair: tuple[Client, Client]) -> None:
    heavy, light = fair
    result = light_user_slots(heavy, light, HEAVY, LIGHT, timeout=120)
    # equal weights alternate: 2 * LIGHT slots, plus the heavy attempts a worker already holds
    assert result.slots <= 3 * LIGHT, result
    assert result.heavy_between <= 2 * LIGHT, result


@pytest.mark.slow
def test_without_fair_sharing_the_light_user_waits_for_the_whole_queue(
        ray_session: None, tmp_path: Path) -> None:
    """The control: the same measure with strict FIFO within a priority (today's order before
    fair sharing) counts nearly the whole heavy queue, so the bound above means something."""
    settings = _settings(tmp_path / "home", "t-fair-off", fair_share=False)
    heavy, light = heavy_and_light(settings, latency=0.002, cap=8)
    try:
        result = light_user_slots(heavy, light, HEAVY, LIGHT, timeout=120)
    finally:
        kill_scheduler(settings)
    assert result.heavy_between >= HEAVY // 2, result


def test_a_user_at_their_cap_does_not_block_another_user(fair: tuple[Client, Client]) -> None:
    heavy, _ = fair
    capped = connect(settings=heavy.settings, user_id="capped")
    other = connect(settings=heavy.settings, user_id="other")
    heavy.register_provider(FixedLatencyProvider(0.5, 4, name="fair-slow"), replace=True)
    body = {"provider": "fair-slow", "use_cache": False}
    # the provider runs four at once; ``capped`` may use only one of them
    slow = [capped.images.generate(prompt=f"capped {i}", **body) for i in range(3)]
    deadline = time.monotonic() + 30
    while (share := capped.statistics().fair_share or {}).get("in_flight") != 1:
        assert time.monotonic() < deadline, share
        time.sleep(0.01)
    assert share["max_in_flight"] == 1 and share["at_cap"] is True and share["queued"] == 2
    quick = [other.images.generate(prompt=f"other {i}", **body) for i in range(3)]
    done = [f.result(timeout=60) for f in quick + slow]
    c_tasks = sorted(done[3:], key=lambda t: t.started_at)
    o_tasks = done[:3]
    for a, b in itertools.pairwise(c_tasks):
        assert b.started_at >= a.finished_at, "the capped user ran two attempts at once"
    # the other user's tasks did not wait for the capped user's queue to drain
    assert max(t.started_at for t in o_tasks) < c_tasks[1].started_at
    assert capped.statistics().fair_share == {
        "enabled": True, "queued": 0, "queued_by_priority": {"urgent": 0, "high": 0, "medium": 0, "low": 0},
        "in_flight": 0, "weight": 1.0, "max_in_flight": 1, "at_cap": False, "tenant": None}
