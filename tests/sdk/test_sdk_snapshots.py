"""Static HTML of futures and batches: what a notebook keeps once the kernel is gone, per task type
and state (media embedded or linked, text shown, errors in red, the counts bar of a batch)."""

from __future__ import annotations

import base64
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image

from videoai_ray import snapshots
from videoai_ray.artifacts import ArtifactStore
from videoai_ray.models import Task, TaskError

NOW = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)
_DATA_URI = re.compile(r'<(img|video|audio)[^>]* src="data:([^;]+);base64,([A-Za-z0-9+/=]+)"')


def _task(status: str = "completed", **kw) -> Task:
    base = dict(id="task_s", type="image_generation", status=status, priority="medium", user_id="u", input={},
                created_at=NOW, provider="prov-a", attempts=1, progress=0.0)
    if status in ("completed", "failed", "cancelled"):
        base.update(started_at=NOW, finished_at=NOW + timedelta(seconds=2))
    return Task(**{**base, **kw})


def _embedded(page: str) -> list[tuple[str, str, bytes]]:
    """Every embedded element: (tag, mime type, decoded bytes)."""
    return [(tag, mime, base64.b64decode(data)) for tag, mime, data in _DATA_URI.findall(page)]


def _image(width: int, height: int, noisy: bool = False) -> bytes:
    img = Image.effect_noise((width, height), 80).convert("RGB") if noisy else Image.new("RGB", (width, height), "red")
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def store(tmp_path) -> ArtifactStore:
    return ArtifactStore(str(tmp_path / "artifacts"))


def test_small_image_is_embedded_as_is(store) -> None:
    art = store.put("task_s", "image_1.png", _image(64, 64))
    page = snapshots.task_html(_task(output={"image_url": art["url"], "images": [{**art, "width": 64}]}, cost=0.02),
                               store.root)
    [(tag, mime, data)] = _embedded(page)
    assert (tag, mime, data) == ("img", "image/png", _image(64, 64))
    assert 'style="width:64px' in page and "completed" in page and "$0.0200" in page and "2.00 s" in page
    assert 'width:100.0%' in page  # the bar is full


def test_large_image_becomes_a_thumbnail(store) -> None:
    big = _image(1024, 768, noisy=True)
    art = store.put("task_s", "image_1.png", big)
    page = snapshots.task_html(_task(output={"images": [{**art, "width": 1024}], "image_url": art["url"]}),
                               store.root)
    [(tag, mime, data)] = _embedded(page)
    thumb = Image.open(io.BytesIO(data))
    assert tag == "img" and mime == "image/jpeg" and thumb.size == (320, 240) and len(data) < len(big) / 4
    assert 'style="width:320px' in page


def test_several_images_each_shown(store) -> None:
    arts = [store.put("task_s", f"image_{i}.png", _image(32, 32)) for i in (1, 2)]
    page = snapshots.task_html(_task(output={"images": arts, "image_url": arts[0]["url"]}), store.root)
    assert [t for t, _, _ in _embedded(page)] == ["img", "img"]


def test_video_is_an_embedded_player(store) -> None:
    video = store.put("task_v", "video.mp4", b"\x00\x00\x00\x18ftypmp42 rest of the video")
    page = snapshots.task_html(_task(type="video_generation", output={
        "video_url": video["url"], "metadata": {"size_bytes": video["size_bytes"]}}), store.root)
    [(tag, mime, data)] = _embedded(page)
    assert (tag, mime, data) == ("video", "video/mp4", b"\x00\x00\x00\x18ftypmp42 rest of the video")
    assert "<video controls" in page and 'width="480"' in page


