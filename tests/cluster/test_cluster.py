"""Cluster tests: the launcher config validates against Ray's schema, and a batch spreads over
the nodes of a real two-node cluster (run in a child process: it needs a Ray of its own)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_cluster_yaml_validates_against_rays_schema():
    from ray.autoscaler._private.util import prepare_config, validate_config

    config = yaml.safe_load((ROOT / "cluster.yaml").read_text())
    validate_config(prepare_config(config))  # Ray's own defaults, then its JSON schema: raises on violation
    assert any("videoai-ray" in cmd for cmd in config["setup_commands"])
    assert any("--port=6380" in cmd for cmd in config["head_start_ray_commands"])


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
