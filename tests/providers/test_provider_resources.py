"""What a provider asks of the cluster: Ray options, placement units, reasons, validation, and the
registry's caps (pure functions and the registry, no Ray)."""

from __future__ import annotations

import pytest

from videoai_ray.errors import ProviderRegistrationError
from videoai_ray.models import ImageGenerationRequest, TaskType
from videoai_ray.providers.registry import ProviderRegistry
from videoai_ray.providers.resources import needs, placement, ray_options
from videoai_ray.providers.testing import BatchSleepProvider, GpuSleepProvider

NODES = [{"CPU": 2.0, "memory": 8e9},
         {"CPU": 2.0, "GPU": 2.0, "accelerator_type:T4": 1.0, "memory": 8e9},
         {"CPU": 2.0, "GPU": 1.0, "special": 2.0, "memory": 8e9}]
IMAGE = ImageGenerationRequest(prompt="x")


def test_ray_options_carry_every_declared_resource() -> None:
    p = GpuSleepProvider(num_gpus=0.5, accelerator_type="T4", resources={"special": 1}, num_cpus=1)
    assert ray_options(p) == {"num_cpus": 1, "num_gpus": 0.5, "accelerator_type": "T4", "resources": {"special": 1}}
    assert needs(p) == {"CPU": 1.0, "GPU": 0.5, "special": 1.0, "accelerator_type:T4": 0.001}


@pytest.mark.parametrize(("kw", "units"), [
    ({"num_gpus": 1}, 3), ({"num_gpus": 0.5}, 6), ({"num_gpus": 1, "accelerator_type": "T4"}, 2),
    ({"resources": {"special": 1}}, 2), ({"num_cpus": 1}, 6), ({"num_gpus": 2}, 1),
])
def test_placement_counts_units_over_the_nodes(kw: dict[str, object], units: int) -> None:
    assert placement(needs(GpuSleepProvider(**kw)), NODES) == (units, None)  # type: ignore[arg-type]


def test_placement_says_why_nothing_fits() -> None:
    _, why = placement(needs(GpuSleepProvider(num_gpus=1, accelerator_type="H100")), NODES)
    assert why is not None and "accelerator_type='H100'" in why
    _, why = placement(needs(GpuSleepProvider(num_gpus=4)), NODES)
    assert why is not None and "GPU=4 (largest node has 2)" in why


def test_registry_caps_by_what_the_cluster_places() -> None:
    reg = ProviderRegistry()
    reg.register(GpuSleepProvider(max_concurrency=8, name="g", num_gpus=1))
    reg.register(BatchSleepProvider(name="pool", num_gpus=1, max_batch_size=4, pool_max=8))
    reg.register(GpuSleepProvider(name="h100", num_gpus=1, accelerator_type="H100"))
    assert reg.cap("g") == 8 and reg.reason("h100") is None  # nodes unknown: nothing capped
    reg.set_nodes(NODES)
    assert reg.cap("g") == 3  # not max_concurrency
    assert reg.cap("pool") == 3 * 4 * 2  # three actors of batches of 4, two batches each
    assert reg.candidates(TaskType.IMAGE_GENERATION, IMAGE, "h100") == []
    err = reg.explain_none(TaskType.IMAGE_GENERATION, IMAGE, "h100")
    assert "accelerator_type='H100'" in str(err)
    row = next(r for r in reg.describe() if r["name"] == "h100")
    assert row["available"] is False and row["resources"]["accelerator_type"] == "H100"


@pytest.mark.parametrize(("kw", "words"), [
    ({"num_gpus": 1.5}, "whole number"), ({"resources": {"GPU": 1}}, "num_gpus"), ({"num_gpus": -1}, ">= 0"),
])
def test_bad_resources_are_refused_at_registration(kw: dict[str, object], words: str) -> None:
    with pytest.raises(ProviderRegistrationError, match=words):
        ProviderRegistry().register(GpuSleepProvider(**kw))  # type: ignore[arg-type]


def test_bad_pool_settings_are_refused() -> None:
    with pytest.raises(ProviderRegistrationError, match="pool sizes"):
        ProviderRegistry().register(BatchSleepProvider(pool_min=3, pool_max=2))
