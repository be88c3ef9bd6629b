"""The result cache as the Scheduler uses it: a task's key (its type, media input and scope), the
lookups of a submitted chunk, and the put of a completed task."""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from .. import metrics
from ..models.record import Active
from ..settings import Settings
from ..tenants.ids import tenant_of

log = logging.getLogger("videoai.scheduler")


class TaskCache:
    """The configured cache layers (``cache.TieredCache``), keyed by task."""

    def __init__(self, layers: Any, scope: str) -> None:
        self.layers = layers
        self.scope = scope

    @classmethod
    def from_settings(cls, settings: Settings) -> TaskCache | None:
        if not settings.cache_enabled:
            return None
        try:
            from ..cache import TieredCache
        except ImportError:  # pragma: no cover - the cache package is part of the distribution
            log.warning("cache unavailable", exc_info=True)
            return None
        return cls(TieredCache.from_settings(settings), settings.cache_scope)

    def key(self, act: Active) -> str:
        from ..cache import cache_key

        model = act.options.get("model")
        # a catalogue model's result depends on its pinned revision (and its base's), not only its name
        media = act.input if not model else {**act.input, "model_key": _model_key(model)}
        return str(cache_key(act.type, media, scope=cache_scope(self.scope, act), inputs=act.options.get("inputs")))

    def lookup(self, keys: dict[str, str]) -> dict[str, Any]:
        """The hits of ``{task id: key}``, by task id (one lookup per distinct key)."""
        if not keys:
            return {}
        distinct = list(set(keys.values()))
        hits = self.layers.get_many(distinct)
        _record_lookups(len(distinct), hits.values())
        return {tid: hits[key] for tid, key in keys.items() if key in hits}

    def put(self, act: Active, output: dict[str, Any]) -> None:
        try:
            self.layers.put(self.key(act), {"output": output, "provider": act.provider})
        except Exception:
            log.warning("cache write failed for %s", act.id, exc_info=True)

    def stats(self) -> dict[str, Any]:
        return dict(self.layers.stats())

    def down(self) -> list[str]:
        """The layers skipped now because they failed (``TieredCache.down``)."""
        return list(self.layers.down())


def _model_key(model: dict[str, Any]) -> str:
    from ..catalogue.spec import ModelSpec

    return ModelSpec.from_dict(model).key


def cache_scope(setting: str, act: Active) -> str:
    """Who shares a cached result: the task's user (the default), its tenant (the token's
    ``tenant`` claim; a user without one keeps a scope of their own), or everyone. A tenant's
    task never shares beyond its tenant: ``global`` means everyone of its tenant for it. The
    tenant is read from the owner id first (``acme/ana``), so a tenant's task submitted through the
    SDK (no ``tenant`` option) is kept inside its tenant too: its result may have been paid with
    the tenant's own provider key."""
    tenant = tenant_of(act.user_id) or act.options.get("tenant")
    if setting == "global":
        return f"tenant:{tenant}" if tenant else ""
    return f"tenant:{tenant}" if tenant and setting == "tenant" else f"user:{act.user_id}"


def _record_lookups(keys: int, hits: Any) -> None:
    per_layer = Counter(h.layer for h in hits)
    for layer, n in per_layer.items():
        metrics.cache_lookup(layer, n, 0)
    if keys:
        metrics.cache_lookup("all", sum(per_layer.values()), keys - sum(per_layer.values()))


__all__ = ["TaskCache", "cache_scope"]
