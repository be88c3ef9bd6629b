"""``videoai demo``: the main job on the embedded default — local Ray, local providers, real files.

It submits a mixed batch of all four task types at mixed priorities, follows it with a live
progress bar, copies every output into a folder it names, and prints the statistics. A second
run is faster: identical requests are answered from the cache.
"""

from __future__ import annotations

import shutil
import time
from importlib import resources
from pathlib import Path
from typing import Any

from ..settings import Settings


def demo_items(speech_url: str) -> list[dict[str, Any]]:
    """The demo batch: every task type, every priority."""
    img = "image_generation"
    items: list[dict[str, Any]] = [
        {"task_type": img, "priority": "urgent",
         "input_data": {"prompt": "Um gato robô futurista", "style": "realistic", "size": "1024x1024"}},
        {"task_type": img, "priority": "high",
         "input_data": {"prompt": "A lighthouse on a cliff at sunset", "style": "artistic", "size": "512x512"}},
        {"task_type": img, "priority": "medium",
         "input_data": {"prompt": "Neon city at night, rain", "style": "anime", "size": "1024x1792"}},
        {"task_type": img, "priority": "low",
         "input_data": {"prompt": "Mountain lake with pine trees", "n": 2, "size": "512x512", "seed": 7}},
        {"task_type": "video_generation", "priority": "high",
         "input_data": {"prompt": "Clouds drifting over a calm sea", "duration": 3, "fps": 24,
                        "resolution": "720p", "style": "cinematic"}},
        {"task_type": "video_generation", "priority": "low",
         "input_data": {"prompt": "A forest trail in autumn", "duration": 2, "fps": 12,
                        "resolution": "1080p", "style": "documentary"}},
        {"task_type": "audio_transcription", "priority": "urgent",
         "input_data": {"audio_url": speech_url, "language": "en", "response_format": "json"}},
        {"task_type": "audio_transcription", "priority": "medium",
         "input_data": {"audio_url": speech_url, "language": "en", "response_format": "srt"}},
    ]
    text = ("Welcome to videoai-ray. Every task goes through one scheduler, one provider registry and one "
            "cache. Subtitles are timed from reading speed, and long sentences are split into readable cues.")
    for fmt, prio in (("srt", "medium"), ("vtt", "low"), ("ass", "high")):
        items.append({"task_type": "subtitle_generation", "priority": prio,
                      "input_data": {"text": text, "format": fmt}})
    # An honest failure: no translation-capable provider runs offline, so this fails at once, saying why.
    items.append({"task_type": "subtitle_generation", "priority": "low",
                  "input_data": {"text": "Hello, world.", "source_language": "en", "target_language": "de"}})
    return items


def run_demo(settings: Settings | None = None, out_dir: Path | None = None) -> dict[str, Any]:
    """Run the demo and return a summary (also printed)."""
    import ray

    from ..client import connect

    settings = settings or Settings()
    out = (out_dir or Path("videoai-demo-output")).resolve()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    started = time.perf_counter()
    client = connect("local", settings=settings, include_dashboard=False)
    speech = resources.files("videoai_ray.demo").joinpath("speech.wav")
    with resources.as_file(speech) as path:
        speech_url = client.upload(Path(path))
    print(f"videoai demo: Ray {ray.__version__}, data folder {client.settings.home.resolve()}")
    print(client.providers()[["available", "health", "quality", "task_types"]].to_string(), "\n")
    batch = client.batch(demo_items(speech_url))
    batch.wait(timeout=900, progress=True)
    elapsed = time.perf_counter() - started
    frame = batch.to_pandas()
    copied = 0
    for task in batch.results():
        for file in client.files.names(task):  # the store of the running Scheduler, from any node
            (out / f"{task.type.value}-{task.id[-6:]}-{file}").write_bytes(client.files.read(task, file))
            copied += 1
    stats = client.statistics()
    cols = ["type", "status", "priority", "provider", "cache_hit", "duration", "error_code"]
    print("\nTasks:\n" + frame[cols].to_string(index=False))
    print("\nStatistics by type:\n" + stats.by_type.to_string())
    print("\nStatistics by provider:\n" + stats.by_provider.to_string())
    hits = int(frame["cache_hit"].sum())
    print(f"\n{len(frame)} tasks in {elapsed:.1f} s ({hits} answered from the cache); "
          f"{copied} output files written to {out}")
    failed = frame[frame["status"] == "failed"]
    for _, row in failed.iterrows():
        err = client.get(row["id"]).error
        print(f"  {row['id']} failed: {err.message if err else '?'}")
    return {"tasks": len(frame), "seconds": elapsed, "cache_hits": hits, "files": copied, "out": str(out),
            "counts": batch.counts()}


__all__ = ["demo_items", "run_demo"]