def test_transcription_shows_its_audio_and_text(store) -> None:
    audio = store.put("inputs-1", "fox.wav", b"RIFF....WAVEfmt ")
    page = snapshots.task_html(_task(type="audio_transcription", input={"audio_url": audio["url"]},
                                     output={"text": "The quick brown fox <jumps>"}), store.root)
    [(tag, mime, data)] = _embedded(page)
    assert tag == "audio" and mime.startswith("audio/") and data == b"RIFF....WAVEfmt "
    assert "<pre" in page and "The quick brown fox &lt;jumps&gt;" in page
    # audio from elsewhere (a URL the store does not own) is not fetched: the text alone
    remote = snapshots.task_html(_task(type="audio_transcription", input={"audio_url": "https://h.example/a.wav"},
                                       output={"text": "hello"}), store.root)
    assert "<audio" not in remote and "hello" in remote


def test_subtitles_show_their_content(store) -> None:
    page = snapshots.task_html(_task(type="subtitle_generation", output={
        "content": "1\n00:00:00,000 --> 00:00:01,000\nHi\n", "format": "srt", "cues": 1}), store.root)
    assert "srt, 1 cues" in page and "00:00:00,000 --&gt; 00:00:01,000" in page and not _embedded(page)


@pytest.mark.parametrize(("status", "error", "shown"), [
    ("failed", TaskError(code="content_rejected", message="no <b>"), "content_rejected: no &lt;b&gt;"),
    ("cancelled", None, "<b>cancelled</b>"),
])
def test_failed_and_cancelled_tasks_say_why(store, status, error, shown) -> None:
    page = snapshots.task_html(_task(status, error=error, progress=0.3), store.root)
    assert shown in page and snapshots.COLORS["failed"] in page and status in page and not _embedded(page)


def test_waiting_and_running_tasks_show_their_progress(store) -> None:
    pending = snapshots.task_html(_task("pending", provider=None), store.root)
    assert "pending" in pending and "width:0.0%" in pending and "provider <b>—</b>" in pending
    running = snapshots.task_html(_task("processing", progress=0.4, started_at=NOW), store.root)
    assert "width:40.0%" in running and "40%" in running and snapshots.COLORS["processing"] in running
    assert "<pre" not in running and "<img" not in running


def test_too_large_missing_and_remote_outputs_are_linked(store, monkeypatch) -> None:
    monkeypatch.setattr(snapshots, "MAX_INLINE_BYTES", 10)
    art = store.put("task_s", "big.png", _image(8, 8))
    page = snapshots.task_html(_task(output={"images": [art]}), store.root)
    assert "too large to embed" in page and "big.png" in page and not _embedded(page)
    monkeypatch.setattr(snapshots, "MAX_INLINE_BYTES", 20 * 1024 * 1024)
    gone = snapshots.task_html(_task(output={"image_url": store.root + "/task_x/missing.png"}), store.root)
    assert "<code>" in gone and "missing.png" in gone and not _embedded(gone)
    remote = snapshots.task_html(_task(output={"image_url": "https://cdn.example/i.png?x=1&y=2"}), store.root)
    assert '<img src="https://cdn.example/i.png?x=1&amp;y=2"' in remote


def test_an_output_without_media_is_shown_as_json(store) -> None:
    page = snapshots.task_html(_task(type="video_generation", output={"noop": True}), store.root)
    assert "&quot;noop&quot;: true" in page


def test_batch_html_has_a_segment_per_status() -> None:
    page = snapshots.batch_html("batch_1", 8, {"completed": 6, "failed": 1, "cancelled": 1}, " · 3.0 tasks/s")
    widths = re.findall(r'title="(\w+) (\d+)" style="width:([\d.]+)%', page)
    assert widths == [("completed", "6", "75.00"), ("failed", "1", "12.50"), ("cancelled", "1", "12.50")]
    assert "8/8 done · 3.0 tasks/s" in page and "batch_1" in page and "completed 6" in page
    running = snapshots.batch_html("batch_1", 4, {"pending": 3, "completed": 1})
    assert "1/4 done" in running and 'title="pending 3" style="width:75.00%' in running
    assert snapshots.batch_summary("batch_1", 4, {"pending": 3, "completed": 1}) == \
        "<Batch batch_1 4 tasks: completed=1, pending=3>"
