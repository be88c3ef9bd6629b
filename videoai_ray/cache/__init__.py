"""Multi-layer cache of task outputs: L1 memory (1 h, LRU) → L2 Redis (24 h) → L3 disk (7 d).

Keys are content-addressed (:func:`cache_key`); :class:`TieredCache` is what the Scheduler
builds inside its actor (``TieredCache.from_settings(settings)``) and asks for whole chunks
of keys at once.
"""

from .keys import KEY_VERSION, cache_key, canonical_json, normalise_input
from .layers import CacheEntry, DiskLayer, Layer, MemoryLayer
from .redis_layer import RedisLayer
from .tiered import CacheHit, TieredCache

__all__ = [
    "KEY_VERSION",
    "CacheHit",
    "DiskLayer",
    "CacheEntry",
    "Layer",
    "MemoryLayer",
    "RedisLayer",
    "TieredCache",
    "cache_key",
    "canonical_json",
    "normalise_input",
]
