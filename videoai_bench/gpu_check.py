"""``videoai bench gpu --device cuda``: the model pools on one GPU, against Ray Data on the same GPU.

One command, no network, for a machine with one GPU (under 8 minutes with the defaults):

* the ``local-whisper`` pool (faster-whisper, CTranslate2 ``float16`` on CUDA) transcribing the
  bench clips through the SDK, against Ray Data ``map_batches`` with one actor loading the same
  model folder with the same call on the same GPU, same clips; both cold (the actor starts and
  loads the model inside the timed part), interleaved, median of ``--rounds``;
* the ``local-diffusers`` pool (``float16`` on CUDA) generating images through the SDK, against
  Ray Data ``map_batches`` with the same pipeline folder, prompts, seeds, size and steps (PNG
  encoding included on both sides);
* cold load: a fresh pool's first result (actor start, model load, one item), with the load
  itself as the actor measured it;
* model switch on one GPU: pool A warm, then A stopped and B (another model folder) started,
  loaded and serving its first item.

``--device cpu`` runs the same on the CPU (``int8`` / ``float32``): the smoke test runs it with
tiny random-weight models. It prints a Markdown table; no GPU figure is claimed anywhere until
someone runs it on one (docs/models.md, "A GPU check ready to run").
"""

from __future__ import annotations

import argparse
import io
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from . import SPEECH_CLIPS_DIR

#: the prompts of the image rounds (one seed each, so both sides draw the same images)
PROMPTS = ["a red bicycle against a white wall", "a lighthouse at dusk", "a bowl of ramen, top view",
           "a snowy mountain village", "a robot reading a newspaper", "a field of sunflowers",
           "a cat sleeping on a keyboard", "an old map of an island"]


def _clips(n: int) -> list[Path]:
    clips = sorted(SPEECH_CLIPS_DIR.glob("*.wav"))
    if not clips:
        raise RuntimeError(f"no speech clips in {SPEECH_CLIPS_DIR}")
    return [clips[i % len(clips)] for i in range(n)]


class _RayDataWhisper:
    """Ray Data's callable class: the provider's model load and transcribe call, nothing else."""

    def __init__(self, folder: str | None, device: str, batch_size: int, chunk_batch_size: int) -> None:
        from videoai_ray.providers.local.whisper import bundled_model_dir, load_model

        path = Path(folder) if folder else bundled_model_dir()
        assert path is not None
        self.model = load_model(path, folder is None, device, batch_size)
        self.english = not self.model.model.is_multilingual
        self.chunk_batch_size = chunk_batch_size

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        from concurrent.futures import ThreadPoolExecutor

        from faster_whisper import BatchedInferencePipeline

        def one(path: str) -> str:
            segments, _ = BatchedInferencePipeline(self.model).transcribe(
                path, language="en", beam_size=5, word_timestamps=True, vad_filter=True,
                batch_size=self.chunk_batch_size)
            return " ".join(s.text.strip() for s in segments)

        paths = [str(p) for p in batch["path"]]
        with ThreadPoolExecutor(len(paths)) as pool:  # the concurrency the provider gives a batch
            batch["text"] = list(pool.map(one, paths))
        return batch


class _RayDataDiffusers:
    """Ray Data's callable class: the provider's pipeline load and call, PNG encoding included."""

    def __init__(self, folder: str, device: str, steps: int) -> None:
        import torch
        from diffusers import DiffusionPipeline

        cuda = device == "cuda"
        pipe = DiffusionPipeline.from_pretrained(folder, local_files_only=True,
                                                 torch_dtype=torch.float16 if cuda else torch.float32)
        if hasattr(pipe, "safety_checker"):
            pipe.safety_checker = None
        pipe.set_progress_bar_config(disable=True)
        self.pipe = pipe.to(device)
        self.steps = steps

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        import torch

        width, height = (int(v) for v in str(batch["size"][0]).split("x"))
        generators = [torch.Generator(device="cpu").manual_seed(int(s)) for s in batch["seed"]]
        images = self.pipe([str(p) for p in batch["prompt"]], width=width, height=height,
                           num_inference_steps=self.steps, generator=generators).images
        sizes = []
        for image in images:
            buf = io.BytesIO()
            image.save(buf, format="PNG")
            sizes.append(len(buf.getvalue()))
        batch["png_bytes"] = sizes
        return batch


