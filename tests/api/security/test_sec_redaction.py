"""No server path in what users see (issue 21, finding 4): the data home (so the artifact root and
the uploads under it) lies in a folder named with a unique marker, and failures that name files
there or in a task's scratch folder (a non-image ``image_url`` to the video provider, from an upload
and over http; bad audio to whisper; a pipeline whose step fails) must leave neither the marker nor
the temporary folder in the task JSON, the pipeline JSON, the webhook bodies a loopback receiver
gets, or the statistics. The messages still say what went wrong, naming the file."""

from __future__ import annotations

import json
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from loopback import QuietHandler, serving

import videoai_ray as vai
from videoai_ray.errors import RetryableError
from videoai_ray.models import TaskType
from videoai_ray.providers.local import LocalWhisperProvider, ProceduralVideoProvider
from videoai_ray.providers.testing import FlakyProvider
from videoai_ray.redact import public_error, public_message
from videoai_ray.scheduler import kill_scheduler

MARKER = "leakmark" + uuid.uuid4().hex[:10]
NOT_AN_IMAGE = b"this is plain text, not an image\n" * 4


class Hooks:
    """Bodies a webhook receiver on 127.0.0.1 got."""

    def __init__(self) -> None:
        self.bodies: list[str] = []
        self.cond = threading.Condition()

    def wait(self, predicate: Any, timeout: float = 60.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        with self.cond:
            while not predicate(got := [json.loads(b) for b in self.bodies]):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"not received in time: {got}")
                self.cond.wait(left)
            return got


@pytest.fixture(scope="module")
def origin() -> Iterator[tuple[Hooks, str]]:
    """A loopback server: ``POST /hook`` records a webhook, ``GET /*.png`` answers text."""
    hooks = Hooks()

    class Handler(QuietHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0)).decode()
            with hooks.cond:
                hooks.bodies.append(body)
                hooks.cond.notify_all()
            self.answer(200, b"ok")

        def do_GET(self) -> None:
            self.answer(200, NOT_AN_IMAGE, "image/png")

    with serving(Handler) as base:
        yield hooks, base


@pytest.fixture(scope="module")
def marked_client(ray_session: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[vai.Client]:
    home = tmp_path_factory.mktemp("redact") / MARKER / "home"
    settings = vai.Settings(home=home, instance="t-redact", prefetch=0, retry_schedule=(0.2,),
                            url_allowlist=("127.0.0.1",), webhook_progress_interval=3600)
    kill_scheduler(settings)
    # a provider whose transient failure names a file under the data home: it reaches the
    # statistics' provider summary (a permanent input error does not count against a provider)
    files = FlakyProvider(failures=99, name="flaky-files", task_types=frozenset({TaskType.IMAGE_GENERATION}),
                          error=RetryableError(f"could not read '{home}/cache/part.bin'"))
    providers: list[Any] = [ProceduralVideoProvider(), files]
    whisper = LocalWhisperProvider(settings)
    if whisper.unavailable_reason() is None:
        providers.append(whisper)
    client = vai.connect(settings=settings, providers=providers)
    yield client
    kill_scheduler(settings)


def _leaks(text: str) -> list[str]:
    found = [MARKER] if MARKER in text else []
    if tempfile.gettempdir() + "/" in text:
        found.append(tempfile.gettempdir())
    if "videoai-task_" in text:  # a task's scratch folder (``videoai-<task id>-...``)
        found.append("videoai-task_")
    return found


@pytest.mark.slow
def test_failures_show_no_server_path(marked_client: vai.Client, origin: tuple[Hooks, str],
                                      tmp_path: Path) -> None:
    client, (hooks, base) = marked_client, origin
    hook = base + "/hook"
    fake = tmp_path / "not-an-image.png"
    fake.write_bytes(NOT_AN_IMAGE)
    uploaded = client.upload(fake)
    video = {"prompt": "a cat", "duration": 1, "fps": 4, "use_cache": False, "webhook_url": hook}
    futures = {
        "upload": client.submit("video_generation", {**video, "image_url": uploaded}),
        "http": client.submit("video_generation", {**video, "image_url": base + "/input.png"}),
        "retried": client.submit("image_generation", {"prompt": "x", "provider": "flaky-files", "use_cache": False,
                                                      "webhook_url": hook}),
    }
    has_whisper = any(p["name"] == "local-whisper" for p in client.service.providers.list())
    if has_whisper:
        noise = tmp_path / "noise.wav"
        noise.write_bytes(b"RIFF not really a wave file" * 8)
        futures["audio"] = client.submit("audio_transcription", {"audio_url": client.upload(noise),
                                                                 "use_cache": False, "webhook_url": hook})
    pipe = client.pipeline([vai.step("still", "video_generation", **{**video, "image_url": uploaded})],
                           webhook_url=hook)
    tasks = {name: f.wait(timeout=180) for name, f in futures.items()}
    assert pipe.wait(timeout=180).status.value == "failed"
    ids = {t.id for t in tasks.values()}
    got = hooks.wait(lambda b: ids <= {p.get("task_id") for p in b if p["event_type"] == "task.failed"}
                     and any(p.get("pipeline_id") == pipe.id for p in b))

    for name, task in tasks.items():
        assert task.status.value == "failed" and task.error is not None, (name, task)
    # the messages still say what went wrong, and which file
    assert "not a readable image" in tasks["upload"].error.message
    assert "not-an-image.png" in tasks["upload"].error.message
    assert "input.png" in tasks["http"].error.message
    assert tasks["retried"].error.message == "could not read 'part.bin'"
    if has_whisper:
        assert "could not decode audio" in tasks["audio"].error.message
    # as ``GET /pipelines/{id}`` shows it (and a task's JSON as ``GET /tasks/{id}``: the same model)
    pipeline_json = client.service.pipelines.get(pipe.id, client.user_id, public=True).model_dump_json()
    assert "not a readable image" in pipeline_json and "not-an-image.png" in pipeline_json
    stats = client.service.monitor.statistics(None)
    [files] = [p for p in stats["providers"] if p["name"] == "flaky-files"]
    assert files["last_error"] == "RetryableError: could not read '<path>'"  # shown to every user

    seen = {f"task {name}": task.model_dump_json() for name, task in tasks.items()}
    seen |= {"pipeline": pipeline_json, "statistics": json.dumps(stats, default=str),
             "webhooks": json.dumps(got)}
    leaks = {where: _leaks(text) for where, text in seen.items() if _leaks(text)}
    assert not leaks, leaks


def test_the_redaction_keeps_what_is_useful() -> None:
    own = public_message(
        f"cannot identify image file '/srv/{MARKER}/uploads/ab/cd/subtitles.srt'; "
        f"fetch https://in.example/a.png failed; see file:///srv/{MARKER}/x/out.log and "
        f"/tmp/videoai-task_1-abc/input.wav (from upload://0a1b/clip.wav); 3/4 done; fe80::1", shared=False) or ""
    assert MARKER not in own and "videoai-task_" not in own
    assert "'subtitles.srt'" in own and "https://in.example/a.png" in own and "upload://0a1b/clip.wav" in own
    assert "out.log" in own and "input.wav" in own and "3/4 done" in own and "fe80::1" in own
    assert public_message(f"folder /srv/{MARKER} is missing", shared=False) == "folder <path> is missing"
    assert public_message(f"read '/srv/my {MARKER}/a b.png'", shared=False) == "read 'a b.png'"
    assert public_error({"code": "x", "message": f"/a/{MARKER}/b.txt", "step": "s"}) == {
        "code": "x", "message": "b.txt", "step": "s"}
