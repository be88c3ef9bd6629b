"""``local-procedural-video``: real H.264 MP4s checked by decoding them with ffmpeg."""

from __future__ import annotations

import asyncio
import re
import subprocess
import tracemalloc
import types
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import psutil
import pytest
from attempt_context import MakeCtx, artifact_path, run, upload
from PIL import Image

from videoai_ray.errors import PermanentError
from videoai_ray.models import VideoGenerationRequest
from videoai_ray.providers.local._frames import FrameSource
from videoai_ray.providers.local.video import ProceduralVideoProvider

PROMPT = "A city skyline at night by the sea"


def probe(path: Path) -> dict[str, object]:
    """What ffmpeg itself says about the file: codec, size, fps, and the decoded frame count."""
    proc = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)],
                          capture_output=True, text=True, check=False)
    m = re.search(r"Video: (\w+).*?, (\d{2,5})x(\d{2,5})", proc.stderr)
    assert m, proc.stderr
    frames, secs = imageio_ffmpeg.count_frames_and_secs(str(path))
    return {"codec": m.group(1), "width": int(m.group(2)), "height": int(m.group(3)),
            "frames": frames, "seconds": secs, "yuv420p": "yuv420p" in proc.stderr}


def first_frames(path: Path, count: int) -> list[np.ndarray]:
    gen = imageio_ffmpeg.read_frames(str(path))
    meta = next(gen)
    w, h = meta["size"]
    out = [np.frombuffer(next(gen), np.uint8).reshape(h, w, 3).astype(np.int16) for _ in range(count)]
    gen.close()
    return out


def test_720p_clip_decodes_with_the_right_codec_frames_and_duration(make_ctx: MakeCtx) -> None:
    ctx, rec = make_ctx("vid_720")
    req = VideoGenerationRequest(prompt=PROMPT, duration=5, fps=24, resolution="720p")
    tracemalloc.start()
    try:
        out = run(ProceduralVideoProvider().run(req, ctx))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    path = artifact_path(out["video_url"])
    info = probe(path)
    assert info == {"codec": "h264", "width": 1280, "height": 720, "frames": 120, "seconds": 5.0,
                    "yuv420p": True}
    meta = out["metadata"]
    assert (meta["duration"], meta["fps"], meta["frames"]) == (5, 24, 120)
    assert (meta["width"], meta["height"]) == (1280, 720)
    assert meta["codec"] == "h264" and meta["size_bytes"] == path.stat().st_size > 10_000
    # streamed: 120 raw 720p frames are 330 MB; the attempt never held more than a few of them
    assert peak < 80 * 1024 * 1024, peak
    # progress as frames are written, monotonic, ending at 1.0
    assert len(rec.values) > 100 and rec.values == sorted(rec.values) and rec.values[-1] == 1.0
    assert not list(ctx.tmpdir.glob("*.mp4"))  # the temporary file was moved to the artifact store


def test_frames_are_the_procedural_frames_and_deterministic(make_ctx: MakeCtx) -> None:
    ctx, _ = make_ctx("vid_det")
    out = run(ProceduralVideoProvider().run(
        VideoGenerationRequest(prompt=PROMPT, duration=1, fps=4, style="documentary"), ctx))
    source = FrameSource(PROMPT, "documentary", 1280, 720, 4, 4)
    again = FrameSource(PROMPT, "documentary", 1280, 720, 4, 4)
    assert isinstance(source.frames(), types.GeneratorType)
    assert np.array_equal(source.frame(2), again.frame(2))
    decoded = first_frames(artifact_path(out["video_url"]), 4)
    for i, frame in enumerate(decoded):  # lossy, but close to what was sent
        assert np.abs(frame - source.frame(i).astype(np.int16)).mean() < 6, i
    assert np.abs(decoded[0] - decoded[3]).mean() > 1  # it moves
    other = FrameSource("A green forest in the morning", "documentary", 1280, 720, 4, 4)
    assert np.abs(other.frame(0).astype(np.int16) - source.frame(0)).mean() > 10


