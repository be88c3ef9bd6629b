import pytest

from videoai_ray.errors import InvalidRequest
from videoai_ray.models import (
    REQUEST_MODELS,
    TERMINAL_STATUSES,
    ImageGenerationRequest,
    Priority,
    TaskStatus,
    TaskType,
)
from videoai_ray.service import MediaService
from videoai_ray.settings import Settings


@pytest.fixture
def service(tmp_path):
    return MediaService(Settings(home=tmp_path, blocklist=("forbidden",)), scheduler=None, store=object())


def test_seed_defaults():
    img = ImageGenerationRequest(prompt="Um gato robô futurista")
    assert (img.style, img.size, img.quality, img.n, img.priority) == ("realistic", "1024x1024", "standard", 1,
                                                                       Priority.MEDIUM)
    vid = REQUEST_MODELS[TaskType.VIDEO_GENERATION](prompt="x")
    assert (vid.duration, vid.fps, vid.resolution, vid.style) == (5, 24, "720p", "cinematic")
    aud = REQUEST_MODELS[TaskType.AUDIO_TRANSCRIPTION](audio_url="https://example.com/a.mp3")
    assert (aud.model, aud.response_format) == ("whisper-1", "json")
    sub = REQUEST_MODELS[TaskType.SUBTITLE_GENERATION](text="Hello.")
    assert (sub.format, sub.timing_mode, sub.target_language) == ("srt", "auto", "en")
    assert img.split()[0] == {"prompt": "Um gato robô futurista", "style": "realistic", "size": "1024x1024",
                                "quality": "standard", "n": 1, "seed": None}


def test_priorities_and_terminal_set():
    assert [p.rank for p in (Priority.LOW, Priority.MEDIUM, Priority.HIGH, Priority.URGENT)] == [0, 1, 2, 3]
    assert {TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED} == TERMINAL_STATUSES
    assert not TaskStatus.RETRYING.terminal


@pytest.mark.parametrize(
    ("task_type", "body", "field"),
    [
        ("image_generation", {"prompt": "x", "size": "10x10"}, "size"),
        ("image_generation", {"prompt": ""}, "prompt"),
        ("image_generation", {"prompt": "x", "colour": "red"}, "colour"),
        ("image_generation", {"prompt": "x", "n": 0}, "n"),
        ("image_generation", {"prompt": "x", "priority": "asap"}, "priority"),
        ("image_generation", {"prompt": "x", "webhook_url": "ftp://x"}, "webhook_url"),
        ("image_generation", {"prompt": "x", "webhook_url": "http://127.0.0.1/hook"}, "webhook_url"),
        ("image_generation", {"prompt": "x", "webhook_url": "http://169.254.169.254/"}, "webhook_url"),
        ("image_generation", {"prompt": "a forbidden thing"}, "prompt"),
        ("video_generation", {"prompt": "x", "resolution": "8k"}, "resolution"),
        ("video_generation", {"prompt": "x", "duration": 0}, "duration"),
        ("audio_transcription", {"audio_url": "gopher://x"}, "audio_url"),
        ("audio_transcription", {"audio_url": "http://10.0.0.1/a.wav"}, "audio_url"),
        ("audio_transcription", {}, "audio_url"),
        ("subtitle_generation", {"text": "a", "format": "doc"}, "format"),
        ("subtitle_generation", {"text": "a", "timing_mode": "manual"}, "cues"),
        ("subtitle_generation", {"text": "a\nb", "timing_mode": "manual",
                                 "cues": [{"start": 0, "end": 1}]}, "cues"),
        ("subtitle_generation", {"text": "a", "timing_mode": "manual",
                                 "cues": [{"start": 2, "end": 1, "text": "x"}]}, "cues.0"),
        ("made_up", {"prompt": "x"}, "task_type"),
    ],
)
def test_bad_input_names_the_field(service, task_type, body, field):
    with pytest.raises(InvalidRequest) as info:
        service.prepare(task_type, body, user_id="u")
    assert info.value.field == field, info.value.message


def test_batch_errors_name_the_index(service):
    items = [{"task_type": "image_generation", "input_data": {"prompt": "ok"}},
             {"task_type": "video_generation", "input_data": {"prompt": "x", "fps": 999}}]
    with pytest.raises(InvalidRequest) as info:
        list(service.prepare_batch(items, user_id="u", batch_id="b"))
    assert info.value.field == "[1].input_data.fps"


def test_prepare_splits_input_from_options(service):
    p = service.prepare("image_generation", {"prompt": "x", "priority": "urgent", "metadata": {"k": 1},
                                             "use_cache": False, "webhook_secret": "s3cret-value"},
                        user_id="u", idempotency_key="k1")
    assert p["priority"] == "urgent" and p["metadata"] == {"k": 1}
    assert p["options"]["use_cache"] is False and p["webhook_secret"] == "s3cret-value"
    assert "priority" not in p["input"] and "webhook_secret" not in p["input"]
    assert p["id"].startswith("task_") and p["idempotency_key"] == "k1"
