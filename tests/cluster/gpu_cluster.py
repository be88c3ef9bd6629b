"""Run by test_cluster.py in its own process: one multi-node Ray cluster on this machine whose
nodes declare GPUs, an accelerator type and a custom resource (Ray accepts them on a CPU machine),
and providers that ask for them. Prints one JSON line of what was observed."""

from __future__ import annotations

import json
import sys
import tempfile
from typing import Any

import ray
from ray.cluster_utils import Cluster

import videoai_ray as vai
from videoai_ray.providers.testing import BatchSleepProvider, GpuSleepProvider


def _run(client: vai.Client, provider: str, n: int, task_type: str = "video_generation") -> list[dict[str, Any]]:
    batch = client.batch([{"task_type": task_type, "input_data": {"prompt": f"{provider} {i}", "provider": provider}}
                          for i in range(n)])
    batch.wait(timeout=240)
    return [{"status": t.status.value, "output": t.output, "error": t.error.message if t.error else None,
             "node": t.node} for t in batch.results()]


def main() -> None:
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 2, "include_dashboard": False})
    gpu2 = cluster.add_node(num_cpus=2, num_gpus=2, resources={"accelerator_type:T4": 1})
    gpu1 = cluster.add_node(num_cpus=2, num_gpus=1, resources={"special": 2})
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, namespace="videoai", log_to_driver=False)
    node_of = {"gpu2": gpu2.node_id, "gpu1": gpu1.node_id}
    settings = vai.Settings(home=tempfile.mkdtemp(), instance="gpu-cluster", cache_enabled=False, max_retries=0)
    providers = [
        GpuSleepProvider(1.0, 8, name="one-gpu", num_gpus=1),
        GpuSleepProvider(0.3, 8, name="special", resources={"special": 1}),
        GpuSleepProvider(0.3, 8, name="t4", num_gpus=1, accelerator_type="T4"),
        GpuSleepProvider(0.3, 8, name="h100", num_gpus=1, accelerator_type="H100"),
        GpuSleepProvider(0.3, 8, name="eight-gpus", num_gpus=8),
        BatchSleepProvider(0.5, name="gpu-pool", num_gpus=1, max_batch_size=2, pool_max=4, batch_wait_s=0.0),
    ]
    client = vai.connect(settings=settings, providers=providers)
    rows = {r["name"]: r for r in client.service.providers.list()}
    out: dict[str, Any] = {"nodes": node_of, "caps": {n: rows[n]["cap"] for n in rows},
                           "available": {n: rows[n]["available"] for n in rows},
                           "reasons": {n: rows[n]["unavailable_reason"] for n in rows}}
    for name, n in (("one-gpu", 9), ("special", 6), ("t4", 4), ("h100", 2), ("eight-gpus", 1)):
        out[name] = _run(client, name, n)
    out["gpu-pool"] = _run(client, "gpu-pool", 40, "image_generation")
    out["pool"] = next(r for r in client.service.providers.list() if r["name"] == "gpu-pool")["pool"]
    print(json.dumps(out))
    ray.shutdown()
    cluster.shutdown()


if __name__ == "__main__":
    sys.exit(main())
