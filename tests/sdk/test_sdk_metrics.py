"""Metrics: no-ops outside Ray, never raising, made once per process, recorded inside an actor and
visible in Ray's Prometheus export."""

from __future__ import annotations

import logging
import time
import urllib.request
import uuid
from enum import Enum

import pytest
import ray

import videoai_ray as vai
from videoai_ray import metrics

#: one call of every recording function (data, so it can travel to an actor)
CALLS: list[tuple[str, tuple[object, ...]]] = [
    ("tasks_submitted", ("image_generation", 3)),
    ("task_finished", ("image_generation", "local-procedural-image", "completed", 0.3)),
    ("task_finished", ("subtitle_generation", None, "cancelled", None)),
    ("queue_depth", ("high", 4)),
    ("in_flight", ("noop", 2)),
    ("provider_latency", ("noop", 0.2)),
    ("provider_cost", ("noop", 0.04)),
    ("provider_rate_limited", ("noop",)),
    ("provider_throttled", ("noop", 1.5)),
    ("provider_allowed_rpm", ("noop", 300.0)),
    ("webhook_delivery", ("delivered", 0.05)),
    ("cache_lookup", ("l1", 1, 2)),
    ("pool_size", ("local-whisper", 2)),
    ("model_load", ("local-whisper", 1.5)),
    ("batch_size", ("local-whisper", 4)),
    ("dependency_up", ("store", True)),
]


def _record_everything() -> None:
    for fn, args in CALLS:
        getattr(metrics, fn)(*args)


def test_names_are_prefixed_and_unique() -> None:
    names = metrics.names()
    assert len(names) == len(set(names)) == 18 and all(n.startswith("videoai_") for n in names)
    assert metrics.SPECS["videoai_tasks_submitted"].prometheus_name == "ray_videoai_tasks_submitted_total"
    assert metrics.SPECS["videoai_queue_depth"].prometheus_name == "ray_videoai_queue_depth"


def test_no_ops_without_ray(monkeypatch) -> None:
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(metrics, "_metrics", {})
    _record_everything()
    assert metrics._metrics == {}


class _Exploding:
    def __getattr__(self, name: str):
        raise RuntimeError("exporter gone")


def test_recording_never_raises_and_warns_once(monkeypatch, caplog) -> None:
    monkeypatch.setattr(metrics, "_metric", lambda name: _Exploding())
    monkeypatch.setattr(metrics, "_warned", False)
    with caplog.at_level(logging.DEBUG, logger="videoai.metrics"):
        _record_everything()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "recording metric" in warnings[0].getMessage()


def test_values_and_tags_are_normalised(monkeypatch) -> None:
    calls: list[tuple[str, float, dict[str, str]]] = []

    class Rec:
        def __init__(self, name: str) -> None:
            self.name = name

        def __getattr__(self, method: str):
            return lambda value, tags: calls.append((f"{self.name}.{method}", value, tags))

    class Colour(str, Enum):
        RED = "red"

    monkeypatch.setattr(metrics, "_metric", Rec)
    metrics.tasks_submitted(Colour.RED, 0)  # nothing to count
    metrics.provider_cost("p", 0.0)  # free attempts are not counted
    metrics.queue_depth(Colour.RED, -3)
    metrics.task_finished("t", None, "failed", 1)
    metrics.cache_lookup("l3", 0, 5)
    assert calls == [
        ("videoai_queue_depth.set", 0.0, {"priority": "red"}),
        ("videoai_tasks_finished.inc", 1.0, {"task_type": "t", "provider": "none", "status": "failed",
                                              "tenant": "_none"}),
        ("videoai_task_duration_seconds.observe", 1.0, {"task_type": "t", "provider": "none", "status": "failed"}),
        ("videoai_cache_lookups.inc", 5.0, {"layer": "l3", "result": "miss"}),
    ]


@pytest.fixture(scope="module")
def recorded(ray_session: None) -> str:
    """Record every metric twice inside an actor (a fresh worker process), tagged with a unique
    instance; returns the instance."""
    instance = f"t-metrics-{uuid.uuid4().hex[:8]}"
    calls = list(CALLS)

    @ray.remote(num_cpus=0)
    class Recorder:  # defined here so Ray ships it by value (test modules are not importable there)
        def record(self, instance: str) -> list[str]:
            from videoai_ray import metrics as m

            m.set_instance(instance)
            for _round in range(2):  # the second round reuses the objects the first one made
                for fn, args in calls:
                    getattr(m, fn)(*args)
            return sorted(m._metrics)

    actor = Recorder.remote()
    made = ray.get(actor.record.remote(instance))
    assert made == sorted(metrics.names())
    return instance


