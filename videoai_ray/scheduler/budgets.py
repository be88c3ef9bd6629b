"""Budget admission: before an attempt starts, its estimated cost plus what its batch (and its
user, today) already spent and holds in flight must fit the budget, or the task is not started.

One call from dispatch (``admit``) and two from result handling (``release``, ``spend``); the
rest of the Scheduler does not know budgets exist. Accounts are read from the store the first
time a batch or a user (per UTC day) is seen, then kept in memory: the Scheduler is the one
writer of task costs, so its count is exact."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from ..errors import BudgetExceeded
from ..settings import Settings
from ..store.budgets import batch_budget, day_start, get_user_budget, spent

if TYPE_CHECKING:
    from ..providers.base import Provider
    from .state import Active

log = logging.getLogger("videoai.scheduler")

#: rounding slack, so that ten attempts of $0.10 fit a $1.00 budget
_EPS = 1e-9
#: batches without a budget are remembered as such; past this many, those entries are dropped
_MAX_REMEMBERED = 50_000


@dataclass(slots=True)
class Account:
    """One budget: what it allows, what was spent, what attempts in flight are expected to cost."""

    name: str
    budget: float
    spent: float
    reserved: float = 0.0

    def refusal(self, estimate: float) -> BudgetExceeded | None:
        if self.spent + self.reserved + estimate <= self.budget + _EPS:
            return None
        return BudgetExceeded(
            f"{self.name} of ${self.budget:.4f} would be exceeded: spent ${self.spent:.4f}, "
            f"in flight ${self.reserved:.4f}, this attempt's estimate ${estimate:.4f}")


class BudgetLedger:
    """Per-batch and per-user (daily) budgets, as the Scheduler dispatches."""

    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.settings = settings
        self.engine = engine
        self._batches: dict[str, Account | None] = {}
        self._users: dict[str, Account | None] = {}
        self._day: datetime = day_start()
        #: task id -> (the estimate reserved for its running attempt, the accounts holding it)
        self._held: dict[str, tuple[float, tuple[Account, ...]]] = {}

    def admit(self, act: Active, provider: Provider) -> BudgetExceeded | None:
        """``None`` and the attempt's estimate reserved, or the error to fail the task with."""
        accounts = tuple(a for a in (self._batch(act.batch_id), self._user(act.user_id)) if a is not None)
        if not accounts:
            return None
        estimate = self._estimate(provider, act)
        for account in accounts:
            refused = account.refusal(estimate)
            if refused is not None:
                return refused
        for account in accounts:
            account.reserved += estimate
        self._held[act.id] = (estimate, accounts)
        return None

    def hold(self, act: Active, provider: Provider) -> None:
        """Reserve the estimate of an attempt that is already running (adopted from a surviving
        worker by a new Scheduler): it will be spent whatever the budget says now."""
        accounts = tuple(a for a in (self._batch(act.batch_id), self._user(act.user_id)) if a is not None)
        if accounts:
            estimate = self._estimate(provider, act)
            for account in accounts:
                account.reserved += estimate
            self._held[act.id] = (estimate, accounts)

    def release(self, task_id: str) -> None:
        """The task's attempt ended (whatever the outcome): its reservation goes."""
        held = self._held.pop(task_id, None)
        if held is not None:
            for account in held[1]:
                account.reserved = max(0.0, account.reserved - held[0])

    def spend(self, act: Active, cost: float | None) -> None:
        """The task completed at ``cost``: it counts against its batch's and its user's budgets."""
        if not cost:
            return
        for account in (self._batches.get(act.batch_id or ""), self._users.get(act.user_id)):
            if account is not None:
                account.spent += cost

    def forget_user(self, user_id: str) -> None:
        """The user's budget changed: read it again at the next attempt."""
        self._users.pop(user_id, None)

    @staticmethod
    def _estimate(provider: Provider, act: Active) -> float:
        try:
            return max(0.0, float(provider.estimate_cost(act.request)))
        except Exception:  # provider code: a broken estimate must not stop dispatch
            log.warning("estimate_cost of %s failed; counted as 0", provider.name, exc_info=True)
            return 0.0

    # -- accounts, read once from the store --------------------------------------------------

    def _batch(self, batch_id: str | None) -> Account | None:
        if batch_id is None:
            return None
        if batch_id not in self._batches:
            if len(self._batches) >= _MAX_REMEMBERED:
                self._batches = {k: v for k, v in self._batches.items() if v is not None}
            budget = batch_budget(self.engine, batch_id)
            self._batches[batch_id] = None if budget is None else Account(
                f"the budget of batch {batch_id}", budget, spent(self.engine, batch_id=batch_id))
        return self._batches[batch_id]

    def _user(self, user_id: str) -> Account | None:
        today = day_start()
        if today != self._day:
            self._day, self._users = today, {}
        if user_id not in self._users:
            own = get_user_budget(self.engine, user_id)
            limits = [b for b in (own, self.settings.user_daily_budget_usd) if b is not None]
            self._users[user_id] = Account(
                f"the daily budget of user {user_id}", min(limits),
                spent(self.engine, user_id=user_id, since=today)) if limits else None
        return self._users[user_id]


__all__ = ["Account", "BudgetLedger"]
