"""Helpers shared by the procedural image and video providers.

* ``prompt_rng``: one deterministic random stream per (prompt, seed, salt...), so the same request
  always renders the same pixels on every machine and in every process (``hash()`` is salted per
  process, so a SHA-256 of the inputs is used instead).
* ``render_caption``: the prompt drawn as legible, word-wrapped white text with a dark outline on
  a translucent band.
* ``load_font``: the font every local renderer draws with (captions here, burned-in subtitles in
  ``_mux``): DejaVu Sans, bundled in ``fonts/`` with its licence, so nothing is fetched and no
  system font is required. Pillow's own default font (Aileron) has no accented letters and drew
  "robô" as "rob□"; DejaVu Sans covers Latin (Portuguese, Spanish, French, German...), Greek and
  Cyrillic.
"""

from __future__ import annotations

import hashlib
import random
import unicodedata
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont

ELLIPSIS = "\u2026"
#: DejaVu Sans 2.37 from the DejaVu fonts project (the file Debian's ``fonts-dejavu-core`` ships),
#: unmodified; its licence (Bitstream Vera / Arev, DejaVu changes public domain) is beside it
FONT_FILE = Path(__file__).with_name("fonts") / "DejaVuSans.ttf"
#: the family name inside ``FONT_FILE`` (what libass matches a subtitle style's font name against)
FONT_FAMILY = "DejaVu Sans"


def prompt_rng(prompt: str, seed: int | None, *salt: object) -> random.Random:
    """A ``random.Random`` seeded from a SHA-256 of the prompt, the request's ``seed`` and any salt values."""
    digest = hashlib.sha256(repr((prompt, seed, *salt)).encode("utf-8")).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def load_font(size: int) -> ImageFont.FreeTypeFont:
    """The bundled DejaVu Sans at ``size`` pixels (at least 8)."""
    return ImageFont.truetype(str(FONT_FILE), max(8, int(size)))


def _text_width(font: Font, text: str) -> float:
    return float(font.getlength(text))


def _split_long_word(word: str, font: Font, max_width: float) -> list[str]:
    """Cut a word that is wider than the line into pieces that fit."""
    pieces: list[str] = []
    current = ""
    for ch in word:
        if current and _text_width(font, current + ch) > max_width:
            pieces.append(current)
            current = ch
        else:
            current += ch
    if current:
        pieces.append(current)
    return pieces


def wrap_text(text: str, font: Font, max_width: float, max_lines: int) -> list[str]:
    """Greedy word wrap by rendered pixel width; the last kept line ends in an ellipsis if cut."""
    words: list[str] = []
    for word in text.split():
        if _text_width(font, word) > max_width:
            words.extend(_split_long_word(word, font, max_width))
        else:
            words.append(word)
    lines: list[str] = []
    current = ""
    for word in words:
        candidate = f"{current} {word}" if current else word
        if current and _text_width(font, candidate) > max_width:
            lines.append(current)
            current = word
        else:
            current = candidate
    if current:
        lines.append(current)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        last = lines[-1]
        while last and _text_width(font, last + ELLIPSIS) > max_width:
            last = last[:-1].rstrip()
        lines[-1] = last + ELLIPSIS
    return lines


def render_caption(text: str, width: int, *, font_px: int | None = None, max_lines: int = 3) -> Image.Image:
    """An RGBA band ``width`` pixels wide with ``text`` wrapped and drawn on it.

    White glyphs with a dark stroke on a ~60 % opaque black band stay readable over any
    background the procedural renderers produce.
    """
    size = font_px or max(14, width // 34)
    font = load_font(size)
    margin = max(6, size // 2)
    # NFC: a decomposed "o" + combining circumflex is drawn as the one precomposed "ô" glyph
    text = unicodedata.normalize("NFC", " ".join(text.split()))
    lines = wrap_text(text, font, width - 4 * margin, max_lines) or [""]
    line_h = int(size * 1.3)
    height = 2 * margin + line_h * len(lines)
    band = Image.new("RGBA", (width, height), (0, 0, 0, 150))
    draw = ImageDraw.Draw(band)
    stroke = max(1, size // 16)
    for i, line in enumerate(lines):
        x = (width - _text_width(font, line)) / 2
        y = margin + i * line_h
        draw.text((x, y), line, font=font, fill=(255, 255, 255, 255), stroke_width=stroke,
                  stroke_fill=(0, 0, 0, 255))
    return band
