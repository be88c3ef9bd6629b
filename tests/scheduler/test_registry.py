import pytest

from videoai_ray.errors import NoProviderAvailable, ProviderRegistrationError
from videoai_ray.models import (
    AudioTranscriptionRequest,
    ImageGenerationRequest,
    Strategy,
    SubtitleGenerationRequest,
    TaskType,
)
from videoai_ray.providers import Provider
from videoai_ray.providers.registry import ProviderRegistry
from videoai_ray.providers.testing import FixedLatencyProvider

IMG = TaskType.IMAGE_GENERATION
REQ = ImageGenerationRequest(prompt="a cat")


def make(name, quality=0.5, cost=0.0, cap=2):
    return FixedLatencyProvider(name=name, quality=quality, cost=cost, max_concurrency=cap,
                                task_types=frozenset({IMG}))


@pytest.fixture
def reg():
    r = ProviderRegistry(breaker_failures=2, breaker_cooldown=10)
    r.register(make("good", quality=0.9, cost=0.04))
    r.register(make("cheap", quality=0.3, cost=0.001))
    r.register(make("mid", quality=0.6, cost=0.02))
    return r


def test_strategies(reg):
    names = reg.candidates(IMG, REQ)
    assert reg.pick(names, Strategy.QUALITY, REQ, now=0) == "good"
    assert reg.pick(names, Strategy.COST, REQ, now=0) == "cheap"
    reg.started("good"); reg.finished("good", ok=True, duration=2.0)
    reg.started("mid"); reg.finished("mid", ok=True, duration=0.5)
    reg.started("cheap"); reg.finished("cheap", ok=True, duration=1.0)
    assert reg.pick(names, Strategy.SPEED, REQ, now=0) in ("mid",)
    reg.started("good"); reg.finished("good", ok=False, error="boom")
    assert reg.pick(names, Strategy.RELIABILITY, REQ, now=0) in ("mid", "cheap")
    reg.started("mid"); reg.started("mid")
    assert reg.pick(names, Strategy.LOAD_BALANCING, REQ, now=0) != "mid"


def test_capacity_and_breaker(reg):
    names = ["good"]
    reg.started("good"); reg.started("good")
    assert reg.pick(names, Strategy.QUALITY, REQ, now=0) is None  # at its cap
    reg.finished("good", ok=False, now=0)
    reg.finished("good", ok=False, now=0)  # second failure in a row opens the breaker
    assert reg.describe(now=1)[0]["health"] == "open_circuit"
    assert reg.pick(names, Strategy.QUALITY, REQ, now=5) is None
    assert reg.pick(reg.candidates(IMG, REQ), Strategy.QUALITY, REQ, now=5) == "mid"  # next eligible
    assert reg.pick(names, Strategy.QUALITY, REQ, now=11) == "good"  # half-open trial
    reg.started("good")
    assert reg.pick(names, Strategy.QUALITY, REQ, now=11) is None  # one trial at a time
    reg.finished("good", ok=True, duration=1.0)
    assert reg.describe()[0]["health"] == "healthy"


def test_failed_providers_are_avoided_when_others_exist(reg):
    names = reg.candidates(IMG, REQ)
    assert reg.pick(names, Strategy.QUALITY, REQ, now=0, exclude={"good"}) == "mid"
    assert reg.pick(["good"], Strategy.QUALITY, REQ, now=0, exclude={"good"}) == "good"


def test_strict_registration(reg):
    with pytest.raises(ProviderRegistrationError, match="already registered"):
        reg.register(make("good"))
    reg.register(make("good", quality=0.1), replace=True)

    class NoName(Provider):
        task_types = frozenset({IMG})

        async def run(self, request, ctx):
            return {}

    with pytest.raises(ProviderRegistrationError, match="name"):
        reg.register(NoName())

    class Sync(Provider):
        name = "sync"
        task_types = frozenset({IMG})

        def run(self, request, ctx):  # type: ignore[override]
            return {}

    with pytest.raises(ProviderRegistrationError, match="async def"):
        reg.register(Sync())
    with pytest.raises(ProviderRegistrationError, match="no provider named"):
        reg.unregister("nope")


def test_explains_why_nothing_can_serve(reg):
    req = SubtitleGenerationRequest(text="hello", source_language="en", target_language="de")
    assert reg.candidates(TaskType.SUBTITLE_GENERATION, req) == []
    err = reg.explain_none(TaskType.SUBTITLE_GENERATION, req, None)
    assert isinstance(err, NoProviderAvailable) and "translation" in err.message
    assert "not registered" in reg.explain_none(IMG, REQ, "ghost").message


class Speaks(FixedLatencyProvider):
    """A transcription provider that knows some languages and refuses the others."""

    def __init__(self, name, langs):
        super().__init__(name=name, task_types=frozenset({TaskType.AUDIO_TRANSCRIPTION}))
        self.langs = langs

    def languages(self):
        return self.langs

    def supports(self, request):
        return request.language is None or request.language in self.langs

    def explain_unsupported(self, request):
        return None if self.supports(request) else f"does not know {request.language!r} (it knows: {self.langs})"


def test_languages_are_listed_and_a_pinned_refusal_names_its_provider_only():
    r = ProviderRegistry()
    r.register(Speaks("en-only", ["en"]))
    r.register(Speaks("many", ["en", "pt"]))
    r.register(make("img"))
    assert {row["name"]: row["languages"] for row in r.describe()} == {
        "en-only": ["en"], "many": ["en", "pt"], "img": None}
    pt = AudioTranscriptionRequest(audio_url="https://example.com/a.wav", language="pt")
    assert r.candidates(TaskType.AUDIO_TRANSCRIPTION, pt) == ["many"]
    assert r.candidates(TaskType.AUDIO_TRANSCRIPTION, pt, "en-only") == []
    msg = r.explain_none(TaskType.AUDIO_TRANSCRIPTION, pt, "en-only").message
    assert msg == "no available provider for audio_transcription (en-only: does not know 'pt' (it knows: ['en']))"
    assert "does not serve it" in r.explain_none(TaskType.AUDIO_TRANSCRIPTION, pt, "img").message
