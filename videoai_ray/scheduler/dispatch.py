"""Dispatch: move queued tasks onto providers within their caps, and watch the attempts running.

I/O-bound providers get one ``ProviderWorker`` actor each and receive attempts in batches (one
actor call per dispatch round); CPU-bound providers get one Ray task per attempt.

Whether a task may start now is the dispatch policies' to say (fair sharing, rate limits,
budgets: ``policies.py``), asked in order at named points of a round; what Ray itself is asked
goes through one ``RayCalls`` object (``ray_calls.py``), so dispatch runs in a test without Ray.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import time
from collections import defaultdict
from functools import partial
from typing import TYPE_CHECKING, Any

import ray

from ..actor_names import worker_prefix
from ..clock import utcnow
from ..models import EventType, Strategy, TaskStatus
from ..pools import PoolManager
from ..protocol import Assignment, AttemptResult
from ..providers.model import ModelProvider
from .policies import DispatchPolicy, Policies, default_policies
from .ray_calls import RayCalls
from .remote_jobs import job_provider

if TYPE_CHECKING:
    from .outcomes import Outcomes
    from .state import Active, SchedulerState

log = logging.getLogger("videoai.scheduler")

_MONITOR_SECONDS = 1.0
#: how long a new Scheduler waits for a surviving worker's list of attempts before it stops that
#: worker and runs them again (nothing is dispatched until every worker is adopted)
_ADOPT_SECONDS = 60


class Dispatcher:
    """Owns the executors and the attempts in flight, and takes their results; the task state is
    the shared ``SchedulerState``, and a task's end or retry is ``Outcomes``'s. ``policies``
    (default: ``policies.default_policies``) and ``ray_calls`` (default: the real ``RayCalls``)
    are for tests."""

    def __init__(self, state: SchedulerState, outcomes: Outcomes, policies: list[DispatchPolicy] | None = None,
                 ray_calls: RayCalls | None = None) -> None:
        self.state = state
        self.outcomes = outcomes
        self.policies = Policies(default_policies(state) if policies is None else policies)
        self.ray = ray_calls or RayCalls()
        #: task id -> (attempt, provider name)
        self.running: dict[str, tuple[int, str]] = {}
        self.workers: dict[str, tuple[Any, str]] = {}
        self.cpu_refs: dict[str, Any] = {}
        #: task id -> the worker actor its I/O attempt was handed to
        self.placed: dict[str, Any] = {}
        #: when a provider that queued tasks wait for leaves its breaker cooldown (or the grace
        #: for registrations after a start ends)
        self.breaker_wake: float | None = None
        #: when a dispatch policy (a rate limiter) next lets a task it held start
        self.policy_wake: float | None = None
        #: the actor pools of model providers
        self.pools = PoolManager(self)

    # -- the loop ------------------------------------------------------------------------------

    async def loop(self) -> None:
        kick = self.state.wake
        assert kick is not None, "the actor makes the wake event before it starts the loops"
        while True:
            wake_times = [t for t in (self.state.delayed[0][0] if self.state.delayed else None, self.breaker_wake,
                                      self.policy_wake) if t]
            timeout = max(0.0, min(wake_times) - time.monotonic()) if wake_times else None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(kick.wait(), timeout)
            kick.clear()
            try:
                self.dispatch_once()
            except Exception:
                log.error("dispatch round failed", exc_info=True)

    def dispatch_once(self) -> None:
        s = self.state
        if s.recovering:
            return  # nothing starts before the previous incarnation's attempts are adopted
        now = time.monotonic()
        while s.delayed and s.delayed[0][0] <= now:
            _, tid = heapq.heappop(s.delayed)
            act = s.active.get(tid)
            if act is not None and act.status is TaskStatus.RETRYING:
                act.status = TaskStatus.PENDING
                s.enqueue(act, now)
        batches: dict[str, list[Assignment]] = defaultdict(list)
        self.breaker_wake = None
        self.policy_wake = None
        policies = self.policies
        skip = policies.passed_over()
        for q in s.queues.values():
            while True:
                entry = q.peek(now, skip)
                if entry is None:
                    break
                act = s.active.get(entry.task_id)
                if act is None or act.status is not TaskStatus.PENDING:
                    q.pop(now, skip)
                    continue
                pinned = act.options.get("provider")
                names = s.registry.candidates(act.type, act.request, pinned)
                if not names:
                    if pinned and pinned not in s.registry and now < s.provider_grace_until:
                        # a new Scheduler: the pinned provider's registration may be on its way
                        self.breaker_wake = min(s.provider_grace_until, self.breaker_wake or s.provider_grace_until)
                        break
                    q.pop(now, skip)
                    self.outcomes.finish(act, TaskStatus.FAILED,
                                         error=s.registry.explain_none(act.type, act.request, pinned))
                    continue
                names = job_provider(act, names)
                strategy = Strategy(act.options.get("strategy") or s.settings.strategy)
                name = s.registry.pick(names, strategy, act.request, now, act.excluded,
                                       admit=partial(policies.admits, act, now))
                if name is None:
                    reopen = s.registry.reopens_at(names, now)
                    if reopen is not None:
                        self.breaker_wake = min(reopen, self.breaker_wake or reopen)
                    wake = policies.held(act, names, now)
                    if wake is not None:
                        self.policy_wake = min(wake, self.policy_wake or wake)
                    break  # strict order: nothing behind this task may jump it on this route
                q.pop(now, skip)
                refused = policies.refuse(act, s.registry.get(name))
                if refused is not None:
                    self.outcomes.finish(act, TaskStatus.FAILED, error=refused)  # never started: nothing spent
                    continue
                batches[name].append(self._start(act, name, now))
        for name, assignments in batches.items():
            self._send(name, assignments)

    def _start(self, act: Active, name: str, now: float) -> Assignment:
        s = self.state
        act.status = TaskStatus.PROCESSING
        act.attempts += 1
        act.provider = name
        act.progress, act.progress_message = 0.0, None
        values: dict[str, Any] = {"status": TaskStatus.PROCESSING.value, "attempts": act.attempts,
                                  "provider": name, "next_attempt_at": None, "progress": 0.0,
                                  "progress_message": None}
        if act.started_at is None:
            act.started_at = utcnow()
            values["started_at"] = act.started_at
        s.change(act.id, **values)
        s.registry.started(name)
        self.running[act.id] = (act.attempts, name)
        self.policies.on_start(act, name, now)
        s.events.emit(act, EventType.STARTED)
        return Assignment(act.id, act.attempts, act.type.value, act.input, act.user_id, act.remote_job,
                          self.policies.gates(act, name), act.options.get("inputs"))

    # -- executors -----------------------------------------------------------------------------

    def handle(self) -> Any:
        """The Scheduler actor's own handle (executors report to it)."""
        return self.ray.own_handle()

    def _send(self, name: str, assignments: list[Assignment]) -> None:
        provider = self.state.registry.get(name)
        if isinstance(provider, ModelProvider):
            self.pools.submit(name, provider, assignments)
            return
        if provider.cpu_bound:
            for a in assignments:
                obj = self.ray.run_cpu(provider, a, self.state.settings, self.state.sink)
                self.cpu_refs[a.task_id] = obj
                asyncio.get_running_loop().create_task(self._await_cpu(a, obj))
            return
        worker = self._worker(name)
        for a in assignments:
            self.placed[a.task_id] = worker
        asyncio.get_running_loop().create_task(self._await_start(name, worker, assignments))

    def _worker(self, name: str) -> Any:
        item = self.workers.get(name)
        if item is None:
            handle = self.ray.start_worker(self.state.registry.get(name), self.state.settings, self.state.sink)
            item = self.workers[name] = (handle, "")
        return item[0]

    async def adopt_workers(self) -> dict[str, tuple[int, str]]:
        """Find the workers a previous incarnation left running and take over their attempts;
        from the snapshot call on, each reports to this Scheduler (the previous one may be gone
        for good, not restarted: another actor). A result a worker reports before adoption ends
        is settled then (``Outcomes.settle``), and its task is no longer recovering."""
        adopted: dict[str, tuple[int, str]] = {}
        names = self.ray.named_actors(worker_prefix(self.state.settings.instance, ""))
        for actor_name in names:
            provider = actor_name.removeprefix(worker_prefix(self.state.settings.instance, "")).rsplit("-", 1)[0]
            handle = self.ray.get_actor(actor_name)
            if handle is None:
                continue  # gone since it was listed
            answer = await _snapshot(handle, actor_name, self.handle(), self.ray)
            if answer is None:
                continue
            owned, incarnation = answer
            if provider not in self.state.registry or provider in self.workers:
                self.ray.kill(handle)
                continue
            self.workers[provider] = (handle, incarnation)
            for tid, attempt in owned:
                adopted[tid] = (attempt, provider)
        return adopted

    async def _await_start(self, name: str, worker: Any, assignments: list[Assignment]) -> None:
        try:
            incarnation = await worker.start.remote(assignments)
            handle, _ = self.workers.get(name, (worker, ""))
            if handle is worker:
                self.workers[name] = (worker, incarnation)
        except Exception as exc:
            log.warning("worker for %s failed to take %d attempts: %s", name, len(assignments), exc)
            self._worker_lost(name, worker)

    async def _await_cpu(self, a: Assignment, ref: Any) -> None:
        try:
            result: AttemptResult = await ref
        except ray.exceptions.TaskCancelledError:
            result = AttemptResult(a.task_id, a.attempt, False, cancelled=True, error_code="cancelled")
        except Exception as exc:  # the worker process died, or Ray lost the task
            log.warning("attempt %s#%d lost: %s", a.task_id, a.attempt, exc)
            result = AttemptResult(a.task_id, a.attempt, False, cancelled=True, error_code="worker_lost")
        finally:
            if self.cpu_refs.get(a.task_id) is ref:
                self.cpu_refs.pop(a.task_id, None)
        self.on_result(result)
        self.state.kick()

    def replace_worker(self, name: str, incarnation: str) -> None:
        """Stop a worker whose event loop is blocked; its attempts still running run again."""
        item = self.workers.get(name)
        if item is None or (item[1] and item[1] != incarnation):
            return  # already replaced
        self._worker_lost(name, item[0])
        try:
            self.ray.kill(item[0])
        except Exception:
            log.warning("could not kill the blocked worker of %s", name, exc_info=True)

    def _worker_lost(self, name: str, worker: Any) -> None:
        """Every attempt that was on a dead worker is lost; their tasks run again."""
        if self.workers.get(name, (None,))[0] is worker:
            self.workers.pop(name, None)
        lost = [(tid, att) for tid, (att, _) in self.running.items() if self.placed.get(tid) is worker]
        for tid, att in lost:
            self.on_result(AttemptResult(tid, att, False, cancelled=True, error_code="worker_lost"))
        self.state.kick()

    async def monitor_loop(self) -> None:
        """Notice dead worker actors (a killed process) and give their tasks back to the queue.
        Idle ones too: a dead worker left in place would cost the next attempts sent to it one
        attempt each (lost at start) instead of starting a new worker for them."""
        while True:
            await asyncio.sleep(_MONITOR_SECONDS)
            for name, (handle, incarnation) in list(self.workers.items()):
                try:
                    now_inc = await asyncio.wait_for(handle.ping.remote(), 10)
                except TimeoutError:
                    continue  # busy, not dead: a late answer must not make its attempts run twice
                except ray.exceptions.RayActorError:
                    now_inc = None
                if now_inc is None or (incarnation and now_inc != incarnation):
                    log.warning("worker for provider %s died; re-running its attempts", name)
                    self._worker_lost(name, handle)

    # -- results and bookkeeping -----------------------------------------------------------------

    def on_result(self, r: AttemptResult) -> None:
        """An attempt ended (reported by its executor, or lost with it): release it, then settle
        its task."""
        provider = self.release(r.task_id, r.attempt)
        self.outcomes.settle(r, provider)

    def adopt_attempt(self, task_id: str, attempt: int, provider: str) -> None:
        """An attempt a surviving worker runs is in flight again (recovery at start); it counts
        for the policies as one that started (its user's cap, its budget's reservation)."""
        self.running[task_id] = (attempt, provider)
        worker = self.workers.get(provider)
        if worker is not None:
            self.placed[task_id] = worker[0]
        self.state.registry.started(provider)
        act = self.state.active.get(task_id)
        if act is not None:
            self.policies.on_adopt(act, provider)

    def release(self, task_id: str, attempt: int) -> str | None:
        """Forget a finished attempt; returns the provider it ran on (None if already released)."""
        item = self.running.get(task_id)
        if item is None or item[0] != attempt:
            return None
        del self.running[task_id]
        self.placed.pop(task_id, None)
        self.policies.on_end(task_id)
        return item[1]

    def cancel_running(self, task_id: str) -> None:
        item = self.running.get(task_id)
        if item is None:
            return
        if self.pools.cancel(task_id, item[1]):
            return
        ref = self.cpu_refs.get(task_id)
        if ref is not None:
            # cooperative first (is_cancelled turns true at once), then interrupt the Ray task
            asyncio.get_running_loop().call_later(1.0, self.ray.cancel, ref)
            return
        worker = self.workers.get(item[1])
        if worker is not None:
            worker[0].cancel.remote(task_id)

    def forget_provider(self, name: str) -> None:
        self.ray.forget_provider(name)
        self.pools.forget(name)
        item = self.workers.pop(name, None)
        if item is not None:
            handle = item[0]
            if any(p == name for _, p in self.running.values()):
                # let the attempts it runs finish, then stop it
                asyncio.get_running_loop().call_later(self.state.settings.task_timeout, self.ray.kill, handle)
            else:
                self.ray.kill(handle)

    def in_flight(self) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for _, prov in self.running.values():
            out[prov] += 1
        return dict(out)


