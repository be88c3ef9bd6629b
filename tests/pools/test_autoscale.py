"""What a pool may count on when the cluster can grow: the autoscaler's node types (from a
launcher config such as cluster.yaml), placement over live nodes plus the nodes still to come,
and the one ``request_resources`` the pools keep (asked, replaced, cleared)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from videoai_ray.pools.autoscale import ResourceRequests
from videoai_ray.providers.registry import ProviderRegistry
from videoai_ray.providers.resources import NodeType, addable, autoscaler_node_types, node_types_from_config, placement
from videoai_ray.providers.testing import BatchSleepProvider

ROOT = Path(__file__).resolve().parents[2]
GPU = NodeType("gpu_worker", {"CPU": 1.0, "GPU": 1.0}, 2)


def test_cluster_yaml_has_a_gpu_worker_type_that_starts_at_zero() -> None:
    config = yaml.safe_load((ROOT / "cluster.yaml").read_text())
    assert config["available_node_types"]["gpu_worker"]["min_workers"] == 0
    types = {t.name: t for t in node_types_from_config(config)}
    assert "head" not in types  # the head is never added
    assert types["gpu_worker"].resources["GPU"] >= 1
    assert types["gpu_worker"].max_workers >= 1


def test_node_types_read_from_a_config_file(tmp_path: Path) -> None:
    config = {"max_workers": 3, "head_node_type": "h", "available_node_types": {
        "h": {"resources": {"CPU": 2}},
        "gpu": {"resources": {"CPU": 4, "GPU": 1}, "max_workers": 8},  # bounded by the cluster's 3
        "auto": {"node_config": {}},  # resources filled in by the cloud at launch: not known here
        "off": {"resources": {"CPU": 1}, "max_workers": 0}}}
    for path, text in ((tmp_path / "c.json", json.dumps(config)), (tmp_path / "c.yaml", yaml.safe_dump(config))):
        path.write_text(text)
        assert autoscaler_node_types(path) == [NodeType("gpu", {"CPU": 4.0, "GPU": 1.0}, 3)]
    (tmp_path / "bad.yaml").write_text(": not yaml [")
    assert autoscaler_node_types(tmp_path / "bad.yaml") == []  # no growth, not a failed Scheduler
    assert autoscaler_node_types(tmp_path / "missing.yaml") == []


def test_placement_counts_the_nodes_the_autoscaler_may_still_add() -> None:
    head = {"CPU": 1.0}
    assert placement({"GPU": 1.0}, [head])[0] == 0
    assert placement({"GPU": 1.0}, [head], [GPU]) == (2, None)
    # one GPU node is up already: one more may come
    live = [head, {"CPU": 1.0, "GPU": 1.0}]
    assert addable(live, [GPU]) == [{"CPU": 1.0, "GPU": 1.0}]
    assert placement({"GPU": 1.0}, live, [GPU]) == (2, None)
    units, why = placement({"GPU": 2.0}, [head], [GPU])
    assert units == 0 and why is not None and "node types the autoscaler may add" in why


def test_registry_makes_a_gpu_pool_available_when_a_node_type_fits() -> None:
    registry = ProviderRegistry()
    registry.register(BatchSleepProvider(name="gpu-pool", num_gpus=1, max_batch_size=2, pool_max=4))
    registry.set_nodes([{"CPU": 1.0}])
    assert registry.cap("gpu-pool") == 0 and "GPU=1" in (registry.reason("gpu-pool") or "")
    registry.set_node_types([GPU])
    assert registry.reason("gpu-pool") is None
    assert registry.cap("gpu-pool") == 2 * 2 * 2  # two nodes to come, one actor each, 2 batches of 2
    registry.set_node_types([])
    assert registry.cap("gpu-pool") == 0


@pytest.mark.usefixtures("ray_session")
def test_default_source_is_the_bootstrap_config_on_the_head(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from videoai_ray.providers import resources

    monkeypatch.setattr(resources, "BOOTSTRAP_CONFIG", tmp_path / "ray_bootstrap_config.yaml")
    assert autoscaler_node_types() == []  # a local Ray: no node groups reported, no launcher config
    (tmp_path / "ray_bootstrap_config.yaml").write_text((ROOT / "cluster.yaml").read_text())
    assert [t.name for t in autoscaler_node_types()] == ["cpu_worker", "gpu_worker"]


@pytest.mark.usefixtures("ray_session")
def test_one_request_asked_replaced_and_cleared() -> None:
    from ray._private import ray_constants
    from ray.experimental.internal_kv import _internal_kv_get

    def asked() -> object:
        raw = _internal_kv_get(ray_constants.AUTOSCALER_RESOURCE_REQUEST_CHANNEL)
        return json.loads(raw) if raw else None

    requests = ResourceRequests()
    assert requests.update([{"GPU": 1.0}], grows=False) is False  # no autoscaler: nothing asked
    assert requests.update([{"GPU": 1.0}], grows=True) is True
    assert asked() == [{"GPU": 1.0}]
    assert requests.update([{"GPU": 1.0}], grows=True) is False  # unchanged: no call
    assert requests.update([{"GPU": 1.0}, {"GPU": 1.0, "CPU": 1.0}], grows=True) is True
    assert asked() == [{"GPU": 1.0}, {"GPU": 1.0, "CPU": 1.0}]
    assert requests.update([], grows=False) is True  # an old request is cleared even so
    assert asked() == [] and requests.describe() == {"requested": [], "calls": 3}
