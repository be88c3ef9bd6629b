"""Procedural video frames: a prompt-derived landscape animated with a camera pan, a drifting
glowing orb, a time bar and the prompt as a caption, one RGB24 frame at a time. Where each goes,
and the area kept free for burned-in subtitles, is ``_layout``'s.

The expensive part (painting the landscape) happens once; each frame is a slice of that still
plus a few small blends, so frames are cheap enough to feed x264 faster than real time at 720p.
Frames are produced lazily (``frames()`` is a generator) so a whole video never sits in memory.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
from PIL import Image, ImageFilter, ImageOps

from ._layout import ORB_PATH, frame_layout
from ._scene import apply_style, render_scene
from ._text import prompt_rng, render_caption

RESOLUTIONS: dict[str, tuple[int, int]] = {"720p": (1280, 720), "1080p": (1920, 1080), "4k": (3840, 2160)}
#: the still is painted at most this wide, then scaled up (keeps 4k setup time small)
_MAX_PAINT_WIDTH = 1920
#: the still is wider than the frame by this much, so the camera can pan across it
_PAN = 0.15
_IMAGE_STYLE = {"cinematic": "realistic", "documentary": "realistic", "artistic": "artistic"}


def _orb_sprite(radius: int, colour: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """A soft glowing disc: (rgb float32 HxWx3, alpha float32 HxWx1)."""
    size = 2 * radius + 1
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) - radius
    d = np.sqrt(xx * xx + yy * yy) / radius
    alpha = np.clip(1.0 - d, 0.0, 1.0) ** 1.5
    core = np.clip(1.0 - d * 2.5, 0.0, 1.0)[..., None]
    rgb = np.array(colour, np.float32) * (1 - core) + 255.0 * core
    return np.broadcast_to(rgb, (size, size, 3)).astype(np.float32), alpha[..., None].astype(np.float32)


class FrameSource:
    """Deterministic frames for (prompt, style, resolution, fps, duration[, first image]);
    ``subtitles``: leave the bottom area to subtitles burned in afterwards."""

    def __init__(
        self,
        prompt: str,
        style: str,
        width: int,
        height: int,
        fps: int,
        frame_count: int,
        first_image: Image.Image | None = None,
        subtitles: bool = False,
    ) -> None:
        self.width, self.height, self.fps, self.frame_count = width, height, fps, frame_count
        self.style = style
        self.layout = frame_layout(width, height, style, subtitles)
        rng = prompt_rng(prompt, None, "video", style)
        pan_w = int(width * (1 + _PAN))
        paint_scale = min(1.0, _MAX_PAINT_WIDTH / pan_w)
        pw, ph = max(64, int(pan_w * paint_scale)), max(36, int(height * paint_scale))
        image_style = _IMAGE_STYLE.get(style, "realistic")
        still = apply_style(render_scene(prompt, None, image_style, pw, ph), image_style, rng)
        if (pw, ph) != (pan_w, height):
            still = still.resize((pan_w, height), Image.Resampling.BICUBIC)
        base = np.asarray(still, dtype=np.uint8)
        if style == "cinematic":  # warm highlights, slightly cool shadows, a touch of contrast
            levels = (np.arange(256, dtype=np.float32) - 128.0) * 1.08 + 128.0
            luts = np.clip(levels[None, :] * np.array([[1.06], [1.0], [0.93]], np.float32), 0, 255)
            base = np.stack([luts[c].astype(np.uint8)[base[..., c]] for c in range(3)], axis=-1)
        self.base = base
        self.pan_px = pan_w - width
        self.phase = rng.uniform(0, math.tau)
        colour = (255, 220, 150) if style != "artistic" else (rng.randint(60, 255), rng.randint(60, 255), 255)
        self.orb_rgb, self.orb_alpha = _orb_sprite(self.layout.orb_radius, colour)
        self.letterbox = self.layout.letterbox
        self._caption(prompt)
        self.first: np.ndarray | None = None
        self.fade_frames = 0
        if first_image is not None:
            fitted = ImageOps.fit(first_image.convert("RGB"), (width, height), Image.Resampling.LANCZOS)
            self.first = np.asarray(fitted, dtype=np.uint8)
            self.fade_frames = min(frame_count, max(1, fps))

    def _caption(self, prompt: str) -> None:
        """Pre-render the caption once; documentary puts it on the left (a lower third without
        subtitles), others centred; the layout says at which height."""
        w, h = self.width, self.height
        if self.style == "documentary":
            band = render_caption(prompt, int(w * 0.6), font_px=max(14, h // 24), max_lines=2)
            x = int(w * 0.05)
        else:
            band = render_caption(prompt, w, font_px=max(14, h // 26), max_lines=2)
            x = 0
        band = band.filter(ImageFilter.SMOOTH) if self.style == "artistic" else band
        y = self.layout.caption_rows(band.height).top
        arr = np.asarray(band, dtype=np.float32)
        self.cap_rgb, self.cap_alpha = arr[..., :3], arr[..., 3:] / 255.0
        self.cap_box = (x, y, x + band.width, y + band.height)

    def _orb_position(self, t: float) -> tuple[int, int]:
        """A Lissajous path across the upper half of the frame (``ORB_PATH``)."""
        speed = 0.9 if self.style == "artistic" else 0.35
        w, h = self.width, self.height
        x = w * (0.5 + 0.38 * math.sin(self.phase + t * speed * math.tau * 0.5))
        low, high = ORB_PATH
        y = h * (low + high + (high - low) * math.sin(self.phase * 1.7 + t * speed * math.tau)) / 2
        return int(x), int(y)

    def frame(self, i: int) -> np.ndarray:
        """Frame ``i`` as a contiguous HxWx3 uint8 array."""
        w, h = self.width, self.height
        u = i / max(1, self.frame_count - 1)
        if self.style == "artistic":  # back and forth
            offset = int(self.pan_px * (0.5 + 0.5 * math.sin(self.phase + u * math.tau)))
        else:  # one slow eased pan across the still
            offset = int(self.pan_px * (0.5 - 0.5 * math.cos(math.pi * u)))
        frame = np.ascontiguousarray(self.base[:, offset:offset + w])
        # the orb
        r = self.orb_rgb.shape[0] // 2
        cx, cy = self._orb_position(i / self.fps)
        x0, y0, x1, y1 = max(0, cx - r), max(0, cy - r), min(w, cx + r + 1), min(h, cy + r + 1)
        if x1 > x0 and y1 > y0:
            sx, sy = x0 - (cx - r), y0 - (cy - r)
            rgb = self.orb_rgb[sy:sy + y1 - y0, sx:sx + x1 - x0]
            a = self.orb_alpha[sy:sy + y1 - y0, sx:sx + x1 - x0]
            region = frame[y0:y1, x0:x1].astype(np.float32)
            frame[y0:y1, x0:x1] = (region * (1 - a) + rgb * a).astype(np.uint8)
        if self.first is not None and i < self.fade_frames:  # dissolve from the given first frame
            k = i / self.fade_frames
            frame[:] = (self.first * (1 - k) + frame * k).astype(np.uint8)
        # the caption
        cx0, cy0, cx1, cy1 = self.cap_box
        region = frame[cy0:cy1, cx0:cx1].astype(np.float32)
        a = self.cap_alpha
        frame[cy0:cy1, cx0:cx1] = (region * (1 - a) + self.cap_rgb * a).astype(np.uint8)
        if self.letterbox:
            frame[: self.letterbox] = 0
            frame[h - self.letterbox:] = 0
        # time bar: grows with the frame index
        filled = int(w * (i + 1) / self.frame_count)
        frame[self.layout.bar.top: self.layout.bar.bottom, :filled] = (235, 235, 235)
        return frame

    def frames(self) -> Iterator[bytes]:
        """All frames in order as raw RGB24 bytes, generated lazily."""
        for i in range(self.frame_count):
            yield self.frame(i).tobytes()

