"""A model pool grows the cluster: with no GPU node at start, work for a GPU pool makes Ray's
autoscaler add one, the pool runs there, and once idle the pool stops, its request to the
autoscaler is cleared and the node is removed. The cluster runs in a child process (it needs a
Ray of its own, with an autoscaler); see autoscaling_pool.py."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_gpu_pool_adds_a_node_runs_there_and_gives_it_back() -> None:
    proc = subprocess.run([sys.executable, str(Path(__file__).with_name("autoscaling_pool.py"))],
                          capture_output=True, text=True, timeout=420, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-4000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["gpu_nodes_at_start"] == []
    # no live node has a GPU, but a node type the autoscaler may add does: available, and capped
    # at what that node holds (one actor, two batches of two)
    assert out["before"] == {"available": True, "reason": None, "cap": 4}
    assert out["two_gpus"]["available"] is False
    assert "node types the autoscaler may add" in out["two_gpus"]["reason"]
    assert "GPU=2 (largest node has 1)" in out["two_gpus"]["reason"]
    # the starting actor's resources were asked of the autoscaler, and a GPU node came
    assert out["requested_while_starting"] == [{"GPU": 1.0}]
    assert out["counts"] == {"completed": 4}
    assert len(out["gpu_nodes_in_use"]) == 1
    assert out["task_nodes"] == out["gpu_nodes_in_use"], "the pool did not run on the added GPU node"
    assert out["pool_during"] == {"size": 1, "started": 1, "limit": 1}
    # idle: the pool went to zero actors, the request was cleared, and the node was removed
    assert out["request_after_idle"] == []
    assert out["s_idle_to_node_removed"] >= out["s_to_pool_zero"]
