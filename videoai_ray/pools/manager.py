"""The pools of the model providers, kept by the Scheduler's dispatcher.

Attempts the Scheduler dispatches to a ``ModelProvider`` wait here in the pool's queue; they are
gathered into batches (up to ``max_batch_size`` requests with equal ``batch_key``, for up to
``batch_wait_s``) and sent to an actor with room. The pool starts actors while attempts wait (up
to ``pool_max`` and what the cluster can place), stops those idle for ``pool_idle_s`` down to
``pool_min``, and when an actor dies, only the attempts it held are reported lost (they run again
through the Scheduler's retry path). Actors are owned by the Scheduler: they end with it, and a
restarted Scheduler queues their attempts again from the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .. import metrics
from ..protocol import Assignment, AttemptResult
from ..providers.model import ModelProvider
from ..providers.resources import needs
from .autoscale import ResourceRequests

if TYPE_CHECKING:
    from ..scheduler.dispatch import Dispatcher

log = logging.getLogger("videoai.executor")

_TICK_SECONDS = 1.0
#: ticks between two readings of the autoscaler's node types
_NODE_TYPES_TICKS = 30


@dataclass
class Member:
    """One actor of a pool, as the manager sees it."""

    id: str
    handle: Any
    ready: bool = False
    busy: int = 0  #: batches sent and not yet answered
    last_used: float = field(default_factory=time.monotonic)
    info: dict[str, Any] = field(default_factory=dict)
    batches: int = 0
    items: int = 0
    #: task ids of the attempts it holds now
    holding: set[str] = field(default_factory=set)
    #: catalogue model keys it was last seen holding, or was sent (the pool prefers it for them)
    models: list[str] = field(default_factory=list)
    #: the catalogue models it fetches or loads now, as it last said (``ModelActor.loading``)
    loading: list[dict[str, Any]] = field(default_factory=list)


class Pool:
    """The actors and the waiting attempts of one model provider."""

    def __init__(self, manager: PoolManager, provider: ModelProvider) -> None:
        self.m = manager
        self.provider = provider
        self.pending: deque[Assignment] = deque()
        self.first_wait: float | None = None  # when the oldest waiting attempt arrived
        self.members: dict[str, Member] = {}
        self.started = 0
        self.replaced = 0
        self.batches = 0
        self.items = 0
        self.largest_batch = 0
        #: replaced or unregistered: finishes what its actors hold, then stops them
        self.retired = False
        self._timer: asyncio.TimerHandle | None = None

    # -- work ------------------------------------------------------------------------------

    def submit(self, assignments: list[Assignment]) -> None:
        if not self.pending:
            self.first_wait = time.monotonic()
        self.pending.extend(assignments)
        self.pump()

    def pump(self) -> None:
        """Send batches to actors with room; start actors while attempts still wait."""
        p = self.provider
        now = time.monotonic()
        while self.pending:
            member = self._free_member(self.m.model_key(self.pending[0]))
            if member is None:
                break
            waited = now - (self.first_wait or now)
            if len(self.pending) < p.max_batch_size and waited < p.batch_wait_s and member.busy == 0:
                self._arm(p.batch_wait_s - waited)  # gather: more attempts may come
                break
            self._send(member, self._take_batch())
        if not self.retired:
            self._grow()

    def _arm(self, delay: float) -> None:
        if self._timer is None:
            def fire() -> None:
                self._timer = None
                self.pump()

            self._timer = asyncio.get_running_loop().call_later(max(0.0, delay), fire)

    def _free_member(self, model: str | None = None) -> Member | None:
        """An actor with room; for a catalogue model, one that holds it first (model affinity)."""
        ready = [m for m in self.members.values() if m.ready and m.busy < self.provider.batches_per_actor]
        return min(ready, key=lambda m: (model is not None and model not in m.models, m.busy, m.last_used)) \
            if ready else None

    def _take_batch(self) -> list[Assignment]:
        p = self.provider
        key = self.m.key_of(p, self.pending[0])
        batch: list[Assignment] = []
        rest: deque[Assignment] = deque()
        while self.pending:
            a = self.pending.popleft()
            if len(batch) < p.max_batch_size and self.m.key_of(p, a) == key:
                batch.append(a)
            else:
                rest.append(a)
        self.pending = rest
        self.first_wait = time.monotonic() if rest else None
        return batch

    def _send(self, member: Member, batch: list[Assignment]) -> None:
        member.busy += 1
        member.holding.update(a.task_id for a in batch)
        self.batches += 1
        self.items += len(batch)
        self.largest_batch = max(self.largest_batch, len(batch))
        member.batches += 1
        member.items += len(batch)
        metrics.batch_size(self.provider.name, len(batch))
        model = self.m.model_of(batch[0])
        cold = model is not None and self.m.model_key(batch[0]) not in member.models
        if cold:
            member.models.append(str(self.m.model_key(batch[0])))
        asyncio.get_running_loop().create_task(self._run(member, batch, model, cold))

    async def _run(self, member: Member, batch: list[Assignment], model: dict[str, Any] | None = None,
                   cold: bool = False) -> None:
        try:
            results: list[AttemptResult] = await member.handle.run_batch.remote(batch, model)
        except Exception as exc:  # the actor died (killed, out of memory, node lost)
            log.warning("pool actor %s of %s died with %d attempts: %s", member.id, self.provider.name,
                        len(batch), exc)
            self._lost(member)
            return
        member.busy -= 1
        member.last_used = time.monotonic()
        member.holding.difference_update(a.task_id for a in batch)
        for r in results:
            self.m.d.on_result(r)
        if cold:  # what it holds now (a load may have dropped another model); shown in the pool's listing
            asyncio.get_running_loop().create_task(self._refresh(member))
        if self.retired and member.busy == 0:
            self.members.pop(member.id, None)
            self.m.d.ray.kill(member.handle, quiet=True)
        self.pump()
        self.m.state.kick()

    async def _refresh(self, member: Member) -> None:
        with contextlib.suppress(Exception):  # the actor is gone: _run/_lost handle that
            member.info = await member.handle.info.remote()
            member.models = [str(m["key"]) for m in member.info.get("models", [])]

    def _lost(self, member: Member) -> None:
        """Only the attempts the dead actor held are lost; the pool replaces it if needed."""
        if self.members.pop(member.id, None) is None:
            return
        self.replaced += 1
        for tid in list(member.holding):
            item = self.m.d.running.get(tid)
            if item is not None:
                self.m.d.on_result(AttemptResult(tid, item[0], False, cancelled=True, error_code="worker_lost"))
        member.holding.clear()
        self.m.d.ray.kill(member.handle, quiet=True)
        self.pump()
        self.m.state.kick()

    def cancel(self, task_id: str) -> bool:
        for a in self.pending:
            if a.task_id == task_id:
                self.pending.remove(a)
                self.m.d.on_result(AttemptResult(a.task_id, a.attempt, False, cancelled=True, error_code="cancelled"))
                return True
        for m in self.members.values():
            if task_id in m.holding:
                m.handle.cancel.remote(task_id)
                return True
        return False

    # -- size ------------------------------------------------------------------------------

    def limit(self) -> int:
        """Actors this pool may have: ``pool_max``, bounded by what the cluster can place."""
        cap = self.m.state.registry.cap(self.provider.name)
        per_actor = self.provider.max_batch_size * self.provider.batches_per_actor
        return max(0, min(self.provider.pool_max, cap // per_actor if per_actor else 0))

    def _grow(self) -> None:
        loading = sum(1 for m in self.members.values() if not m.ready)
        want = len(self.members) < self.provider.pool_min or (
            self.pending and len(self.pending) > loading * self.provider.max_batch_size
            and (self._free_member() is None))
        while want and len(self.members) < self.limit():
            self._start_member()
            loading += 1
            want = len(self.members) < self.provider.pool_min or (
                len(self.pending) > loading * self.provider.max_batch_size)

    def _start_member(self) -> None:
        member_id = uuid.uuid4().hex[:8]
        handle = self.m.d.ray.start_pool_member(self.provider, self.m.state.settings, self.m.state.sink, member_id)
        member = self.members[member_id] = Member(member_id, handle)
        self.started += 1
        asyncio.get_running_loop().create_task(self._await_ready(member))

    async def _await_ready(self, member: Member) -> None:
        try:
            member.info = await member.handle.info.remote()
        except Exception as exc:  # load() failed, or the actor could not start
            log.error("pool actor %s of %s failed to start: %s", member.id, self.provider.name, exc)
            self.members.pop(member.id, None)
            self.m.fail_pending(self, f"{self.provider.name}: the model could not be loaded: {exc}")
            return
        member.ready = True
        member.last_used = time.monotonic()
        self.pump()

    def starting(self) -> list[Member]:
        """Actors started and not yet ready: waiting for a node (the autoscaler's), or loading."""
        return [m for m in self.members.values() if not m.ready]

    def tick(self, now: float) -> None:
        """Stop actors idle past ``pool_idle_s`` (down to ``pool_min``); keep ``pool_min`` up."""
        idle = sorted((m for m in self.members.values() if m.ready and m.busy == 0
                       and now - m.last_used >= self.provider.pool_idle_s), key=lambda m: m.last_used)
        for m in idle:
            if len(self.members) <= self.provider.pool_min or self.pending:
                break
            self.members.pop(m.id)
            self.m.d.ray.kill(m.handle, quiet=True)
        self._grow()

    def retire(self) -> None:
        """Stop idle actors now and busy ones after their batch; waiting attempts run again."""
        self.retired = True
        waiting, self.pending = list(self.pending), deque()
        for a in waiting:
            self.m.d.on_result(AttemptResult(a.task_id, a.attempt, False, cancelled=True, error_code="worker_lost"))
        for m in list(self.members.values()):
            if m.busy == 0:
                self.members.pop(m.id)
                self.m.d.ray.kill(m.handle, quiet=True)

    def describe(self) -> dict[str, Any]:
        p = self.provider
        return {
            "size": len(self.members), "ready": sum(1 for m in self.members.values() if m.ready),
            "starting": len(self.starting()),
            "pool_min": p.pool_min, "pool_max": p.pool_max, "limit": self.limit(),
            "max_batch_size": p.max_batch_size, "waiting": len(self.pending),
            "started": self.started, "replaced": self.replaced, "batches": self.batches,
            "items": self.items, "largest_batch": self.largest_batch,
            "mean_batch": round(self.items / self.batches, 3) if self.batches else None,
            "loads": sum(int(m.info.get("loads", 0)) for m in self.members.values()),
            "actors": [{"id": m.id, "ready": m.ready, "busy": m.busy, "batches": m.batches, "items": m.items,
                        **m.info, "loading": m.loading} for m in self.members.values()],
            "models": self.models(),
        }

    def models(self) -> dict[str, list[dict[str, Any]]]:
        """Per catalogue model, where it is: on each actor, ``loaded`` or what its load does now
        (``waiting`` for another download of the node, ``downloading`` with bytes done and total,
        ``verifying``, ``loading``)."""
        out: dict[str, list[dict[str, Any]]] = {}
        for m in self.members.values():
            busy = {s["model"] for s in m.loading}
            for s in m.loading:
                out.setdefault(s["model"], []).append({"actor": m.id, **s})
            for held in m.info.get("models", []):
                if held["name"] not in busy:
                    out.setdefault(held["name"], []).append({"actor": m.id, "state": "loaded",
                                                             "revision": held["revision"], "bytes": held["bytes"]})
        return out


class PoolManager:
    """Every model provider's pool, inside the Scheduler process."""

    def __init__(self, dispatcher: Dispatcher) -> None:
        self.d = dispatcher
        self.state = dispatcher.state
        self.pools: dict[str, Pool] = {}
        #: pools replaced or unregistered whose actors still finish a batch
        self.retired: list[Pool] = []
        #: what the pools ask of Ray's autoscaler (one request for them all)
        self.requests = ResourceRequests()

    def handle(self) -> Any:
        return self.d.handle()

    def key_of(self, provider: ModelProvider, a: Assignment) -> Any:
        try:
            return self.model_key(a), provider.batch_key(self.state.active[a.task_id].request)
        except Exception:  # the task is gone (cancelled) or the key cannot be made: a batch of its own
            return ("alone", a.task_id)

    def model_of(self, a: Assignment) -> dict[str, Any] | None:
        """The catalogue entry the attempt's request names (``None``: the provider's own model)."""
        act = self.state.active.get(a.task_id)
        return act.options.get("model") if act is not None else None

    def model_key(self, a: Assignment) -> str | None:
        from ..catalogue.spec import ModelSpec

        model = self.model_of(a)
        return ModelSpec.from_dict(model).key if model else None

    def set_loading(self, name: str, member_id: str, loading: list[dict[str, Any]]) -> None:
        """What a pool actor says it fetches or loads now (shown in its pool's status)."""
        for pool in [p for p in (self.pools.get(name), *self.retired) if p is not None]:
            member = pool.members.get(member_id)
            if member is not None:
                member.loading = loading
                if not loading:  # a load ended: what it holds now
                    asyncio.get_running_loop().create_task(pool._refresh(member))
                return

    def submit(self, name: str, provider: ModelProvider, assignments: list[Assignment]) -> None:
        pool = self.pools.get(name)
        if pool is None or pool.provider is not provider:
            if pool is not None:
                pool.retire()
            pool = self.pools[name] = Pool(self, provider)
        pool.submit(assignments)

    def cancel(self, task_id: str, name: str) -> bool:
        pool = self.pools.get(name)
        return pool is not None and pool.cancel(task_id)

    def fail_pending(self, pool: Pool, message: str) -> None:
        """The pool cannot start an actor: its waiting attempts fail as retryable, so the policy
        moves them to another provider of their type when there is one (unless pinned), or tries
        this one again after the retry delay (a load can fail for a passing reason: memory, a node
        lost) until ``max_retries`` ends them with the load's error."""
        if pool.members:
            return  # other actors still serve them
        waiting, pool.pending = list(pool.pending), deque()
        for a in waiting:
            self.d.on_result(AttemptResult(a.task_id, a.attempt, False, error_code="provider_error",
                                           error_message=message[:2000], retryable=True))
        self.state.kick()

    def forget(self, name: str) -> None:
        pool = self.pools.pop(name, None)
        if pool is not None:
            pool.retire()
            self.retired.append(pool)

    def keep_minimum(self) -> None:
        """Start the pools whose provider keeps actors even before any work (``pool_min > 0``)."""
        for name in self.state.registry.names():
            p = self.state.registry.get(name)
            if isinstance(p, ModelProvider) and p.pool_min > 0 and name not in self.pools \
                    and self.state.registry.reason(name) is None:
                self.pools[name] = Pool(self, p)

    def describe(self) -> dict[str, dict[str, Any]]:
        return {name: pool.describe() for name, pool in self.pools.items()}

    def demand(self) -> list[dict[str, float]]:
        """One bundle per actor that is starting: what the autoscaler is asked for."""
        return [needs(pool.provider) for pool in [*self.pools.values(), *self.retired] for _ in pool.starting()]

    async def ask_autoscaler(self) -> None:
        """Request the starting actors' resources, or clear the request when none is starting."""
        grows, demand = bool(self.state.registry.node_types), self.demand()
        if grows or self.requests.bundles:  # else nothing to ask and nothing to clear: no call, no thread
            await asyncio.to_thread(self.requests.update, demand, grows=grows)

    async def loop(self) -> None:
        """Pool sizes (idle actors stop, ``pool_min`` kept) and the cluster's nodes for placement."""
        from ..providers.resources import autoscaler_node_types, cluster_nodes

        ticks = 0
        while True:
            await asyncio.sleep(_TICK_SECONDS)
            ticks += 1
            try:
                if ticks % _NODE_TYPES_TICKS == 0:
                    self.state.registry.set_node_types(await asyncio.to_thread(
                        autoscaler_node_types, self.state.settings.autoscaling_config))
                self.state.registry.set_nodes(await asyncio.to_thread(cluster_nodes))
                self.retired = [p for p in self.retired if p.members]
                self.keep_minimum()
                now = time.monotonic()
                for name, pool in list(self.pools.items()):
                    pool.tick(now)
                    metrics.pool_size(name, len(pool.members))
                await self.ask_autoscaler()
            except Exception:
                log.error("pool upkeep failed", exc_info=True)


__all__ = ["Member", "Pool", "PoolManager"]
