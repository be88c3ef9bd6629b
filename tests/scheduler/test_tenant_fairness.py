"""Tenants in the queue and the dispatch policies, without Ray: tenants take turns by weight first,
then the users inside the tenant whose turn it is (two-level deficit round-robin); a tenant's
``max_in_flight`` caps all of its users together, its budgets count all of their spend, and
another tenant is not touched by either."""

from __future__ import annotations

import asyncio
import time
from typing import Any, cast

from videoai_ray.attempts import Assignment, AttemptResult, Sink
from videoai_ray.errors import BudgetExceeded
from videoai_ray.models import ImageGenerationRequest, Priority, TaskStatus, TaskType
from videoai_ray.models.record import Active
from videoai_ray.providers.base import Provider
from videoai_ray.providers.registry import ProviderRegistry
from videoai_ray.providers.testing import FixedLatencyProvider
from videoai_ray.scheduler.budgets import BudgetLedger
from videoai_ray.scheduler.dispatch import Dispatcher
from videoai_ray.scheduler.events import EventSink
from videoai_ray.scheduler.fairness import FairShare, group_of
from videoai_ray.scheduler.outcomes import Outcomes
from videoai_ray.scheduler.queue import AgingQueue
from videoai_ray.scheduler.ratelimit import ProviderRateLimiter
from videoai_ray.scheduler.ray_calls import RayCalls
from videoai_ray.scheduler.remote_jobs import RemoteJobs
from videoai_ray.scheduler.state import SchedulerState
from videoai_ray.scheduler.tenant_limits import TenantLimitBook
from videoai_ray.settings import Settings
from videoai_ray.store import TaskStore

MEDIUM = Priority.MEDIUM.rank


def push(q: AgingQueue, tid: str, user: str, weight: float = 1.0, group_weight: float = 1.0) -> None:
    q.push(tid, MEDIUM, 0.0, user, weight, group_of(user), group_weight)


def drain(q: AgingQueue, skip: Any = frozenset(), n: int | None = None) -> list[str]:
    out: list[str] = []
    while (n is None or len(out) < n) and (e := q.pop(1.0, skip)) is not None:
        out.append(e.task_id)
    return out


def owners(q: AgingQueue, ids: list[str]) -> list[str]:
    return [i.rsplit(":", 1)[0] for i in ids]


# -- the queue ---------------------------------------------------------------------------------


def test_tenants_take_turns_first_then_the_users_inside_a_tenant() -> None:
    q = AgingQueue(aging_seconds=1000)
    for i in range(30):
        push(q, f"big/u0:{i}", "big/u0")  # one tenant with one user
    for u in ("s/a", "s/b", "s/c"):  # another with three users
        for i in range(10):
            push(q, f"{u}:{i}", u)
    order = owners(q, drain(q, n=12))
    # the tenants alternate whatever their number of users ...
    assert [o.split("/")[0] for o in order] == ["big", "s"] * 6, order
    # ... and inside "s" its users take turns over "s"'s share
    assert order[1::2] == ["s/a", "s/b", "s/c"] * 2, order


def test_a_tenant_weight_is_its_share_of_turns_and_user_weights_apply_inside_it() -> None:
    q = AgingQueue(aging_seconds=1000)
    for i in range(60):
        push(q, f"a/x:{i}", "a/x", group_weight=3.0)
        push(q, f"a/y:{i}", "a/y", weight=3.0, group_weight=3.0)
        push(q, f"b/z:{i}", "b/z")
    order = owners(q, drain(q, n=80))
    tenants = [o.split("/")[0] for o in order]
    assert tenants.count("a") == 60 and tenants.count("b") == 20, tenants
    assert "".join(tenants[:8]) == "aaabaaab"
    inside = [o for o in order if o.startswith("a/")]
    assert inside.count("a/y") == 3 * inside.count("a/x"), inside  # weights 3 and 1 inside "a"


def test_users_without_a_tenant_are_one_group_beside_the_tenants() -> None:
    q = AgingQueue(aging_seconds=1000)
    for i in range(10):
        push(q, f"ana:{i}", "ana")
        push(q, f"bo:{i}", "bo")
        push(q, f"t/c:{i}", "t/c")
    order = owners(q, drain(q, n=8))
    assert order == ["ana", "t/c", "bo", "t/c", "ana", "t/c", "bo", "t/c"], order


