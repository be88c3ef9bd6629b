"""Test kit for the cloud adapters: the fake hosts and keys, fake answers built from the OpenAPI
documents' own examples (or, for Stability AI and fal.ai, which publish none here, from their
documented shapes), and helpers to run an adapter and read what it stored.

No test talks to a provider: every base URL is a ``.test`` host (a reserved TLD that never
resolves) served by respx routes, and the fixtures also refuse any real socket connection.
"""

from __future__ import annotations

import base64
import copy
import json
import re
from email.message import Message
from email.parser import BytesParser
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import yaml
from attempt_context import artifact_path

#: fake base URLs, one per provider (``.test`` never resolves)
BASES = {
    "openai": "https://api.openai.test/v1",
    "stability": "https://api.stability.test",
    "runway": "https://api.runway.test",
    "fal": "https://queue.fal.test",
    "assemblyai": "https://api.assemblyai.test",
}
CDN = "https://cdn.provider.test"
KEYS = {
    "OPENAI_API_KEY": "sk-test-openai-key-0123456789abcdef",
    "STABILITY_API_KEY": "sk-test-stability-key-0123456789",
    "RUNWAYML_API_SECRET": "key_test_runway_0123456789abcdef",
    "FAL_KEY": "test-fal-id:test-fal-secret-0123456789",
    "ASSEMBLYAI_API_KEY": "test-assemblyai-key-0123456789abcdef",
}
#: a 1x1 PNG, the smallest real image an adapter can store
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 64
RUNWAY_TASK_ID = "17f20503-6c24-4c16-946b-35dbbce2af2f"


# -- answers built from the documents' examples ---------------------------------------------------


SPECS = Path(__file__).parent / "specs"


@cache
def document(name: str) -> dict[str, Any]:
    text = (SPECS / name).read_text()
    return yaml.safe_load(text) if name.endswith(".yaml") else json.loads(text)


def form_fields(value: bytes | str, **params: str) -> dict[str, str]:
    """Multipart form fields as text (openapi-core 0.23's own multipart decoding turns absent
    array fields into ``[]`` and keeps text parts as bytes, which the OAS 3.1 schemas reject)."""
    raw = value if isinstance(value, bytes) else value.encode("latin-1")
    head = f"Content-Type: multipart/form-data; boundary={params['boundary']}\r\n\r\n".encode()
    message = BytesParser().parsebytes(head + raw)
    fields: dict[str, str] = {}
    parts = message.get_payload()
    assert isinstance(parts, list)
    for part in parts:
        assert isinstance(part, Message)
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        fields[str(part.get_param("name", header="content-disposition"))] = payload.decode("latin-1")
    return fields


def _oai_example(path: str, title: str) -> dict[str, Any]:
    examples = document("openai-media-subset.json")["paths"][path]["post"]["x-oaiMeta"]["examples"]
    text = next(e["response"] for e in examples if e["title"] == title)
    return json.loads(re.sub(r",\s*\.\.\.", "", text))  # the docs elide list items with "..."


def openai_images_answer(n: int = 1, *, url: bool = False) -> dict[str, Any]:
    body = _oai_example("/images/generations", "Generate image")
    item = (
        {"url": f"{CDN}/img-{{i}}.png", "revised_prompt": "a revised prompt"}
        if url
        else {"b64_json": base64.b64encode(PNG).decode()}
    )
    body["data"] = [{k: v.format(i=i) if k == "url" else v for k, v in item.items()} for i in range(n)]
    if url:
        body.pop("usage", None)
    return body


def openai_verbose_transcript() -> dict[str, Any]:
    schema = document("openai-media-subset.json")["components"]["schemas"]
    return json.loads(
        re.sub(r",\s*\.\.\.", "", schema["CreateTranscriptionResponseVerboseJson"]["x-oaiMeta"]["example"])
    )


def openai_chat_answer(content: str, *, finish_reason: str = "stop", refusal: str | None = None) -> dict[str, Any]:
    body = json.loads(
        document("openai-media-subset.json")["paths"]["/chat/completions"]["post"]["x-oaiMeta"]["examples"][0][
            "response"
        ]
    )
    body["choices"][0]["message"].update({"content": None if refusal else content, "refusal": refusal})
    body["choices"][0]["finish_reason"] = finish_reason
    return body


def openai_error(message: str, *, type_: str = "invalid_request_error", code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


def runway_task(example: str, **changes: Any) -> dict[str, Any]:
    """A task from the document's examples (pending, throttled, running, succeeded, failed)."""
    examples = document("runway-openapi.yaml")["paths"]["/v1/tasks/{id}"]["get"]["responses"]["200"]["content"]
    body = copy.deepcopy(examples["application/json"]["examples"][example]["value"])
    body["id"] = RUNWAY_TASK_ID
    return {**body, **changes}


def assemblyai_transcript(status: str, transcript_id: str = "9ea68fd3-f953-42c1-9742-976c447fb463") -> dict[str, Any]:
    """The document's example transcript with another status."""
    body = copy.deepcopy(document("assemblyai-subset.json")["components"]["schemas"]["Transcript"]["example"])
    body.update({"id": transcript_id, "status": status})
    if status != "completed":
        for key in ("text", "words", "utterances", "confidence", "audio_duration"):
            body[key] = None
    return body


def assemblyai_example(name: str) -> Any:
    """A named example: ``SrtSubtitlesResponse``, ``VttSubtitlesResponse`` or a schema example."""
    doc = document("assemblyai-subset.json")["components"]
    if name in doc["examples"]:
        return doc["examples"][name]["value"]
    return copy.deepcopy(doc["schemas"][name]["example"])


def multipart_fields(request: httpx.Request) -> dict[str, str]:
    """The text fields of a multipart request (for asserting what an adapter sent)."""
    ctype = request.headers["content-type"]
    boundary = ctype.split("boundary=", 1)[1]
    return form_fields(request.read(), boundary=boundary)


# -- running adapters -----------------------------------------------------------------------------


def artifact_bytes(url: str) -> bytes:
    """The bytes of a local ``file://`` artifact."""
    return artifact_path(url).read_bytes()