async def _snapshot(handle: Any, actor_name: str, me: Any, calls: RayCalls) -> tuple[list[tuple[str, int]], str] | None:
    """A surviving worker's attempts and incarnation (and it reports to ``me``, this Scheduler,
    from then on); ``None`` when it is dead, or alive but does not answer for ``_ADOPT_SECONDS``
    (a loaded machine answers late, so a timeout alone is not death). One that never answers is
    killed: its attempts run again, so it must not go on with them (it would run them twice, and
    might pay a remote job twice)."""
    deadline = time.monotonic() + _ADOPT_SECONDS
    while True:
        try:
            owned: list[tuple[str, int]] = await asyncio.wait_for(handle.snapshot.remote(me), 10)
            incarnation: str = await asyncio.wait_for(handle.ping.remote(), 10)
            return owned, incarnation
        except ray.exceptions.RayActorError:
            log.warning("worker %s is gone; its attempts will run again", actor_name)
            return None
        except TimeoutError:
            if time.monotonic() < deadline:
                log.warning("worker %s does not answer yet; asking again", actor_name)
                continue
            why = f"did not answer in {_ADOPT_SECONDS}s"
        except Exception as exc:
            why = f"could not be asked ({exc!r})"
        log.error("worker %s %s; stopping it, its attempts will run again", actor_name, why)
        with contextlib.suppress(Exception):
            calls.kill(handle)
        return None


__all__ = ["Dispatcher"]
