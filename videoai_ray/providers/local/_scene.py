"""Procedural landscape composed from the words of a prompt (Pillow + NumPy, no model).

This is NOT a generative model: it does not understand the prompt. It picks a few scene features
from keywords ("night", "sunset", "ocean", "forest", "city", "snow"...), derives a palette shift
and the random layout from a hash of the prompt and seed, and paints sky, sun or moon, clouds,
mountain ridges, water, trees and buildings. The result is deterministic for (prompt, seed) and
is what the local provider can honestly deliver offline.
"""

from __future__ import annotations

import colorsys
import random
import re
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from ._text import prompt_rng

RGB = tuple[int, int, int]

KEYWORDS: dict[str, frozenset[str]] = {
    "night": frozenset({"night", "moon", "star", "midnight", "dark", "galaxy", "space", "nocturnal"}),
    "sunset": frozenset({"sunset", "sunrise", "dusk", "dawn", "evening", "golden", "twilight"}),
    "water": frozenset({"sea", "ocean", "lake", "river", "beach", "water", "wave", "coast", "harbor"}),
    "forest": frozenset({"forest", "tree", "wood", "jungle", "park", "garden", "pine"}),
    "city": frozenset({"city", "building", "street", "tower", "skyline", "robot", "futuristic",
                       "cyberpunk", "town", "skyscraper"}),
    "snow": frozenset({"snow", "winter", "ice", "frozen", "arctic", "glacier"}),
}

_PALETTES: dict[str, dict[str, RGB]] = {
    "day": {"top": (38, 96, 196), "horizon": (172, 212, 240), "sun": (255, 246, 214),
            "far": (120, 148, 172), "near": (46, 92, 46), "water": (30, 90, 140)},
    "sunset": {"top": (42, 38, 108), "horizon": (250, 150, 82), "sun": (255, 206, 122),
               "far": (120, 80, 110), "near": (52, 32, 44), "water": (70, 50, 90)},
    "night": {"top": (6, 9, 26), "horizon": (34, 44, 88), "sun": (236, 236, 222),
              "far": (40, 48, 80), "near": (12, 14, 22), "water": (12, 20, 44)},
}


@dataclass(frozen=True)
class SceneSpec:
    """What the prompt selected: features, palette and a hue shift."""

    features: frozenset[str]
    palette: dict[str, RGB]


def prompt_features(prompt: str) -> frozenset[str]:
    """The scene features whose keywords (or their plurals) occur in the prompt."""
    words = {w.lower() for w in re.findall(r"[A-Za-z]+", prompt)}
    words |= {w[:-1] for w in words if w.endswith("s")}
    return frozenset(name for name, keys in KEYWORDS.items() if words & keys)


def _shift(color: RGB, hue: float = 0.0, sat: float = 1.0, light: float = 1.0) -> RGB:
    h, lum, s = colorsys.rgb_to_hls(*(c / 255 for c in color))
    r, g, b = colorsys.hls_to_rgb((h + hue) % 1.0, min(1.0, lum * light), min(1.0, s * sat))
    return (round(r * 255), round(g * 255), round(b * 255))


def scene_spec(prompt: str, seed: int | None, style: str) -> SceneSpec:
    """Features from keywords; palette from time of day, shifted per prompt and per style."""
    features = prompt_features(prompt)
    base = "night" if "night" in features else "sunset" if "sunset" in features else "day"
    rng = prompt_rng(prompt, seed, "palette")
    palette = dict(_PALETTES[base])
    if "snow" in features:
        palette["near"] = (226, 232, 244)
        palette["far"] = (180, 190, 212)
    if style == "artistic":  # bold hue rotation chosen by the prompt, saturated
        hue, sat, light = rng.uniform(0.08, 0.92), 1.6, 1.0
    elif style == "anime":  # bright, saturated, lighter "cel" palette
        hue, sat, light = rng.uniform(-0.04, 0.04), 1.8, 1.25
    else:  # realistic: natural colours, a slight prompt-dependent tint
        hue, sat, light = rng.uniform(-0.03, 0.03), 0.95, 1.0
    return SceneSpec(features, {k: _shift(v, hue, sat, light) for k, v in palette.items()})


