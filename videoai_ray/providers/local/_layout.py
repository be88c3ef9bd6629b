"""Where each thing is drawn on a procedural video frame, so that nothing crosses anything else.

From the bottom of a frame up: the letterbox (``cinematic``), the time bar (the white progress
line), a gap, then the subtitle area when subtitles are burned in: rows that nothing but the
subtitles draws on (libass bottom-aligns the cues at ``subtitle_margin_v`` from the frame's
bottom, which is the area's lower edge). The prompt caption sits above the time bar when there are
no subtitles; with subtitles it moves to the top of the picture, so the two texts never crowd
each other. The glowing orb keeps to the upper part of the frame (``ORB_PATH``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

#: the orb's centre swings vertically between these fractions of the frame height
ORB_PATH = (0.33 - 0.18, 0.33 + 0.18)
#: lines a subtitle cue has at most (``_subformat.MAX_LINES``); the area is tall enough for them
SUBTITLE_LINES = 2


@dataclass(frozen=True)
class Rows:
    """Rows ``top`` (included) to ``bottom`` (excluded) of a frame."""

    top: int
    bottom: int

    def overlaps(self, other: Rows) -> bool:
        return self.top < other.bottom and other.top < self.bottom


@dataclass(frozen=True)
class FrameLayout:
    """The geometry of one video's frames (see the module docstring)."""

    width: int
    height: int
    letterbox: int  # black rows at the top and at the bottom
    bar: Rows  # the time bar
    margin: int  # space kept between two things, and from the picture's edge
    subtitle_font_px: int
    subtitles: Rows | None  # the area kept for burned-in subtitles, None without subtitles

    @property
    def subtitle_outline(self) -> int:
        """Width of the dark outline around subtitle glyphs, in pixels."""
        return max(2, self.subtitle_font_px // 16)

    @property
    def orb_radius(self) -> int:
        return max(6, self.height // 16)

    @property
    def orb_rows(self) -> Rows:
        """The rows the orb can touch: its path's lowest centre plus its radius."""
        return Rows(0, int(self.height * ORB_PATH[1]) + self.orb_radius + 1)

    @property
    def subtitle_margin_v(self) -> int:
        """ASS ``MarginV`` of bottom-aligned cues: the subtitle area's distance from the frame's
        bottom, plus the outline (libass puts the glyphs' box at the margin; the outline is outside)."""
        return self.height - self.subtitles.bottom + self.subtitle_outline if self.subtitles else self.margin

    def caption_rows(self, band_height: int) -> Rows:
        """Where a caption band ``band_height`` tall goes: above the time bar, or at the top of the
        picture when the bottom belongs to subtitles."""
        if self.subtitles is not None:
            return Rows(self.letterbox + self.margin, self.letterbox + self.margin + band_height)
        return Rows(self.bar.top - self.margin - band_height, self.bar.top - self.margin)


def frame_layout(width: int, height: int, style: str, subtitles: bool = False) -> FrameLayout:
    """The layout of a ``width`` x ``height`` frame in ``style``, with or without subtitles."""
    letterbox = max(0, int((height - width / 2.39) / 2)) if style == "cinematic" else 0
    bar_h = max(2, height // 180)
    bar = Rows(height - letterbox - bar_h, height - letterbox)
    margin = max(8, height // 30)
    layout = FrameLayout(width, height, letterbox, bar, margin, max(12, height // 16), None)
    if not subtitles:
        return layout
    # a line of libass text is about font_px tall; the outline adds a little above and below
    bottom = bar.top - margin
    top = bottom - SUBTITLE_LINES * layout.subtitle_font_px - 2 * layout.subtitle_outline - margin // 2
    return replace(layout, subtitles=Rows(top, bottom))
