"""The font the local renderers draw with has a glyph for every letter of the languages the product
is used in: no "rob□" in a caption (images and videos) nor in burned-in subtitles."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pysubs2
import pytest
from fontTools.ttLib import TTFont
from PIL import ImageFont

from videoai_ray.demo import demo_items
from videoai_ray.providers.local._mux import write_ass
from videoai_ray.providers.local._text import load_font, render_caption

#: Portuguese, Spanish, French and German letters and the punctuation around them
NEEDED = ("ãõçáàâéêíóôúÁÀÂÃÇÉÊÍÓÔÕÚñÑ¿¡üÜöÖäÄßèëïîûùÿœŒæ«»“”„—…€"
          "\u2039\u203a\u2018\u2019\u2013")  # single guillemets, single quotes, en dash
#: a code point no font maps (plane 16 private use): what a missing glyph looks like
NOTDEF = "\U0010fffd"


def _font_file(font: ImageFont.FreeTypeFont) -> TTFont:
    """The font file behind ``font`` (a path, or the bytes Pillow loaded its default font from)."""
    source = font.path
    if isinstance(source, io.BytesIO):
        source.seek(0)
        return TTFont(io.BytesIO(source.read()))
    return TTFont(str(source))


def _glyph(font: ImageFont.FreeTypeFont, ch: str) -> tuple[tuple[int, int], bytes]:
    mask = font.getmask(ch)
    return mask.size, bytes(mask)


def test_the_caption_font_maps_every_needed_character() -> None:
    cmap = _font_file(load_font(32)).getBestCmap()
    assert [ch for ch in NEEDED if ord(ch) not in cmap] == []


@pytest.mark.parametrize("size", [14, 32])
def test_no_needed_character_is_drawn_as_the_missing_glyph_box(size: int) -> None:
    font = load_font(size)
    box = _glyph(font, NOTDEF)
    assert [ch for ch in NEEDED if _glyph(font, ch) == box] == []


def test_the_demo_prompt_draws_its_accented_letter() -> None:
    """The demo's first image: "Um gato robô futurista" with its "ô" differs from the same caption
    with a missing glyph in its place (it used to be pixel-identical: both were the box)."""
    prompt = demo_items("upload://x/speech.wav")[0]["input_data"]["prompt"]
    assert "ô" in prompt
    drawn = np.asarray(render_caption(prompt, 1024), dtype=np.int16)
    boxed = np.asarray(render_caption(prompt.replace("ô", NOTDEF), 1024), dtype=np.int16)
    assert drawn.shape == boxed.shape and np.abs(drawn - boxed).sum() > 0
    # a decomposed "o" + combining circumflex is drawn as the same precomposed letter
    decomposed = np.asarray(render_caption(prompt.replace("ô", "o\u0302"), 1024), dtype=np.int16)
    assert np.array_equal(drawn, decomposed)


def test_burned_in_subtitles_name_a_font_that_is_shipped_and_has_their_letters(tmp_path: Path) -> None:
    srt = tmp_path / "pt.srt"
    srt.write_text("1\n00:00:00,000 --> 00:00:02,000\nOlá! Ação, coração «très» ¿qué? über\n", encoding="utf-8")
    name = write_ass(srt, tmp_path, 1280, 720)
    style = pysubs2.load(str(tmp_path / name)).styles["Default"]
    shipped = {TTFont(str(p))["name"].getDebugName(1): TTFont(str(p)) for p in (tmp_path / "fonts").glob("*.ttf")}
    assert style.fontname in shipped, (style.fontname, list(shipped))
    cmap = shipped[style.fontname].getBestCmap()
    text = "Olá! Ação, coração «très» ¿qué? über" + NEEDED
    assert [ch for ch in text if not ch.isspace() and ord(ch) not in cmap] == []
