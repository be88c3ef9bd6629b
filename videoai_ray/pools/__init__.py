"""Warm pools of Ray actors for model providers (``ModelProvider``): weights loaded once per
actor, attempts served in micro-batches."""

from .manager import Pool, PoolManager

__all__ = ["Pool", "PoolManager"]
