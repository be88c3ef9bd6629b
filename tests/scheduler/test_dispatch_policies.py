"""Dispatch driven without Ray: the real ``Dispatcher``, its policies (fair share, rate limits,
budgets) and a real store, with a stand-in ``RayCalls`` that records what would reach Ray.

What starts in a round, what waits and what is refused is the policies' say, asked in order;
a refusal undoes what the policies before it reserved; an attempt that ends gives back what its
start took."""

from __future__ import annotations

import asyncio
import time
from typing import Any, cast

import pytest

from videoai_ray.attempts import Sink
from videoai_ray.errors import BudgetExceeded, ProviderError
from videoai_ray.models import ImageGenerationRequest, Priority, TaskStatus, TaskType
from videoai_ray.models.record import Active
from videoai_ray.protocol import Assignment, AttemptResult
from videoai_ray.providers.base import Provider
from videoai_ray.providers.limits import RateLimits
from videoai_ray.providers.registry import ProviderRegistry
from videoai_ray.providers.testing import CpuSleepProvider, FixedLatencyProvider
from videoai_ray.scheduler.budgets import BudgetLedger
from videoai_ray.scheduler.dispatch import Dispatcher
from videoai_ray.scheduler.events import EventSink
from videoai_ray.scheduler.fairness import FairShare
from videoai_ray.scheduler.outcomes import Outcomes
from videoai_ray.scheduler.policies import DispatchPolicy, default_policies
from videoai_ray.scheduler.ratelimit import ProviderRateLimiter
from videoai_ray.scheduler.ray_calls import RayCalls
from videoai_ray.scheduler.remote_jobs import RemoteJobs
from videoai_ray.scheduler.state import SchedulerState
from videoai_ray.settings import Settings
from videoai_ray.store import TaskStore


class _Method:
    def __init__(self, fn: Any) -> None:
        self.remote = fn


class FakeWorker:
    """A worker actor's handle: ``start.remote`` takes attempts and answers an incarnation."""

    def __init__(self, provider: str, log: list[tuple[str, str]]) -> None:
        self.provider = provider

        async def start(assignments: list[Assignment]) -> str:
            log.extend((provider, a.task_id) for a in assignments)
            return "inc-1"

        self.start = _Method(start)
        self.cancel = _Method(lambda task_id: log.append(("cancel", task_id)))


