"""``cloud_providers(settings)``: every adapter satisfies the plug-in contract, reports itself
unavailable without its key (making no HTTP call) and never shows a key."""

from __future__ import annotations

import pytest
import respx
from attempt_context import MakeCtx, run
from fake_answers import BASES, KEYS

from videoai_ray.errors import AuthenticationFailed
from videoai_ray.models import (
    AudioTranscriptionRequest,
    ImageGenerationRequest,
    SubtitleGenerationRequest,
    TaskType,
    VideoGenerationRequest,
)
from videoai_ray.providers.base import validate_provider
from videoai_ray.providers.cloud import CLOUD_PROVIDER_CLASSES, cloud_providers, prices
from videoai_ray.settings import Settings

REQUESTS = {
    TaskType.IMAGE_GENERATION: ImageGenerationRequest(prompt="a lighthouse at dusk", n=2),
    TaskType.VIDEO_GENERATION: VideoGenerationRequest(prompt="waves on rocks", duration=5),
    TaskType.AUDIO_TRANSCRIPTION: AudioTranscriptionRequest(audio_url="https://media.example.com/a.mp3"),
    TaskType.SUBTITLE_GENERATION: SubtitleGenerationRequest(
        text="Hello there. How are you?", source_language="en", target_language="fr"
    ),
}
EXPECTED_REASONS = {
    "openai-gpt-image": "OPENAI_API_KEY is not set",
    "openai-dall-e-3": "OPENAI_API_KEY is not set",
    "stability-core": "STABILITY_API_KEY is not set",
    "runway": "RUNWAYML_API_SECRET is not set",
    "pika": "FAL_KEY is not set",
    "openai-whisper": "OPENAI_API_KEY is not set",
    "assemblyai": "ASSEMBLYAI_API_KEY is not set",
    "openai-subtitles": "OPENAI_API_KEY is not set",
}


def test_without_keys_every_cloud_provider_is_unavailable_and_silent(
    no_key_settings: Settings, make_ctx: MakeCtx
) -> None:
    with respx.mock(assert_all_mocked=True) as router:
        providers = cloud_providers(no_key_settings)
        reasons = {p.name: p.unavailable_reason() for p in providers}
        for p in providers:  # what a registry does with an unavailable provider: list it
            validate_provider(p)
            request = REQUESTS[next(iter(p.task_types))]
            p.supports(request)
            assert p.estimate_cost(request) >= 0.0
        with pytest.raises(AuthenticationFailed, match="OPENAI_API_KEY is not set"):
            run(providers[0].run(REQUESTS[TaskType.IMAGE_GENERATION], make_ctx(settings=no_key_settings)[0]))
        assert not router.calls  # checked inside the block: leaving it clears the record
    assert reasons == EXPECTED_REASONS


def test_with_keys_every_cloud_provider_is_available(cloud_settings: Settings) -> None:
    providers = cloud_providers(cloud_settings)
    assert [type(p) for p in providers] == list(CLOUD_PROVIDER_CLASSES)
    assert len({p.name for p in providers}) == len(providers)
    for p in providers:
        validate_provider(p)
        assert p.unavailable_reason() is None
        assert not p.cpu_bound
        assert p.timeout and p.timeout > 0
        assert 0.75 <= p.quality <= 1.0  # above the local procedural providers (~0.1-0.3)
        assert p.description
        for key in KEYS.values():
            assert key not in repr(p)


def test_each_provider_estimates_a_positive_cost_for_what_it_serves(cloud_settings: Settings) -> None:
    for p in cloud_providers(cloud_settings):
        request = REQUESTS[next(iter(p.task_types))]
        assert p.supports(request), p.name
        assert p.estimate_cost(request) > 0, p.name


def test_estimates_follow_the_price_table(cloud_settings: Settings) -> None:
    by_name = {p.name: p for p in cloud_providers(cloud_settings)}
    image = ImageGenerationRequest(prompt="x", n=3, quality="hd", size="1024x1792")
    assert (
        by_name["openai-dall-e-3"].estimate_cost(image) == 3 * prices.OPENAI_IMAGE[("dall-e-3", "hd", "1024x1792")].usd
    )
    assert (
        by_name["openai-gpt-image"].estimate_cost(image)
        == 3 * prices.OPENAI_IMAGE[("gpt-image-1", "high", "1024x1536")].usd
    )
    assert by_name["stability-core"].estimate_cost(image) == 3 * prices.STABILITY_CORE.usd
    video = VideoGenerationRequest(prompt="x", duration=5)
    assert by_name["runway"].estimate_cost(video) == prices.runway_video("veo3.1_fast", False, 6)
    assert by_name["pika"].estimate_cost(video) == prices.pika_video("720p", 5)


def test_every_price_names_its_source_and_date() -> None:
    entries = [
        *prices.OPENAI_IMAGE.values(),
        *(p for pair in prices.OPENAI_IMAGE_TOKENS.values() for p in pair),
        *(p for pair in prices.OPENAI_CHAT.values() for p in pair),
        prices.OPENAI_WHISPER,
        prices.STABILITY_CORE,
        prices.RUNWAY_CREDIT,
        *prices.FAL_PIKA_PER_SECOND.values(),
        *prices.ASSEMBLYAI_PER_HOUR.values(),
    ]
    for price in entries:
        assert price.usd > 0 and price.source.startswith("https://") and len(price.as_of) == 7


def test_default_base_urls_are_the_documented_hosts_and_tests_override_them(cloud_settings: Settings) -> None:
    defaults = {cls.name: cls.default_base_url for cls in CLOUD_PROVIDER_CLASSES}
    assert defaults["openai-gpt-image"] == "https://api.openai.com/v1"
    assert defaults["runway"] == "https://api.dev.runwayml.com"
    assert defaults["pika"] == "https://queue.fal.run"
    assert defaults["assemblyai"] == "https://api.assemblyai.com"
    assert defaults["stability-core"] == "https://api.stability.ai"
    for cls in CLOUD_PROVIDER_CLASSES:
        assert cls(cloud_settings, base_url=BASES["openai"] + "/").base_url == BASES["openai"]