def test_recording_inside_an_actor(recorded: str) -> None:
    assert recorded.startswith("t-metrics-")


@pytest.mark.slow
def test_prometheus_export(recorded: str) -> None:
    port = ray.nodes()[0].get("MetricsExportPort")
    if not port:
        pytest.skip("this Ray node has no metrics export port")
    url = f"http://127.0.0.1:{port}/metrics"
    wanted = {s.prometheus_name for s in metrics.SPECS.values()}
    found: set[str] = set()
    deadline = time.monotonic() + 60  # Ray exports every few seconds
    while time.monotonic() < deadline:
        try:
            text = urllib.request.urlopen(url, timeout=5).read().decode()
        except OSError as e:
            pytest.skip(f"metrics export not reachable at {url}: {e}")
        lines = [ln for ln in text.splitlines() if f'instance="{recorded}"' in ln and not ln.startswith("#")]
        found = {ln.split("{", 1)[0].removesuffix("_bucket").removesuffix("_sum").removesuffix("_count")
                 for ln in lines}
        if wanted <= found:
            break
        time.sleep(2)
    assert wanted <= found, f"missing from the export: {sorted(wanted - found)}"
    sample = next(ln for ln in lines if ln.startswith("ray_videoai_tasks_submitted_total"))
    assert 'task_type="image_generation"' in sample and sample.endswith(" 6.0")


def _export_lines(metric: str, match: str, timeout: float = 60) -> list[str]:
    """Samples of ``metric`` in this node's Prometheus export that contain ``match`` (waits for Ray's
    next export)."""
    port = ray.nodes()[0].get("MetricsExportPort")
    if not port:
        pytest.skip("this Ray node has no metrics export port")
    url = f"http://127.0.0.1:{port}/metrics"
    deadline = time.monotonic() + timeout
    while True:
        try:
            text = urllib.request.urlopen(url, timeout=5).read().decode()
        except OSError as e:
            pytest.skip(f"metrics export not reachable at {url}: {e}")
        lines = [ln for ln in text.splitlines() if ln.startswith(metric + "{") and match in ln]
        if lines or time.monotonic() > deadline:
            return lines
        time.sleep(2)


@pytest.mark.slow
def test_scheduler_counts_rate_limited_attempts(sdk_client) -> None:
    """A provider that answers its first attempt with a rate limit: the Scheduler counts it."""
    from videoai_ray.errors import RateLimited
    from videoai_ray.providers.testing import FlakyProvider

    name = f"throttled-{uuid.uuid4().hex[:6]}"
    sdk_client.register_provider(FlakyProvider(1, RateLimited("slow down", retry_after=0.1), name=name,
                                               latency=0.01))
    try:
        task = sdk_client.subtitles.generate(text="Throttled.", provider=name, use_cache=False).result(timeout=60)
        assert task.attempts == 2
        [line] = _export_lines("ray_videoai_provider_rate_limited_total", f'provider="{name}"')
        assert 'instance="t-sdk"' in line and line.endswith(" 1.0")
    finally:
        sdk_client.unregister_provider(name)


@pytest.mark.slow
def test_scheduler_counts_tasks_per_tenant(sdk_client) -> None:
    """A tenant user's task is counted under its tenant (submitted and finished), a plain user's
    under ``_none``; no user name reaches a label."""
    tenant = f"m{uuid.uuid4().hex[:8]}"
    owner = vai.Client(sdk_client.settings, sdk_client.scheduler, sdk_client.service.store, user_id=f"{tenant}/ana")
    owner.subtitles.generate(text="Counted.", provider="noop", use_cache=False).result(timeout=60)
    [submitted] = _export_lines("ray_videoai_tasks_submitted_total", f'tenant="{tenant}"')
    assert 'instance="t-sdk"' in submitted and 'task_type="subtitle_generation"' in submitted
    assert submitted.endswith(" 1.0") and "ana" not in submitted
    [finished] = _export_lines("ray_videoai_tasks_finished_total", f'tenant="{tenant}"')
    assert 'status="completed"' in finished and finished.endswith(" 1.0")
    sdk_client.subtitles.generate(text="Plain.", provider="noop", use_cache=False).result(timeout=60)
    assert _export_lines("ray_videoai_tasks_finished_total", 'tenant="_none"')
