"""``videoai bench fairness``: fair sharing between users, measured against strict FIFO within a
priority (``fair_share=False``, the order before fair sharing) in the same run.

* slots to serve a light user: a heavy user has ``heavy`` tasks queued on a capped provider
  (fixed latency, cap 4); a light user then submits ``light`` tasks of the same priority. The
  measure is how many attempts start, counting from the light user's submission, until the last
  of the light user's tasks has started (the ideal with equal weights is ``2 * light``);
* the heavy user's throughput alone (no-op tasks, scheduler-bound, nobody else waiting) with fair
  sharing on, as a ratio to it off; the median of the rounds;
* two tenants of very different sizes at one priority: a big tenant's ``big_users`` users have
  ``heavy`` tasks queued together, then the one user of a small tenant submits ``light``; the
  same slots are counted as above (tenants take turns first, so the ideal is ``2 * light``),
  against the same users without tenants, where the small user is one of ``big_users + 1``.
"""


from __future__ import annotations

import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ray
from sqlalchemy import select

from videoai_ray.client import Client, connect
from videoai_ray.providers.testing import FixedLatencyProvider, NoopProvider
from videoai_ray.scheduler import kill_scheduler
from videoai_ray.settings import Settings
from videoai_ray.store.schema import tasks

from .core import videoai_rate

CAPPED = "fair-capped"


@dataclass
class SlotsResult:
    """One round of the light-user measure."""

    #: attempts started from the light user's submission until its last task started
    slots: int
    #: of those, the heavy user's
    heavy_between: int
    #: seconds from the light user's submission until its last task started
    seconds: float


def _items(n: int, provider: str, tag: str) -> list[dict[str, Any]]:
    body = {"provider": provider, "use_cache": False, "priority": "medium"}
    return [{"task_type": "image_generation", "input_data": {"prompt": f"{tag} {i}", **body}} for i in range(n)]


def light_user_slots(heavy: Client | list[Client], light: Client, n_heavy: int, n_light: int,
                     timeout: float = 600.0) -> SlotsResult:
    """Queue ``n_heavy`` tasks of ``heavy`` on the capped provider (shared out among several heavy
    users when it is a list), then ``n_light`` of ``light``; count the attempts that start until
    every one of ``light``'s has started. The heavy users' tasks still waiting are cancelled
    afterwards."""
    heavies = heavy if isinstance(heavy, list) else [heavy]
    share = -(-n_heavy // len(heavies))
    heavy_batches = [h.batch(_items(share, CAPPED, f"heavy {i}")) for i, h in enumerate(heavies)]
    light_batch = light.batch(_items(n_light, CAPPED, "light"))
    light_ids = set(light_batch.ids)
    engine = light.service.store.engine
    deadline = time.monotonic() + timeout
    while True:
        ray.get(light.scheduler.flush_now.remote())
        with engine.connect() as conn:
            rows = conn.execute(select(tasks.c.created_at, tasks.c.started_at)
                                .where(tasks.c.id.in_(light_ids))).all()
        if all(r.started_at is not None for r in rows):
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"the light user's tasks did not all start within {timeout:.0f} s")
        time.sleep(0.05)
    since = min(r.created_at for r in rows)
    last = max(r.started_at for r in rows)
    heavy_ids = {h.user_id for h in heavies}
    with engine.connect() as conn:
        started = conn.execute(select(tasks.c.user_id).where(
            tasks.c.started_at >= since, tasks.c.started_at <= last,
            tasks.c.user_id.in_([*heavy_ids, light.user_id]))).all()
    for batch in heavy_batches:
        batch.cancel()
    for batch in heavy_batches:
        batch.wait(timeout=timeout)
    light_batch.wait(timeout=timeout)
    return SlotsResult(len(started), sum(1 for r in started if r.user_id in heavy_ids),
                       (last - since).total_seconds())


def tenant_slots(settings: Settings, n_heavy: int, n_light: int, big_users: int, tenants: bool,
                 timeout: float = 600.0) -> SlotsResult:
    """``light_user_slots`` with ``big_users`` heavy users sharing ``n_heavy`` tasks: of the tenant
    ``big`` and the light user of the tenant ``small`` (owner ids ``big/u0``, ``small/u0``), or,
    with ``tenants`` off, the same users without a tenant (``big-u0``, ``small-u0``). ``heavy_between``
    counts all of the big users' attempts."""
    sep = "/" if tenants else "-"
    run = uuid.uuid4().hex[:6]  # new users each round: no turn or deficit left from an earlier one
    heavies = [connect(settings=settings, user_id=f"big{sep}u{i}-{run}") for i in range(big_users)]
    light = connect(settings=settings, user_id=f"small{sep}u0-{run}")
    return light_user_slots(heavies, light, n_heavy, n_light, timeout)


