"""Translated subtitles against a fake ``POST /v1/chat/completions`` that answers, in the
document's chat-completion shape, the structured JSON the adapter asked for."""

from __future__ import annotations

import itertools
import json
from typing import Any

import httpx
import pysubs2
import pytest
import respx
from attempt_context import MakeCtx, run
from fake_answers import BASES, artifact_bytes, openai_chat_answer

from videoai_ray.errors import ContentRejected, RetryableError
from videoai_ray.models import Cue, SubtitleGenerationRequest
from videoai_ray.providers.cloud import OpenAISubtitleProvider, prices
from videoai_ray.settings import Settings

CHAT = BASES["openai"] + "/chat/completions"
TEXT = (
    "Good morning, everyone. Today we talk about the sea, the wind and the long journey of the "
    "fishermen who leave the harbour before dawn. Thank you for coming."
)


def translator(request: httpx.Request) -> httpx.Response:
    """A fake model: 'translates' each cue by tagging it, keeping ids, in the requested JSON."""
    body = json.loads(request.content)
    cues = json.loads(body["messages"][1]["content"])["cues"]
    answer = {"cues": [{"id": c["id"], "text": f"[fr] {c['text']}"} for c in reversed(cues)]}
    return httpx.Response(200, json=openai_chat_answer(json.dumps(answer)))


def provider(settings: Settings, **kw: Any) -> OpenAISubtitleProvider:
    return OpenAISubtitleProvider(settings, base_url=BASES["openai"], **kw)


def test_only_requests_needing_translation_are_taken(cloud_settings: Settings) -> None:
    p = provider(cloud_settings)
    assert p.translates
    assert p.supports(SubtitleGenerationRequest(text="Hi.", source_language="en", target_language="fr"))
    assert not p.supports(SubtitleGenerationRequest(text="Hi.", target_language="fr"))
    assert not p.supports(SubtitleGenerationRequest(text="Hi.", source_language="fr", target_language="fr"))


def test_auto_timing_translates_cue_by_cue_in_one_structured_call(
    http: respx.MockRouter, cloud_settings: Settings, make_ctx: MakeCtx
) -> None:
    route = http.post(CHAT).mock(side_effect=translator)
    ctx, rec = make_ctx()
    request = SubtitleGenerationRequest(text=TEXT, source_language="en", target_language="fr", format="vtt")
    out = run(provider(cloud_settings).run(request, ctx))
    assert route.call_count == 1
    body = json.loads(route.calls[0].request.content)
    assert body["model"] == "gpt-4o-mini" and body["temperature"] == 0
    assert body["response_format"]["type"] == "json_schema" and body["response_format"]["json_schema"]["strict"]
    assert "from English to French" in body["messages"][0]["content"]
    subs = pysubs2.SSAFile.from_string(out["content"])
    assert len(subs) == out["cues"] >= 3
    assert all(ev.plaintext.startswith("[fr] ") for ev in subs)
    assert "Good morning, everyone." in subs[0].plaintext  # order kept although the model reordered
    assert all(a.end <= b.start for a, b in itertools.pairwise(subs))
    assert set(out) == {"subtitle_url", "format", "content", "cues", "duration", "metadata"}
    assert artifact_bytes(out["subtitle_url"]).decode() == out["content"] and out["format"] == "vtt"
    assert out["metadata"]["translated"] and out["metadata"]["language"] == "fr"
    assert ctx.cost == pytest.approx(prices.tokens_cost(prices.OPENAI_CHAT["gpt-4o-mini"], 19, 10))
    assert rec.values and max(rec.values) >= 0.9


def test_manual_timings_are_kept(http: respx.MockRouter, cloud_settings: Settings, make_ctx: MakeCtx) -> None:
    http.post(CHAT).mock(side_effect=translator)
    request = SubtitleGenerationRequest(
        text="Hello.\nGoodbye.",
        source_language="en",
        target_language="de",
        timing_mode="manual",
        cues=[Cue(start=1.0, end=2.5), Cue(start=3.0, end=4.0)],
    )
    out = run(provider(cloud_settings).run(request, make_ctx()[0]))
    subs = pysubs2.SSAFile.from_string(out["content"])
    assert [(e.start, e.end, e.plaintext) for e in subs] == [
        (1000, 2500, "[fr] Hello."),
        (3000, 4000, "[fr] Goodbye."),
    ]
    assert out["duration"] == 4.0


def test_long_texts_are_translated_in_batches(
    http: respx.MockRouter, cloud_settings: Settings, make_ctx: MakeCtx
) -> None:
    route = http.post(CHAT).mock(side_effect=translator)
    p = provider(cloud_settings)
    p.batch_size = 2  # type: ignore[misc]
    text = " ".join(f"Sentence number {i} is here." for i in range(7))
    out = run(p.run(SubtitleGenerationRequest(text=text, source_language="en", target_language="es"), make_ctx()[0]))
    assert route.call_count == 4 and out["cues"] == 7
    texts = [e.plaintext for e in pysubs2.SSAFile.from_string(out["content"])]
    assert texts == [f"[fr] Sentence number {i} is here." for i in range(7)]


def test_a_refusal_is_content_rejected(http: respx.MockRouter, cloud_settings: Settings, make_ctx: MakeCtx) -> None:
    http.post(CHAT).respond(200, json=openai_chat_answer("", refusal="I can't help with that."))
    request = SubtitleGenerationRequest(text="Hi.", source_language="en", target_language="fr")
    with pytest.raises(ContentRejected):
        run(provider(cloud_settings).run(request, make_ctx()[0]))


@pytest.mark.parametrize(
    ("content", "finish"),
    [
        ('{"cues": [{"id": 0, "text": "x"}, {"id": 7, "text": "y"}]}', "stop"),
        ("not json", "stop"),
        ("{", "length"),
    ],
)
def test_a_malformed_answer_is_retryable(
    http: respx.MockRouter, cloud_settings: Settings, make_ctx: MakeCtx, content: str, finish: str
) -> None:
    http.post(CHAT).respond(200, json=openai_chat_answer(content, finish_reason=finish))
    request = SubtitleGenerationRequest(text="One. Two.", source_language="en", target_language="fr")
    with pytest.raises(RetryableError):
        run(provider(cloud_settings).run(request, make_ctx()[0]))
