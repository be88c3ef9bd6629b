"""The typical pipeline end to end with the local providers: faster-whisper transcribes a spoken
clip, its segments become SRT subtitles, and the bundled ffmpeg renders a video with them burned
in and the clip's audio muxed. Checked by decoding the file, not by eye."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlparse

import imageio_ffmpeg
import numpy as np
import pytest

import videoai_ray as vai
from videoai_bench import SPEECH_CLIPS_DIR
from videoai_ray.pipelines import PipelineStatus
from videoai_ray.pipelines.templates import captioned_video
from videoai_ray.providers.local import LocalSubtitleProvider, LocalWhisperProvider, ProceduralVideoProvider
from videoai_ray.scheduler import kill_scheduler

pytestmark = pytest.mark.slow
SPEECH = SPEECH_CLIPS_DIR / "fox_rms.wav"


@pytest.fixture(scope="module")
def local_client(ray_session: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[vai.Client]:
    pytest.importorskip("faster_whisper")
    settings = vai.Settings(home=tmp_path_factory.mktemp("pipe-local"), instance="t-pipes-local", prefetch=0)
    kill_scheduler(settings)
    providers = [LocalWhisperProvider(settings), LocalSubtitleProvider(), ProceduralVideoProvider()]
    if providers[0].unavailable_reason():
        pytest.skip(f"local-whisper: {providers[0].unavailable_reason()}")
    client = vai.connect(settings=settings, providers=providers)
    yield client
    kill_scheduler(settings)


def _path(url: str) -> Path:
    return Path(unquote(urlparse(url).path))


def _streams(path: Path) -> list[str]:
    proc = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)],
                          capture_output=True, text=True, check=False)
    return [ln.strip() for ln in proc.stderr.splitlines() if "Stream #" in ln]


def _frame_count(path: Path) -> int:
    gen = imageio_ffmpeg.read_frames(str(path))
    next(gen)
    return sum(1 for _ in gen)


def _frame(path: Path, index: int) -> np.ndarray:
    gen = imageio_ffmpeg.read_frames(str(path))
    w, h = next(gen)["size"]
    for i, raw in enumerate(gen):
        if i == index:
            gen.close()
            return np.frombuffer(raw, np.uint8).reshape(h, w, 3).astype(np.int16)
    raise AssertionError(f"no frame {index} in {path}")


def test_transcribe_subtitles_video(local_client: vai.Client) -> None:
    audio = local_client.upload(SPEECH)
    pipe = local_client.pipeline(captioned_video(audio, "A fox jumps over a dog", fps=8))
    record = pipe.result(timeout=240)
    assert record.status is PipelineStatus.COMPLETED
    transcript = pipe.steps["transcribe"].result().output
    subs = pipe.steps["subtitles"].result()
    video = pipe.steps["video"].result()
    assert "fox" in transcript["text"].lower()
    # the subtitles keep the transcript's timings
    assert subs.input["timing_mode"] == "manual"
    assert [c["start"] for c in subs.input["cues"]] == [s["start"] for s in transcript["segments"]
                                                        if s["end"] > s["start"]]
    assert "fox" in subs.output["content"].lower() and "-->" in subs.output["content"]
    # the video spans the audio and carries it
    meta = video.output["metadata"]
    assert meta["audio"] and meta["subtitles_burned_in"]
    assert abs(meta["duration"] - transcript["duration"]) < 0.25
    path = _path(video.output["video_url"])
    streams = _streams(path)
    assert any("Video: h264" in s for s in streams) and any("Audio: aac" in s for s in streams)
    # the frame while the first cue is shown against the same frame drawn without subtitles: they
    # differ in the area kept for subtitles, and nowhere else beyond the encoder's noise
    from videoai_ray.providers.local._frames import FrameSource

    first = transcript["segments"][0]
    index = int((first["start"] + first["end"]) / 2 * 8)
    frames = _frame_count(path)
    shown = _frame(path, index)
    h, w = shown.shape[:2]
    source = FrameSource(video.input["prompt"], video.input["style"], w, h, 8, frames, subtitles=True)
    area = source.layout.subtitles
    assert area is not None
    strong = np.abs(shown - source.frame(index).astype(np.int16)).max(axis=2) > 60
    inside, outside = strong[area.top:area.bottom].mean(), np.delete(strong, np.s_[area.top:area.bottom], 0).mean()
    assert inside > 0.01 and outside < inside / 20, (inside, outside)
