"""``videoai bench models``: model providers in warm pools, each row against a baseline of the same run.

* transcription throughput: N transcriptions of the test clips through the SDK with a pool of
  ``local-whisper`` vs Ray Data ``map_batches`` with an actor pool running the same model (same
  folder, same faster-whisper call) on the same clips; both cold (actors start and load the model
  inside the timed round), median of the rounds;
* against the machine's physical limit: the same transcriptions through a warm pool of one actor
  per core (SDK, store, cache off) vs one warm model per core in a plain process pool, no Ray and
  no store, the same model, call and clips (``_limit_round``);
* slot use on a capped provider (400 attempts, cap 8, 100 ms each) at default settings, three runs:
  the I/O worker path (``bench core``'s measure) and a model pool of the same cap (one batch of up
  to 8 per 100 ms, the next batch gathered while one runs).
"""

from __future__ import annotations

import math
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from videoai_ray.providers.local.whisper import LocalWhisperProvider
from videoai_ray.providers.testing import BatchSleepProvider, FixedLatencyProvider
from videoai_ray.scheduler import kill_scheduler
from videoai_ray.settings import Settings

from . import SPEECH_CLIPS_DIR

_TRANSCRIBE = {"beam_size": 5, "word_timestamps": True, "vad_filter": True}


def _clips(n: int) -> list[Path]:
    clips = sorted(SPEECH_CLIPS_DIR.glob("*.wav"))
    return [clips[i % len(clips)] for i in range(n)]


class _RayDataTranscriber:
    """Ray Data's callable class: loads the same model once per actor, transcribes a batch of paths."""

    def __init__(self, folder: str, pinned: bool, batch_size: int, chunk_batch_size: int) -> None:
        from videoai_ray.providers.local.whisper import load_model

        self.model = load_model(Path(folder), pinned, "cpu", batch_size)
        self.chunk_batch_size = chunk_batch_size

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        from concurrent.futures import ThreadPoolExecutor

        from faster_whisper import BatchedInferencePipeline

        def one(path: str) -> str:
            segments, _ = BatchedInferencePipeline(self.model).transcribe(
                path, language="en", batch_size=self.chunk_batch_size, **_TRANSCRIBE)
            return " ".join(s.text.strip() for s in segments)

        paths = [str(p) for p in batch["path"]]
        with ThreadPoolExecutor(len(paths)) as pool:  # the same concurrency the provider gives a batch
            batch["text"] = list(pool.map(one, paths))
        return batch


#: the process pool's own model (one per process, loaded by the initializer)
_PROCESS_MODEL: list[Any] = []


def _load_in_process(folder: str, pinned: bool, batch_size: int) -> None:
    from videoai_ray.providers.local.whisper import load_model

    _PROCESS_MODEL[:] = [load_model(Path(folder), pinned, "cpu", batch_size)]


def _transcribe_in_process(path: str, chunk_batch_size: int) -> str:
    from faster_whisper import BatchedInferencePipeline

    segments, _ = BatchedInferencePipeline(_PROCESS_MODEL[0]).transcribe(
        path, language="en", batch_size=chunk_batch_size, **_TRANSCRIBE)
    return " ".join(s.text.strip() for s in segments)


