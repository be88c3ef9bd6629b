"""The layout of a procedural video frame: burned-in subtitles get an area that nothing else draws
on (not the time bar, not the prompt caption, not the orb), and their ASS style puts them there."""

from __future__ import annotations

from pathlib import Path
from typing import get_args

import pysubs2
import pytest

from videoai_ray.models.requests import VideoGenerationRequest
from videoai_ray.providers.local._frames import RESOLUTIONS, FrameSource
from videoai_ray.providers.local._layout import Rows, frame_layout
from videoai_ray.providers.local._mux import write_ass

PROMPT = "A quick brown fox jumps over a lazy dog, and a much longer prompt that wraps onto two lines"
STYLES = ("cinematic", "documentary", "artistic")


def test_rows_overlap() -> None:
    assert Rows(0, 10).overlaps(Rows(9, 20)) and not Rows(0, 10).overlaps(Rows(10, 20))


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("resolution", ["720p", "1080p", "4k"])
def test_the_subtitle_area_is_clear_of_the_time_bar_the_orb_and_the_picture_edge(style: str,
                                                                                 resolution: str) -> None:
    width, height = RESOLUTIONS[resolution]
    layout = frame_layout(width, height, style, subtitles=True)
    area = layout.subtitles
    assert area is not None
    picture = Rows(layout.letterbox, height - layout.letterbox)
    assert picture.top <= area.top < area.bottom <= picture.bottom
    assert area.bottom <= layout.bar.top - layout.margin  # a clear gap above the time bar
    assert not area.overlaps(layout.orb_rows)
    # two lines of text and their outline fit
    assert area.bottom - area.top >= 2 * layout.subtitle_font_px + 2 * layout.subtitle_outline
    assert frame_layout(width, height, style).subtitles is None


@pytest.mark.parametrize("style", STYLES)
def test_with_subtitles_the_caption_moves_away_from_them(style: str) -> None:
    width, height = RESOLUTIONS["720p"]
    plain = FrameSource(PROMPT, style, width, height, 4, 4)
    subtitled = FrameSource(PROMPT, style, width, height, 4, 4, subtitles=True)
    area = subtitled.layout.subtitles
    assert area is not None
    _, top, _, bottom = subtitled.cap_box
    caption = Rows(top, bottom)
    assert not caption.overlaps(area) and bottom + subtitled.layout.margin <= area.top
    assert subtitled.layout.letterbox <= top  # on the picture, not on the letterbox
    # without subtitles the caption stays where it was: above the time bar
    _, top, _, bottom = plain.cap_box
    assert bottom == plain.layout.bar.top - plain.layout.margin


@pytest.mark.parametrize("style", STYLES)
def test_the_ass_style_bottom_aligns_the_cues_on_the_area(style: str, tmp_path: Path) -> None:
    srt = tmp_path / "a.srt"
    srt.write_text("1\n00:00:00,000 --> 00:00:02,000\nline one\nline two\n")
    ass = pysubs2.load(str(tmp_path / write_ass(srt, tmp_path, 1280, 720, style)))
    layout = frame_layout(1280, 720, style, subtitles=True)
    assert layout.subtitles is not None
    sub_style = ass.styles["Default"]
    assert sub_style.alignment == pysubs2.Alignment.BOTTOM_CENTER
    assert 720 - sub_style.marginv + sub_style.outline == layout.subtitles.bottom
    assert sub_style.fontsize == layout.subtitle_font_px and sub_style.outline == layout.subtitle_outline
    assert all(e.marginv == 0 for e in ass.events)  # no cue overrides the style's margin


def test_every_video_style_has_a_layout() -> None:
    assert set(get_args(VideoGenerationRequest.model_fields["style"].annotation)) == set(STYLES)
