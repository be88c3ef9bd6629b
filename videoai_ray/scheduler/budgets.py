"""Budget admission: before an attempt starts, its estimated cost plus what its batch (and its
user, today; and its user's tenant, today and this month) already spent and holds in flight must
fit the budget, or the task is not started.

One call from dispatch (``admit``) and two from result handling (``release``, ``spend``); the
rest of the Scheduler does not know budgets exist. Accounts are read from the store the first
time a batch or a user (per UTC day) is seen, then kept in memory: the Scheduler is the one
writer of task costs, so its count is exact. A tenant's budgets (its ``daily_budget_usd`` and
``monthly_budget_usd`` limits, from the ``TenantLimitBook``) count every one of its users' tasks;
a change of them applies from the next attempt on (``tenant_changed``)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from ..errors import BudgetExceeded
from ..settings import Settings
from ..store.budgets import batch_budget, day_start, get_user_budget, month_start, spent
from ..tenants.ids import owner_prefix, tenant_of
from .tenant_limits import TenantLimitBook

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

    def __init__(self, settings: Settings, engine: Engine, tenants: TenantLimitBook | None = None) -> None:
        self.settings = settings
        self.engine = engine
        self.tenants = tenants if tenants is not None else TenantLimitBook()
        #: per tenant: its ``daily`` and ``monthly`` accounts (those it has a limit for)
        self._tenants: dict[str, dict[str, Account]] = {}
        self._batches: dict[str, Account | None] = {}
        self._users: dict[str, Account | None] = {}
        self._day: datetime = day_start()
        #: task id -> (the estimate reserved for its running attempt, the accounts holding it)
        self._held: dict[str, tuple[float, tuple[Account, ...]]] = {}

    def admit(self, act: Active, provider: Provider) -> BudgetExceeded | None:
        """``None`` and the attempt's estimate reserved, or the error to fail the task with."""
        accounts = self._accounts(act)
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
        accounts = self._accounts(act)
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
        tenant = tenant_of(act.user_id)
        for account in (self._batches.get(act.batch_id or ""), self._users.get(act.user_id),
                        *self._tenants.get(tenant or "", {}).values()):
            if account is not None:
                account.spent += cost

    def forget_user(self, user_id: str) -> None:
        """The user's budget changed: read it again at the next attempt."""
        self._users.pop(user_id, None)

    def tenant_changed(self, tenant: str) -> None:
        """The tenant's limits changed: its accounts take the new budgets at once, keeping what
        they count as spent and in flight; a budget newly set reads its spend from the store."""
        accounts = self._tenants.get(tenant)
        if accounts is None:
            return  # read when its next attempt comes
        fresh = self._tenant_accounts(tenant, accounts)
        accounts.clear()
        accounts.update(fresh)

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

    def _accounts(self, act: Active) -> tuple[Account, ...]:
        """The accounts an attempt of ``act`` counts against: its batch's, its user's, its tenant's."""
        own = tuple(a for a in (self._batch(act.batch_id), self._user(act.user_id)) if a is not None)
        tenant = tenant_of(act.user_id)
        return own + self._tenant(tenant) if tenant is not None else own

    def _new_day(self) -> None:
        today = day_start()
        if today != self._day:
            self._day, self._users, self._tenants = today, {}, {}

    def _tenant(self, tenant: str) -> tuple[Account, ...]:
        self._new_day()
        accounts = self._tenants.get(tenant)
        if accounts is None:
            accounts = self._tenants[tenant] = self._tenant_accounts(tenant, {})
        return tuple(accounts.values())

    def _tenant_accounts(self, tenant: str, known: dict[str, Account]) -> dict[str, Account]:
        """The tenant's accounts for its limits now: those in ``known`` with their new budget,
        new ones with the spend read from the store."""
        limits = self.tenants.of(tenant)
        accounts = {}
        for kind, key, since in (("daily", "daily_budget_usd", self._day),
                                 ("monthly", "monthly_budget_usd", month_start(self._day))):
            if limits.get(key) is None:
                continue
            account = known.get(kind)
            if account is None:
                account = Account(f"the {kind} budget of tenant {tenant}", 0.0,
                                  spent(self.engine, owner_prefix=owner_prefix(tenant), since=since))
            account.budget = float(limits[key])
            accounts[kind] = account
        return accounts

    def _user(self, user_id: str) -> Account | None:
        self._new_day()
        today = self._day
        if user_id not in self._users:
            own = get_user_budget(self.engine, user_id)
            limits = [b for b in (own, self.settings.user_daily_budget_usd) if b is not None]
            self._users[user_id] = Account(
                f"the daily budget of user {user_id}", min(limits),
                spent(self.engine, user_id=user_id, since=today)) if limits else None
        return self._users[user_id]


__all__ = ["Account", "BudgetLedger"]