def _limit_round(paths: list[Path], provider: LocalWhisperProvider, workers: int) -> float:
    """Seconds for ``paths`` through ``workers`` processes that each hold the model warm (loaded
    and run once before the clock starts): what this machine can do with no Ray and no store."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    folder, pinned = provider.model_dir()
    ctx = multiprocessing.get_context("spawn")  # a clean process, as a worker's would be
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_load_in_process,
                             initargs=(str(folder), pinned, provider.max_batch_size)) as pool:
        list(pool.map(_transcribe_in_process, [str(paths[0])] * workers, [provider.chunk_batch_size] * workers))
        started = time.perf_counter()
        texts = list(pool.map(_transcribe_in_process, [str(p) for p in paths],
                              [provider.chunk_batch_size] * len(paths)))
        elapsed = time.perf_counter() - started
    if len(texts) != len(paths):
        raise RuntimeError(f"the process pool returned {len(texts)} texts for {len(paths)} clips")
    return elapsed


def _wait_started(client: Any, name: str, actors: int, timeout: float = 300) -> None:
    """Return once the pool of ``name`` has ``actors`` actors up (each loaded its model as it started)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pool = next((r["pool"] for r in client.service.providers.list() if r["name"] == name), None) or {}
        if int(pool.get("started") or 0) >= actors and not pool.get("starting"):
            return
        time.sleep(0.2)
    raise RuntimeError(f"the pool of {name} did not start {actors} actors in {timeout:.0f} s")


def _ray_data_round(paths: list[Path], provider: LocalWhisperProvider, actors: int) -> float:
    import ray.data

    folder, pinned = provider.model_dir()
    started = time.perf_counter()
    ds = ray.data.from_items([{"path": str(p)} for p in paths]).map_batches(
        _RayDataTranscriber, fn_constructor_args=(str(folder), pinned, provider.max_batch_size,
                                                  provider.chunk_batch_size),
        batch_size=provider.max_batch_size, concurrency=actors, num_cpus=provider.num_cpus)
    rows = ds.take_all()
    elapsed = time.perf_counter() - started
    if len(rows) != len(paths):
        raise RuntimeError(f"Ray Data returned {len(rows)} rows for {len(paths)} clips")
    return elapsed


def _pool_round(client: Any, settings: Settings, paths: list[Path], actors: int, round_no: int, *,
                warm: bool = False) -> float:
    """Seconds for ``paths`` through a new ``local-whisper`` pool of at most ``actors``: cold (the
    actors start and load inside the clock), or ``warm`` (all ``actors`` started, loaded and run
    on one batch of as many clips first, outside the clock)."""
    provider = LocalWhisperProvider(settings)
    provider.name = f"whisper-{'limit' if warm else 'bench'}-{round_no}"  # type: ignore[misc]
    provider.pool_max = actors  # type: ignore[misc]
    if warm:
        provider.pool_min = actors  # type: ignore[misc]  # every actor up before the clock
    client.register_provider(provider)
    refs = [client.upload(p) for p in paths]  # the SDK's way to a local file, outside the timed part
    items = [{"task_type": "audio_transcription",
              "input_data": {"audio_url": ref, "language": "en", "provider": provider.name}} for ref in refs]
    try:
        if warm:
            if client.batch(items[:actors]).wait(timeout=900) != {"completed": min(actors, len(items))}:
                raise RuntimeError("the warm-up batch did not complete")
            _wait_started(client, provider.name, actors)
        started = time.perf_counter()
        counts = client.batch(items).wait(timeout=900)
        elapsed = time.perf_counter() - started
    finally:
        client.unregister_provider(provider.name)
    if counts != {"completed": len(paths)}:
        raise RuntimeError(f"pool transcriptions did not complete: {counts}")
    return elapsed


def _slot_use(client: Any, provider: str, tasks: int) -> float:
    started = time.perf_counter()
    batch = client.batch([{"task_type": "image_generation", "input_data": {"prompt": f"s{i}", "provider": provider}}
                          for i in range(tasks)])
    counts = batch.wait(timeout=600)
    if counts != {"completed": tasks}:
        raise RuntimeError(f"capped tasks did not complete: {counts}")
    return time.perf_counter() - started


