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
#: a cue after the end of the videos: the subtitle layout, and nothing drawn in it
LATE = "1\n00:09:00,000 --> 00:09:03,000\nLATER\n"
#: two lines with descenders, as the subtitles of notebook 05's captioned video
TWO_LINES = "1\n00:00:00,000 --> 00:00:03,400\nThe quick brown fox jumps over\nthe lazy dog, Égypte ÇÃ.\n"


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
    srt, late = tmp_path / "fox.srt", tmp_path / "late.srt"
    srt.write_text(SRT)
    late.write_text(LATE)
    audio_ref, subs_ref = upload(ctx_settings, SPEECH), upload(ctx_settings, srt)
    provider = ProceduralVideoProvider()
    base = {"prompt": "A fox in a field", "fps": 8, "resolution": "720p"}
    ctx, _ = make_ctx("vid_plain")  # the same video (and layout) with no cue on screen yet
    plain = artifact_path(run(provider.run(VideoGenerationRequest(
        **base, audio_url=audio_ref, subtitles_url=upload(ctx_settings, late)), ctx))["video_url"])
    ctx, _ = make_ctx("vid_mux")
    out = run(provider.run(VideoGenerationRequest(**base, audio_url=audio_ref, subtitles_url=subs_ref), ctx))
    muxed = artifact_path(out["video_url"])

    seconds = audio_seconds(imageio_ffmpeg.get_ffmpeg_exe(), SPEECH)
    info = probe(muxed)
    assert "Audio: aac" in streams(muxed)
    assert info["frames"] == int(np.ceil(seconds * 8)) and abs(float(info["seconds"]) - seconds) < 0.2
    assert out["metadata"]["audio"] is True and out["metadata"]["subtitles_burned_in"] is True
    # the same procedural frame with and without the cue on screen: only the lower part differs
    a, b = frame_at(plain, 4), frame_at(muxed, 4)
    h = a.shape[0]
    bottom = np.abs(a[int(h * 0.6):] - b[int(h * 0.6):]).mean()
    top = np.abs(a[: int(h * 0.5)] - b[: int(h * 0.5)]).mean()
    assert bottom > 5 * max(top, 0.5), (bottom, top)


def _two_videos(make_ctx: MakeCtx, settings: Settings, tmp_path: Path, style: str) -> tuple[Path, Path]:
    """The same video twice: its cue on screen, and a cue after its end (nothing drawn)."""
    out = []
    for name, text in (("shown", TWO_LINES), ("late", LATE)):
        srt = tmp_path / f"{style}-{name}.srt"
        srt.write_text(text, encoding="utf-8")
        ctx, _ = make_ctx(f"vid_{style}_{name}")
        req = VideoGenerationRequest(prompt="A quick brown fox jumps over a lazy dog", fps=8, duration=2,
                                     style=style, subtitles_url=upload(settings, srt))
        out.append(artifact_path(run(ProceduralVideoProvider().run(req, ctx))["video_url"]))
    return out[0], out[1]


@pytest.mark.slow
@pytest.mark.parametrize("style", ["cinematic", "documentary"])
def test_burned_in_subtitles_do_not_cross_the_time_bar_or_the_caption(make_ctx: MakeCtx, ctx_settings: Settings,
                                                                      tmp_path: Path, style: str) -> None:
    """Notebook 05's frame at 1.5 s: the first subtitle line was drawn across the white time bar,
    right under the prompt caption."""
    shown_path, late_path = _two_videos(make_ctx, ctx_settings, tmp_path, style)
    shown, late = frame_at(shown_path, 12), frame_at(late_path, 12)
    h, w = late.shape[:2]
    # the time bar, found in the frame: rows whose filled (left) part is near-white everywhere
    filled = w * 13 // 16 - 8  # frame 12 of 16
    bar = [y for y in range(h) if late[y, :filled].min() > 200]
    assert bar and max(bar) - min(bar) < h // 60, bar
    assert shown[min(bar): max(bar) + 1, :filled].min() > 200, "a subtitle crosses the time bar"
    # the subtitle's own pixels: where the frame with the cue on screen differs strongly
    text_rows = np.nonzero((np.abs(shown - late).max(axis=2) > 60).sum(axis=1) > 2)[0]
    assert text_rows.size > 40  # two lines were drawn
    assert max(text_rows) < min(bar) - h // 60, "the subtitles touch the time bar"

    from videoai_ray.providers.local._frames import FrameSource

    source = FrameSource("A quick brown fox jumps over a lazy dog", style, w, h, 8, 16, subtitles=True)
    area = source.layout.subtitles
    assert area is not None and area.top <= min(text_rows) and max(text_rows) < area.bottom
    _, cap_top, _, cap_bottom = source.cap_box
    assert cap_bottom + source.layout.margin <= min(text_rows), "the subtitles crowd the caption"
    # the caption is drawn where the layout says (the frame with the cue off screen is the source's)
    assert np.abs(late[cap_top:cap_bottom] - source.frame(12)[cap_top:cap_bottom].astype(np.int16)).mean() < 6


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
