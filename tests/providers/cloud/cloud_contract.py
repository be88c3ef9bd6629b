"""The providers' OpenAPI documents (copied under ``specs/`` so the tests are self-contained) as
validators of what the adapters send and of what the fakes answer, via openapi-core.

``check_calls`` is run on every respx call of a test by the ``http`` fixture: a request to the
OpenAI, AssemblyAI or RunwayML fake that the document does not allow fails the test.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from functools import cache
from typing import Any
from urllib.parse import parse_qs

import httpx
from fake_answers import BASES, document, form_fields
from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.templating.responses.exceptions import ResponseNotFound
from werkzeug.datastructures import Headers, ImmutableMultiDict


def _binary(value: bytes | str, **params: str) -> str:
    """``type: string, format: binary`` bodies as text (OAS 3.1 validators want a str)."""
    return value.decode("latin-1") if isinstance(value, bytes) else value


def _strip_bare_discriminators(node: Any) -> Any:
    """Drop ``discriminator`` objects without a ``mapping``: the OpenAI document names schemas
    implicitly (``role: system``), which openapi-core resolves as missing ``#/components/schemas/
    system``. ``oneOf`` alone still validates, and more strictly."""
    if isinstance(node, dict):
        return {
            k: _strip_bare_discriminators(v)
            for k, v in node.items()
            if not (k == "discriminator" and isinstance(v, dict) and "mapping" not in v)
        }
    if isinstance(node, list):
        return [_strip_bare_discriminators(v) for v in node]
    return node


class _Request:
    """An ``httpx.Request`` as openapi-core's request protocol, moved onto the document's server."""

    def __init__(self, request: httpx.Request, host_url: str, path: str) -> None:
        self._request, self.host_url, self.path = request, host_url, path
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(parse_qs(request.url.query.decode())),
            header=Headers(dict(request.headers)),
            cookie=ImmutableMultiDict(),
        )

    @property
    def method(self) -> str:
        return self._request.method.lower()

    @property
    def body(self) -> bytes | None:
        return self._request.read() or None

    @property
    def content_type(self) -> str:
        return self._request.headers.get("content-type", "").lower()


class _Response:
    """An ``httpx.Response`` as openapi-core's response protocol."""

    def __init__(self, response: httpx.Response) -> None:
        self.status_code = response.status_code
        self.headers = Headers(dict(response.headers))
        self.content_type = response.headers.get("content-type", "").lower()
        self.data = response.content or None


class Contract:
    """One provider's OpenAPI document, validating what the adapter sends to ``test_base``."""

    def __init__(self, document: dict[str, Any], test_base: str, *, strict_spec: bool = True) -> None:
        self.document = document
        self.server = document["servers"][0]["url"].rstrip("/")
        self.test_base = test_base.rstrip("/")
        deserializers: dict[str, Callable[..., Any]] = {
            "multipart/form-data": form_fields,
            "application/octet-stream": _binary,
        }
        config = Config(extra_media_type_deserializers=deserializers)
        if not strict_spec:
            config = Config(extra_media_type_deserializers=deserializers, spec_validator_cls=None)
        self.api = OpenAPI.from_dict(_strip_bare_discriminators(copy.deepcopy(document)), config=config)

    def owns(self, request: httpx.Request) -> bool:
        return str(request.url).startswith(self.test_base + "/")

    def _wrap(self, request: httpx.Request) -> _Request:
        url = httpx.URL(self.server + str(request.url)[len(self.test_base) :])
        return _Request(request, f"{url.scheme}://{url.netloc.decode()}", url.path)

    def validate_request(self, request: httpx.Request) -> None:
        """Fail unless the request matches an operation of the document (path, parameters,
        security and body schema)."""
        try:
            self.api.validate_request(self._wrap(request))
        except Exception as e:
            raise AssertionError(f"{request.method} {request.url} violates the OpenAPI document: {e}") from e

    def validate_response(self, request: httpx.Request, response: httpx.Response) -> None:
        """Fail if a fake answer contradicts a response the document describes (undocumented
        status codes are skipped: the document has nothing to say about them)."""
        try:
            self.api.validate_response(self._wrap(request), _Response(response))
        except ResponseNotFound:
            return
        except Exception as e:
            raise AssertionError(f"fake answer to {request.method} {request.url} violates the document: {e}") from e


def _openai_fixed() -> dict[str, Any]:
    """The OpenAI document with two known gaps closed, each checked against its own examples:
    the transcription answer is a ``oneOf`` that its own verbose example matches twice (the JSON
    variant only requires ``text``), so it is read as ``anyOf``; and ``text``/``srt``/``vtt``
    answers are plain text, which the document's prose describes but its content map omits."""
    doc = copy.deepcopy(document("openai-media-subset.json"))
    content = doc["paths"]["/audio/transcriptions"]["post"]["responses"]["200"]["content"]
    content["application/json"]["schema"] = {"anyOf": content["application/json"]["schema"]["oneOf"]}
    content["text/plain"] = {"schema": {"type": "string"}}
    return doc


@cache
def contracts() -> tuple[Contract, ...]:
    """The three documented APIs (the OpenAI subset does not pass strict spec validation: one
    ``default: null`` on an object schema, so its own validation is skipped)."""
    return (
        Contract(_openai_fixed(), BASES["openai"], strict_spec=False),
        Contract(document("assemblyai-subset.json"), BASES["assemblyai"]),
        Contract(document("runway-openapi.yaml"), BASES["runway"]),
    )


def check_calls(calls: Any) -> int:
    """Validate every recorded request to a documented API (and its fake answer); returns how
    many were checked."""
    checked = 0
    for call in calls:
        for contract in contracts():
            if contract.owns(call.request):
                contract.validate_request(call.request)
                if call.has_response:
                    contract.validate_response(call.request, call.response)
                checked += 1
    return checked
