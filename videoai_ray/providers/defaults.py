"""The providers registered at start: every local provider and every cloud adapter (the latter
report themselves unavailable without their key), plus providers users registered at runtime,
which are kept in Ray's internal key-value store so a Scheduler restart keeps them."""

from __future__ import annotations

import logging

from ..settings import Settings
from .base import Provider

log = logging.getLogger("videoai.providers")

_KV_PREFIX = "videoai:providers:"


def default_providers(settings: Settings) -> list[Provider]:
    out: list[Provider] = []
    try:
        from .local import local_providers

        out.extend(local_providers(settings))
    except ImportError:
        log.warning("local providers could not be loaded", exc_info=True)
    try:
        from .cloud import cloud_providers

        out.extend(cloud_providers(settings))
    except ImportError:
        log.warning("cloud providers could not be loaded", exc_info=True)
    return out


def _key(instance: str, name: str = "") -> bytes:
    return f"{_KV_PREFIX}{instance}:{name}".encode()


def save_user_provider(instance: str, provider: Provider) -> None:
    from ray import cloudpickle
    from ray.experimental import internal_kv

    internal_kv._internal_kv_put(_key(instance, provider.name), cloudpickle.dumps(provider), overwrite=True)


def delete_user_provider(instance: str, name: str) -> None:
    from ray.experimental import internal_kv

    internal_kv._internal_kv_del(_key(instance, name))


def load_user_providers(instance: str) -> list[Provider]:
    from ray import cloudpickle
    from ray.experimental import internal_kv

    out: list[Provider] = []
    try:
        keys = internal_kv._internal_kv_list(_key(instance))
    except Exception:
        log.warning("could not list saved providers", exc_info=True)
        return out
    for key in keys:
        blob = internal_kv._internal_kv_get(key)
        if blob is None:
            continue
        try:
            out.append(cloudpickle.loads(blob))
        except Exception:
            log.warning("a saved provider (%s) could not be loaded; skipped", key, exc_info=True)
    return out