def run_model_benchmarks(clips: int = 32, rounds: int = 3, actors: int = 2, cap: int = 8, latency: float = 0.1,
                         capped_tasks: int = 400, multiplex: bool = True) -> list[dict[str, Any]]:
    """Rows ``{"benchmark", "value", "unit", "baseline", "ratio", "target"}``."""
    from videoai_ray.client import connect

    settings = Settings(home=Path(tempfile.mkdtemp(prefix="videoai-bench-models-")), instance="bench-models",
                        cache_enabled=False)
    kill_scheduler(settings)
    whisper = LocalWhisperProvider(settings)
    rows: list[dict[str, Any]] = []
    reason = whisper.unavailable_reason()
    paths = _clips(clips)
    client = connect(settings=settings, providers=[
        FixedLatencyProvider(latency=latency, max_concurrency=cap, name="capped"),
        BatchSleepProvider(latency, name="capped-pool", max_batch_size=cap, pool_max=1),
    ])
    try:
        if reason is None:
            ours, theirs = [], []
            for r in range(rounds):  # interleaved, so both see the same machine
                ours.append(clips / _pool_round(client, settings, paths, actors, r))
                theirs.append(clips / _ray_data_round(paths, whisper, actors))
            mine, base = statistics.median(ours), statistics.median(theirs)
            per_round = ", ".join(f"{a / b:.2f}" for a, b in zip(ours, theirs, strict=True))
            rows.append({"benchmark": f"{clips} transcriptions, local-whisper pool of {actors} (tiny.en int8, "
                                      f"batches of {whisper.max_batch_size}, SDK, cold)",
                         "value": round(mine, 2), "unit": "clips/s",
                         "baseline": f"Ray Data map_batches, {actors} actors, same model and clips: {base:.2f} clips/s"
                                     f" (ratio per round: {per_round})",
                         "ratio": round(mine / base, 2), "target": ">= 1.0x",
                         "rounds": [round(a / b, 2) for a, b in zip(ours, theirs, strict=True)]})
            cores = os.cpu_count() or 1
            warm, limit = [], []
            for r in range(rounds):
                warm.append(clips / _pool_round(client, settings, paths, cores, r, warm=True))
                limit.append(clips / _limit_round(paths, whisper, cores))
            mine, base = statistics.median(warm), statistics.median(limit)
            per_round = ", ".join(f"{a / b:.2f}" for a, b in zip(warm, limit, strict=True))
            rows.append({"benchmark": f"{clips} transcriptions, warm local-whisper pool of {cores} (one actor per "
                                      "core, SDK, store, cache off)",
                         "value": round(mine, 2), "unit": "clips/s",
                         "baseline": f"the machine's limit: {cores} processes each holding the model warm, no Ray, "
                                     f"no store: {base:.2f} clips/s (ratio per round: {per_round})",
                         "ratio": round(mine / base, 2), "target": ">= 0.95",
                         "rounds": [round(a / b, 2) for a, b in zip(warm, limit, strict=True)]})
        else:
            rows.append({"benchmark": "transcriptions, local-whisper pool", "value": None, "skipped": reason})
        ideal = math.ceil(capped_tasks / cap) * latency
        _slot_use(client, "capped", cap)  # warm: the worker actor
        _slot_use(client, "capped-pool", cap)  # warm: the pool actor
        for name, label in (("capped", "I/O worker"), ("capped-pool", "model pool")):
            runs = [_slot_use(client, name, capped_tasks) for _ in range(3)]
            per_run = ", ".join(f"{ideal / r:.3f}" for r in runs)
            rows.append({"benchmark": f"slot use, {label}: {capped_tasks} tasks, cap {cap}, "
                                      f"{latency * 1000:.0f} ms each, default settings, worst of 3",
                         "value": round(max(runs), 2), "unit": "s",
                         "baseline": f"ideal {ideal:.2f} s (ratio per run: {per_run})",
                         "ratio": round(ideal / max(runs), 3), "target": ">= 0.95 in every run",
                         "runs_ratio": [round(ideal / r, 3) for r in runs]})
    finally:
        kill_scheduler(settings)
    if multiplex:
        from .multiplex import run_multiplex_benchmark

        rows.append(run_multiplex_benchmark(_clips(min(clips, 24)), rounds=max(1, min(rounds, 2)), actors=actors))
    return rows