def test_styles_differ() -> None:
    frames = {s: FrameSource(PROMPT, s, 640, 360, 4, 4).frame(1).astype(np.int16)
              for s in ("cinematic", "documentary", "artistic")}
    assert (frames["cinematic"][:20] == 0).all()  # letterbox bars
    assert not (frames["documentary"][:20] == 0).all()
    assert np.abs(frames["artistic"] - frames["documentary"]).mean() > 10


@pytest.mark.parametrize(("resolution", "size"), [("1080p", (1920, 1080)), ("4k", (3840, 2160))])
def test_higher_resolutions_smoke(make_ctx: MakeCtx, resolution: str, size: tuple[int, int]) -> None:
    ctx, _ = make_ctx(f"vid_{resolution}")
    req = VideoGenerationRequest.model_validate(
        {"prompt": PROMPT, "duration": 1, "fps": 2, "resolution": resolution, "style": "artistic"})
    out = run(ProceduralVideoProvider().run(req, ctx))
    info = probe(artifact_path(out["video_url"]))
    assert (info["codec"], info["width"], info["height"], info["frames"]) == ("h264", *size, 2)


def test_first_frame_from_image_url(make_ctx: MakeCtx, tmp_path: Path) -> None:
    still = Image.new("RGB", (640, 360), (220, 30, 30))
    still.paste((30, 30, 220), (160, 90, 480, 270))
    src = tmp_path / "first.png"
    still.save(src)
    ctx, _ = make_ctx("vid_first")
    out = run(ProceduralVideoProvider().run(
        VideoGenerationRequest(prompt=PROMPT, duration=1, fps=6, image_url=upload(ctx.settings, src)), ctx))
    decoded = first_frames(artifact_path(out["video_url"]), 6)
    expected = np.asarray(still.resize((1280, 720)), dtype=np.int16)
    top = slice(100, 500)  # below the letterbox, above the caption
    assert np.abs(decoded[0][top] - expected[top]).mean() < 8
    assert np.abs(decoded[5][top] - expected[top]).mean() > 40


def _ffmpeg_children() -> list[psutil.Process]:
    return [p for p in psutil.Process().children(recursive=True) if "ffmpeg" in p.name()]


def test_cancel_kills_the_encoder_and_raises(make_ctx: MakeCtx) -> None:
    ctx, rec = make_ctx("vid_cancel", cancel_when=lambda r: bool(r.values) and r.values[-1] > 0.3)
    req = VideoGenerationRequest(prompt=PROMPT, duration=10, fps=24)
    with pytest.raises(asyncio.CancelledError):
        run(ProceduralVideoProvider().run(req, ctx))
    assert 0.3 < rec.values[-1] < 0.5  # stopped right after the flag was raised
    assert _ffmpeg_children() == []
    assert not (ctx.tmpdir / "video.mp4").exists()
    assert not (ctx.settings.home / "artifacts" / "vid_cancel").exists()


def test_encoder_failure_is_a_clear_permanent_error(make_ctx: MakeCtx) -> None:
    provider = ProceduralVideoProvider()
    provider.preset = "no-such-preset"
    ctx, _ = make_ctx("vid_fail")
    with pytest.raises(PermanentError, match=r"ffmpeg encoder failed with exit code \d+: .*preset"):
        run(provider.run(VideoGenerationRequest(prompt=PROMPT, duration=2, fps=12), ctx))
    assert _ffmpeg_children() == []
    assert not (ctx.tmpdir / "video.mp4").exists()


def test_provider_declares_itself() -> None:
    p = ProceduralVideoProvider()
    assert p.cpu_bound and p.unavailable_reason() is None
    assert "not a generative model" in p.description
    assert p.supports(VideoGenerationRequest(prompt="x"))
