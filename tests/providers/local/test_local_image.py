"""``local-procedural-image``: real PNGs of the requested size, deterministic, style-dependent,
with the prompt written on them."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest
from attempt_context import MakeCtx, artifact_path, run
from PIL import Image, ImageFilter

from videoai_ray.models import ImageGenerationRequest
from videoai_ray.providers.local._scene import apply_style, render_scene
from videoai_ray.providers.local._text import load_font, prompt_rng, render_caption, wrap_text
from videoai_ray.providers.local.image import ProceduralImageProvider, render_image

PROMPT = "A lighthouse on a rocky coast at sunset"


def _generate(make_ctx: MakeCtx, **fields: Any) -> tuple[dict[str, Any], list[float]]:
    ctx, rec = make_ctx(f"img_{abs(hash(repr(fields)))}")
    out = run(ProceduralImageProvider().run(ImageGenerationRequest.model_validate(fields), ctx))
    return out, rec.values


def _load(url: str) -> Image.Image:
    with Image.open(artifact_path(url)) as img:
        assert img.format == "PNG"
        return img.convert("RGB")


@pytest.mark.parametrize("size", ["512x512", "1024x1792"])
def test_size_is_honoured_exactly(make_ctx: MakeCtx, size: str) -> None:
    out, _ = _generate(make_ctx, prompt=PROMPT, size=size, seed=1)
    w, h = (int(v) for v in size.split("x"))
    img = _load(out["image_url"])
    assert img.size == (w, h)
    images = out["images"]
    assert isinstance(images, list) and images[0]["width"] == w and images[0]["height"] == h
    assert images[0]["content_type"] == "image/png"
    assert images[0]["size_bytes"] == artifact_path(images[0]["url"]).stat().st_size


def test_n_images_with_progress_per_image(make_ctx: MakeCtx) -> None:
    out, progress = _generate(make_ctx, prompt=PROMPT, size="512x512", n=3, seed=7)
    images = out["images"]
    assert isinstance(images, list) and len(images) == 3
    assert out["image_url"] == images[0]["url"]
    arrays = [np.asarray(_load(i["url"]), dtype=np.int16) for i in images]
    assert len({a.tobytes() for a in arrays}) == 3  # three different pictures
    assert progress == pytest.approx([1 / 3, 2 / 3, 1.0])
    meta = out["metadata"]
    assert isinstance(meta, dict) and "not a generative model" in meta["generator"]


def test_deterministic_for_prompt_and_seed(make_ctx: MakeCtx) -> None:
    a, _ = _generate(make_ctx, prompt=PROMPT, size="512x512", seed=42)
    b, _ = _generate(make_ctx, prompt=PROMPT, size="512x512", seed=42, priority="high")
    pa, pb = artifact_path(a["image_url"]), artifact_path(b["image_url"])
    assert pa != pb and pa.read_bytes() == pb.read_bytes()


def test_different_seed_or_prompt_gives_a_different_picture() -> None:
    base = np.asarray(render_image(PROMPT, 1, "realistic", 256, 256), dtype=np.int16)
    other_seed = np.asarray(render_image(PROMPT, 2, "realistic", 256, 256), dtype=np.int16)
    other_prompt = np.asarray(render_image("A quiet forest in winter snow", 1, "realistic", 256, 256),
                              dtype=np.int16)
    assert np.abs(base - other_seed).mean() > 5
    assert np.abs(base - other_prompt).mean() > 5


def _colours(img: Image.Image) -> int:
    top = img.crop((0, 0, img.width, img.height * 2 // 3))  # above the caption
    return len(top.getcolors(1 << 24) or [])


def _texture(img: Image.Image) -> float:
    """Band-pass energy (blur 1.5 px minus blur 5 px) of the sky and land: brush-stroke texture,
    insensitive to fine film grain."""
    grey = img.crop((0, 0, img.width, img.height * 2 // 3)).convert("L")
    fine = np.asarray(grey.filter(ImageFilter.GaussianBlur(1.5)), dtype=np.float32)
    coarse = np.asarray(grey.filter(ImageFilter.GaussianBlur(5)), dtype=np.float32)
    return float(np.abs(fine - coarse).mean())


def test_style_changes_the_rendering_technique() -> None:
    imgs = {s: render_image(PROMPT, 3, s, 512, 512) for s in ("realistic", "artistic", "anime")}
    arr = {s: np.asarray(i, dtype=np.int16) for s, i in imgs.items()}
    for a, b in [("realistic", "artistic"), ("realistic", "anime"), ("artistic", "anime")]:
        assert np.abs(arr[a] - arr[b]).mean() > 8, (a, b)
    # anime: flat cel shading, a handful of colours; realistic: smooth gradients with grain
    assert _colours(imgs["anime"]) < 64
    assert _colours(imgs["realistic"]) > 2000
    # artistic: brush strokes everywhere, far more mid-scale texture than the soft realistic render
    assert _texture(imgs["artistic"]) > 1.5 * _texture(imgs["realistic"])


def test_prompt_is_written_legibly_on_the_image() -> None:
    img = render_image("Hello caption", 5, "realistic", 512, 512)
    scene = apply_style(render_scene("Hello caption", 5, "realistic", 512, 512), "realistic",
                        prompt_rng("Hello caption", 5, "style", 0))
    band = np.asarray(img.crop((0, 420, 512, 512)).convert("L"), dtype=np.int16)
    assert (band > 230).sum() > 80  # white glyphs (DejaVu Sans at 15 px: 1-px stems)...
    assert (band < 60).sum() > 150  # ...on a dark band / with a dark outline
    # the caption is the only change to the picture, and it sits at the bottom
    diff = np.abs(np.asarray(img, dtype=np.int16) - np.asarray(scene, dtype=np.int16)).sum(axis=(1, 2))
    changed = np.nonzero(diff)[0]
    assert changed.size and changed.min() > 400
    # the caption differs with the text
    a = np.asarray(render_caption("Hello caption", 512), dtype=np.int16)
    b = np.asarray(render_caption("Goodbye caption", 512), dtype=np.int16)
    assert a.shape == b.shape and np.abs(a - b).sum() > 0


def test_long_prompts_wrap_within_the_width() -> None:
    font = load_font(20)
    text = "a very long prompt " * 40
    lines = wrap_text(text, font, 300, max_lines=3)
    assert len(lines) == 3 and lines[-1].endswith("\u2026")
    assert all(font.getlength(line) <= 300 for line in lines)
    two = render_caption("short", 512)
    three = render_caption(text, 512)
    assert three.height > two.height and three.width == 512


def test_hd_renders_the_requested_size(make_ctx: MakeCtx) -> None:
    out, _ = _generate(make_ctx, prompt=PROMPT, size="512x512", quality="hd", style="anime", seed=1)
    assert _load(out["image_url"]).size == (512, 512)


def test_cancelled_before_rendering(make_ctx: MakeCtx) -> None:
    ctx, _ = make_ctx("img_cancel", cancel_when=lambda rec: True)
    with pytest.raises(asyncio.CancelledError):
        run(ProceduralImageProvider().run(ImageGenerationRequest(prompt=PROMPT, n=2), ctx))
