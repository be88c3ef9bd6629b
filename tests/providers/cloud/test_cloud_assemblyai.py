"""AssemblyAI against fakes answering with the OpenAPI document's own examples (upload, the
example transcript, the SRT/VTT examples, the documented errors); every request is validated
against the AssemblyAI document."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Literal

import httpx
import pytest
import respx
from attempt_context import MakeCtx, run, upload
from fake_answers import BASES, KEYS, artifact_bytes, assemblyai_example, assemblyai_transcript

from videoai_ray.errors import AuthenticationFailed, InvalidInput, RateLimited
from videoai_ray.models import AudioTranscriptionRequest
from videoai_ray.providers.cloud import AssemblyAITranscriptionProvider, prices
from videoai_ray.providers.cloud.assemblyai import SPEECH_MODELS
from videoai_ray.settings import Settings

BASE = BASES["assemblyai"]
TID = "9ea68fd3-f953-42c1-9742-976c447fb463"
UPLOAD_URL = assemblyai_example("UploadedFile")["upload_url"]


@pytest.fixture
def audio(tmp_path: Path, cloud_settings: Settings) -> str:
    path = tmp_path / "talk.wav"
    path.write_bytes(b"RIFF" + b"\x00" * 4096)
    return upload(cloud_settings, path)


def provider(settings: Settings) -> AssemblyAITranscriptionProvider:
    return AssemblyAITranscriptionProvider(settings, base_url=BASE, poll_interval=0.01)


def lifecycle(router: respx.MockRouter) -> respx.Route:
    router.post(f"{BASE}/v2/transcript").respond(200, json=assemblyai_transcript("queued"))
    return router.get(f"{BASE}/v2/transcript/{TID}").mock(
        side_effect=[
            httpx.Response(200, json=assemblyai_transcript("queued")),
            httpx.Response(200, json=assemblyai_transcript("processing")),
            httpx.Response(200, json=assemblyai_transcript("completed")),
        ]
    )


def test_a_local_file_is_uploaded_then_transcribed(
    http: respx.MockRouter, cloud_settings: Settings, make_ctx: MakeCtx, audio: str
) -> None:
    upload = http.post(f"{BASE}/v2/upload").respond(200, json=assemblyai_example("UploadedFile"))
    polls = lifecycle(http)
    ctx, rec = make_ctx()
    out = run(provider(cloud_settings).run(AudioTranscriptionRequest(audio_url=audio, language="pt"), ctx))
    assert upload.calls[0].request.headers["authorization"] == KEYS["ASSEMBLYAI_API_KEY"]  # no scheme
    assert upload.calls[0].request.content.startswith(b"RIFF")
    create = next(c for c in http.calls if c.request.url == f"{BASE}/v2/transcript")
    assert json.loads(create.request.content) == {
        "audio_url": UPLOAD_URL,
        "language_code": "pt",
        "speech_models": list(SPEECH_MODELS),
        "punctuate": True,
        "format_text": True,
    }
    assert polls.call_count == 3
    example = assemblyai_transcript("completed")
    assert out["text"] == example["text"] and out["duration"] == example["audio_duration"]
    assert out["words"][0] == {"start": 0.25, "end": 0.65, "word": "Smoke", "probability": 0.97465}
    assert out["segments"][0]["text"].startswith("Smoke from hundreds of wildfires in Canada")
    assert out["segments"][0]["text"].endswith(".")
    assert json.loads(artifact_bytes(out["transcript_url"]))["text"] == example["text"]
    assert out["metadata"]["transcript_id"] == TID
    assert ctx.cost == pytest.approx(prices.assemblyai(SPEECH_MODELS[0], example["audio_duration"]))
    assert 0.4 in rec.values


def test_a_public_url_is_passed_without_upload(
    http: respx.MockRouter, cloud_settings: Settings, make_ctx: MakeCtx
) -> None:
    lifecycle(http)
    url = "https://media.example.com/wildfires.mp3"
    run(provider(cloud_settings).run(AudioTranscriptionRequest(audio_url=url), make_ctx()[0]))
    assert not any(c.request.url.path == "/v2/upload" for c in http.calls)
    create = next(c for c in http.calls if c.request.url == f"{BASE}/v2/transcript")
    assert json.loads(create.request.content)["audio_url"] == url


@pytest.mark.parametrize(("fmt", "example"), [("srt", "SrtSubtitlesResponse"), ("vtt", "VttSubtitlesResponse")])
def test_subtitle_formats_come_from_the_subtitles_endpoint(
    http: respx.MockRouter, cloud_settings: Settings, make_ctx: MakeCtx, fmt: Literal["srt", "vtt"], example: str
) -> None:
    lifecycle(http)
    content = assemblyai_example(example)
    http.get(f"{BASE}/v2/transcript/{TID}/{fmt}").respond(200, text=content, headers={"content-type": "text/plain"})
    url = "https://media.example.com/talk.mp3"
    out = run(
        provider(cloud_settings).run(AudioTranscriptionRequest(audio_url=url, response_format=fmt), make_ctx()[0])
    )
    assert out["content"] == content and artifact_bytes(out["transcript_url"]).decode() == content
    assert out["segments"][0]["text"].startswith("Last year I showed these two slides")


def test_an_error_transcript_is_invalid_input(
    http: respx.MockRouter, cloud_settings: Settings, make_ctx: MakeCtx
) -> None:
    http.post(f"{BASE}/v2/transcript").respond(200, json=assemblyai_transcript("queued"))
    failed = assemblyai_transcript("error")
    failed["error"] = "Download error, unable to download https://media.example.com/x.mp3"
    http.get(f"{BASE}/v2/transcript/{TID}").respond(200, json=failed)
    with pytest.raises(InvalidInput, match="Download error"):
        run(
            provider(cloud_settings).run(
                AudioTranscriptionRequest(audio_url="https://media.example.com/x.mp3"), make_ctx()[0]
            )
        )


def test_documented_errors(http: respx.MockRouter, cloud_settings: Settings, make_ctx: MakeCtx) -> None:
    route = http.post(f"{BASE}/v2/transcript")
    request = AudioTranscriptionRequest(audio_url="https://media.example.com/x.mp3")
    route.respond(401, json={"error": "Authentication error, API token missing/invalid"})
    with pytest.raises(AuthenticationFailed):
        run(provider(cloud_settings).run(request, make_ctx()[0]))
    route.respond(429, json={"error": "Too Many Requests"}, headers={"Retry-After": "8"})
    with pytest.raises(RateLimited) as info:
        run(provider(cloud_settings).run(request, make_ctx()[0]))
    assert info.value.retry_after == 8.0
    route.respond(400, json={"error": "format_text must be a Boolean"})
    with pytest.raises(InvalidInput):
        run(provider(cloud_settings).run(request, make_ctx()[0]))


def test_cancelling_stops_polling_without_a_cancel_call(
    http: respx.MockRouter, cloud_settings: Settings, make_ctx: MakeCtx
) -> None:
    http.post(f"{BASE}/v2/transcript").respond(200, json=assemblyai_transcript("queued"))
    polls = http.get(f"{BASE}/v2/transcript/{TID}").respond(200, json=assemblyai_transcript("processing"))
    ctx, _ = make_ctx(cancel_when=lambda rec: polls.call_count >= 2)
    with pytest.raises(asyncio.CancelledError):
        run(provider(cloud_settings).run(AudioTranscriptionRequest(audio_url="https://media.example.com/x.mp3"), ctx))
    assert polls.call_count == 2
    assert {c.request.method for c in http.calls} == {"POST", "GET"}  # AssemblyAI has no cancel call
