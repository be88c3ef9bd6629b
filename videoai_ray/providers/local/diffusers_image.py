"""``local-diffusers``: text-to-image with any diffusers pipeline folder, in a warm actor pool.

The folder comes from ``settings.diffusers_model`` and is opened with ``local_files_only=True``
(never a hub download at run time). Each pool actor loads the pipeline once: ``float16`` on CUDA
when it holds a GPU, ``float32`` on the CPU. Requests of equal size share one pipeline call
(``batch_key``); ``n`` images per request, ``seed`` (one generator per image: seed, seed+1, ...)
and ``style`` (a prompt suffix) are honoured. It needs the ``diffusion`` extra (torch, diffusers,
transformers); without it the provider is listed as unavailable and says which extra to install.
"""

from __future__ import annotations

import asyncio
import importlib.util
import io
import threading
import time
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from ...errors import InvalidInput, PermanentError
from ...models import ImageGenerationRequest, TaskType
from ...settings import Settings
from ..base import ProviderContext
from ..model import ModelProvider
from ..resources import holds_gpu

INSTALL_HINT = "pip install 'videoai-ray[diffusion]'"
#: appended to the prompt for each style
STYLE_SUFFIX = {"realistic": ", photorealistic, detailed photograph", "artistic": ", artistic painting, expressive",
                "anime": ", anime style illustration"}


@dataclass
class CataloguePipeline:
    """A catalogue model's pipeline, loaded in a pool actor."""

    pipe: Any
    label: str
    device: str


#: one pipeline load at a time in a process: diffusers' loading (accelerate's empty-weights
#: context, peft's adapter injection) patches torch globally and is not safe in two threads at once
_LOAD_LOCK = threading.Lock()


def _open_pipeline(folder: Path, lora: Path | None = None) -> tuple[Any, str]:
    """The pipeline in ``folder`` (never a hub download), on CUDA in float16 when the actor holds a
    GPU; with ``lora``, that adapter folder loaded onto it."""
    import torch
    from diffusers import DiffusionPipeline

    cuda = torch.cuda.is_available() and holds_gpu()
    device = "cuda" if cuda else "cpu"
    with _LOAD_LOCK:
        pipe = DiffusionPipeline.from_pretrained(str(folder), local_files_only=True,
                                                 torch_dtype=torch.float16 if cuda else torch.float32)
        if hasattr(pipe, "safety_checker"):
            pipe.safety_checker = None
        pipe.set_progress_bar_config(disable=True)
        if lora is not None:
            pipe.load_lora_weights(str(lora))
        return pipe.to(device), device