def test_a_tenant_in_skip_is_passed_over_as_a_whole_and_keeps_its_turn() -> None:
    q = AgingQueue(aging_seconds=1000)
    for i in range(5):
        push(q, f"a/x:{i}", "a/x")
        push(q, f"a/y:{i}", "a/y")
        push(q, f"b/z:{i}", "b/z")
    assert owners(q, drain(q, skip={"a/"}, n=3)) == ["b/z"] * 3
    assert drain(q, skip={"a/", "b/"}) == []  # every tenant skipped: nothing, and no endless loop
    rest = owners(q, drain(q))
    assert rest[:4] == ["a/x", "b/z", "a/y", "b/z"], rest
    assert len(rest) == 12


def test_a_reweighed_tenant_takes_its_new_share() -> None:
    q = AgingQueue(aging_seconds=1000)
    for i in range(20):
        push(q, f"a/x:{i}", "a/x")
        push(q, f"b/z:{i}", "b/z")
    q.reweigh("a/", 4.0)
    q.reweigh("nobody/", 9.0)  # a tenant with nothing queued: nothing to change
    tenants = [o.split("/")[0] for o in owners(q, drain(q, n=10))]
    assert tenants.count("a") == 8, tenants


def test_removed_tasks_never_come_out_and_a_tenant_with_nothing_left_leaves_the_round() -> None:
    q = AgingQueue(aging_seconds=1000)
    push(q, "a/x:0", "a/x")
    push(q, "a/x:1", "a/x")
    push(q, "b/z:0", "b/z")
    assert q.remove("a/x:0") and q.remove("a/x:1")
    assert drain(q) == ["b/z:0"]
    assert len(q) == 0 and q.depth()["medium"] == 0
    push(q, "a/x:2", "a/x")  # comes back: joins a fresh round
    assert drain(q) == ["a/x:2"]


# -- the policies ------------------------------------------------------------------------------


class _Method:
    def __init__(self, fn: Any) -> None:
        self.remote = fn


class _Worker:
    def __init__(self, sent: list[str]) -> None:
        async def start(assignments: list[Assignment]) -> str:
            sent.extend(a.task_id for a in assignments)
            return "inc-1"

        self.start = _Method(start)
        self.cancel = _Method(lambda task_id: None)


class _Ray(RayCalls):
    def __init__(self) -> None:
        super().__init__()
        self.sent: list[str] = []

    def own_handle(self) -> Any:
        return "scheduler"

    def start_worker(self, provider: Provider, settings: Settings, sink: Sink) -> Any:
        return _Worker(self.sent)


class Harness:
    """The real Dispatcher, policies, budget ledger and store, tenants' limits in a book."""

    def __init__(self, settings: Settings, limits: dict[str, dict[str, Any]], provider: Provider) -> None:
        store = TaskStore(settings.db_url, instance=settings.instance)
        self.book = TenantLimitBook(limits)
        self.state = SchedulerState(
            settings=settings, store=store, registry=ProviderRegistry(), limiter=ProviderRateLimiter({}),
            budgets=BudgetLedger(settings, store.engine, self.book), events=EventSink(settings), cache=None,
            fair=FairShare(settings, self.book), sink=cast(Sink, None), tenants=self.book)
        self.state.registry.register(provider)
        self.ray = _Ray()
        self.dispatcher = Dispatcher(self.state, Outcomes(self.state, RemoteJobs(self.state)), ray_calls=self.ray)

    def queue(self, tid: str, user: str) -> None:
        act = Active(id=tid, type=TaskType.IMAGE_GENERATION, priority=Priority.MEDIUM, user_id=user,
                     input={"prompt": tid}, request=ImageGenerationRequest(prompt=tid), options={},
                     max_retries=0, metadata={})
        self.state.enqueue(act, time.monotonic())

    def round(self) -> list[str]:
        before = len(self.ray.sent)

        async def go() -> None:
            self.dispatcher.dispatch_once()
            await asyncio.sleep(0)
            await asyncio.sleep(0)

        asyncio.run(go())
        return self.ray.sent[before:]

    def end(self, tid: str, cost: float | None = None) -> None:
        act = self.state.active[tid]
        self.dispatcher.on_result(AttemptResult(tid, act.attempts, True, output={"ok": 1},
                                                provider=act.provider or "", cost=cost))

    def status(self, tid: str) -> TaskStatus:
        act = self.state.active.get(tid)
        return act.status if act is not None else TaskStatus(self.state.changes[tid]["status"])

    def tenant_share(self, user: str) -> dict[str, Any]:
        return dict(self.state.fair.describe(user, list(self.state.queues.values()))["tenant"])

    def change_limits(self, limits: dict[str, dict[str, Any]]) -> None:
        """What ``TenantLimitBook.loop`` does after reading the store."""
        for tenant in self.book.apply(limits):
            self.state.tenant_limits_changed(tenant)


