"""Store outages: a Scheduler restarted while PostgreSQL is unreachable or the SQLite disk is full
comes up degraded (and says so), then finishes every task once the store is back; a stalled
PostgreSQL (accepting, answering nothing) does not freeze the Scheduler's event loop. The store
sits behind a loopback TCP proxy the test cuts, stalls and restores (``loopback.TcpProxy``); the
full disk is a small tmpfs."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import ray
from fault_driver import items
from full_disk import fill, small_disk
from loopback import TcpProxy
from test_faults import wait_for

import videoai_ray as vai
from videoai_ray.errors import StoreUnavailable
from videoai_ray.providers.testing import FixedLatencyProvider
from videoai_ray.scheduler import NAMESPACE, kill_scheduler, scheduler_name

pytestmark = pytest.mark.slow


def scheduler(settings: vai.Settings):
    return ray.get_actor(scheduler_name(settings), namespace=NAMESPACE)


def health(settings: vai.Settings, timeout: float = 20.0) -> dict:
    return dict(ray.get(scheduler(settings).health.remote(), timeout=timeout))


def each_ran_once(done: Path, ids: list[str]) -> None:
    per_task = [len(list(done.glob(f"{tid}.*.done"))) for tid in ids]
    assert per_task == [1] * len(ids), f"{sum(n != 1 for n in per_task)} tasks did not complete exactly once"


@pytest.fixture
def proxy() -> Iterator[TcpProxy]:
    p = TcpProxy(("127.0.0.1", 5432))
    p.start()
    yield p
    p.cut()


def test_a_scheduler_restarted_while_postgresql_is_unreachable_comes_back_with_every_task(
        ray_session, pg_schema, proxy, tmp_path):
    done = tmp_path / "done"
    done.mkdir()
    settings = vai.Settings(home=tmp_path / "home", instance="t-outage-pg", prefetch=0,
                            database_url=proxy.url(pg_schema), store_connect_timeout=2.0,
                            store_statement_timeout=5.0, store_pool_timeout=2.0, store_retry_max=1.0)
    kill_scheduler(settings)
    client = vai.connect(settings=settings, providers=[FixedLatencyProvider(0.3, 2, name="steady", log_dir=done)])
    try:
        batch = client.batch(items("outage", 16, "steady"))
        late = client.service.prepare("image_generation", {"prompt": "during", "provider": "steady",
                                                           "use_cache": False}, user_id="local")
        wait_for(lambda: batch.counts().get("completed", 0) >= 2, timeout=60)
        proxy.cut()  # PostgreSQL is gone: a submit now is refused clearly, not as RayTaskError(OperationalError)
        with pytest.raises(StoreUnavailable, match="cannot be reached"):
            client.service.submit([late])
        ray.kill(scheduler(settings), no_restart=False)  # ...and Ray restarts the Scheduler now

        # it comes up (a constructor that raised would leave it dead for good), degraded, and says so
        ready = ray.get(scheduler(settings).ready.remote(), timeout=60)
        assert ready["degraded"] and ready["store"] != "ok"
        wait_for(lambda: health(settings)["store"]["error"] is not None, timeout=60)
        seen = health(settings)
        assert seen["status"] == "degraded" and not seen["recovered"]
        assert seen["store"]["status"] == "unreachable" and seen["store"]["down_since"]
        with pytest.raises(StoreUnavailable, match="has not reached its task store"):
            client.service.submit([late])  # refused clearly, not a RayTaskError(OperationalError)
        with pytest.raises(StoreUnavailable):  # through the SDK: the clear error, whoever met the outage
            client.images.generate(prompt="during", provider="steady", use_cache=False)

        proxy.restore()  # PostgreSQL is back: it connects, recovers and finishes everything
        assert batch.wait(timeout=120) == {"completed": 16}
        each_ran_once(done, batch.ids)
        after = health(settings)
        assert after["status"] == "ok" and after["recovered"] and after["store"]["status"] == "ok"
    finally:
        kill_scheduler(settings)


def test_a_stalled_postgresql_does_not_freeze_the_scheduler(ray_session, pg_schema, proxy, tmp_path):
    done = tmp_path / "done"
    done.mkdir()
    settings = vai.Settings(home=tmp_path / "home", instance="t-outage-stall", prefetch=0,
                            database_url=proxy.url(pg_schema), store_connect_timeout=2.0,
                            store_statement_timeout=2.0, store_pool_timeout=2.0)
    kill_scheduler(settings)
    client = vai.connect(settings=settings, providers=[FixedLatencyProvider(0.2, 4, name="steady", log_dir=done)])
    try:
        batch = client.batch(items("stall", 24, "steady"))
        wait_for(lambda: batch.counts().get("completed", 0) >= 2, timeout=60)
        proxy.stall()  # accepts, forwards nothing: results keep coming in and must be written
        handle = scheduler(settings)
        stalled_at = time.monotonic()
        seen_stalled = False
        while time.monotonic() - stalled_at < 10.0:  # well past the 2 s statement timeout
            ready = ray.get(handle.ready.remote(), timeout=15)  # answers: the loop is not blocked
            seen_stalled = seen_stalled or ready["store"] == "stalled"
            time.sleep(0.5)
        assert seen_stalled, "health never said the store stalled"
        # still out (a new connection meanwhile timed out: "unreachable" says so too)
        assert health(settings)["store"]["status"] in ("stalled", "unreachable")
        proxy.restore()
        assert batch.wait(timeout=120) == {"completed": 24}
        each_ran_once(done, batch.ids)
        wait_for(lambda: health(settings)["store"]["status"] == "ok", timeout=60)
    finally:
        kill_scheduler(settings)


def test_a_scheduler_restarted_on_a_full_disk_comes_back_with_every_task(ray_session, tmp_path):
    done = tmp_path / "done"
    done.mkdir()
    with small_disk(tmp_path / "disk") as disk:
        settings = vai.Settings(home=disk / "home", instance="t-outage-disk", prefetch=0, store_retry_max=1.0)
        kill_scheduler(settings)
        client = vai.connect(settings=settings,
                             providers=[FixedLatencyProvider(0.3, 2, name="steady", log_dir=done)])
        try:
            batch = client.batch(items("full", 16, "steady"))
            wait_for(lambda: batch.counts().get("completed", 0) >= 2, timeout=60)
            # the disk cache must be made anew (a cleaned-up node), and the disk is full...
            shutil.rmtree(settings.home / "cache", ignore_errors=True)
            filler = fill(disk)
            ray.kill(scheduler(settings), no_restart=False)  # ...when Ray restarts the Scheduler
            ray.get(scheduler(settings).ready.remote(), timeout=60)  # it comes up (reads may still work)
            # a write that needs space is refused clearly: DiskFull, or StoreUnavailable naming
            # disk_full while the Scheduler could not even start reading
            big = [{"task_type": "image_generation",
                    "input_data": {"prompt": f"{i} " + "x" * 3900, "provider": "steady", "use_cache": False}}
                   for i in range(200)]
            with pytest.raises(StoreUnavailable, match="disk"):
                client.batch(big)
            filler.unlink()  # space is back
            assert batch.wait(timeout=120) == {"completed": 16}
            each_ran_once(done, batch.ids)
        finally:
            kill_scheduler(settings)