class DiffusersImageProvider(ModelProvider):
    """Text-to-image with a local diffusers pipeline (Stable Diffusion and the like)."""

    name: ClassVar[str] = "local-diffusers"
    task_types: ClassVar[frozenset[TaskType]] = frozenset({TaskType.IMAGE_GENERATION})
    quality: ClassVar[float] = 0.6
    num_cpus: ClassVar[float] = 1.0
    max_batch_size: ClassVar[int] = 4
    batch_wait_s: ClassVar[float] = 0.05
    pool_idle_s: ClassVar[float] = 60.0
    description: ClassVar[str] = (
        "Text-to-image with a local diffusers pipeline folder (VIDEOAI_DIFFUSERS_MODEL) in a warm actor pool; "
        "float16 on a GPU; requests of equal size batched into one pipeline call."
    )

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings
        if settings is not None:
            self.pool_max = settings.diffusers_pool_max  # type: ignore[misc]
            self.num_gpus = settings.diffusers_gpus  # type: ignore[misc]
        self.pipe: Any = None
        self.device = "cpu"

    def folder(self) -> Path | None:
        return None if self.settings is None or self.settings.diffusers_model is None \
            else Path(self.settings.diffusers_model)

    def unavailable_reason(self) -> str | None:
        missing = [m for m in ("torch", "diffusers", "transformers") if importlib.util.find_spec(m) is None]
        if missing:
            return f"{', '.join(missing)} not installed; {INSTALL_HINT}"
        folder = self.folder()
        if folder is None:
            return "no pipeline folder configured (set VIDEOAI_DIFFUSERS_MODEL to a diffusers pipeline folder)"
        if not (folder / "model_index.json").is_file():
            return f"{folder} is not a diffusers pipeline folder (model_index.json missing)"
        return None

    def batch_key(self, request: Any) -> Hashable:
        return getattr(request, "size", None)

    def load(self) -> None:
        reason = self.unavailable_reason()
        if reason:
            raise PermanentError(reason)
        self.pipe, self.device = _open_pipeline(Path(str(self.folder())))

    # -- catalogue models (``model=<name>``; the pool actor keeps several: ``pools.multiplex``) --

    def load_catalogue_model(self, spec: Any, weights: Any) -> CataloguePipeline:
        """A pipeline folder, or a LoRA adapter (``spec.base``) loaded onto its base pipeline."""
        base = weights.base if weights.base is not None else weights
        if not (Path(base.folder) / "model_index.json").is_file():
            raise PermanentError(f"model {spec.name}: its weights are not a diffusers pipeline (model_index.json "
                                 "missing)")
        lora = Path(weights.folder) if weights.base is not None else None
        try:
            pipe, device = _open_pipeline(Path(base.folder), lora)
        except Exception as exc:  # not a pipeline, not an adapter of this pipeline, peft missing
            raise PermanentError(f"model {spec.name}: could not be loaded: {type(exc).__name__}: {exc}"[:1000]) \
                from exc
        return CataloguePipeline(pipe, spec.key, device)

    async def run_model_batch(self, model: Any, requests: Sequence[Any], ctxs: Sequence[ProviderContext],
                              ) -> list[dict[str, Any] | BaseException]:
        self._check_batch(requests)
        return await asyncio.to_thread(self._generate, list(requests), list(ctxs), model)

    async def run_batch(self, requests: Sequence[Any], ctxs: Sequence[ProviderContext],
                        ) -> list[dict[str, Any] | BaseException]:
        if self.pipe is None:
            self.load()
        self._check_batch(requests)
        return await asyncio.to_thread(self._generate, list(requests), list(ctxs))

    def _check_batch(self, requests: Sequence[Any]) -> None:
        sizes = {r.size for r in requests}
        if len(sizes) != 1 or not all(isinstance(r, ImageGenerationRequest) for r in requests):
            raise InvalidInput(f"{self.name} batches image requests of one size, got {sorted(sizes)}")

    def _generate(self, requests: list[ImageGenerationRequest], ctxs: list[ProviderContext],
                  loaded: CataloguePipeline | None = None) -> list[dict[str, Any] | BaseException]:
        import torch

        pipe = loaded.pipe if loaded is not None else self.pipe
        label = loaded.label if loaded is not None else str(self.folder())
        device = loaded.device if loaded is not None else self.device

        width, height = (int(v) for v in requests[0].size.split("x"))
        prompts: list[str] = []
        generators: list[Any] = []
        for r in requests:
            base = r.seed if r.seed is not None else int(torch.randint(0, 2**31 - 1, (1,)).item())
            for i in range(r.n):
                prompts.append(r.prompt + STYLE_SUFFIX[r.style])
                generators.append(torch.Generator(device="cpu").manual_seed(base + i))
        steps = self.settings.diffusers_steps if self.settings is not None else 30

        def on_step(pipe: Any, step: int, timestep: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
            for c in ctxs:
                c.progress(0.9 * (step + 1) / steps)
            if all(c.cancelled for c in ctxs):
                pipe._interrupt = True
            return kwargs

        started = time.perf_counter()
        images = pipe(prompts, width=width, height=height, num_inference_steps=steps, generator=generators,
                           callback_on_step_end=on_step).images
        elapsed = time.perf_counter() - started
        out: list[dict[str, Any] | BaseException] = []
        k = 0
        for r, ctx in zip(requests, ctxs, strict=True):
            stored = []
            for i in range(r.n):
                buf = io.BytesIO()
                images[k].save(buf, format="PNG")
                k += 1
                stored.append(ctx.store_artifact(f"image_{i}.png", buf.getvalue(), "image/png"))
            ctx.progress(1.0)
            out.append({"image_url": stored[0]["url"], "images": stored, "metadata": {
                "provider": self.name, "model": label, "device": device,
                "dtype": "float16" if device == "cuda" else "float32", "style": r.style, "size": r.size,
                "width": width, "height": height, "n": r.n, "seed": r.seed, "steps": steps,
                "batch_images": len(prompts), "generate_seconds": round(elapsed, 3)}})
        return out

