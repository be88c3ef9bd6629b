"""What a provider asks of the cluster, and whether (and how many times) the cluster can give it.

A provider declares ``num_cpus``, ``num_gpus`` (fractional allowed), ``accelerator_type``,
``memory`` (bytes) and ``resources`` (custom Ray resources). The same numbers become the Ray
options of its CPU tasks, its worker actor or its pool actors, so Ray places the work on nodes
that have them; the Scheduler reads the live nodes' totals to cap each provider at what the
cluster can hold at once and to report a provider no node can hold as unavailable.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .base import Provider

log = logging.getLogger("videoai.providers")

#: Ray's node resource that marks an accelerator type (``accelerator_type:H100``)
ACCELERATOR_PREFIX = "accelerator_type:"
_EPS = 1e-9


def needs(provider: Provider, *, num_cpus: float | None = None) -> dict[str, float]:
    """The Ray resources one unit of ``provider`` holds (one CPU task, or one actor): a dict of
    resource name -> amount, with the accelerator type as its Ray marker resource."""
    out: dict[str, float] = {}
    cpus = float(provider.num_cpus if num_cpus is None else num_cpus)
    if cpus > 0:
        out["CPU"] = cpus
    if float(provider.num_gpus) > 0:
        out["GPU"] = float(provider.num_gpus)
    if provider.memory:
        out["memory"] = float(provider.memory)
    for key, amount in provider.resources.items():
        if amount > 0:
            out[key] = float(amount)
    if provider.accelerator_type:
        out[ACCELERATOR_PREFIX + provider.accelerator_type] = 0.001
    return out


def ray_options(provider: Provider, *, num_cpus: float | None = None) -> dict[str, Any]:
    """Keyword options for ``.options()`` of a Ray task or actor that runs ``provider``."""
    opts: dict[str, Any] = {"num_cpus": provider.num_cpus if num_cpus is None else num_cpus}
    if provider.num_gpus:
        opts["num_gpus"] = provider.num_gpus
    if provider.accelerator_type:
        opts["accelerator_type"] = provider.accelerator_type
    if provider.memory:
        opts["memory"] = provider.memory
    if provider.resources:
        opts["resources"] = dict(provider.resources)
    return opts


def declares_resources(provider: Provider) -> bool:
    """Whether the provider asks for anything beyond CPUs (then even its I/O actor holds it)."""
    return bool(provider.num_gpus or provider.accelerator_type or provider.memory or provider.resources)


def units_on(node: dict[str, float], need: dict[str, float]) -> int:
    """How many units needing ``need`` fit at once in a node with totals ``node``."""
    if not need:
        return 1_000_000
    fits = []
    for key, amount in need.items():
        have = node.get(key, 0.0)
        if key.startswith(ACCELERATOR_PREFIX):
            if have <= 0:
                return 0
            continue
        fits.append(math.floor(have / amount + _EPS))
    return min(fits) if fits else 1_000_000


def placement(need: dict[str, float], nodes: list[dict[str, float]]) -> tuple[int, str | None]:
    """(units the whole cluster holds at once, why none fits) for one unit's ``need``."""
    units = sum(units_on(n, need) for n in nodes)
    if units > 0:
        return units, None
    missing = []
    for key, amount in need.items():
        best = max((n.get(key, 0.0) for n in nodes), default=0.0)
        if key.startswith(ACCELERATOR_PREFIX):
            if best <= 0:
                missing.append(f"accelerator_type={key.removeprefix(ACCELERATOR_PREFIX)!r}")
        elif best + _EPS < amount:
            missing.append(f"{key}={amount:g} (largest node has {best:g})")
    detail = ", ".join(missing) or ", ".join(f"{k}={v:g}" for k, v in need.items())
    return 0, f"no node of the cluster can hold one unit of it: needs {detail}"


def cluster_nodes() -> list[dict[str, float]]:
    """Total resources of every live node (an empty list outside Ray or when Ray cannot answer)."""
    try:
        import ray

        if not ray.is_initialized():
            return []
        return [dict(n.get("Resources") or {}) for n in ray.nodes() if n.get("Alive")]
    except Exception:  # monitoring: the caller keeps the last answer
        log.warning("could not read the cluster's nodes", exc_info=True)
        return []


def holds_gpu() -> bool:
    """Whether this process holds a GPU (a Ray task or actor started with ``num_gpus``)."""
    try:
        import ray

        return ray.is_initialized() and bool(ray.get_gpu_ids())
    except Exception:  # outside Ray
        return False


def validate_resources(provider: Provider) -> str | None:
    """Why the declared resources are not a valid Ray request, or ``None``."""
    gpus = float(provider.num_gpus)
    if gpus < 0 or float(provider.num_cpus) < 0:
        return "num_cpus and num_gpus must be >= 0"
    if gpus > 1 and not gpus.is_integer():
        return "num_gpus above 1 must be a whole number (fractions only below one GPU)"
    if provider.memory is not None and int(provider.memory) <= 0:
        return "memory must be a positive number of bytes"
    if provider.accelerator_type is not None and not str(provider.accelerator_type).strip():
        return "accelerator_type must be a non-empty string"
    if not isinstance(provider.resources, dict) or not all(
            isinstance(k, str) and k and float(v) >= 0 for k, v in provider.resources.items()):
        return "resources must map resource names to non-negative amounts"
    if any(k in ("CPU", "GPU", "memory") for k in provider.resources):
        return "use num_cpus / num_gpus / memory, not resources={'CPU'|'GPU'|'memory': ...}"
    return None


__all__ = ["cluster_nodes", "declares_resources", "holds_gpu", "needs", "placement", "ray_options", "units_on",
           "validate_resources"]
