"""What the pools ask of Ray's autoscaler.

A pool that starts an actor no live node can hold leaves it pending: Ray's autoscaler sees the
pending actor and adds a node of a type that fits (``cluster.yaml``'s ``gpu_worker``). The pools
also say so explicitly: one ``ray.autoscaler.sdk.request_resources`` call with a bundle per actor
that is starting and not yet ready, for every pool together (Ray keeps only the latest call), so
the autoscaler starts the node at once and keeps it while the actor loads. When no actor is
starting the request is cleared (``bundles=[]``): the actors that run hold their resources
themselves, and once idle actors stop (``pool_idle_s``, down to ``pool_min``) nothing keeps the
node, and the autoscaler removes it after its ``idle_timeout_minutes``.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("videoai.executor")


def _key(bundles: list[dict[str, float]]) -> list[tuple[tuple[str, float], ...]]:
    return sorted(tuple(sorted(b.items())) for b in bundles)


class ResourceRequests:
    """The one outstanding ``request_resources`` of this Scheduler's pools."""

    def __init__(self) -> None:
        #: the bundles last sent (``[]``: nothing requested, or the request cleared)
        self.bundles: list[dict[str, float]] = []
        self.sent = 0  #: calls made (requests and clears)

    def update(self, bundles: list[dict[str, float]], *, grows: bool) -> bool:
        """Ask for ``bundles`` when they differ from the last request; ``grows``: the cluster has
        an autoscaler with node types (without one, nothing is asked, but an old request is still
        cleared). Returns whether a call was made."""
        if not grows and not self.bundles:
            return False
        if _key(bundles) == _key(self.bundles):
            return False
        from ray.autoscaler.sdk import request_resources

        request_resources(bundles=[dict(b) for b in bundles])
        self.sent += 1
        log.info("asked the autoscaler for %s", bundles or "nothing (request cleared)")
        self.bundles = [dict(b) for b in bundles]
        return True

    def describe(self) -> dict[str, Any]:
        return {"requested": [dict(b) for b in self.bundles], "calls": self.sent}


__all__ = ["ResourceRequests"]
