"""``local-procedural-image``: PNG pictures rendered procedurally with Pillow, offline.

Honest naming: this is NOT a generative model and it does not understand the prompt. It renders a
landscape whose features (night, sunset, water, forest, city, snow) come from prompt keywords,
whose layout and palette come from a hash of (prompt, seed), and it writes the prompt itself on
the picture, so the output is visibly tied to the request. ``style`` picks the technique: soft
gradients with film grain (realistic), flow-field brush strokes (artistic) or flat cel shading
with ink outlines (anime). ``quality="hd"`` renders at twice the size and downsamples.
"""

from __future__ import annotations

import asyncio
import io
import time
from typing import Any, ClassVar

from PIL import Image, PngImagePlugin

from ...errors import InvalidInput
from ...models import ImageGenerationRequest, TaskRequest, TaskType
from ..base import Provider, ProviderContext
from ._scene import apply_style, prompt_features, render_scene
from ._text import prompt_rng, render_caption

GENERATOR = "procedural (Pillow); not a generative model"


def parse_size(size: str) -> tuple[int, int]:
    """``"1024x1792"`` -> ``(1024, 1792)`` (width, height)."""
    try:
        w, h = (int(part) for part in size.lower().split("x"))
    except ValueError as exc:
        raise InvalidInput(f"size {size!r} is not WIDTHxHEIGHT") from exc
    if not (16 <= w <= 8192 and 16 <= h <= 8192):
        raise InvalidInput(f"size {size!r} is outside 16..8192 pixels")
    return w, h


def render_image(
    prompt: str, seed: int | None, style: str, width: int, height: int, index: int = 0, hd: bool = False
) -> Image.Image:
    """One finished picture: scene, style technique, then the prompt caption at the bottom."""
    scale = 2 if hd else 1
    scene = render_scene(prompt, seed, style, width * scale, height * scale, index)
    styled = apply_style(scene, style, prompt_rng(prompt, seed, "style", index))
    if scale != 1:
        styled = styled.resize((width, height), Image.Resampling.LANCZOS)
    band = render_caption(prompt, width)
    out = styled.convert("RGBA")
    out.alpha_composite(band, (0, max(0, height - band.height - height // 40)))
    return out.convert("RGB")


def png_bytes(img: Image.Image, text: dict[str, str]) -> bytes:
    """PNG with the prompt and generator recorded as text chunks (reproducible, no timestamp)."""
    info = PngImagePlugin.PngInfo()
    for key, value in text.items():
        info.add_text(key, value)
    buf = io.BytesIO()
    img.save(buf, format="PNG", pnginfo=info, compress_level=6)
    return buf.getvalue()


class ProceduralImageProvider(Provider):
    """Procedural PNG renderer (Pillow): deterministic per (prompt, seed); not a generative model."""

    name: ClassVar[str] = "local-procedural-image"
    task_types: ClassVar[frozenset[TaskType]] = frozenset({TaskType.IMAGE_GENERATION})
    quality: ClassVar[float] = 0.2
    max_concurrency: ClassVar[int] = 4
    cpu_bound: ClassVar[bool] = True
    num_cpus: ClassVar[float] = 1.0
    timeout: ClassVar[float | None] = 300.0
    description: ClassVar[str] = (
        "Offline procedural picture rendered with Pillow from prompt keywords and a hash of the "
        "prompt, with the prompt written on it; not a generative model."
    )

    def supports(self, request: TaskRequest) -> bool:
        return isinstance(request, ImageGenerationRequest)

    async def run(self, request: Any, ctx: ProviderContext) -> dict[str, Any]:
        if not isinstance(request, ImageGenerationRequest):
            raise InvalidInput(f"{self.name} needs an ImageGenerationRequest, got {type(request).__name__}")
        width, height = parse_size(request.size)
        hd = request.quality == "hd"
        images: list[dict[str, Any]] = []
        started = time.perf_counter()
        for i in range(request.n):
            ctx.raise_if_cancelled()
            img = render_image(request.prompt, request.seed, request.style, width, height, i, hd)
            data = png_bytes(img, {"prompt": request.prompt, "generator": f"videoai-ray {self.name}",
                                   "seed": str(request.seed), "style": request.style, "index": str(i)})
            artifact = ctx.store_artifact(f"image_{i + 1}.png", data, "image/png")
            images.append({**artifact, "width": img.width, "height": img.height, "index": i})
            ctx.progress((i + 1) / request.n, f"image {i + 1}/{request.n}")
            await asyncio.sleep(0)  # let the worker's event loop breathe between images
        return {
            "image_url": images[0]["url"],
            "images": images,
            "metadata": {
                "provider": self.name,
                "generator": GENERATOR,
                "style": request.style,
                "size": request.size,
                "width": width,
                "height": height,
                "quality": request.quality,
                "seed": request.seed,
                "n": request.n,
                "format": "png",
                "features": sorted(prompt_features(request.prompt)),
                "render_seconds": round(time.perf_counter() - started, 3),
            },
        }
