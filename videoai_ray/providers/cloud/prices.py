"""The cloud providers' prices in USD: the one table to edit when a provider changes them.

Each ``Price`` names its source page and the date the number was taken from it. The adapters
use these numbers for ``estimate_cost`` (before a call) and, where the answer does not state a
cost, for the actual cost of what was really requested (after it).

The numbers were transcribed from the providers' public pricing pages as last known (``as_of``);
they were not re-checked online when this file was written, so confirm them before relying on
cost-based routing or budgets.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Price:
    """One price: ``usd`` per ``unit``, from ``source`` as of ``as_of`` (YYYY-MM)."""

    usd: float
    unit: str
    source: str
    as_of: str


_OPENAI = "https://platform.openai.com/docs/pricing"
_STABILITY = "https://platform.stability.ai/pricing"
_RUNWAY = "https://docs.dev.runwayml.com/guides/pricing/"
_FAL_PIKA = "https://fal.ai/models/fal-ai/pika/v2.2/text-to-video"
_ASSEMBLYAI = "https://www.assemblyai.com/pricing"

# -- OpenAI images: per image, by (model, quality, size) ---------------------------------------
OPENAI_IMAGE: dict[tuple[str, str, str], Price] = {
    ("dall-e-3", "standard", "1024x1024"): Price(0.040, "image", _OPENAI, "2025-06"),
    ("dall-e-3", "standard", "1024x1792"): Price(0.080, "image", _OPENAI, "2025-06"),
    ("dall-e-3", "hd", "1024x1024"): Price(0.080, "image", _OPENAI, "2025-06"),
    ("dall-e-3", "hd", "1024x1792"): Price(0.120, "image", _OPENAI, "2025-06"),
    ("gpt-image-1", "low", "1024x1024"): Price(0.011, "image", _OPENAI, "2025-06"),
    ("gpt-image-1", "low", "1024x1536"): Price(0.016, "image", _OPENAI, "2025-06"),
    ("gpt-image-1", "medium", "1024x1024"): Price(0.042, "image", _OPENAI, "2025-06"),
    ("gpt-image-1", "medium", "1024x1536"): Price(0.063, "image", _OPENAI, "2025-06"),
    ("gpt-image-1", "high", "1024x1024"): Price(0.167, "image", _OPENAI, "2025-06"),
    ("gpt-image-1", "high", "1024x1536"): Price(0.250, "image", _OPENAI, "2025-06"),
}
#: GPT image models bill tokens; the answer's ``usage`` gives the actual cost (USD per 1M tokens)
OPENAI_IMAGE_TOKENS: dict[str, tuple[Price, Price]] = {
    "gpt-image-1": (
        Price(5.00, "1M input tokens", _OPENAI, "2025-06"),
        Price(40.00, "1M output tokens", _OPENAI, "2025-06"),
    ),
}
OPENAI_WHISPER = Price(0.006, "minute of audio", _OPENAI, "2025-06")
#: chat models for subtitle translation: (input, output) per 1M tokens
OPENAI_CHAT: dict[str, tuple[Price, Price]] = {
    "gpt-4o-mini": (
        Price(0.15, "1M input tokens", _OPENAI, "2025-06"),
        Price(0.60, "1M output tokens", _OPENAI, "2025-06"),
    ),
    "gpt-4.1-mini": (
        Price(0.40, "1M input tokens", _OPENAI, "2025-06"),
        Price(1.60, "1M output tokens", _OPENAI, "2025-06"),
    ),
}

# -- Stability AI: 3 credits per Stable Image Core image, 1 credit = $0.01 ----------------------
STABILITY_CORE = Price(0.03, "image", _STABILITY, "2025-06")

# -- RunwayML: credits per second of output, 1 credit = $0.01 (the OpenAPI document says so) ---
RUNWAY_CREDIT = Price(0.01, "credit", _RUNWAY, "2025-06")
RUNWAY_CREDITS_PER_SECOND: dict[tuple[str, bool], int] = {
    # (model, with generated audio) -> credits per second
    ("gen4_turbo", False): 5,
    ("gen3a_turbo", False): 5,
    ("veo3", True): 40,
    ("veo3.1", False): 20,
    ("veo3.1", True): 40,
    ("veo3.1_fast", False): 10,
    ("veo3.1_fast", True): 15,
}

# -- Pika 2.2 on fal.ai: per second of output, by resolution ----------------------------------
FAL_PIKA_PER_SECOND: dict[str, Price] = {
    "720p": Price(0.04, "second of video", _FAL_PIKA, "2025-06"),  # $0.20 per 5 s clip
    "1080p": Price(0.09, "second of video", _FAL_PIKA, "2025-06"),  # $0.45 per 5 s clip
}

# -- AssemblyAI: per hour of audio, by speech model -----------------------------------------------
ASSEMBLYAI_PER_HOUR: dict[str, Price] = {
    "universal-3-pro": Price(0.21, "hour of audio", _ASSEMBLYAI, "2025-10"),
    "universal-2": Price(0.15, "hour of audio", _ASSEMBLYAI, "2025-10"),
}

#: audio length assumed by transcription estimates, made before the file is even fetched
ASSUMED_AUDIO_MINUTES = 5.0
#: characters per token assumed when estimating a chat call
CHARS_PER_TOKEN = 4.0


def openai_image(model: str, quality: str, size: str) -> float:
    """Per-image price of an OpenAI image (the largest listed price of the model when unlisted)."""
    price = OPENAI_IMAGE.get((model, quality, size))
    if price is None:
        listed = [p.usd for (m, _, _), p in OPENAI_IMAGE.items() if m == model]
        return max(listed, default=0.0)
    return price.usd


def tokens_cost(prices: tuple[Price, Price], input_tokens: float, output_tokens: float) -> float:
    """Cost of a token-billed call from its (input, output) per-1M-token prices."""
    return (input_tokens * prices[0].usd + output_tokens * prices[1].usd) / 1_000_000


def runway_video(model: str, audio: bool, seconds: float) -> float:
    """Cost of a RunwayML generation of ``seconds`` seconds."""
    credits = RUNWAY_CREDITS_PER_SECOND.get((model, audio), max(RUNWAY_CREDITS_PER_SECOND.values()))
    return credits * seconds * RUNWAY_CREDIT.usd


def pika_video(resolution: str, seconds: float) -> float:
    """Cost of a Pika 2.2 clip on fal.ai."""
    return FAL_PIKA_PER_SECOND.get(resolution, FAL_PIKA_PER_SECOND["1080p"]).usd * seconds


def assemblyai(model: str, seconds: float) -> float:
    """Cost of transcribing ``seconds`` of audio with an AssemblyAI speech model."""
    price = ASSEMBLYAI_PER_HOUR.get(model, max(ASSEMBLYAI_PER_HOUR.values(), key=lambda p: p.usd))
    return price.usd * seconds / 3600.0


def whisper(seconds: float) -> float:
    """Cost of transcribing ``seconds`` of audio with ``whisper-1`` (billed per second)."""
    return OPENAI_WHISPER.usd * seconds / 60.0
