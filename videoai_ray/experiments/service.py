"""ExperimentService: what every entry point (SDK, HTTP) calls for experiments: create, list, get,
stop and report, each scoped to its owner. ``MediaService.experiments`` owns one.

Who may create what: any caller, an experiment on their own traffic; an experiment on another
user's traffic (``user_id``) or on everyone's (``all_users``) needs an admin caller (an HTTP
token with the ``admin`` claim; the SDK, which holds the cluster itself, is one).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import ExperimentNotFound, Forbidden, QuotaExceeded
from ..store import utcnow
from ..tenants.ids import owner_prefix, tenant_of
from .models import Experiment, ExperimentSpec, check_providers, new_experiment_id, parse_spec, resolve_models
from .report import build_report

if TYPE_CHECKING:
    from ..service import MediaService


class ExperimentService:
    """Experiments through the one core every entry point calls."""

    def __init__(self, media: MediaService) -> None:
        self.media = media

    def create(self, body: Mapping[str, Any] | ExperimentSpec, owner_id: str, *,
               admin: bool = False) -> dict[str, Any]:
        """Store and start an experiment; ``InvalidRequest`` naming the field for bad input,
        ``Forbidden`` for another user's or everyone's traffic without ``admin``,
        ``QuotaExceeded`` when the owner already runs ``user_max_experiments`` (or its tenant's
        users together its ``max_experiments`` limit). Nothing is
        stored unless every check passes."""
        spec = parse_spec(body)
        if spec.all_users and not admin:
            raise Forbidden("all_users: an experiment on every user's traffic needs an admin token",
                            field="all_users")
        if spec.user_id not in (None, owner_id) and not admin:
            raise Forbidden("user_id: an experiment on another user's traffic needs an admin token",
                            field="user_id")
        spec = resolve_models(spec, self.media.models.resolve)
        check_providers(spec, self.media.providers.list())
        exp = Experiment(
            id=new_experiment_id(), owner_id=owner_id, name=spec.name, task_type=spec.task_type, arms=spec.arms,
            baseline=spec.baseline or spec.arms[0].label,
            user_id=None if spec.all_users else (spec.user_id or owner_id), metadata=spec.metadata,
            created_at=utcnow(),
        )
        from ..store.experiments import TenantOverCap, insert_experiment

        cap = self.media.settings.user_max_experiments
        tenant = tenant_of(owner_id)
        tenant_cap = self.media.tenants.directory.limits(tenant).get("max_experiments") if tenant else None
        tenant_max = (owner_prefix(tenant), tenant_cap) if tenant and tenant_cap is not None else None
        running = insert_experiment(self.media.store.engine, exp, cap, instance=self.media.store.instance,
                                    tenant_max=tenant_max)
        if isinstance(running, TenantOverCap):
            raise QuotaExceeded(f"experiments: tenant {tenant}'s users run {running.running} experiments, the most "
                                f"its max_experiments limit allows ({tenant_cap}); stop one first",
                                limit="tenant.max_experiments", maximum=running.cap)
        if running is not None:
            assert cap is not None
            raise QuotaExceeded(f"experiments: you run {running} experiments, the most one user may "
                                f"(VIDEOAI_USER_MAX_EXPERIMENTS={cap}); stop one first",
                                limit="VIDEOAI_USER_MAX_EXPERIMENTS", maximum=cap)
        self.media.router.invalidate()
        return exp.public()

    def list(self, owner_id: str | None, limit: int = 100, *, user_prefix: str | None = None) -> list[dict[str, Any]]:
        """The owner's experiments (or every owner's under ``user_prefix``), newest first."""
        from ..store.experiments import list_experiments

        store = self.media.store
        return [e.public() for e in list_experiments(store.engine, owner_id, limit, instance=store.instance,
                                                     owner_prefix=user_prefix)]

    def get(self, experiment_id: str, owner_id: str) -> dict[str, Any]:
        """One of the owner's experiments; ``ExperimentNotFound`` for an unknown id or another user's."""
        return self._load(experiment_id, owner_id).public()

    def stop(self, experiment_id: str, owner_id: str) -> dict[str, Any]:
        """Stop it: tasks submitted from now on are not assigned to it (those already assigned
        keep their arm and provider). Stopping a stopped experiment changes nothing."""
        from ..store.experiments import stop_experiment

        if not stop_experiment(self.media.store.engine, experiment_id, owner_id, instance=self.media.store.instance):
            raise ExperimentNotFound(f"no experiment {experiment_id}")
        self.media.router.invalidate()
        return self.get(experiment_id, owner_id)

    def report(self, experiment_id: str, owner_id: str | None, *, user_prefix: str | None = None) -> dict[str, Any]:
        """The arms compared (see ``experiments.report``); of the owner's experiment, or of one
        whose owner is under ``user_prefix``."""
        from ..store.experiments import experiment_task_rows

        exp = self._load(experiment_id, owner_id, user_prefix)
        return build_report(exp, experiment_task_rows(self.media.store.engine, exp.id))

    def _load(self, experiment_id: str, owner_id: str | None, user_prefix: str | None = None) -> Experiment:
        from ..store.experiments import get_experiment

        exp = get_experiment(self.media.store.engine, experiment_id, owner_id, instance=self.media.store.instance,
                             owner_prefix=user_prefix)
        if exp is None:
            raise ExperimentNotFound(f"no experiment {experiment_id}")
        return exp


__all__ = ["ExperimentService"]