class GpuCheck:
    """One run: a connected client with no providers of its own; each round registers its pool."""

    def __init__(self, device: str, whisper_model: Path | None, diffusers_model: Path | None, steps: int,
                 size: str) -> None:
        from videoai_ray.client import connect
        from videoai_ray.scheduler import kill_scheduler
        from videoai_ray.settings import Settings

        self.device, self.steps, self.size = device, steps, size
        self.gpus = 1.0 if device == "cuda" else 0.0
        self.home = Path(tempfile.mkdtemp(prefix="videoai-gpu-check-"))
        self.settings = Settings(home=self.home, instance="gpu-check", cache_enabled=False, max_retries=0,
                                 whisper_model=whisper_model, whisper_gpus=self.gpus, diffusers_model=diffusers_model,
                                 diffusers_gpus=self.gpus, diffusers_steps=steps)
        kill_scheduler(self.settings)
        self.client = connect(settings=self.settings, providers=[])
        self.rounds = 0

    def close(self) -> None:
        from videoai_ray.scheduler import kill_scheduler

        kill_scheduler(self.settings)
        shutil.rmtree(self.home, ignore_errors=True)

    # -- pools through the SDK -----------------------------------------------------------------

    def _provider(self, kind: str, model: Path | None = None) -> Any:
        from videoai_ray.providers.local.diffusers_image import DiffusersImageProvider
        from videoai_ray.providers.local.whisper import LocalWhisperProvider

        self.rounds += 1
        if kind == "whisper":
            settings = self.settings if model is None else self.settings.model_copy(update={"whisper_model": model})
            provider: Any = LocalWhisperProvider(settings)
        else:
            provider = DiffusersImageProvider(self.settings)
        provider.name = f"gpu-check-{kind}-{self.rounds}"
        provider.pool_max = 1
        return provider

    def _items(self, kind: str, provider: str, refs: list[str]) -> list[dict[str, Any]]:
        if kind == "whisper":
            return [{"task_type": "audio_transcription", "input_data": {
                "audio_url": ref, "language": "en", "provider": provider}} for ref in refs]
        return [{"task_type": "image_generation", "input_data": {
            "prompt": PROMPTS[i % len(PROMPTS)], "seed": i, "size": self.size, "provider": provider}}
            for i in range(len(refs))]

    def _serve(self, kind: str, provider: Any, refs: list[str]) -> float:
        started = time.perf_counter()
        counts = self.client.batch(self._items(kind, provider.name, refs)).wait(timeout=900)
        elapsed = time.perf_counter() - started
        if counts != {"completed": len(refs)}:
            raise RuntimeError(f"{provider.name}: {counts}; last error: {self._row(provider.name)['last_error']}")
        return elapsed

    def _row(self, name: str) -> dict[str, Any]:
        return next(r for r in self.client.service.providers.list() if r["name"] == name)

    def _stop(self, name: str) -> None:
        """Unregister a pool and wait until its actor has given the device back."""
        self.client.unregister_provider(name)
        self._wait_free()

    def _wait_free(self, timeout: float = 60) -> None:
        import ray

        key = "GPU" if self.gpus else "CPU"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            total, free = ray.cluster_resources().get(key, 0.0), ray.available_resources().get(key, 0.0)
            # the whole GPU back; on the CPU, room for the next actor (one CPU)
            if (free >= total - 1e-6) if self.gpus else free >= 1.0:
                return
            time.sleep(0.1)
        raise TimeoutError(f"the {key} was not given back within {timeout:.0f} s")

    def pool_round(self, kind: str, refs: list[str]) -> float:
        provider = self._provider(kind)
        self.client.register_provider(provider)
        try:
            return self._serve(kind, provider, refs)
        finally:
            self._stop(provider.name)

    def cold_start(self, kind: str, ref: str, model: Path | None = None) -> tuple[float, float, Any]:
        """(seconds to the first result of a fresh pool, the actor's own load seconds, provider)."""
        provider = self._provider(kind, model)
        self.client.register_provider(provider)
        seconds = self._serve(kind, provider, [ref])
        actors = (self._row(provider.name)["pool"] or {}).get("actors") or [{}]
        return seconds, float(actors[0].get("load_seconds") or 0.0), provider

    # -- Ray Data on the same device -----------------------------------------------------------

    def ray_data_round(self, kind: str, paths: list[Path]) -> float:
        import ray.data

        from videoai_ray.providers.local.whisper import LocalWhisperProvider

        started = time.perf_counter()
        if kind == "whisper":
            w = LocalWhisperProvider
            folder = self.settings.whisper_model
            ds = ray.data.from_items([{"path": str(p)} for p in paths]).map_batches(
                _RayDataWhisper, fn_constructor_args=(str(folder) if folder else None, self.device,
                                                      w.max_batch_size, w.chunk_batch_size),
                batch_size=w.max_batch_size, concurrency=1, num_cpus=w.num_cpus, num_gpus=self.gpus)
        else:
            from videoai_ray.providers.local.diffusers_image import DiffusersImageProvider as d

            ds = ray.data.from_items([{"prompt": PROMPTS[i % len(PROMPTS)], "seed": i, "size": self.size}
                                      for i in range(len(paths))]).map_batches(
                _RayDataDiffusers, fn_constructor_args=(str(self.settings.diffusers_model), self.device, self.steps),
                batch_size=d.max_batch_size, concurrency=1, num_cpus=d.num_cpus, num_gpus=self.gpus)
        rows = ds.take_all()
        elapsed = time.perf_counter() - started
        if len(rows) != len(paths):
            raise RuntimeError(f"Ray Data returned {len(rows)} rows for {len(paths)} items")
        self._wait_free()
        return elapsed


