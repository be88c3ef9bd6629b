"""What a provider asks of the cluster, and whether (and how many times) the cluster can give it.

A provider declares ``num_cpus``, ``num_gpus`` (fractional allowed), ``accelerator_type``,
``memory`` (bytes) and ``resources`` (custom Ray resources). The same numbers become the Ray
options of its CPU tasks, its worker actor or its pool actors, so Ray places the work on nodes
that have them; the Scheduler reads the live nodes' totals to cap each provider at what the
cluster can hold at once and to report a provider no node can hold as unavailable.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
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


@dataclass(frozen=True)
class NodeType:
    """A kind of node the autoscaler may add: its resources and how many it may run at most."""

    name: str
    resources: dict[str, float]
    max_workers: int

    def matches(self, node: dict[str, float]) -> bool:
        """Whether a live node looks like one of this type (the same amount of each resource the
        type declares)."""
        return all(abs(node.get(k, 0.0) - v) < 1e-6 for k, v in self.resources.items() if v > 0)


def addable(nodes: list[dict[str, float]], node_types: list[NodeType]) -> list[dict[str, float]]:
    """The nodes the autoscaler may still add: each type's ``max_workers`` less the live nodes
    of that type, as one entry per node."""
    out: list[dict[str, float]] = []
    for t in node_types:
        live = sum(1 for n in nodes if t.matches(n))
        out.extend(dict(t.resources) for _ in range(max(0, t.max_workers - live)))
    return out


def placement(need: dict[str, float], nodes: list[dict[str, float]],
              node_types: list[NodeType] | None = None) -> tuple[int, str | None]:
    """(units the whole cluster holds at once, why none fits) for one unit's ``need``: the live
    ``nodes``, and the nodes of ``node_types`` the autoscaler may still add."""
    grown = nodes + addable(nodes, node_types or [])
    units = sum(units_on(n, need) for n in grown)
    if units > 0:
        return units, None
    missing = []
    for key, amount in need.items():
        best = max((n.get(key, 0.0) for n in grown), default=0.0)
        if key.startswith(ACCELERATOR_PREFIX):
            if best <= 0:
                missing.append(f"accelerator_type={key.removeprefix(ACCELERATOR_PREFIX)!r}")
        elif best + _EPS < amount:
            missing.append(f"{key}={amount:g} (largest node has {best:g})")
    detail = ", ".join(missing) or ", ".join(f"{k}={v:g}" for k, v in need.items())
    grows = " or of the node types the autoscaler may add" if node_types else ""
    return 0, f"no node of the cluster{grows} can hold one unit of it: needs {detail}"


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


def node_types_from_config(config: dict[str, Any]) -> list[NodeType]:
    """The worker node types of a Ray cluster launcher / autoscaler config (``cluster.yaml``'s
    ``available_node_types``, less the head's): those that declare their ``resources`` (a type
    whose resources the cloud provider fills in at launch is not known here, and is left out)."""
    types = config.get("available_node_types") or {}
    head = config.get("head_node_type")
    cap = int(config.get("max_workers", 1_000_000))
    out = []
    for name, spec in types.items():
        if name == head or not isinstance(spec, dict):
            continue
        resources = {str(k): float(v) for k, v in (spec.get("resources") or {}).items()
                     if isinstance(v, int | float) and v > 0}
        most = min(int(spec.get("max_workers", cap)), cap)
        if resources and most > 0:
            out.append(NodeType(str(name), resources, most))
    return out


def _ray_cluster_config() -> list[NodeType]:
    """The node groups Ray's GCS holds, where a platform reports them there (none in a plain
    ``ray start --autoscaling-config`` cluster: then the config file is read)."""
    import ray

    config = ray._private.state.state.get_cluster_config()
    if config is None:
        return []
    return [NodeType(g.name or f"group-{i}", {k: float(v) for k, v in g.resources.items() if v > 0},
                     int(g.max_count) if g.max_count >= 0 else 1_000_000)
            for i, g in enumerate(config.node_group_configs) if g.max_count != 0 and g.resources]


#: where ``ray up`` leaves the autoscaler's config on the head node
BOOTSTRAP_CONFIG = Path("~/ray_bootstrap_config.yaml")


def autoscaler_node_types(path: Path | None = None) -> list[NodeType]:
    """The node types the cluster's autoscaler may add: from the config file ``path``
    (``VIDEOAI_AUTOSCALING_CONFIG``), else from the node groups Ray's GCS holds, else from
    ``~/ray_bootstrap_config.yaml`` on this (head) node; ``[]`` when there is no autoscaler."""
    try:
        if path is None:
            found = _ray_cluster_config() if _ray_ready() else []
            if found:
                return found
            path = BOOTSTRAP_CONFIG.expanduser()
            if not path.is_file():
                return []
        text = Path(path).expanduser().read_text()
        config = json.loads(text) if text.lstrip().startswith("{") else _yaml(text)
        return node_types_from_config(config if isinstance(config, dict) else {})
    except Exception:  # monitoring: a config we cannot read means no growth, not a failed Scheduler
        log.warning("could not read the autoscaler's node types from %s", path, exc_info=True)
        return []


def _ray_ready() -> bool:
    import ray

    return bool(ray.is_initialized())


def _yaml(text: str) -> Any:
    import yaml

    return yaml.safe_load(text)


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


__all__ = ["NodeType", "addable", "autoscaler_node_types", "cluster_nodes", "declares_resources", "holds_gpu",
           "needs", "node_types_from_config", "placement", "ray_options", "units_on", "validate_resources"]
