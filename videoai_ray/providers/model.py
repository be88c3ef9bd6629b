"""``ModelProvider``: the base class of providers that hold a model in memory.

The system runs each one as a pool of Ray actors (``videoai_ray.pools``): ``load()`` runs once per
actor and keeps the weights; ``run_batch(requests, ctxs)`` serves several attempts in one call
(one forward pass). The pool grows toward ``pool_max`` while attempts wait, shrinks to
``pool_min`` after ``pool_idle_s`` without work, and its actors hold the resources the class
declares (``num_gpus``, ``accelerator_type``, ``memory``, ``resources``, ``num_cpus``).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any, ClassVar

from .base import Provider, ProviderContext


class ModelProvider(Provider):
    """Subclass it, implement ``load`` and ``run_batch``, set the class settings below."""

    #: attempts served by one ``run_batch`` call at most
    max_batch_size: ClassVar[int] = 8
    #: seconds the pool waits for more attempts before it runs a batch that is not full
    batch_wait_s: ClassVar[float] = 0.01
    #: actors kept even when idle (0: the first attempt starts one, the last idle one stops)
    pool_min: ClassVar[int] = 0
    #: most actors of the pool (also bounded by what the cluster can place)
    pool_max: ClassVar[int] = 1
    #: seconds an actor beyond ``pool_min`` may stay idle before it is stopped
    pool_idle_s: ClassVar[float] = 60.0
    #: batches an actor holds at once: one running, the next one gathered and waiting
    batches_per_actor: ClassVar[int] = 2

    def load(self) -> None:
        """Load the weights into ``self``; called once in each pool actor, before any batch."""

    async def run_batch(self, requests: Sequence[Any], ctxs: Sequence[ProviderContext],
                        ) -> list[dict[str, Any] | BaseException]:
        """Serve ``requests`` (validated request models) together; one output dict per request,
        in order, or an exception for a request that failed on its own."""
        raise NotImplementedError

    def load_catalogue_model(self, spec: Any, weights: Any) -> Any:
        """Load a catalogue entry (``catalogue.ModelSpec``) from its fetched ``weights``
        (``catalogue.weights.Weights``) and return it; a pool actor keeps several
        (``pools.multiplex``). Runs in a thread; the provider's own ``load`` is not involved."""
        from ..errors import PermanentError

        raise PermanentError(f"{self.name} does not serve catalogue models")

    async def run_model_batch(self, model: Any, requests: Sequence[Any], ctxs: Sequence[ProviderContext],
                              ) -> list[dict[str, Any] | BaseException]:
        """``run_batch`` on a loaded catalogue model (what ``load_catalogue_model`` returned)."""
        from ..errors import PermanentError

        raise PermanentError(f"{self.name} does not serve catalogue models")

    def batch_key(self, request: Any) -> Hashable:
        """Requests with equal keys may share a batch (e.g. the image size); ``None``: all may."""
        return None

    def slots(self, actors: int) -> int:
        """Attempts the Scheduler may hand a pool of ``actors`` actors at once."""
        return max(0, actors) * self.max_batch_size * self.batches_per_actor

    def concurrency(self) -> int:
        return self.slots(self.pool_max)

    async def run(self, request: Any, ctx: ProviderContext) -> dict[str, Any]:
        """One attempt alone: a batch of one (used outside a pool, e.g. in unit tests)."""
        if not getattr(self, "_loaded", False):
            self.load()
            self._loaded = True
        (out,) = await self.run_batch([request], [ctx])
        if isinstance(out, BaseException):
            raise out
        return out


def validate_model_provider(provider: ModelProvider) -> str | None:
    """Why the pool settings are not usable, or ``None``."""
    if type(provider).run_batch is ModelProvider.run_batch:
        return "run_batch(requests, ctxs) is not implemented"
    import inspect

    if not inspect.iscoroutinefunction(type(provider).run_batch):
        return "run_batch must be 'async def'"
    if int(provider.max_batch_size) < 1:
        return "max_batch_size must be at least 1"
    if not 0 <= int(provider.pool_min) <= int(provider.pool_max) or int(provider.pool_max) < 1:
        return "pool sizes need 0 <= pool_min <= pool_max and pool_max >= 1"
    if float(provider.batch_wait_s) < 0 or float(provider.pool_idle_s) <= 0:
        return "batch_wait_s must be >= 0 and pool_idle_s > 0"
    if int(provider.batches_per_actor) < 1:
        return "batches_per_actor must be at least 1"
    return None


__all__ = ["ModelProvider", "validate_model_provider"]
