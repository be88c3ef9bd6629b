"""Cluster tests: the launcher config validates against Ray's schema, and a batch spreads over
the nodes of a real two-node cluster (run in a child process: it needs a Ray of its own)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_cluster_yaml_validates_against_rays_schema():
    from ray.autoscaler._private.util import prepare_config, validate_config

    config = yaml.safe_load((ROOT / "cluster.yaml").read_text())
    validate_config(prepare_config(config))  # Ray's own defaults, then its JSON schema: raises on violation
    assert any("videoai-ray" in cmd for cmd in config["setup_commands"])
    assert any("--port=6380" in cmd for cmd in config["head_start_ray_commands"])
    # Ray's token: made once on the laptop, shipped to every node, and the mode set where Ray needs it
    assert config["file_mounts"] == {"~/.ray/auth_token": "~/.ray/auth_token"}
    for key in ("head_start_ray_commands", "worker_start_ray_commands"):
        starts = [cmd for cmd in config[key] if " start " in cmd]
        assert starts and all(cmd.startswith("RAY_AUTH_MODE=token ") for cmd in starts), starts
    assert any("videoai cluster check" in cmd for cmd in config["worker_start_ray_commands"])


@pytest.mark.slow
def test_cpu_tasks_of_a_batch_run_on_both_nodes():
    proc = subprocess.run([sys.executable, str(Path(__file__).with_name("two_node_batch.py"))],
                          capture_output=True, text=True, timeout=420, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["counts"] == {"completed": 12}
    assert len(result["all_nodes"]) == 2
    assert sorted(result["nodes"]) == sorted(result["all_nodes"]), "CPU tasks did not use both nodes"
    assert result["images"] == 4 and result["readable"]


@pytest.fixture(scope="module")
def gpu_cluster() -> dict[str, Any]:
    """One multi-node cluster whose nodes declare GPUs, for every placement test of this module."""
    proc = subprocess.run([sys.executable, str(Path(__file__).with_name("gpu_cluster.py"))],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def _max_overlap(outputs: list[dict[str, Any]]) -> int:
    events = sorted([(o["started"], 1) for o in outputs] + [(o["finished"], -1) for o in outputs])
    now = peak = 0
    for _, step in events:
        now += step
        peak = max(peak, now)
    return peak


@pytest.mark.slow
def test_gpu_tasks_are_capped_and_get_their_own_gpu(gpu_cluster: dict[str, Any]) -> None:
    runs = gpu_cluster["one-gpu"]
    assert [r["status"] for r in runs] == ["completed"] * 9
    outs = [r["output"] for r in runs]
    assert gpu_cluster["caps"]["one-gpu"] == 3  # 2 + 1 GPUs in the cluster, though max_concurrency is 8
    assert _max_overlap(outs) <= 3
    assert {o["node_id"] for o in outs} == set(gpu_cluster["nodes"].values())
    for o in outs:  # Ray sets CUDA_VISIBLE_DEVICES per attempt: one GPU each
        assert o["cuda_visible_devices"] is not None and len(o["cuda_visible_devices"].split(",")) == 1
    for r in runs:  # the task record says where it ran, GPU included
        assert r["node"]["node_id"] == r["output"]["node_id"]
        assert ",".join(r["node"]["gpu_ids"]) == r["output"]["cuda_visible_devices"]
    for a in outs:
        for b in outs:  # two attempts that overlap on one node hold different GPUs
            if a is not b and a["node_id"] == b["node_id"] and a["started"] < b["finished"] - 0.05 \
                    and b["started"] < a["finished"] - 0.05:
                assert a["cuda_visible_devices"] != b["cuda_visible_devices"]


@pytest.mark.slow
def test_custom_resource_and_accelerator_type_place_work(gpu_cluster: dict[str, Any]) -> None:
    nodes = gpu_cluster["nodes"]
    assert {r["output"]["node_id"] for r in gpu_cluster["special"]} == {nodes["gpu1"]}
    assert gpu_cluster["caps"]["special"] == 2
    assert {r["output"]["node_id"] for r in gpu_cluster["t4"]} == {nodes["gpu2"]}
    assert gpu_cluster["caps"]["t4"] == 2
    assert all(r["status"] == "completed" for r in gpu_cluster["special"] + gpu_cluster["t4"])


@pytest.mark.slow
def test_unplaceable_provider_is_unavailable_with_the_reason(gpu_cluster: dict[str, Any]) -> None:
    for name, words in (("h100", "accelerator_type='H100'"), ("eight-gpus", "GPU=8 (largest node has 2)")):
        assert gpu_cluster["available"][name] is False
        assert words in gpu_cluster["reasons"][name]
        runs = gpu_cluster[name]
        assert all(r["status"] == "failed" and words in r["error"] for r in runs), runs


@pytest.mark.slow
def test_gpu_pool_spreads_one_actor_per_gpu(gpu_cluster: dict[str, Any]) -> None:
    runs = gpu_cluster["gpu-pool"]
    assert all(r["status"] == "completed" for r in runs)
    pool = gpu_cluster["pool"]
    assert pool["limit"] == 3  # pool_max 4, but the cluster has three GPUs
    assert pool["started"] == 3 and pool["largest_batch"] == 2
    actors = pool["actors"]
    assert len({a["node_id"] for a in actors}) == 2
    assert all(a["loads"] == 1 and len(a["gpu_ids"]) == 1 and a["cuda_visible_devices"] for a in actors)
    per_node: dict[str, set[str]] = {}
    for a in actors:
        per_node.setdefault(a["node_id"], set()).add(a["cuda_visible_devices"])
    assert sorted(len(v) for v in per_node.values()) == [1, 2]
