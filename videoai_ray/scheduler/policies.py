"""Dispatch policies: the rules that decide whether a queued task may start now, as an ordered
list of small objects with named hooks (as dramatiq's middleware is).

The ``Dispatcher`` (``dispatch.py``) keeps the mechanics: queues, provider choice, breakers,
executors. At fixed points of a dispatch round it asks every policy, in list order:

* ``passed_over()``: the users whose queued tasks are passed over this round (a live
  container: it may change as tasks start within the round);
* ``admits(act, name, now)``: may ``act`` start on provider ``name`` now (the provider choice
  passes over one that a policy does not admit);
* ``held(act, names, now)``: no provider could take ``act``: when a policy that held it lets it
  go (the loop wakes then), or ``None`` when this policy did not hold it;
* ``refuse(act, provider)``: the last word before ``act`` starts on ``provider``: ``None`` or
  the error that fails the task (it never started, nothing was spent); a policy may reserve
  something here, and gets ``on_end`` when a later policy refuses;
* ``gates(act, name)``: the attempt passes the Scheduler's rate gate right before its provider
  runs (``Assignment.rate_gate``);
* ``on_start(act, name, now)``: the attempt starts;
* ``on_adopt(act, name)``: a new Scheduler adopts an attempt a surviving worker runs;
* ``on_end(task_id)``: the attempt ended, whatever the outcome.

Every hook's default lets everything pass and notes nothing, so a policy names only the hooks it
needs. A policy reads the parts it keeps from the shared ``SchedulerState`` each time, as every
Scheduler part does. What is outside dispatch stays where it is: the order within a queue (priority, aging
and the users' turns, ``queue.py``) and what a finished task spends (``Outcomes``).
"""

from __future__ import annotations

import time
from collections.abc import Container, Sequence
from typing import TYPE_CHECKING

from . import throttle

if TYPE_CHECKING:
    from ..errors import ProviderError
    from ..providers.base import Provider
    from .budgets import BudgetLedger
    from .fairness import FairShare
    from .state import Active, SchedulerState

_NOBODY: frozenset[str] = frozenset()


class DispatchPolicy:
    """One dispatch rule; see the module's docstring for when each hook is called."""

    def passed_over(self) -> Container[str]:
        return _NOBODY

    def admits(self, act: Active, name: str, now: float) -> bool:
        return True

    def held(self, act: Active, names: list[str], now: float) -> float | None:
        return None

    def refuse(self, act: Active, provider: Provider) -> ProviderError | None:
        return None

    def gates(self, act: Active, name: str) -> bool:
        return False

    def on_start(self, act: Active, name: str, now: float) -> None:
        pass

    def on_adopt(self, act: Active, name: str) -> None:
        pass

    def on_end(self, task_id: str) -> None:
        pass


class FairSharePolicy(DispatchPolicy):
    """Users at their cap of attempts in flight are passed over; every attempt started or
    adopted counts towards its user's cap until it ends (``fairness.FairShare``)."""

    def __init__(self, state: SchedulerState) -> None:
        self.state = state

    @property
    def fair(self) -> FairShare:
        return self.state.fair

    def passed_over(self) -> Container[str]:
        return self.fair.full  # the live set: a user reaching the cap mid-round is passed over at once

    def on_start(self, act: Active, name: str, now: float) -> None:
        self.fair.started(act)

    def on_adopt(self, act: Active, name: str) -> None:
        self.fair.started(act)

    def on_end(self, task_id: str) -> None:
        self.fair.ended(task_id)


class RateLimitPolicy(DispatchPolicy):
    """A provider whose rate limiter has no room for the task is passed over; a task only rate
    limiters held counts as throttled, and the loop wakes when the first of them lets it go; a
    start takes its usage from the buckets (``throttle.py``)."""

    def __init__(self, state: SchedulerState) -> None:
        self.state = state

    def admits(self, act: Active, name: str, now: float) -> bool:
        return throttle.admits(self.state, act, now, name)

    def held(self, act: Active, names: list[str], now: float) -> float | None:
        return throttle.note_held(self.state, act, names, now)

    def gates(self, act: Active, name: str) -> bool:
        return self.state.limiter.gated(self.state.registry.get(name), time.monotonic())

    def on_start(self, act: Active, name: str, now: float) -> None:
        throttle.take(self.state, name, act, now)


