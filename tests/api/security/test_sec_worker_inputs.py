"""What a worker reads is decided again at fetch time, from the task's own user and the URL rule,
whatever the stored task says: a row edited to name a local file, another user's upload, an fsspec
URL or a private address fails as invalid input (never retried), and nothing is read."""

from __future__ import annotations

import asyncio
import hashlib
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from videoai_ray.artifacts import ArtifactStore
from videoai_ray.attempts import AttemptRunner
from videoai_ray.protocol import Assignment, AttemptResult
from videoai_ray.providers.testing import InputReaderProvider
from videoai_ray.settings import Settings

AUDIO = "audio_transcription"


@pytest.fixture
def server() -> Iterator[tuple[str, list[str]]]:
    paths: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            paths.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", "5")
            self.end_headers()
            self.wfile.write(b"audio")

        def log_message(self, *args: Any) -> None:
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}", paths
    srv.shutdown()
    srv.server_close()


def attempt(settings: Settings, user: str, input_data: dict[str, Any], task_type: str = AUDIO) -> AttemptResult:
    a = Assignment("task_sec", 1, task_type, input_data, user)
    runner = AttemptRunner(InputReaderProvider(), settings, None, on_progress=lambda _a, _v, _m: None,
                           is_cancelled=lambda _a: False)
    return asyncio.run(runner.run(a))


def test_an_upload_is_read_only_for_its_own_user(settings: Settings, tmp_path: Path) -> None:
    private = tmp_path / "bob_private_meeting.wav"
    private.write_bytes(b"bob's secret meeting")
    ref = ArtifactStore(settings.artifacts_root).put_upload("bob", private)
    ok = attempt(settings, "bob", {"audio_url": ref})
    assert ok.ok and ok.output is not None
    assert ok.output["inputs"]["audio_url"]["sha256"] == hashlib.sha256(b"bob's secret meeting").hexdigest()
    stolen = attempt(settings, "alice", {"audio_url": ref})
    assert not stolen.ok and stolen.error_code == "invalid_input" and not stolen.retryable
    assert "does not exist" in (stolen.error_message or "")
    image = attempt(settings, "alice", {"prompt": "p", "image_url": ref}, "video_generation")
    assert not image.ok and image.error_code == "invalid_input"


@pytest.mark.parametrize("url", [
    "file:///etc/passwd", "/etc/passwd", "memory://x", "s3://bucket/key", "gs://bucket/key",
    "artifact://task_x/image_1.png", "simplecache::http://127.0.0.1:9/x", "blockcache::file:///etc/passwd",
    "ftp://127.0.0.1/x", "upload://../../etc/passwd", "upload://" + "0" * 32 + "/../../x",
])
def test_an_edited_row_cannot_name_anything_else(settings: Settings, url: str) -> None:
    for task_type, body in ((AUDIO, {"audio_url": url}), ("video_generation", {"prompt": "p", "image_url": url})):
        r = attempt(settings, "alice", body, task_type)
        assert not r.ok and r.error_code == "invalid_input" and not r.retryable, (url, r)


def test_an_artifact_file_path_of_another_task_is_refused(settings: Settings) -> None:
    stored = ArtifactStore(settings.artifacts_root).put("task_alice", "image_1.png", b"alice's picture")
    r = attempt(settings, "bob", {"prompt": "p", "image_url": stored["url"]}, "video_generation")
    assert not r.ok and r.error_code == "invalid_input"


def test_the_guard_runs_again_at_fetch(settings: Settings, server: tuple[str, list[str]]) -> None:
    base, paths = server
    ok = attempt(settings, "alice", {"audio_url": f"{base}/a.wav"})  # 127.0.0.1 is allow-listed here
    assert ok.ok and paths == ["/a.wav"]
    strict = settings.model_copy(update={"url_allowlist": ()})
    refused = attempt(strict, "alice", {"audio_url": f"{base}/b.wav"})
    assert not refused.ok and refused.error_code == "invalid_input" and "non-public" in (refused.error_message or "")
    assert paths == ["/a.wav"]  # nothing was sent


def test_a_stored_row_naming_a_local_file_still_ends_failed(ray_session: None, tmp_path: Path) -> None:
    """A pending row whose input today's rules refuse (left by an older version, or edited) is
    recovered without breaking the Scheduler and fails as invalid input, unread."""
    import time

    import videoai_ray as vai
    from videoai_ray.models.record import row_from_submission
    from videoai_ray.scheduler import kill_scheduler
    from videoai_ray.service import MediaService
    from videoai_ray.store import TaskStore, utcnow
    from videoai_ray.store.schema import tasks

    settings = vai.Settings(home=tmp_path / "home", instance="t-sec-rows", prefetch=0, database_url=None,
                            redis_url=None)
    kill_scheduler(settings)
    store = TaskStore(settings.db_url, instance=settings.instance)
    item = MediaService(settings, None, store).prepare(
        AUDIO, {"audio_url": "https://93.184.215.14/a.wav", "provider": "inputs", "use_cache": False},
        user_id="local")  # the SDK client's user
    row = {**row_from_submission(item, utcnow()), "input": {**item["input"], "audio_url": "file:///etc/passwd"}}
    store.update_many([], [(tasks, [row])])
    client = vai.connect(settings=settings, providers=[InputReaderProvider()])
    try:
        deadline = time.monotonic() + 60
        while not (task := client.get(item["id"])).done:
            assert time.monotonic() < deadline, task
            time.sleep(0.2)
        assert task.status.value == "failed" and task.error is not None
        assert task.error.code == "invalid_input" and task.attempts == 1
    finally:
        kill_scheduler(settings)
