"""``local-procedural-video`` with a sound track and burned-in subtitles, checked by decoding the
file with the bundled ffmpeg (streams, length, and the pixels where the subtitles are drawn)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest
from attempt_context import MakeCtx, artifact_path, run, upload
from test_local_video import probe

from videoai_bench import SPEECH_CLIPS_DIR
from videoai_ray.errors import InvalidInput
from videoai_ray.models import VideoGenerationRequest
from videoai_ray.providers.local._mux import audio_seconds
from videoai_ray.providers.local.video import ProceduralVideoProvider
from videoai_ray.settings import Settings

SPEECH = SPEECH_CLIPS_DIR / "fox_rms.wav"
SRT = "1\n00:00:00,000 --> 00:00:03,000\nTHE QUICK BROWN FOX\n"


def frame_at(path: Path, index: int) -> np.ndarray:
    gen = imageio_ffmpeg.read_frames(str(path))
    meta = next(gen)
    w, h = meta["size"]
    for i, raw in enumerate(gen):
        if i == index:
            gen.close()
            return np.frombuffer(raw, np.uint8).reshape(h, w, 3).astype(np.int16)
    raise AssertionError(f"no frame {index}")


def streams(path: Path) -> str:
    import subprocess

    proc = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)],
                          capture_output=True, text=True, check=False)
    return "\n".join(ln for ln in proc.stderr.splitlines() if "Stream #" in ln)


def test_audio_is_muxed_the_video_spans_it_and_subtitles_change_the_bottom_of_the_frames(
        make_ctx: MakeCtx, ctx_settings: Settings, tmp_path: Path) -> None:
    srt = tmp_path / "fox.srt"
    srt.write_text(SRT)
    audio_ref, subs_ref = upload(ctx_settings, SPEECH), upload(ctx_settings, srt)
    provider = ProceduralVideoProvider()
    base = {"prompt": "A fox in a field", "fps": 8, "resolution": "720p"}
    ctx, _ = make_ctx("vid_plain")  # the same video without subtitles
    plain = artifact_path(run(provider.run(VideoGenerationRequest(**base, audio_url=audio_ref), ctx))["video_url"])
    ctx, _ = make_ctx("vid_mux")
    out = run(provider.run(VideoGenerationRequest(**base, audio_url=audio_ref, subtitles_url=subs_ref), ctx))
    muxed = artifact_path(out["video_url"])

    seconds = audio_seconds(imageio_ffmpeg.get_ffmpeg_exe(), SPEECH)
    info = probe(muxed)
    assert "Audio: aac" in streams(muxed)
    assert info["frames"] == int(np.ceil(seconds * 8)) and abs(float(info["seconds"]) - seconds) < 0.2
    assert out["metadata"]["audio"] is True and out["metadata"]["subtitles_burned_in"] is True
    # the same procedural frame with and without the subtitle: only the bottom band differs
    a, b = frame_at(plain, 4), frame_at(muxed, 4)
    h = a.shape[0]
    bottom = np.abs(a[int(h * 0.8):] - b[int(h * 0.8):]).mean()
    top = np.abs(a[: int(h * 0.5)] - b[: int(h * 0.5)]).mean()
    assert bottom > 5 * max(top, 0.5), (bottom, top)


def test_a_file_that_is_not_subtitles_or_audio_is_invalid_input(make_ctx: MakeCtx, ctx_settings: Settings,
                                                                 tmp_path: Path) -> None:
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00\x01 not media")
    ref = upload(ctx_settings, junk)
    provider = ProceduralVideoProvider()
    for field in ("audio_url", "subtitles_url"):
        ctx, _ = make_ctx(f"vid_{field}")
        with pytest.raises(InvalidInput, match=field):
            asyncio.run(provider.run(VideoGenerationRequest(prompt="x", **{field: ref}), ctx))


def test_cloud_video_providers_refuse_audio_and_subtitles_naming_the_field() -> None:
    from videoai_ray.providers.cloud.pika import PikaVideoProvider
    from videoai_ray.providers.cloud.runway import RunwayVideoProvider

    req = VideoGenerationRequest(prompt="x", audio_url="https://example.com/a.wav",
                                 subtitles_url="https://example.com/s.srt")
    for cls in (PikaVideoProvider, RunwayVideoProvider):
        p = cls(Settings())
        assert not p.supports(req)
        assert p.explain_unsupported(req) == (f"audio_url, subtitles_url: not supported by {p.name} "
                                              "(use a provider that honours it)")
        assert p.supports(VideoGenerationRequest(prompt="x", duration=5))
    assert ProceduralVideoProvider().supports(req)
