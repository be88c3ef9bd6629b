"""The ``tenant`` tag of the per-task metrics, without Ray: taken from the owner id, bounded by
``VIDEOAI_METRICS_MAX_TENANTS`` (the first N tenants keep their own value, later ones share
``_other``), ``_none`` for a user without a tenant, and never a user's name."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from videoai_ray import metrics
from videoai_ray.settings import Settings
from videoai_ray.tenants.ids import valid_tenant_id


def test_the_first_tenants_keep_their_label_and_later_ones_share_other() -> None:
    labels = metrics.TenantLabels(2)
    assert labels.of("acme/ana") == "acme"
    assert labels.of("ana") == labels.of(None) == labels.of("") == metrics.NO_TENANT
    assert labels.of("globex/bob") == "globex"
    assert labels.of("initech/x") == labels.of("umbrella/y") == metrics.OTHER_TENANTS
    assert labels.of("acme/zoe") == "acme" and labels.of("globex/ana") == "globex"  # kept for good
    assert labels.labelled() == {"acme", "globex"}
    assert metrics.TenantLabels(0).of("acme/ana") == metrics.OTHER_TENANTS
    # the shared values can never be a tenant's own id
    assert not valid_tenant_id(metrics.NO_TENANT) and not valid_tenant_id(metrics.OTHER_TENANTS)


def test_the_bound_holds_when_many_threads_record_at_once() -> None:
    labels = metrics.TenantLabels(5)
    seen: list[str] = []
    lock = threading.Lock()

    def record(worker: int) -> None:
        for i in range(200):
            value = labels.of(f"t{(worker * 200 + i) % 50}/u")
            with lock:
                seen.append(value)

    threads = [threading.Thread(target=record, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(labels.labelled()) == 5
    assert set(seen) == labels.labelled() | {metrics.OTHER_TENANTS}


def test_the_counters_carry_the_bounded_tenant_tag(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, float, dict[str, Any]]] = []

    class Rec:
        def __init__(self, name: str) -> None:
            self.name = name

        def __getattr__(self, method: str) -> Any:
            return lambda value, tags: calls.append((f"{self.name}.{method}", value, tags))

    monkeypatch.setattr(metrics, "_metric", Rec)
    monkeypatch.setattr(metrics, "_tenants", metrics.TenantLabels())
    metrics.set_max_tenants(Settings(metrics_max_tenants=1).metrics_max_tenants)
    metrics.tasks_submitted("audio_transcription", 2, "acme/ana")
    metrics.tasks_submitted("audio_transcription", 1, "globex/ana")
    metrics.task_finished("audio_transcription", "p", "failed", None, owner="globex/ana")
    metrics.task_finished("audio_transcription", "p", "completed", None, owner="plain-user")
    assert [(name, tags["tenant"]) for name, _value, tags in calls] == [
        ("videoai_tasks_submitted.inc", "acme"), ("videoai_tasks_submitted.inc", "_other"),
        ("videoai_tasks_finished.inc", "_other"), ("videoai_tasks_finished.inc", "_none")]
    assert all("ana" not in str(tags) and "plain-user" not in str(tags) for _n, _v, tags in calls)
    for spec in ("videoai_tasks_submitted", "videoai_tasks_finished"):
        assert "tenant" in metrics.SPECS[spec].tag_keys


def test_the_setting_is_bounded() -> None:
    assert Settings().metrics_max_tenants == 20
    with pytest.raises(ValueError):
        Settings(metrics_max_tenants=-1)
