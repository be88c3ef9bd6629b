"""Webhooks end to end: tasks run by the real Scheduler emit their events, the dispatcher delivers
them in order, and the receiver verifies each one both ways."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from receiver import Receiver

import videoai_ray as vai
from videoai_ray.errors import InvalidInput
from videoai_ray.providers.testing import FixedLatencyProvider, FlakyProvider
from videoai_ray.scheduler import kill_scheduler
from videoai_ray.store import TaskStore
from videoai_ray.webhooks import get_user_secret

pytestmark = pytest.mark.slow

SECRET = "task-secret-123"


@pytest.fixture(scope="module")
def hooked(ray_session: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[vai.Client]:
    settings = vai.Settings(home=tmp_path_factory.mktemp("hooks"), instance="t-hooks",
                            url_allowlist=("127.0.0.1",), webhook_progress_interval=0.05,
                            retry_schedule=(0.1, 0.2), prefetch=0)
    kill_scheduler(settings)
    providers = [FixedLatencyProvider(0.5, 4, name="lat"), FixedLatencyProvider(5.0, 1, name="slow"),
                 FlakyProvider(99, InvalidInput("no"), name="perm")]
    client = vai.connect(settings=settings, providers=providers)
    yield client
    kill_scheduler(settings)


def events_of(receiver: Receiver, task_id: str, last: str, timeout: float = 30.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = [r.payload["event_type"] for r in receiver.ok() if r.payload["task_id"] == task_id]
        if got and got[-1] == last:
            return got
        time.sleep(0.05)
    raise AssertionError(f"{task_id}: got {got}")


@pytest.mark.parametrize("task_type", ["image_generation", "video_generation", "audio_transcription",
                                       "subtitle_generation"])
def test_full_event_sequence_for_each_task_type(hooked, receiver, task_type):
    receiver.secret = SECRET
    body = {"image_generation": {"prompt": "hook"}, "video_generation": {"prompt": "hook"},
            "audio_transcription": {"audio_url": "https://93.184.215.14/a.wav"},
            "subtitle_generation": {"text": "hook"}}[task_type]
    fut = hooked.submit(task_type, {**body, "provider": "lat", "use_cache": False, "webhook_url": receiver.url,
                                    "webhook_secret": SECRET, "metadata": {"order": 7}})
    fut.result(timeout=30)
    seq = events_of(receiver, fut.id, "task.completed")
    assert seq[:2] == ["task.created", "task.started"] and seq[-1] == "task.completed"
    assert set(seq[2:-1]) == {"task.progress"} and len(seq) >= 4
    deliveries = [r for r in receiver.ok() if r.payload["task_id"] == fut.id]
    assert all(r.seed_ok and r.standard_ok for r in deliveries)
    done = deliveries[-1].payload
    assert done["data"]["status"] == "completed" and done["data"]["type"] == task_type
    assert done["data"]["progress"] == 1.0 and done["data"]["output_data"]["provider"] == "lat"
    assert done["user_id"] == "local" and done["metadata"] == {"order": 7}


def test_failed_cancelled_and_filtered_sequences(hooked, receiver):
    receiver.secret = SECRET
    common = {"use_cache": False, "webhook_url": receiver.url, "webhook_secret": SECRET}
    failed = hooked.images.generate(prompt="f", provider="perm", **common)
    assert events_of(receiver, failed.id, "task.failed") == ["task.created", "task.started", "task.failed"]
    err = [r for r in receiver.ok() if r.payload["task_id"] == failed.id][-1].payload["data"]["error"]
    assert err["code"] == "invalid_input" and err["retryable"] is False
    blocker = hooked.images.generate(prompt="b", provider="slow", use_cache=False)
    cancelled = hooked.images.generate(prompt="c", provider="slow", **common)
    cancelled.cancel()
    assert events_of(receiver, cancelled.id, "task.cancelled") == ["task.created", "task.cancelled"]
    blocker.cancel()
    only_end = hooked.images.generate(prompt="e", provider="lat", webhook_events=["task.started"], **common)
    assert events_of(receiver, only_end.id, "task.completed") == ["task.started", "task.completed"]


def test_user_secret_signs_when_the_task_has_none(hooked, receiver):
    receiver.secret = get_user_secret(TaskStore(hooked.settings.db_url).engine, "local")
    assert receiver.secret.startswith("whsec_")
    fut = hooked.images.generate(prompt="u", provider="lat", use_cache=False, webhook_url=receiver.url)
    events_of(receiver, fut.id, "task.completed")
    assert all(r.seed_ok and r.standard_ok for r in receiver.ok() if r.payload["task_id"] == fut.id)


def test_private_webhook_urls_are_refused_at_creation(hooked):
    with pytest.raises(vai.InvalidRequest) as info:
        hooked.images.generate(prompt="x", webhook_url="http://169.254.169.254/latest")
    assert info.value.field == "webhook_url"


def test_delivery_log_and_redelivery_from_the_sdk(hooked, receiver):
    receiver.secret = SECRET
    receiver.answer(404)  # the one delivery (filter: completed only) is refused, and not retried
    fut = hooked.images.generate(prompt="log", provider="lat", use_cache=False, webhook_url=receiver.url,
                                 webhook_secret=SECRET, webhook_events=["task.completed"])
    fut.result(timeout=30)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        log = hooked.webhook_deliveries(task_id=fut.id)
        if len(log) and (log["status"] == "failed").all():
            break
        time.sleep(0.1)
    assert list(log["status"]) == ["failed"]
    webhook_id = log.iloc[0]["webhook_id"]
    status = hooked.webhook_status(webhook_id)
    assert status["attempts"] == 1 and status["last_status_code"] == 404
    hooked.redeliver_webhook(webhook_id)
    assert events_of(receiver, fut.id, "task.completed")[-1] == "task.completed"
    stats = hooked.webhook_statistics()
    assert stats["total"] >= 1
    old = hooked.webhook_secret()
    assert hooked.webhook_secret(rotate=True) != old
    with pytest.raises(vai.TaskNotFound):
        hooked.webhook_status("msg_nope")
