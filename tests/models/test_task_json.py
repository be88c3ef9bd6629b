"""The API builds a newly accepted task's JSON from the submission (``submitted_task_json``)
instead of the Scheduler sending the model: it must equal the model's dump of the stored row."""

from datetime import UTC, datetime

import pytest

from videoai_ray.models import Task, json_time, submitted_task_json
from videoai_ray.models.record import row_from_submission, task_from_row
from videoai_ray.service import MediaService
from videoai_ray.settings import Settings


@pytest.fixture
def service(tmp_path):
    return MediaService(Settings(home=tmp_path), scheduler=None, store=object())


@pytest.mark.parametrize("task_type, body, extra", [
    ("image_generation", {"prompt": "a cat", "n": 2, "seed": 7, "priority": "urgent"}, {}),
    ("video_generation", {"prompt": "waves", "metadata": {"run": [1, 2]}}, {"idempotency_key": "k1"}),
    ("audio_transcription", {"audio_url": "https://93.184.215.14/a.mp3",
                             "webhook_url": "https://93.184.215.14/hook"}, {"batch_id": "batch_1"}),
    ("subtitle_generation", {"text": "Hello. World.", "format": "vtt"}, {}),
])
def test_submitted_task_json_equals_the_stored_task(service, task_type, body, extra):
    item = service.prepare(task_type, body, user_id="ana", **extra)
    now = datetime(2026, 11, 26, 11, 30, 1, 123456, tzinfo=UTC)
    stored = task_from_row(row_from_submission(item, now)).model_dump(mode="json")
    built = submitted_task_json(item, {"id": item["id"], "created_at": json_time(now)})
    assert built == stored
    assert list(built) == list(Task.model_fields)  # same fields, same order as the model's JSON


def test_a_task_sent_by_the_scheduler_wins(service):
    item = service.prepare("image_generation", {"prompt": "a cat"}, user_id="ana")
    sent = {"id": "task_old", "status": "completed"}
    assert submitted_task_json(item, {"id": "task_old", "task": sent}) is sent
