"""A video's optional sound track and burned-in subtitles, for ``local-procedural-video``.

The bundled ffmpeg (imageio-ffmpeg) is built with libass, so subtitles are burned in by its
``subtitles`` filter. The cues are first normalised to ASS with pysubs2 (SRT, WebVTT and ASS all
load), styled for the frame size, and drawn with the font the captions use (the bundled DejaVu
Sans, see ``_text``) copied next to them (``fontsdir``), so no system font is needed. The audio is
muxed as AAC; the video spans it.
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ...errors import InvalidInput
from ._layout import frame_layout
from ._text import FONT_FAMILY, FONT_FILE

#: the longest sound track a video is made for, in seconds
MAX_AUDIO_SECONDS = 600.0
_DURATION = re.compile(r"Duration: (\d+):(\d{2}):(\d{2}(?:\.\d+)?)")


@dataclass(frozen=True)
class MuxInputs:
    """What is added to the procedural frames: an audio file and/or an ASS file in ``workdir``."""

    workdir: Path
    audio: Path | None = None
    audio_seconds: float | None = None
    subtitles: str | None = None  # a file name inside ``workdir`` (the filter is run from there)

    def frames(self, fps: int, default: int) -> int:
        """Frames of the video: enough to span the audio, else ``default``."""
        if self.audio_seconds is None:
            return default
        return max(1, math.ceil(self.audio_seconds * fps))

    def input_args(self) -> list[str]:
        return ["-i", str(self.audio)] if self.audio is not None else []

    def output_args(self) -> list[str]:
        args: list[str] = []
        if self.subtitles is not None:
            args += ["-vf", f"subtitles={self.subtitles}:fontsdir=fonts"]
        if self.audio is not None:
            args += ["-map", "0:v:0", "-map", "1:a:0", "-c:a", "aac", "-b:a", "128k"]
        else:
            args += ["-an"]
        return args


def audio_seconds(ffmpeg: str, path: Path) -> float:
    """The length of the audio in ``path`` as ffmpeg reads it; ``InvalidInput`` when it has no
    audio stream or is longer than ``MAX_AUDIO_SECONDS``."""
    proc = subprocess.run([ffmpeg, "-hide_banner", "-i", str(path)], capture_output=True, text=True, check=False)
    m = _DURATION.search(proc.stderr)
    if m is None or "Audio:" not in proc.stderr:
        raise InvalidInput("audio_url: not a readable audio file")
    seconds = int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3))
    if seconds <= 0:
        raise InvalidInput("audio_url: the audio is empty")
    if seconds > MAX_AUDIO_SECONDS:
        raise InvalidInput(f"audio_url: the audio is {seconds:.0f} s long; at most {MAX_AUDIO_SECONDS:.0f} s")
    return seconds


def write_ass(source: Path, workdir: Path, width: int, height: int, style_name: str = "cinematic") -> str:
    """``source`` (SRT, WebVTT or ASS) as a styled ASS file in ``workdir``, and the font it uses
    in ``workdir/fonts``; returns the ASS file's name. ``InvalidInput`` if it does not parse.

    The cues are bottom-centred in the subtitle area of the video's layout (``_layout``), which
    nothing else draws on: above the time bar, with the prompt caption moved to the top."""
    import pysubs2

    try:
        subs = pysubs2.load(str(source), encoding="utf-8")
    except Exception as exc:  # pysubs2 raises several types for unreadable files
        raise InvalidInput(f"subtitles_url: not a readable subtitle file ({type(exc).__name__})") from None
    if not subs.events:
        raise InvalidInput("subtitles_url: the file holds no cues")
    layout = frame_layout(width, height, style_name, subtitles=True)
    subs.info["PlayResX"], subs.info["PlayResY"] = str(width), str(height)
    subs.info["ScaledBorderAndShadow"] = "yes"  # outline widths in PlayRes pixels, as the layout counts them
    style = subs.styles.get("Default") or pysubs2.SSAStyle()
    style.fontname = FONT_FAMILY
    style.fontsize = layout.subtitle_font_px
    style.outline, style.shadow = layout.subtitle_outline, 0
    style.alignment = pysubs2.Alignment.BOTTOM_CENTER
    style.marginv = layout.subtitle_margin_v
    subs.styles = {"Default": style}
    for event in subs.events:  # one style, and its margins: a cue's own would leave the area
        event.style = "Default"
        event.marginl = event.marginr = event.marginv = 0
    subs.save(str(workdir / "subs.ass"), format_="ass")
    fonts = workdir / "fonts"
    fonts.mkdir(exist_ok=True)
    shutil.copyfile(FONT_FILE, fonts / FONT_FILE.name)
    return "subs.ass"
