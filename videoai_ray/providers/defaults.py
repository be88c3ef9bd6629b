"""The providers registered at start: every local provider and every cloud adapter (the latter
report themselves unavailable without their key). Providers users register at runtime are kept
in the store (``store.registrations``), so they outlive a restart of the Scheduler and of Ray."""

from __future__ import annotations

import logging

from ..settings import Settings
from .base import Provider

log = logging.getLogger("videoai.providers")


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