def test_a_tenants_in_flight_cap_binds_its_users_together_and_not_another_tenant(settings: Settings) -> None:
    h = Harness(settings, {"acme": {"max_in_flight": 2}}, FixedLatencyProvider(name="p", max_concurrency=50))
    for user in ("acme/ana", "acme/bo", "globex/cy"):
        for i in range(4):
            h.queue(f"{user}:{i}", user)
    first = h.round()
    acme = [t for t in first if t.startswith("acme/")]
    assert len(acme) == 2, first  # two users, one cap of two for both of them
    assert len([t for t in first if t.startswith("globex/")]) == 4, first  # the other tenant: all of its tasks
    assert h.tenant_share("acme/bo") == {"id": "acme", "in_flight": 2, "weight": 1.0, "max_in_flight": 2,
                                         "at_cap": True}  # what acme's users see in their statistics
    assert h.tenant_share("globex/cy") == {"id": "globex", "in_flight": 4, "weight": 1.0, "max_in_flight": None,
                                           "at_cap": False}
    assert h.round() == []
    h.end(acme[0])
    assert h.tenant_share("acme/ana")["at_cap"] is False
    assert len(h.round()) == 1  # one ended: one more of acme's starts
    h.change_limits({"acme": {"max_in_flight": 4}})  # raised by the operator: applies at once
    assert len(h.round()) == 2
    h.change_limits({})  # no limits any more: the rest starts
    assert len(h.round()) == 8 - 5


def test_a_tenants_budget_counts_all_of_its_users_and_not_another_tenant(settings: Settings) -> None:
    h = Harness(settings, {"acme": {"daily_budget_usd": 1.0, "monthly_budget_usd": 100.0}},
                FixedLatencyProvider(name="p", max_concurrency=50, cost=0.4))
    h.queue("a1", "acme/ana")
    h.queue("b1", "acme/bo")
    h.queue("c1", "globex/cy")
    assert sorted(h.round()) == ["a1", "b1", "c1"]  # 0.8 of acme's 1.0 reserved
    h.queue("b2", "acme/bo")
    h.queue("c2", "globex/cy")
    assert h.round() == ["c2"]
    assert h.status("b2") is TaskStatus.FAILED
    assert h.state.changes["b2"]["error_code"] == BudgetExceeded.code  # the same code as a user's budget
    assert "daily budget of tenant acme" in h.state.changes["b2"]["error_message"]
    h.end("a1", cost=0.4)  # acme: 0.4 spent by ana, 0.4 held by bo's attempt in flight
    h.queue("a2", "acme/ana")
    assert h.round() == [] and h.status("a2") is TaskStatus.FAILED
    h.end("b1", cost=0.1)  # 0.5 spent
    h.change_limits({"acme": {"daily_budget_usd": 2.0, "monthly_budget_usd": 0.8}})  # the monthly one binds
    h.queue("a3", "acme/ana")
    assert h.round() == [] and "monthly budget of tenant acme" in h.state.changes["a3"]["error_message"]
    h.change_limits({})
    h.queue("a4", "acme/ana")
    assert h.round() == ["a4"]


def test_without_tenants_the_queue_keys_are_as_before(settings: Settings) -> None:
    fair = FairShare(settings, TenantLimitBook({"acme": {"weight": 5, "max_in_flight": 1}}))
    act = Active(id="t", type=TaskType.IMAGE_GENERATION, priority=Priority.MEDIUM, user_id="ana", input={},
                 request=ImageGenerationRequest(prompt="x"), options={}, max_retries=0, metadata={})
    assert fair.key(act) == ("ana", 1.0, "", 1.0)
    act.user_id = "acme/ana"
    assert fair.key(act) == ("acme/ana", 1.0, "acme/", 5.0)
    fair.started(act)
    assert "acme/" in fair.full and "acme/ana" not in fair.full
    fair.ended("t")
    assert fair.full == set()
