"""``local_providers(settings)`` and the provider benchmarks."""

from __future__ import annotations

import pytest
from ci_env import IN_CI

from videoai_bench.providers import run_provider_benchmarks
from videoai_ray.models import TaskType
from videoai_ray.providers.base import validate_provider
from videoai_ray.providers.local import local_providers, whisper
from videoai_ray.providers.model import ModelProvider
from videoai_ray.settings import Settings


def test_every_local_provider(settings: Settings) -> None:
    providers = local_providers(settings)
    by_name = {p.name: p for p in providers}
    assert set(by_name) == {"local-procedural-image", "local-procedural-video", "local-subtitles",
                            "local-whisper", "local-diffusers"}
    for p in providers:
        validate_provider(p)
        assert p.description
        if p.name == "local-diffusers":  # no pipeline folder configured: listed, unavailable, says why
            assert "VIDEOAI_DIFFUSERS_MODEL" in (p.unavailable_reason() or "")
        else:
            assert p.unavailable_reason() is None
    assert {t for p in providers for t in p.task_types} == set(TaskType)
    assert [p.name for p in providers if p.cpu_bound] == [
        "local-procedural-image", "local-procedural-video"]
    assert [p.name for p in providers if isinstance(p, ModelProvider)] == ["local-whisper", "local-diffusers"]
    assert not any(p.translates for p in providers)


def test_whisper_listed_even_without_its_model(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(whisper, "bundled_model_dir", lambda: None)
    stt = [p for p in local_providers(settings) if p.name == "local-whisper"]
    assert len(stt) == 1 and "not installed" in (stt[0].unavailable_reason() or "")


def test_provider_benchmarks_measure_real_work(settings: Settings) -> None:
    rows = run_provider_benchmarks(settings, image_count=1, video_seconds=1)
    by_name = {r["benchmark"].split(" (")[0]: r for r in rows}
    assert set(by_name) == {"local_image_throughput", "local_video_encode_speed", "local_transcription_rtf"}
    assert by_name["local_video_encode_speed"]["ratio"] == by_name["local_video_encode_speed"]["value"]
    assert by_name["local_image_throughput"]["ratio"] > 0
    stt = by_name["local_transcription_rtf"]
    if stt.get("skipped") and not IN_CI:  # no transcribe extra on this laptop
        rows.remove(stt)
    else:
        assert stt["clips"] >= 3 and stt["mean_wer"] < 0.15
    for row in rows:
        assert isinstance(row["value"], float) and row["value"] > 0, row
        assert row["unit"]
    assert not (settings.home / "artifacts").exists()  # the user's data folder is left alone


def test_diffusers_without_its_extra_says_which_to_install(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    from videoai_ray.providers.local import diffusers_image

    real = diffusers_image.importlib.util.find_spec
    monkeypatch.setattr(diffusers_image.importlib.util, "find_spec",
                        lambda name, *a: None if name in ("torch", "diffusers") else real(name, *a))
    p = next(p for p in local_providers(settings) if p.name == "local-diffusers")
    reason = p.unavailable_reason() or ""
    assert "torch, diffusers not installed" in reason and "pip install 'videoai-ray[diffusion]'" in reason
