"""Local provider benchmarks: what the offline providers deliver on this machine.

* images per second at 1024x1024 (``local-procedural-image``, standard quality, PNG stored);
* video encode speed as a multiple of real time at 720p (``local-procedural-video``: frame
  generation + x264 + storing the MP4); above 1.0 means faster than real time;
* transcription real-time factor on the speech clips in ``data/speech`` (``local-whisper``: seconds
  of compute per second of audio, model already loaded; below 1.0 means faster than real time),
  with the mean word error rate against the clips' reference texts.

Each provider's ``run`` is called directly with an ``AttemptContext`` (no Ray, no scheduler), and
outputs go to a temporary artifact folder that is removed afterwards, so the user's data folder
is never touched. Rows are ``{"benchmark", "value", "unit", ...details}``.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import tempfile
import threading
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from videoai_ray.artifacts import ArtifactStore
from videoai_ray.models import AudioTranscriptionRequest, ImageGenerationRequest, VideoGenerationRequest
from videoai_ray.providers.context import AttemptContext
from videoai_ray.providers.local import LocalWhisperProvider, ProceduralImageProvider, ProceduralVideoProvider
from videoai_ray.settings import Settings

from . import SPEECH_CLIPS_DIR


def _run_sync(coro: Coroutine[Any, Any, dict[str, Any]]) -> dict[str, Any]:
    """``asyncio.run`` that also works when called from a running loop (e.g. a notebook)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["out"] = asyncio.run(coro)
        except BaseException as exc:
            box["err"] = exc

    thread = threading.Thread(target=target, name="videoai-bench")
    thread.start()
    thread.join()
    if "err" in box:
        raise box["err"]
    out: dict[str, Any] = box["out"]
    return out


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Word-level Levenshtein distance over the reference length (case and punctuation ignored)."""
    ref, hyp = (re.sub(r"[^a-z0-9' ]+", " ", t.lower()).split() for t in (reference, hypothesis))
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1] / max(1, len(ref))


def _context(settings: Settings, root: Path, task_id: str) -> AttemptContext:
    store = ArtifactStore(str(root))
    return AttemptContext(task_id, 1, settings, write_artifact=store.put, provider="bench")


def bench_images(settings: Settings, root: Path, count: int = 4, size: str = "1024x1024") -> dict[str, Any]:
    """Images per second: ``count`` pictures in one request (after one warm-up picture)."""
    provider = ProceduralImageProvider()
    warm = _context(settings, root, "bench-image-warmup")
    _run_sync(provider.run(ImageGenerationRequest(prompt="warm-up", size="512x512"), warm))
    ctx = _context(settings, root, "bench-image")
    req = ImageGenerationRequest.model_validate(
        {"prompt": "A lighthouse on a rocky coast at sunset", "size": size, "n": count, "seed": 1}
    )
    t0 = time.perf_counter()
    _run_sync(provider.run(req, ctx))
    elapsed = time.perf_counter() - t0
    ctx.close()
    warm.close()
    rate = count / elapsed
    png = _png_encode_rate(req.size, root)
    return {"benchmark": f"local_image_throughput ({size})", "value": round(rate, 3), "unit": "images/s",
            "baseline": f"bare Pillow PNG encode of a {size} noise image: {png:.2f}/s",
            "ratio": round(rate / png, 2), "target": "",
            "size": size, "images": count, "seconds": round(elapsed, 3), "provider": provider.name}


def _png_encode_rate(size: str, root: Path, count: int = 3) -> float:
    """Baseline: how many noise images of ``size`` Pillow encodes to PNG per second here."""
    import os

    from PIL import Image

    w, h = (int(x) for x in size.split("x"))
    img = Image.frombytes("RGB", (w, h), os.urandom(w * h * 3))
    t0 = time.perf_counter()
    for i in range(count):
        img.save(root / f"baseline-{i}.png", "PNG")
    return count / (time.perf_counter() - t0)


def bench_video(settings: Settings, root: Path, seconds: int = 5, fps: int = 24,
                resolution: str = "720p") -> dict[str, Any]:
    """Clip duration divided by the wall time to render, encode and store it."""
    provider = ProceduralVideoProvider()
    ctx = _context(settings, root, "bench-video")
    req = VideoGenerationRequest.model_validate(
        {"prompt": "A city skyline at night by the sea", "duration": seconds, "fps": fps,
         "resolution": resolution}
    )
    t0 = time.perf_counter()
    out = _run_sync(provider.run(req, ctx))
    elapsed = time.perf_counter() - t0
    ctx.close()
    speed = seconds / elapsed
    return {"benchmark": f"local_video_encode_speed ({resolution}, {fps} fps)", "value": round(speed, 2),
            "unit": "x realtime", "baseline": "real time", "ratio": round(speed, 2), "target": "> 1",
            "resolution": resolution, "clip_seconds": seconds, "fps": fps,
            "seconds": round(elapsed, 3), "preset": provider.preset,
            "size_bytes": out["metadata"]["size_bytes"], "provider": provider.name}


def bench_transcription(settings: Settings, root: Path, clips_dir: Path | None = None) -> dict[str, Any]:
    """Compute seconds per audio second over the test clips (after loading the model once)."""
    provider = LocalWhisperProvider(settings)
    folder = clips_dir or SPEECH_CLIPS_DIR
    clips = sorted(folder.glob("*.wav")) if folder.is_dir() else []
    reason = provider.unavailable_reason()
    base = {"benchmark": "local_transcription_rtf", "unit": "compute s / audio s", "provider": provider.name}
    if reason or not clips:
        return {**base, "value": None, "skipped": reason or f"no .wav clips in {folder}"}
    model_dir, pinned = provider.model_dir()
    assert model_dir is not None
    from videoai_ray.providers.local.whisper import load_model

    t0 = time.perf_counter()
    load_model(model_dir, pinned)
    load_s = time.perf_counter() - t0
    texts = json.loads((folder / "clips.json").read_text()) if (folder / "clips.json").is_file() else {}
    audio_s = compute_s = 0.0
    errors: list[float] = []
    for i, clip in enumerate(clips):
        # the clip goes in as the SDK sends a file: uploaded under the benchmark's own folder
        ctx = _context(Settings(home=root, database_url=None, redis_url=None), root, f"bench-stt-{i}")
        ref = ArtifactStore(ctx.settings.artifacts_root).put_upload(ctx.user_id, clip)
        t0 = time.perf_counter()
        out = _run_sync(provider.run(AudioTranscriptionRequest(audio_url=ref), ctx))
        compute_s += time.perf_counter() - t0
        audio_s += float(out["duration"])
        if clip.name in texts:
            errors.append(word_error_rate(texts[clip.name]["text"], out["text"]))
        ctx.close()
    rtf = compute_s / audio_s if audio_s else None
    return {**base, "value": round(rtf, 4) if rtf else None, "clips": len(clips),
            "baseline": "real time (RTF 1.0)", "ratio": round(1 / rtf, 1) if rtf else None, "target": "< 1",
            "audio_seconds": round(audio_s, 2), "seconds": round(compute_s, 3),
            "model_load_seconds": round(load_s, 3),
            "mean_wer": round(sum(errors) / len(errors), 4) if errors else None}


def run_provider_benchmarks(
    settings: Settings,
    *,
    image_count: int = 4,
    video_seconds: int = 5,
    clips_dir: Path | None = None,
) -> list[dict[str, Any]]:
    """All three local provider benchmarks; returns one row per benchmark."""
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="videoai-bench-") as tmp:
        root = Path(tmp)
        rows.append(bench_images(settings, root, count=image_count))
        rows.append(bench_video(settings, root, seconds=video_seconds))
        rows.append(bench_transcription(settings, root, clips_dir))
    for row in rows:
        row.setdefault("cpus", os.cpu_count())
    return rows
