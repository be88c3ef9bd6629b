"""``videoai bench models`` (part): a multiplexed pool against dedicated pools on the same work.

Two Whisper models (tiny.en, and a copy of it whose ``config.json`` differs: another digest, the
same compute) serve the same clips, requests alternating between them, with the same number of
actors in all: one ``local-whisper`` pool of ``actors`` actors holding both catalogue models
(``model=``), against one pool per model (``actors / 2`` actors each, the model as the
provider's own folder, ``provider=`` pinned). Both cold (the actors start and load inside the
timed round), rounds interleaved, median."""

from __future__ import annotations

import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from videoai_ray.providers.local.whisper import LocalWhisperProvider, bundled_model_dir
from videoai_ray.scheduler import kill_scheduler
from videoai_ray.settings import Settings


def _variant(folder: Path, out: Path) -> Path:
    shutil.copytree(folder, out)
    config = json.loads((out / "config.json").read_text())
    config["videoai_bench"] = "variant"
    (out / "config.json").write_text(json.dumps(config))
    return out


def _round(client: Any, refs: list[str], bodies: list[dict[str, Any]]) -> float:
    started = time.perf_counter()
    batch = client.batch([{"task_type": "audio_transcription", "input_data": {"audio_url": ref, "language": "en",
                                                                              **body}}
                          for ref, body in zip(refs, bodies, strict=True)])
    counts = batch.wait(timeout=900)
    elapsed = time.perf_counter() - started
    if counts != {"completed": len(refs)}:
        raise RuntimeError(f"transcriptions did not complete: {counts}")
    return elapsed


def run_multiplex_benchmark(paths: list[Path], rounds: int = 2, actors: int = 2) -> dict[str, Any]:
    """One row: clips/s of the multiplexed pool, against dedicated pools."""
    from videoai_ray.client import connect

    base = bundled_model_dir()
    if base is None or LocalWhisperProvider(Settings()).unavailable_reason() is not None:
        return {"benchmark": "multiplexed pool vs dedicated pools", "value": None,
                "skipped": LocalWhisperProvider(Settings()).unavailable_reason() or "tiny.en is not installed"}
    home = Path(tempfile.mkdtemp(prefix="videoai-bench-mux-"))
    variant = _variant(base, home / "tiny-variant")
    settings = Settings(home=home, instance="bench-mux", cache_enabled=False)
    kill_scheduler(settings)
    mux = LocalWhisperProvider(settings)
    mux.pool_max = actors  # type: ignore[misc]
    client = connect(settings=settings, providers=[mux])
    try:
        client.models.register("tiny-a", provider="whisper", source=str(base))
        client.models.register("tiny-b", provider="whisper", source=str(variant))
        refs = [client.upload(p) for p in paths]
        ours, theirs = [], []
        for r in range(rounds):
            dedicated = [LocalWhisperProvider(settings.model_copy(update={"whisper_model": folder}))
                          for folder in (None, variant)]
            for name, p in zip(("whisper-a", "whisper-b"), dedicated, strict=True):
                p.name = f"{name}-{r}"  # type: ignore[misc]
                p.pool_max = max(1, actors // 2)  # type: ignore[misc]
                client.register_provider(p)
            mux_r = LocalWhisperProvider(settings)
            mux_r.pool_max = actors  # type: ignore[misc]
            client.register_provider(mux_r, replace=True)  # a fresh pool: cold like the dedicated ones
            ours.append(len(refs) / _round(client, refs, [{"model": "tiny-a" if i % 2 == 0 else "tiny-b"}
                                                          for i in range(len(refs))]))
            theirs.append(len(refs) / _round(client, refs, [{"provider": dedicated[i % 2].name}
                                                            for i in range(len(refs))]))
            for p in dedicated:
                client.unregister_provider(p.name)
        mine, other = statistics.median(ours), statistics.median(theirs)
        per_round = ", ".join(f"{a / b:.2f}" for a, b in zip(ours, theirs, strict=True))
        return {"benchmark": f"{len(refs)} transcriptions alternating 2 whisper models (tiny.en and a copy), "
                             f"one local-whisper pool of {actors} holding both (model=), SDK, cold",
                "value": round(mine, 2), "unit": "clips/s",
                "baseline": f"one pool per model, {max(1, actors // 2)} actor(s) each, same clips: {other:.2f} clips/s"
                            f" (ratio per round: {per_round})",
                "ratio": round(mine / other, 2), "target": ">= 0.9x",
                "rounds": [round(a / b, 2) for a, b in zip(ours, theirs, strict=True)]}
    finally:
        kill_scheduler(settings)


__all__ = ["run_multiplex_benchmark"]
