"""OpenAI Whisper against a fake multipart ``POST /v1/audio/transcriptions`` answering with the
document's examples; requests are validated against the OpenAI document."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import pytest
import respx
from attempt_context import MakeCtx, run, upload
from fake_answers import BASES, artifact_bytes, multipart_fields, openai_error, openai_verbose_transcript

from videoai_ray.errors import InvalidInput, RateLimited
from videoai_ray.models import AudioTranscriptionRequest
from videoai_ray.providers.cloud import OpenAITranscriptionProvider, prices
from videoai_ray.providers.cloud.openai_audio import MAX_UPLOAD_BYTES
from videoai_ray.settings import Settings

TRANSCRIPTIONS = BASES["openai"] + "/audio/transcriptions"
SRT = (
    "1\n00:00:00,000 --> 00:00:03,320\nThe beach was a popular spot on a hot summer day.\n\n"
    "2\n00:00:03,320 --> 00:00:08,470\nPeople were swimming in the ocean.\n\n"
)


@pytest.fixture
def audio(tmp_path: Path, cloud_settings: Settings) -> str:
    path = tmp_path / "talk.mp3"
    path.write_bytes(b"ID3" + b"\x00" * 2048)
    return upload(cloud_settings, path)


def provider(settings: Settings) -> OpenAITranscriptionProvider:
    return OpenAITranscriptionProvider(settings, base_url=BASES["openai"])


def test_json_asks_for_verbose_json_and_returns_segments(
    http: respx.MockRouter, cloud_settings: Settings, make_ctx: MakeCtx, audio: str
) -> None:
    route = http.post(TRANSCRIPTIONS).respond(200, json=openai_verbose_transcript())
    ctx, rec = make_ctx()
    out = run(provider(cloud_settings).run(AudioTranscriptionRequest(audio_url=audio, language="en"), ctx))
    request = route.calls[0].request
    fields = multipart_fields(request)
    assert {k: fields[k] for k in ("model", "language", "response_format")} == {
        "model": "whisper-1",
        "language": "en",
        "response_format": "verbose_json",
    }
    assert b'filename="audio.mp3"' in request.content
    assert out["text"].startswith("The beach was a popular spot")
    assert out["segments"][0] == {
        "id": 0,
        "start": 0.0,
        "end": 3.319999933242798,
        "text": "The beach was a popular spot on a hot summer day.",
    }
    assert out["format"] == "json" and out["words"] == [] and out["metadata"]["detected_language"] == "english"
    stored = json.loads(artifact_bytes(out["transcript_url"]))
    assert stored["segments"] == out["segments"]
    assert ctx.cost == pytest.approx(prices.whisper(9))  # the example's usage: 9 seconds
    assert rec.values[-1] >= 0.9


@pytest.mark.parametrize("fmt", ["srt", "vtt"])
def test_subtitle_formats_pass_through_with_segments(
    http: respx.MockRouter, cloud_settings: Settings, make_ctx: MakeCtx, audio: str, fmt: Literal["srt", "vtt"]
) -> None:
    content = SRT if fmt == "srt" else "WEBVTT\n\n" + SRT.replace(",", ".")
    route = http.post(TRANSCRIPTIONS).respond(200, text=content, headers={"content-type": "text/plain"})
    ctx, _ = make_ctx()
    out = run(provider(cloud_settings).run(AudioTranscriptionRequest(audio_url=audio, response_format=fmt), ctx))
    assert multipart_fields(route.calls[0].request)["response_format"] == fmt
    assert out["content"] == content and artifact_bytes(out["transcript_url"]).decode() == content
    assert [s["text"] for s in out["segments"]] == [
        "The beach was a popular spot on a hot summer day.",
        "People were swimming in the ocean.",
    ]
    assert out["duration"] == pytest.approx(8.47)
    assert ctx.cost == pytest.approx(prices.whisper(8.47))


def test_text_format(http: respx.MockRouter, cloud_settings: Settings, make_ctx: MakeCtx, audio: str) -> None:
    http.post(TRANSCRIPTIONS).respond(200, text="Hello world.\n", headers={"content-type": "text/plain"})
    ctx, _ = make_ctx()
    out = run(provider(cloud_settings).run(AudioTranscriptionRequest(audio_url=audio, response_format="text"), ctx))
    assert out["text"] == "Hello world." and out["segments"] == [] and "content" not in out
    assert artifact_bytes(out["transcript_url"]) == b"Hello world.\n"
    assert ctx.cost is None  # unknown length: the executor keeps the estimate


def test_files_over_25_mb_are_refused_before_any_upload(
    http: respx.MockRouter, cloud_settings: Settings, make_ctx: MakeCtx, tmp_path: Path
) -> None:
    big = tmp_path / "long.wav"
    with big.open("wb") as fh:
        fh.truncate(MAX_UPLOAD_BYTES + 1)  # sparse: no 25 MB actually written
    ctx, _ = make_ctx()
    with pytest.raises(InvalidInput):
        run(provider(cloud_settings).run(AudioTranscriptionRequest(audio_url=upload(cloud_settings, big)), ctx))
    assert not http.calls


def test_429_on_upload(http: respx.MockRouter, cloud_settings: Settings, make_ctx: MakeCtx, audio: str) -> None:
    http.post(TRANSCRIPTIONS).respond(
        429,
        json=openai_error("Rate limit reached", type_="requests", code="rate_limit_exceeded"),
        headers={"Retry-After": "4"},
    )
    with pytest.raises(RateLimited) as info:
        run(provider(cloud_settings).run(AudioTranscriptionRequest(audio_url=audio), make_ctx()[0]))
    assert info.value.retry_after == 4.0
