"""``local-procedural-video``: a real H.264 MP4 encoded offline with the ffmpeg binary that
``imageio-ffmpeg`` ships.

Frames are procedural (see ``_frames``: a prompt-derived landscape, camera pan, moving orb, the
prompt as a caption, a time bar), deterministic for the request, and streamed one by one into
ffmpeg's stdin as raw RGB24, so memory stays at a few frames whatever the duration. ``ctx`` is
polled for cancellation before every frame; a cancel kills the encoder, removes the partial
file and raises ``asyncio.CancelledError``. Not a generative video model.

It honours the request's ``audio_url`` (muxed as AAC; the video then spans the audio) and
``subtitles_url`` (burned into the frames by ffmpeg's libass ``subtitles`` filter), see ``_mux``.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time
from pathlib import Path
from typing import Any, ClassVar

from PIL import Image, UnidentifiedImageError

from ...errors import InvalidInput, PermanentError, RetryableError
from ...models import TaskRequest, TaskType, VideoGenerationRequest
from ...redact import public_message
from ..base import Provider, ProviderContext
from ._frames import RESOLUTIONS, FrameSource
from ._mux import MuxInputs, audio_seconds, write_ass

GENERATOR = "procedural frames (NumPy + Pillow) encoded with x264; not a generative model"


def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary bundled with ``imageio-ffmpeg`` (raises if there is none)."""
    import imageio_ffmpeg

    return str(imageio_ffmpeg.get_ffmpeg_exe())


