"""The model catalogue: named weights (a folder, a storage URL or a Hub repo at a pinned revision)
that the local model providers serve per request (``model=<name>``); see docs/models.md.

``spec`` holds what an entry is and the checks a registration passes; ``service`` the
registration, listing and resolution (``MediaService.models``); ``weights`` fetches an entry's
weights once per node; ``videoai_ray.pools.multiplex`` keeps several loaded in one pool actor.
"""

from .spec import BUILTIN, PROVIDERS, ModelSpec

__all__ = ["BUILTIN", "PROVIDERS", "ModelSpec"]