def heavy_and_light(settings: Settings, latency: float = 0.01, cap: int = 4) -> tuple[Client, Client]:
    """A fresh Scheduler for ``settings`` with the no-op and the capped provider, and a client
    for each of the two users."""
    kill_scheduler(settings)
    providers = [NoopProvider(), FixedLatencyProvider(latency=latency, max_concurrency=cap, name=CAPPED)]
    return (connect(settings=settings, providers=providers, user_id="heavy"),
            connect(settings=settings, user_id="light"))


def run_fairness_benchmarks(n_heavy: int = 5000, n_light: int = 10, rounds: int = 3, latency: float = 0.01,
                            cap: int = 4, n_alone: int = 5000, big_users: int = 20) -> list[dict[str, Any]]:
    """Rows ``{"benchmark", "value", "unit", "baseline", "ratio", "target"}``."""
    slots: dict[bool, list[SlotsResult]] = {False: [], True: []}
    by_tenant: dict[bool, list[SlotsResult]] = {False: [], True: []}
    alone: dict[bool, list[float]] = {False: [], True: []}
    clients: dict[bool, tuple[Client, Client]] = {}
    try:
        for fair in (False, True):
            settings = Settings(home=Path(tempfile.mkdtemp(prefix="videoai-bench-fair-")), cache_enabled=False,
                                instance=f"bench-fair-{'on' if fair else 'off'}", fair_share=fair)
            clients[fair] = heavy_and_light(settings, latency, cap)
            videoai_rate(clients[fair][0], min(n_alone, 1000), "noop")  # warm up: worker actors, code paths
            videoai_rate(clients[fair][0], cap, CAPPED)
        # the two Schedulers take turns round by round, so a change in the machine's load falls
        # on both; the throughput rounds come first, on stores of the same size
        for i in range(rounds):
            for fair in (i % 2 == 0, i % 2 == 1):
                alone[fair].append(videoai_rate(clients[fair][0], n_alone, "noop"))
        for i in range(rounds):
            for fair in (i % 2 == 0, i % 2 == 1):
                slots[fair].append(light_user_slots(*clients[fair], n_heavy, n_light))
        for i in range(rounds):  # on the fair Scheduler: with tenants, and the same users without
            for with_tenants in (i % 2 == 0, i % 2 == 1):
                by_tenant[with_tenants].append(
                    tenant_slots(clients[True][0].settings, n_heavy, n_light, big_users, with_tenants))
    finally:
        for heavy, _ in clients.values():
            kill_scheduler(heavy.settings)
    fifo, fair_slots = (statistics.median(r.slots for r in slots[f]) for f in (False, True))
    on, off = statistics.median(alone[True]), statistics.median(alone[False])
    label = (f"slots until a light user's {n_light} tasks all start, behind {n_heavy:,} of a heavy user "
             f"(cap {cap}, {latency * 1000:.0f} ms each, median of {rounds})")
    return [
        {"benchmark": label, "value": fair_slots, "unit": "slots", "baseline": f"FIFO: {fifo:g} slots",
         "ratio": round(fifo / fair_slots, 1) if fair_slots else None, "target": f"<= {4 * n_light} slots",
         "runs": {"fair": [r.slots for r in slots[True]], "fifo": [r.slots for r in slots[False]]},
         "seconds": {"fair": [round(r.seconds, 2) for r in slots[True]],
                     "fifo": [round(r.seconds, 2) for r in slots[False]]}},
        {"benchmark": f"heavy user alone, fair sharing on vs off ({n_alone:,} no-op tasks, median of {rounds})",
         "value": round(on, 1), "unit": "tasks/s", "baseline": f"off: {off:,.1f} tasks/s",
         "ratio": round(on / off, 2), "target": ">= 0.95",
         "runs": {"on": [round(x, 1) for x in alone[True]], "off": [round(x, 1) for x in alone[False]]}},
        tenant_row(by_tenant, n_heavy, n_light, big_users, cap, latency, rounds),
    ]


def tenant_row(by_tenant: dict[bool, list[SlotsResult]], n_heavy: int, n_light: int, big_users: int, cap: int,
               latency: float, rounds: int) -> dict[str, Any]:
    """The row of two tenants of very different sizes at one priority."""
    with_t, without = (statistics.median(r.slots for r in by_tenant[t]) for t in (True, False))
    return {
        "benchmark": (f"slots until a small tenant's one user's {n_light} tasks all start, behind {n_heavy:,} of a "
                      f"big tenant's {big_users} users (one priority, cap {cap}, {latency * 1000:.0f} ms each, "
                      f"median of {rounds})"),
        "value": with_t, "unit": "slots", "baseline": f"same users without tenants: {without:g} slots",
        "ratio": round(without / with_t, 1) if with_t else None, "target": f"<= {4 * n_light} slots",
        "runs": {"tenants": [r.slots for r in by_tenant[True]], "no tenants": [r.slots for r in by_tenant[False]]},
        "seconds": {"tenants": [round(r.seconds, 2) for r in by_tenant[True]],
                    "no tenants": [round(r.seconds, 2) for r in by_tenant[False]]}}
