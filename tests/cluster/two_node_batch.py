"""Run by test_cluster.py in its own process: a two-node Ray cluster on this machine (Ray's
``cluster_utils.Cluster``), and a batch of CPU-bound tasks that must run on both nodes."""

from __future__ import annotations

import json
import sys
import tempfile

import ray
from ray.cluster_utils import Cluster

import videoai_ray as vai
from videoai_ray.artifacts import ArtifactStore
from videoai_ray.providers.local.image import ProceduralImageProvider
from videoai_ray.providers.testing import CpuSleepProvider


def main() -> None:
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, namespace="videoai", log_to_driver=False)
    settings = vai.Settings(home=tempfile.mkdtemp(), instance="two-node", cache_enabled=False)
    providers = [CpuSleepProvider(1.0, 2, name="cpu"), ProceduralImageProvider()]
    client = vai.connect(settings=settings, providers=providers)
    items = [{"task_type": "video_generation", "input_data": {"prompt": f"n{i}", "provider": "cpu"}}
             for i in range(8)]
    items += [{"task_type": "image_generation", "input_data": {"prompt": f"picture {i}", "size": "512x512"}}
              for i in range(4)]
    batch = client.batch(items)
    counts = batch.wait(timeout=240)
    tasks = batch.results()
    nodes = sorted({t.output["node_id"] for t in tasks if t.output and "node_id" in t.output})
    images = [t.output["image_url"] for t in tasks if t.output and "image_url" in t.output]
    store = ArtifactStore(settings.artifacts_root)
    readable = all(store.read_bytes(u)[:4] == b"\x89PNG" for u in images)
    print(json.dumps({"counts": counts, "nodes": nodes, "all_nodes": [n["NodeID"] for n in ray.nodes()],
                      "images": len(images), "readable": readable}))
    ray.shutdown()
    cluster.shutdown()


if __name__ == "__main__":
    sys.exit(main())