def _ridge(rng: random.Random, width: int, base_y: float, amplitude: float, rough: float = 0.55) -> list[
        tuple[float, float]]:
    """A mountain profile by 1-D midpoint displacement, as polygon points across the width."""
    n = 129
    ys = [0.0] * n
    ys[0], ys[-1] = rng.uniform(-1, 1), rng.uniform(-1, 1)
    step, scale = n - 1, 1.0
    while step > 1:
        half = step // 2
        for i in range(half, n, step):
            ys[i] = (ys[i - half] + ys[i + half]) / 2 + rng.uniform(-scale, scale)
        step, scale = half, scale * rough
    return [(i * width / (n - 1), base_y - y * amplitude) for i, y in enumerate(ys)]


def _mix(a: RGB, b: RGB, t: float) -> RGB:
    return (round(a[0] + (b[0] - a[0]) * t), round(a[1] + (b[1] - a[1]) * t), round(a[2] + (b[2] - a[2]) * t))


def _sky(spec: SceneSpec, w: int, h: int, sun: tuple[float, float, float]) -> np.ndarray:
    """Vertical gradient plus a radial glow around the sun or moon, as a float HxWx3 array."""
    p = spec.palette
    t = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None, None] ** 0.8
    top, hor = np.array(p["top"], np.float32), np.array(p["horizon"], np.float32)
    sky = np.broadcast_to(top * (1 - t) + hor * t, (h, w, 3)).copy()
    sx, sy, r = sun
    yy, xx = np.ogrid[0:h, 0:w]
    d2 = ((xx - sx) ** 2 + (yy - sy) ** 2).astype(np.float32) / (r * 4.0) ** 2
    glow = (np.exp(-d2) * 0.55)[..., None]
    out: np.ndarray = sky * (1 - glow) + np.array(p["sun"], np.float32) * glow
    return out


