"""Run by test_documented_path.py as a notebook would be, against the head node whose GCS
address is in ``RAY_ADDRESS``: the docs/cluster.md steps from a driver. Prints one JSON line.

Before the notebook connects, the Scheduler and the webhook dispatcher are started from a Ray task
pinned to the second node, as a job or a replica there would, while the head's CPU is busy (as
with a batch running): without placement Ray puts them on the less used node, with it they run
on the head."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

import videoai_ray as vai
from videoai_ray.placement import control_plane_of, head_node_id
from videoai_ray.ray_join import join_ray
from videoai_ray.scheduler import NAMESPACE


@ray.remote(num_cpus=1)
class _Busy:
    """Holds one CPU of the node it runs on."""

    def ready(self) -> bool:
        return True


@ray.remote(num_cpus=0)
def _start_control_plane_here() -> str:
    from videoai_ray.webhooks.dispatcher import get_or_create_dispatcher

    client = vai.connect()  # Ray is up in a task: it only finds or starts the Scheduler
    ray.get(get_or_create_dispatcher(client.settings).status.remote())
    return str(ray.get_runtime_context().get_node_id())


def _wait_for_nodes(n: int, deadline: float) -> list[dict[str, Any]]:
    while True:
        alive = [node for node in ray.nodes() if node["Alive"]]
        if len(alive) >= n or time.monotonic() > deadline:
            return alive
        time.sleep(0.5)


def main() -> None:
    started = time.monotonic()
    join_ray(namespace=NAMESPACE, log_to_driver=False)  # RAY_ADDRESS, as docs/cluster.md sets it
    nodes = _wait_for_nodes(2, time.monotonic() + 120)
    if len(nodes) < 2:
        raise RuntimeError(f"the second node did not join: {nodes}")
    head = head_node_id()
    other = next(n["NodeID"] for n in nodes if n["NodeID"] != head)
    busy = _Busy.options(scheduling_strategy=NodeAffinitySchedulingStrategy(head, soft=False)).remote()
    ray.get(busy.ready.remote())  # the head's one CPU is taken
    started_on = ray.get(_start_control_plane_here.options(
        scheduling_strategy=NodeAffinitySchedulingStrategy(other, soft=False)).remote())
    ray.kill(busy)
    client = vai.connect()
    connected = time.monotonic() - started
    items = [{"task_type": "image_generation", "input_data": {"prompt": f"picture {i}", "size": "512x512",
                                                              "provider": "local-procedural-image"}}
             for i in range(6)]
    items += [{"task_type": "subtitle_generation", "input_data": {"text": f"Hello {i}.", "format": "vtt"}}
              for i in range(2)]
    batch = client.batch(items)
    counts = batch.wait(timeout=180)
    tasks = batch.results()
    image = next(t for t in tasks if t.type.value == "image_generation")
    frame = client.tasks(limit=20)
    print(json.dumps({
        "connected_s": round(connected, 1), "head": head, "other": other, "started_on": started_on,
        "counts": counts, "task_nodes": sorted({t.node["node_id"] for t in tasks if t.node}),
        "nodes_recorded": all(t.node and t.node.get("ip") for t in tasks),
        "frame_nodes": sorted(set(frame["node_id"].dropna())),
        "png": client.files.read(image)[:4] == b"\x89PNG",
        "placement": control_plane_of(client.settings), "db_url": client.settings.db_url,
    }))
    ray.shutdown()


if __name__ == "__main__":
    sys.exit(main())
