"""Where the control plane runs, and where an attempt ran.

The control plane (the Scheduler, the artifact sink, the webhook dispatcher, Serve's controller,
proxy and API replicas) runs on the head node: the one node a plain ``ray start --head`` makes,
that the autoscaler never removes, and that holds the local artifact folder and SQLite file.
Ray gives the head node a resource of its own (``node:__internal_head__``), which Ray Serve uses
to place its controller the same way; asking for a sliver of it needs no flag at ``ray start``.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import ray

from . import actor_names

if TYPE_CHECKING:
    from .settings import Settings

#: the resource only the head node has (``ray._common.constants.HEAD_NODE_RESOURCE_NAME``)
HEAD_RESOURCE = "node:__internal_head__"


def on_head() -> dict[str, float]:
    """``resources=`` for an actor that must run on the head node."""
    return {HEAD_RESOURCE: 0.001}


def head_node_id() -> str | None:
    """The id of the live head node (``None`` when Ray reports none)."""
    for node in ray.nodes():
        if node.get("Alive") and HEAD_RESOURCE in (node.get("Resources") or {}):
            return str(node["NodeID"])
    return None


@functools.cache
@functools.cache
def _node() -> tuple[str, str]:
    """This process's node id and IP: fixed for its life, so asked once, not on every attempt."""
    return ray.get_runtime_context().get_node_id(), ray.util.get_node_ip_address()


def this_node() -> dict[str, Any]:
    """The node this process runs on: ``node_id``, ``ip``, and ``gpu_ids`` when Ray gave it GPUs
    (asked each time: a CPU attempt's Ray task gets its own)."""
    node_id, ip = _node()
    out: dict[str, Any] = {"node_id": node_id, "ip": ip}
    try:
        gpus = [str(g) for g in ray.get_gpu_ids()]
    except Exception:  # a driver, or Ray Client: no GPUs of its own
        gpus = []
    if gpus:
        out["gpu_ids"] = gpus
    return out


def node_label(node: dict[str, Any]) -> str:
    """``ip node=<id prefix> gpus=0,1``: a node as a log line shows it."""
    label = f"{node.get('ip')} node={str(node.get('node_id'))[:12]}"
    return label + (f" gpus={','.join(node['gpu_ids'])}" if node.get("gpu_ids") else "")


def actor_node(name: str, namespace: str) -> str | None:
    """The node a named actor runs on (``None`` when it is not running), from Ray's actor table."""
    from ray._private import state

    try:
        handle = ray.get_actor(name, namespace=namespace)
        info = state.actors(actor_id=handle._actor_id.hex())
    except Exception:
        return None
    node = ((info or {}).get("Address") or {}).get("NodeID")
    return str(node) if node else None


def control_plane(names: dict[str, tuple[str, str]]) -> dict[str, Any]:
    """Where each of ``names`` (``{label: (actor name, namespace)}``) runs, against the head node:
    ``{"head_node_id", "actors": {label: {"node_id", "on_head"}}, "all_on_head"}``."""
    head = head_node_id()
    actors: dict[str, dict[str, Any]] = {}
    for label, (name, namespace) in names.items():
        node = actor_node(name, namespace)
        actors[label] = {"node_id": node, "on_head": node is not None and node == head}
    running = [a for a in actors.values() if a["node_id"] is not None]
    return {"head_node_id": head, "actors": actors, "all_on_head": all(a["on_head"] for a in running)}


def control_plane_of(settings: Settings) -> dict[str, Any]:
    """``control_plane`` of a deployment's actors and Serve's controller, with this process's node
    (``here``: an API replica's, when a replica asks)."""
    from ray.serve._private.constants import SERVE_CONTROLLER_NAME, SERVE_NAMESPACE

    names = {"scheduler": (actor_names.scheduler_name(settings.instance), actor_names.NAMESPACE),
             "artifact_sink": (actor_names.artifact_sink_name(settings.instance), actor_names.NAMESPACE),
             "webhook_dispatcher": (actor_names.webhook_dispatcher_name(settings.instance), actor_names.NAMESPACE),
             "serve_controller": (SERVE_CONTROLLER_NAME, SERVE_NAMESPACE)}
    out = control_plane(names)
    here = ray.get_runtime_context().get_node_id()
    out["here"] = {"node_id": here, "on_head": here == out["head_node_id"]}
    return out


__all__ = ["HEAD_RESOURCE", "actor_node", "control_plane", "control_plane_of", "head_node_id", "node_label",
           "on_head", "this_node"]