def render_scene(
    prompt: str, seed: int | None, style: str, width: int, height: int, index: int = 0
) -> Image.Image:
    """The picture for image ``index`` of a request (before the caption is drawn)."""
    spec = scene_spec(prompt, seed, style)
    rng = prompt_rng(prompt, seed, "layout", index)
    p, w, h = spec.palette, width, height
    horizon = h * rng.uniform(0.55, 0.66)
    sun = (w * rng.uniform(0.15, 0.85), horizon * rng.uniform(0.25, 0.7), min(w, h) * rng.uniform(0.05, 0.09))
    img = Image.fromarray(np.clip(_sky(spec, w, h, sun), 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(img, "RGBA")
    if "night" in spec.features:
        for _ in range(int(w * h / 2500)):
            x, y, v = rng.uniform(0, w), rng.uniform(0, horizon), rng.randint(150, 255)
            draw.point((x, y), fill=(v, v, v, 255))
    sx, sy, r = sun
    draw.ellipse((sx - r, sy - r, sx + r, sy + r), fill=(*p["sun"], 255))
    for _ in range(rng.randint(2, 5)):  # clouds: clusters of translucent ellipses
        cx, cy = rng.uniform(0, w), rng.uniform(h * 0.05, horizon * 0.6)
        cloud = _mix(p["horizon"], (255, 255, 255), 0.6)
        for _ in range(rng.randint(4, 8)):
            rx, ry = rng.uniform(0.03, 0.08) * w, rng.uniform(0.015, 0.035) * h
            ox, oy = rng.uniform(-0.08, 0.08) * w, rng.uniform(-0.01, 0.01) * h
            draw.ellipse((cx + ox - rx, cy + oy - ry, cx + ox + rx, cy + oy + ry), fill=(*cloud, 150))
    layers = 3
    front: list[tuple[float, float]] = []
    for k in range(layers):  # far to near: atmospheric perspective towards the horizon colour
        t = (k + 1) / layers
        colour = _mix(_mix(p["horizon"], p["far"], 0.7), p["near"], t * t)
        base_y = horizon + (k - 1) * h * 0.05
        front = _ridge(rng, w, base_y, h * (0.12 - 0.03 * k))
        draw.polygon([*front, (w, h), (0, h)], fill=(*colour, 255))
    if "city" in spec.features:
        lit = "night" in spec.features or "sunset" in spec.features
        x = rng.uniform(-0.02, 0.05) * w
        while x < w:
            bw, bh = rng.uniform(0.04, 0.09) * w, rng.uniform(0.08, 0.3) * h
            top = horizon + h * 0.03 - bh
            draw.rectangle((x, top, x + bw, horizon + h * 0.06), fill=(*_mix(p["far"], p["near"], 0.6), 255))
            win = (255, 214, 120, 230) if lit else (*_mix(p["horizon"], p["far"], 0.3), 200)
            step = max(4.0, bw / 5)
            for wx in np.arange(x + step / 2, x + bw - step / 2, step):
                for wy in np.arange(top + step / 2, horizon, step * 1.4):
                    if rng.random() < 0.6:
                        draw.rectangle((wx, wy, wx + step / 2.5, wy + step / 2), fill=win)
            x += bw + rng.uniform(0.0, 0.02) * w
    if "water" in spec.features:
        water_y = horizon + h * 0.08
        for i, y in enumerate(np.arange(water_y, h, 1.0)):
            t = i / max(1.0, h - water_y)
            draw.line((0, y, w, y), fill=(*_mix(p["horizon"], p["water"], min(1.0, 0.4 + t)), 255))
        for _ in range(int(h * 0.05)):  # glitter of the sun or moon on the water
            y = rng.uniform(water_y, h)
            half = rng.uniform(0.2, 1.0) * r * (1 + (y - water_y) / h)
            draw.line((sx - half, y, sx + half, y), fill=(*p["sun"], 140), width=max(1, h // 400))
    if "forest" in spec.features or not spec.features:
        count = int(w / (0.035 * w)) * (3 if "forest" in spec.features else 1)
        for _ in range(count):
            i = rng.randrange(len(front))
            tx, ty = front[i][0] + rng.uniform(-5, 5), front[i][1] + rng.uniform(0, h * 0.08)
            th, tw = rng.uniform(0.05, 0.11) * h, rng.uniform(0.015, 0.03) * w
            green = _mix(p["near"], (20, 70 if "snow" not in spec.features else 60, 30), 0.5)
            for tier in range(3):
                y0 = ty - th * (tier / 3)
                draw.polygon([(tx - tw * (1 - tier / 4), y0), (tx + tw * (1 - tier / 4), y0),
                              (tx, y0 - th / 2)], fill=(*green, 255))
    return img


def apply_style(img: Image.Image, style: str, rng: random.Random) -> Image.Image:
    """The rendering technique: soft and grainy, painterly strokes, or flat cel shading."""
    w, h = img.size
    if style == "artistic":
        return _painterly(img, rng)
    if style == "anime":
        flat = img.filter(ImageFilter.MedianFilter(5)).quantize(colors=10, method=Image.Quantize.MEDIANCUT)
        flat_rgb = flat.convert("RGB")
        edges = np.asarray(flat.convert("L").filter(ImageFilter.FIND_EDGES)) > 8
        edges_img = Image.fromarray((edges * 255).astype(np.uint8), "L").filter(ImageFilter.MaxFilter(3))
        ink = Image.new("RGB", (w, h), (24, 20, 40))
        flat_rgb.paste(ink, (0, 0), edges_img)
        return flat_rgb
    soft = img.filter(ImageFilter.GaussianBlur(radius=max(1.0, w / 600)))
    grain = np.random.default_rng(rng.getrandbits(63)).normal(0.0, 4.0, (h, w, 1))
    return Image.fromarray(np.clip(np.asarray(soft, np.float32) + grain, 0, 255).astype(np.uint8), "RGB")


def _painterly(img: Image.Image, rng: random.Random) -> Image.Image:
    """Short thick brush strokes along a swirling flow field, coloured from the scene."""
    w, h = img.size
    src = np.asarray(img)
    canvas = img.filter(ImageFilter.BoxBlur(max(2, w // 128)))
    draw = ImageDraw.Draw(canvas)
    brush = max(3, w // 110)
    length = brush * 2.2
    phase = rng.uniform(0, 6.28)
    count = int(w * h / (brush * brush * 0.9))
    nrng = np.random.default_rng(rng.getrandbits(63))
    xs, ys = nrng.uniform(0, w - 1, count), nrng.uniform(0, h - 1, count)
    angles = np.sin(xs / w * 6.0 + phase) * 1.6 + np.cos(ys / h * 5.0) * 1.6
    dx, dy = np.cos(angles) * length / 2, np.sin(angles) * length / 2
    jitter = nrng.integers(-18, 19, (count, 3))
    for i in range(count):
        x, y = xs[i], ys[i]
        c = np.clip(src[int(y), int(x)].astype(int) + jitter[i], 0, 255)
        draw.line((x - dx[i], y - dy[i], x + dx[i], y + dy[i]), fill=(int(c[0]), int(c[1]), int(c[2])),
                  width=brush)
    return canvas
