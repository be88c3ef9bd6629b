"""Cloud providers: plain ``httpx`` adapters for the documented REST APIs of OpenAI, Stability AI,
RunwayML, Pika (through fal.ai) and AssemblyAI.

Each adapter reads its key from settings; without it ``unavailable_reason()`` says which variable
to set and the adapter is never called. ``cloud_providers(settings)`` builds them all.
"""

from __future__ import annotations

from ...settings import Settings
from ..base import Provider
from .assemblyai import AssemblyAITranscriptionProvider
from .common import CloudProvider
from .openai_audio import OpenAITranscriptionProvider
from .openai_images import OpenAIDallE3Provider, OpenAIImageProvider
from .openai_subtitles import OpenAISubtitleProvider
from .pika import PikaVideoProvider
from .runway import RunwayVideoProvider
from .stability import StabilityImageProvider

#: every cloud adapter, in listing order
CLOUD_PROVIDER_CLASSES: tuple[type[CloudProvider], ...] = (
    OpenAIImageProvider,
    OpenAIDallE3Provider,
    StabilityImageProvider,
    RunwayVideoProvider,
    PikaVideoProvider,
    OpenAITranscriptionProvider,
    AssemblyAITranscriptionProvider,
    OpenAISubtitleProvider,
)


def cloud_providers(settings: Settings) -> list[Provider]:
    """One instance of every cloud adapter, available or not (the registry lists the reason)."""
    return [cls(settings) for cls in CLOUD_PROVIDER_CLASSES]


__all__ = [
    "CLOUD_PROVIDER_CLASSES",
    "AssemblyAITranscriptionProvider",
    "CloudProvider",
    "OpenAIDallE3Provider",
    "OpenAIImageProvider",
    "OpenAISubtitleProvider",
    "OpenAITranscriptionProvider",
    "PikaVideoProvider",
    "RunwayVideoProvider",
    "StabilityImageProvider",
    "cloud_providers",
]