class BudgetPolicy(DispatchPolicy):
    """An attempt whose estimate does not fit its batch's or its user's budget is refused; the
    estimate of one that starts (or is adopted) is reserved until it ends (``budgets.py``)."""

    def __init__(self, state: SchedulerState) -> None:
        self.state = state

    @property
    def budgets(self) -> BudgetLedger:
        return self.state.budgets

    def refuse(self, act: Active, provider: Provider) -> ProviderError | None:
        return self.budgets.admit(act, provider)

    def on_adopt(self, act: Active, name: str) -> None:
        if name in self.state.registry:
            self.budgets.hold(act, self.state.registry.get(name))

    def on_end(self, task_id: str) -> None:
        self.budgets.release(task_id)


def default_policies(state: SchedulerState) -> list[DispatchPolicy]:
    """The Scheduler's policies, in the order they are asked."""
    return [FairSharePolicy(state), RateLimitPolicy(state), BudgetPolicy(state)]


class _AnyOf:
    """Users passed over by any of several policies (a live view of their containers)."""

    def __init__(self, parts: Sequence[Container[str]]) -> None:
        self.parts = parts

    def __contains__(self, user: object) -> bool:
        return any(user in p for p in self.parts)


def _with_hook(policies: Sequence[DispatchPolicy], hook: str) -> list[DispatchPolicy]:
    """The policies that define ``hook`` (dispatch runs per task: the others are not called)."""
    return [p for p in policies if getattr(type(p), hook) is not getattr(DispatchPolicy, hook)]


class Policies:
    """The ordered policies, asked as the ``Dispatcher`` dispatches."""

    def __init__(self, policies: Sequence[DispatchPolicy]) -> None:
        self.policies = list(policies)
        self._passed_over = _with_hook(policies, "passed_over")
        self._admits = _with_hook(policies, "admits")
        self._held = _with_hook(policies, "held")
        self._refuse = _with_hook(policies, "refuse")
        self._gates = _with_hook(policies, "gates")
        self._on_start = _with_hook(policies, "on_start")
        self._on_adopt = _with_hook(policies, "on_adopt")
        self._on_end = _with_hook(policies, "on_end")

    def passed_over(self) -> Container[str]:
        parts = [p.passed_over() for p in self._passed_over]
        return parts[0] if len(parts) == 1 else _AnyOf(parts) if parts else _NOBODY

    def admits(self, act: Active, now: float, name: str) -> bool:
        return all(p.admits(act, name, now) for p in self._admits)

    def held(self, act: Active, names: list[str], now: float) -> float | None:
        """When the first policy that held ``act`` lets it go (every policy is told)."""
        wakes = [w for w in (p.held(act, names, now) for p in self._held) if w is not None]
        return min(wakes) if wakes else None

    def refuse(self, act: Active, provider: Provider) -> ProviderError | None:
        for p in self._refuse:
            refused = p.refuse(act, provider)
            if refused is not None:
                for earlier in self.policies[:self.policies.index(p)]:  # what they reserved for it goes
                    earlier.on_end(act.id)
                return refused
        return None

    def gates(self, act: Active, name: str) -> bool:
        return any(p.gates(act, name) for p in self._gates)

    def on_start(self, act: Active, name: str, now: float) -> None:
        for p in self._on_start:
            p.on_start(act, name, now)

    def on_adopt(self, act: Active, name: str) -> None:
        for p in self._on_adopt:
            p.on_adopt(act, name)

    def on_end(self, task_id: str) -> None:
        for p in self._on_end:
            p.on_end(task_id)


__all__ = ["BudgetPolicy", "DispatchPolicy", "FairSharePolicy", "Policies", "RateLimitPolicy", "default_policies"]