def _throughput_row(check: GpuCheck, kind: str, label: str, unit: str, paths: list[Path], refs: list[str],
                    rounds: int) -> dict[str, Any]:
    ours, theirs = [], []
    for _ in range(rounds):  # interleaved, so both see the same machine
        ours.append(len(refs) / check.pool_round(kind, refs))
        theirs.append(len(refs) / check.ray_data_round(kind, paths))
    mine, base = statistics.median(ours), statistics.median(theirs)
    per_round = ", ".join(f"{a / b:.2f}" for a, b in zip(ours, theirs, strict=True))
    return {"benchmark": label, "value": round(mine, 3), "unit": unit,
            "baseline": f"Ray Data map_batches, 1 actor, same model and {check.device}: {base:.3f} {unit} "
                        f"(ratio per round: {per_round})",
            "ratio": round(mine / base, 2), "target": ">= 1.0x", "rounds": per_round}


def run_gpu_check(device: str = "cuda", *, whisper_model: Path | None = None, whisper_model_b: Path | None = None,
                  diffusers_model: Path | None = None, clips: int = 32, images: int = 16, steps: int = 20,
                  size: str = "512x512", rounds: int = 1, budget_s: float = 450.0) -> list[dict[str, Any]]:
    """Rows ``{"benchmark", "value", "unit", "baseline", "ratio", "target"}`` (``skipped`` when a
    part cannot run here, with the reason). A part that would start after ``budget_s`` is
    skipped, saying so, so that the whole check stays within its time."""
    import ray

    deadline = time.monotonic() + budget_s

    def over(part: str) -> str | None:
        return f"the time budget of {budget_s:.0f} s was spent before {part}" if time.monotonic() > deadline else None

    if device == "cuda" and ray.cluster_resources().get("GPU", 0) < 1:
        raise RuntimeError("--device cuda: Ray sees no GPU on this machine (torch.cuda.is_available() is "
                           f"{_cuda_available()})")
    dtype = {"cuda": "float16", "cpu": "int8 / float32"}[device]
    check = GpuCheck(device, whisper_model, diffusers_model, steps, size)
    rows: list[dict[str, Any]] = []
    scratch = Path(tempfile.mkdtemp(prefix="videoai-gpu-check-models-"))
    try:
        from videoai_ray.providers.local.diffusers_image import DiffusersImageProvider
        from videoai_ray.providers.local.whisper import LocalWhisperProvider

        reason = LocalWhisperProvider(check.settings).unavailable_reason() or over("the whisper rows")
        if reason is None:
            paths = _clips(clips)
            refs = [check.client.upload(p) for p in paths]  # the SDK's way to a local file, not timed
            name = str(whisper_model) if whisper_model else "tiny.en (bundled)"
            rows.append(_throughput_row(check, "whisper", f"{clips} transcriptions, local-whisper pool "
                                        f"({name}, {device} {'float16' if device == 'cuda' else 'int8'}, SDK, cold)",
                                        "clips/s", paths, refs, rounds))
            if (late := over("the whisper cold load")) is not None:
                raise _Late(late)
            seconds, load, a = check.cold_start("whisper", refs[0])
            rows.append({"benchmark": f"cold load, local-whisper ({name}): fresh pool to first result",
                         "value": round(seconds, 2), "unit": "s", "baseline": f"of which model load {load:.2f} s"})
            if whisper_model_b is None:  # a copy of A in another folder: loaded anew, as another model is
                source = whisper_model or LocalWhisperProvider(check.settings).model_dir()[0]
                assert source is not None
                whisper_model_b = scratch / "model-b"
                shutil.copytree(source, whisper_model_b)
            started = time.perf_counter()
            check._stop(a.name)
            seconds_b, load_b, b = check.cold_start("whisper", refs[1 % len(refs)], whisper_model_b)
            switch = time.perf_counter() - started
            check._stop(b.name)
            rows.append({"benchmark": "model switch on one device, local-whisper: A's pool stopped, B's started, "
                                      "loaded and first result", "value": round(switch, 2), "unit": "s",
                         "baseline": f"of which B's cold start {seconds_b:.2f} s, its load {load_b:.2f} s"})
        else:
            rows.append({"benchmark": "local-whisper pool", "value": None, "skipped": reason,
                         "baseline": f"skipped: {reason}"})
        reason = ("no --diffusers-model given (a diffusers pipeline folder)" if diffusers_model is None
                  else DiffusersImageProvider(check.settings).unavailable_reason()) or over("the image rows")
        if reason is None:
            fake = [Path(f"image-{i}") for i in range(images)]
            label = (f"{images} images {size}, {steps} steps, local-diffusers pool ({diffusers_model}, {device} "
                     f"{'float16' if device == 'cuda' else 'float32'}, SDK, cold)")
            rows.append(_throughput_row(check, "diffusers", label, "images/s", fake,
                                        [str(p) for p in fake], rounds))
            if (late := over("the diffusers cold load")) is not None:
                raise _Late(late)
            seconds, load, d = check.cold_start("diffusers", "one")
            check._stop(d.name)
            rows.append({"benchmark": f"cold load, local-diffusers ({diffusers_model}): fresh pool to first image",
                         "value": round(seconds, 2), "unit": "s", "baseline": f"of which model load {load:.2f} s"})
        else:
            rows.append({"benchmark": "local-diffusers pool", "value": None, "skipped": reason,
                         "baseline": f"skipped: {reason}"})
    except _Late as late:
        rows.append({"benchmark": "the remaining rows", "value": None, "skipped": str(late),
                     "baseline": f"skipped: {late}"})
    finally:
        check.close()
        shutil.rmtree(scratch, ignore_errors=True)
    for r in rows:
        r.setdefault("target", "")
        r["device"] = device
        r["dtype"] = dtype
    return rows