class ProceduralVideoProvider(Provider):
    """Procedural H.264 MP4 (ffmpeg/x264), streamed frame by frame; not a generative model."""

    name: ClassVar[str] = "local-procedural-video"
    task_types: ClassVar[frozenset[TaskType]] = frozenset({TaskType.VIDEO_GENERATION})
    quality: ClassVar[float] = 0.2
    max_concurrency: ClassVar[int] = 2
    cpu_bound: ClassVar[bool] = True
    num_cpus: ClassVar[float] = 1.0
    honours: ClassVar[frozenset[str]] = frozenset({"audio_url", "subtitles_url"})
    description: ClassVar[str] = (
        "Offline procedural video (animated prompt-derived landscape with the prompt as caption) "
        "encoded to H.264 MP4 with the bundled ffmpeg; not a generative model."
    )
    #: x264 speed/size trade-off; ``veryfast`` encodes 720p several times faster than real time
    preset: str = "veryfast"
    crf: int = 23

    def unavailable_reason(self) -> str | None:
        try:
            ffmpeg_exe()
        except Exception as exc:  # imageio-ffmpeg missing or its binary not found
            return f"no ffmpeg binary: {exc} (pip install imageio-ffmpeg)"
        return None

    def supports(self, request: TaskRequest) -> bool:
        return isinstance(request, VideoGenerationRequest) and super().supports(request)

    def encoder_command(self, out: Path, width: int, height: int, fps: int, frames: int,
                        mux: MuxInputs | None = None) -> list[str]:
        """ffmpeg reading raw RGB24 frames from stdin and writing an H.264/yuv420p MP4 (with the
        sound track and burned-in subtitles of ``mux``)."""
        mux = mux or MuxInputs(out.parent)
        return [
            ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", str(fps), "-i", "pipe:0",
            *mux.input_args(), *mux.output_args(), "-c:v", "libx264", "-preset", self.preset, "-crf", str(self.crf),
            "-pix_fmt", "yuv420p", "-frames:v", str(frames), "-movflags", "+faststart",
            "-metadata", f"comment=videoai-ray {self.name}", str(out),
        ]

    def _mux_inputs(self, request: VideoGenerationRequest, ctx: ProviderContext, width: int,
                    height: int) -> MuxInputs:
        audio = ctx.open_input(request.audio_url) if request.audio_url else None
        seconds = audio_seconds(ffmpeg_exe(), audio) if audio is not None else None
        subs = write_ass(ctx.open_input(request.subtitles_url), ctx.tmpdir, width, height, request.style) \
            if request.subtitles_url else None
        return MuxInputs(ctx.tmpdir, audio, seconds, subs)

    def _first_image(self, request: VideoGenerationRequest, ctx: ProviderContext) -> Image.Image | None:
        if not request.image_url:
            return None
        path = ctx.open_input(request.image_url)
        try:
            with Image.open(path) as img:
                img.load()
                return img.copy()
        except (UnidentifiedImageError, OSError) as exc:
            # PIL names the scratch file it read: the message says what, never where
            raise InvalidInput(f"image_url is not a readable image: {public_message(str(exc), shared=False)}") from exc

    async def run(self, request: Any, ctx: ProviderContext) -> dict[str, Any]:
        if not isinstance(request, VideoGenerationRequest):
            raise InvalidInput(f"{self.name} needs a VideoGenerationRequest, got {type(request).__name__}")
        width, height = RESOLUTIONS[request.resolution]
        mux = self._mux_inputs(request, ctx, width, height)
        fps = request.fps
        frames = mux.frames(fps, request.duration * request.fps)
        started = time.perf_counter()
        source = FrameSource(request.prompt, request.style, width, height, fps, frames,
                             self._first_image(request, ctx), subtitles=mux.subtitles is not None)
        ctx.progress(0.02, "scene painted")
        out = ctx.tmpdir / "video.mp4"
        stderr_path = ctx.tmpdir / "ffmpeg.log"
        cmd = self.encoder_command(out, width, height, fps, frames, mux)
        await self._encode(source, cmd, out, stderr_path, ctx)
        encode_s = time.perf_counter() - started
        artifact = ctx.store_artifact("video.mp4", out, "video/mp4")
        out.unlink(missing_ok=True)
        ctx.progress(1.0, "stored")
        return {
            "video_url": artifact["url"],
            "metadata": {
                "duration": frames / fps,
                "fps": fps,
                "width": width,
                "height": height,
                "resolution": request.resolution,
                "codec": "h264",
                "pixel_format": "yuv420p",
                "container": "mp4",
                "size_bytes": artifact["size_bytes"],
                "frames": frames,
                "style": request.style,
                "x264_preset": self.preset,
                "crf": self.crf,
                "first_frame_from": request.image_url,
                "audio": mux.audio is not None,
                "audio_seconds": None if mux.audio_seconds is None else round(mux.audio_seconds, 3),
                "subtitles_burned_in": mux.subtitles is not None,
                "provider": self.name,
                "generator": GENERATOR,
                "encode_seconds": round(encode_s, 3),
                "realtime_factor": round((frames / fps) / encode_s, 2) if encode_s > 0 else None,
            },
        }

    async def _encode(
        self, source: FrameSource, cmd: list[str], out: Path, stderr_path: Path, ctx: ProviderContext
    ) -> None:
        """Stream every frame into the encoder; kill it on cancel or error."""
        with stderr_path.open("wb") as err:  # run from the scratch folder: the subtitles filter's paths
            proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=err,
                                    cwd=ctx.tmpdir)
        assert proc.stdin is not None
        try:
            for i, frame in enumerate(source.frames()):
                if ctx.cancelled:
                    _kill(proc)
                    out.unlink(missing_ok=True)
                    raise asyncio.CancelledError(f"task {ctx.task_id} cancelled at frame {i}")
                try:
                    proc.stdin.write(frame)
                except (BrokenPipeError, ValueError):  # the encoder died under us
                    break
                n = source.frame_count
                ctx.progress(0.02 + 0.96 * (i + 1) / n, f"frame {i + 1}/{n}")
                await asyncio.sleep(0)  # let the worker's event loop run between frames
            with contextlib.suppress(BrokenPipeError):
                proc.stdin.close()
            rc = await asyncio.to_thread(proc.wait)
        finally:
            if proc.poll() is None:
                _kill(proc)
        if rc != 0:
            out.unlink(missing_ok=True)
            lines = [ln.strip() for ln in stderr_path.read_text(errors="replace").splitlines() if ln.strip()]
            tail = public_message(" | ".join(lines[:3])[:600], shared=False) or "(no output)"  # the cause comes first
            if rc < 0:
                raise RetryableError(f"ffmpeg encoder was killed by signal {-rc}: {tail}")
            raise PermanentError(f"ffmpeg encoder failed with exit code {rc}: {tail}")
        if not out.exists() or out.stat().st_size == 0:
            raise PermanentError("ffmpeg encoder exited cleanly but wrote no video")


def _kill(proc: subprocess.Popen[bytes]) -> None:
    """Stop the encoder now and reap it (no zombie, no orphan)."""
    if proc.poll() is None:
        proc.kill()
    with contextlib.suppress(BrokenPipeError, OSError):
        if proc.stdin:
            proc.stdin.close()
    proc.wait()