class FakeRay(RayCalls):
    """Records what the Dispatcher asks of Ray; no cluster."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, str]] = []  # (provider, task id) as the worker received them
        self.workers_started: list[str] = []
        self.cpu: list[tuple[str, Assignment]] = []
        self.killed: list[Any] = []

    def own_handle(self) -> Any:
        return "scheduler-handle"

    def start_worker(self, provider: Provider, settings: Settings, sink: Sink) -> Any:
        self.workers_started.append(provider.name)
        return FakeWorker(provider.name, self.sent)

    def run_cpu(self, provider: Provider, a: Assignment, settings: Settings, sink: Sink) -> Any:
        self.cpu.append((provider.name, a))
        return asyncio.get_running_loop().create_future()  # never ends in this test

    def kill(self, handle: Any, *, quiet: bool = False) -> None:
        self.killed.append(handle)


class Recorder(DispatchPolicy):
    """A policy that notes its hooks and may refuse one task."""

    def __init__(self, refuse_id: str | None = None) -> None:
        self.calls: list[tuple[str, str]] = []
        self.refuse_id = refuse_id

    def refuse(self, act: Active, provider: Provider) -> ProviderError | None:
        self.calls.append(("refuse", act.id))
        return BudgetExceeded("refused by the recorder") if act.id == self.refuse_id else None

    def on_start(self, act: Active, name: str, now: float) -> None:
        self.calls.append(("start", act.id))

    def on_end(self, task_id: str) -> None:
        self.calls.append(("end", task_id))


class Harness:
    def __init__(self, settings: Settings, *providers: Provider, extra: list[DispatchPolicy] | None = None) -> None:
        store = TaskStore(settings.db_url, instance=settings.instance)
        self.state = SchedulerState(
            settings=settings, store=store, registry=ProviderRegistry(), limiter=ProviderRateLimiter({}),
            budgets=BudgetLedger(settings, store.engine), events=EventSink(settings),
            cache=None, fair=FairShare(settings), sink=cast(Sink, None))
        for p in providers:
            self.state.registry.register(p)
        self.outcomes = Outcomes(self.state, RemoteJobs(self.state))
        self.ray = FakeRay()
        policies = default_policies(self.state) + (extra or [])
        self.dispatcher = Dispatcher(self.state, self.outcomes, policies=policies, ray_calls=self.ray)

    def queue(self, tid: str, user: str = "ana", **options: Any) -> Active:
        act = Active(id=tid, type=TaskType.IMAGE_GENERATION, priority=Priority.MEDIUM, user_id=user,
                     input={"prompt": tid}, request=ImageGenerationRequest(prompt=tid), options=options,
                     max_retries=0, metadata={})
        self.state.enqueue(act, time.monotonic())
        return act

    def round(self) -> list[str]:
        """One dispatch round on an event loop; the task ids the workers received."""
        before = len(self.ray.sent)

        async def go() -> None:
            self.dispatcher.dispatch_once()
            await asyncio.sleep(0)  # the worker's start call runs
            await asyncio.sleep(0)

        asyncio.run(go())
        return [tid for _, tid in self.ray.sent[before:]]

    def end(self, tid: str) -> None:
        act = self.state.active[tid]
        self.dispatcher.on_result(AttemptResult(tid, act.attempts, True, output={"ok": 1}, provider=act.provider or ""))

    def status(self, tid: str) -> TaskStatus:
        act = self.state.active.get(tid)
        return act.status if act is not None else TaskStatus(self.state.changes[tid]["status"])


def test_a_user_at_their_cap_is_passed_over_until_an_attempt_ends(settings: Settings) -> None:
    h = Harness(settings.model_copy(update={"user_max_in_flight": 1}),
                FixedLatencyProvider(name="p", max_concurrency=10))
    for tid in ("a1", "a2", "a3"):
        h.queue(tid, "ana")
    h.queue("b1", "bo")
    assert h.round() == ["a1", "b1"]  # ana reached her cap with a1 within the round
    assert h.ray.workers_started == ["p"] and h.status("a2") is TaskStatus.PENDING
    assert h.round() == []  # nothing ended: nothing more starts
    h.end("a1")
    assert h.status("a1") is TaskStatus.COMPLETED
    assert h.round() == ["a2"]
    assert h.ray.workers_started == ["p"]  # one worker actor for the provider, reused


def test_a_budget_refusal_fails_the_task_before_it_reaches_ray(settings: Settings) -> None:
    h = Harness(settings.model_copy(update={"user_daily_budget_usd": 1.0}),
                FixedLatencyProvider(name="p", max_concurrency=10, cost=0.6))
    h.queue("t1")
    h.queue("t2")
    assert h.round() == ["t1"]
    assert h.status("t2") is TaskStatus.FAILED
    assert h.state.changes["t2"]["error_code"] == BudgetExceeded.code
    h.queue("t3")
    assert h.round() == [] and h.status("t3") is TaskStatus.FAILED  # t1's estimate is still reserved


def test_the_reservation_goes_when_the_attempt_ends(settings: Settings) -> None:
    h = Harness(settings.model_copy(update={"user_daily_budget_usd": 1.0}),
                FixedLatencyProvider(name="p", max_concurrency=10, cost=0.6))
    h.queue("t1")
    assert h.round() == ["t1"]
    h.dispatcher.on_result(AttemptResult("t1", 1, False, error_code="provider_error", error_message="x"))
    assert h.status("t1") is TaskStatus.FAILED  # failed: nothing spent, its reservation released
    h.queue("t2")
    assert h.round() == ["t2"]


def test_a_later_policy_refusing_undoes_what_the_earlier_ones_reserved(settings: Settings) -> None:
    recorder = Recorder(refuse_id="t1")
    h = Harness(settings.model_copy(update={"user_daily_budget_usd": 1.0}),
                FixedLatencyProvider(name="p", max_concurrency=10, cost=0.6), extra=[recorder])
    h.queue("t1")
    h.queue("t2")
    # t1: the budget reserved 0.6, then the recorder refused it; were the reservation kept, t2
    # (0.6 more against 1.0) would be refused too
    assert h.round() == ["t2"]
    assert h.status("t1") is TaskStatus.FAILED and h.state.changes["t1"]["error_message"] == "refused by the recorder"
    assert recorder.calls == [("refuse", "t1"), ("refuse", "t2"), ("start", "t2")]
    h.end("t2")
    assert recorder.calls[-1] == ("end", "t2")


def test_a_rate_limited_provider_holds_the_queue_and_wakes_the_loop_when_it_frees(settings: Settings) -> None:
    limited = FixedLatencyProvider(name="p", max_concurrency=10)
    limited.rate_limits = RateLimits(requests=1, per_seconds=60, burst=1)  # type: ignore[misc]
    h = Harness(settings, limited)
    h.queue("t1")
    h.queue("t2")
    before = time.monotonic()
    assert h.round() == ["t1"]
    assert h.status("t2") is TaskStatus.PENDING
    wake = h.dispatcher.policy_wake
    # one request a minute, kept under by the limiter's margin: t2 may start about a minute on
    assert wake is not None and before + 55 < wake <= time.monotonic() + 70
    assert h.dispatcher.breaker_wake is None  # held by the rate limiter, not a breaker


@pytest.mark.parametrize("gated", [False, True])
def test_the_rate_gate_flag_and_a_cpu_bound_provider_go_through_ray_calls(settings: Settings, gated: bool) -> None:
    cpu = CpuSleepProvider(0.1, 2, name="cpu")
    if gated:
        cpu.rate_limits = RateLimits(requests=100, per_seconds=1)  # type: ignore[misc]
    h = Harness(settings, cpu)
    h.queue("c1")
    assert h.round() == []  # no worker actor: a Ray task per attempt
    [(name, a)] = h.ray.cpu
    assert name == "cpu" and a.task_id == "c1" and a.attempt == 1
    assert a.rate_gate is gated  # a provider with a request limit passes the gate before it sends
    assert h.status("c1") is TaskStatus.PROCESSING and h.dispatcher.running["c1"] == (1, "cpu")