class _Late(Exception):
    """The time budget is spent: the rows not yet measured are skipped."""


def _cuda_available() -> bool | str:
    try:
        import torch
    except ImportError:
        return "unknown (torch is not installed)"
    return bool(torch.cuda.is_available())


def describe_machine(device: str) -> str:
    """One line: the device, and the versions that matter to the numbers."""
    import importlib.metadata as md

    parts = [f"device {device}"]
    if device == "cuda":
        import torch

        parts.append(f"{torch.cuda.get_device_name(0)} (CUDA {torch.version.cuda})")
    parts.append(f"Python {platform.python_version()}")
    for dist in ("ray", "torch", "ctranslate2", "faster-whisper", "diffusers"):
        try:
            parts.append(f"{dist} {md.version(dist)}")
        except md.PackageNotFoundError:
            parts.append(f"{dist} missing")
    return ", ".join(parts)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m videoai_bench.gpu_check", description=__doc__.split("\n\n")[0])
    add_arguments(p)
    return p


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", choices=["cuda", "cpu"], default="cuda", help="where the pools and Ray Data run")
    p.add_argument("--whisper-model", type=Path, default=None,
                   help="a CTranslate2 Whisper folder (default: the bundled tiny.en)")
    p.add_argument("--whisper-model-b", type=Path, default=None,
                   help="the model switched to (default: a copy of --whisper-model in a temp folder)")
    p.add_argument("--diffusers-model", type=Path, default=None,
                   help="a diffusers pipeline folder (e.g. Stable Diffusion 1.5 in float16); without it the "
                        "image rows are skipped")
    p.add_argument("--clips", type=int, default=32, help="transcriptions per round")
    p.add_argument("--images", type=int, default=16, help="images per round")
    p.add_argument("--steps", type=int, default=20, help="denoising steps per image")
    p.add_argument("--size", default="512x512", choices=["512x512", "1024x1024", "1024x1792"])
    p.add_argument("--rounds", type=int, default=1, help="rounds of each comparison (median)")
    p.add_argument("--budget-s", type=float, default=450.0,
                   help="seconds after which the parts not yet started are skipped (the check stays under 8 min)")


def run_from_args(args: argparse.Namespace) -> int:
    import ray

    from .report import format_rows

    if not ray.is_initialized():
        ray.init(include_dashboard=False, log_to_driver=False, namespace="videoai")
    started = time.perf_counter()
    rows = run_gpu_check(args.device, whisper_model=args.whisper_model, whisper_model_b=args.whisper_model_b,
                         diffusers_model=args.diffusers_model, clips=args.clips, images=args.images,
                         steps=args.steps, size=args.size, rounds=args.rounds, budget_s=args.budget_s)
    print(f"<!-- {describe_machine(args.device)}; whole check {time.perf_counter() - started:.0f} s -->")
    print(format_rows(rows, markdown=True), flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_from_args(parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
