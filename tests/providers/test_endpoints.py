"""Each cloud provider's endpoint is a setting, under the variable its own SDK reads, so a team
routes every call through its gateway; an endpoint from settings is the operator's, and the URL
guard (which refuses loopback and private addresses for user-supplied URLs) does not block it."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from attempt_context import MakeCtx, run
from loopback import QuietHandler, serving
from pydantic import SecretStr

from videoai_ray.models import ImageGenerationRequest
from videoai_ray.providers.cloud import CLOUD_PROVIDER_CLASSES, OpenAIImageProvider
from videoai_ray.settings import Settings

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def test_every_cloud_provider_reads_its_endpoint_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "https://gateway.internal/openai/v1/")
    monkeypatch.setenv("STABILITY_API_HOST", "https://gateway.internal/stability")
    monkeypatch.setenv("RUNWAYML_BASE_URL", "https://gateway.internal/runway")
    monkeypatch.setenv("FAL_QUEUE_RUN_HOST", "queue.gateway.internal")  # fal's variable names a host
    monkeypatch.setenv("ASSEMBLYAI_BASE_URL", "http://10.0.0.7:8080/assemblyai")
    settings = Settings()
    bases = {cls.name: cls(settings).base_url for cls in CLOUD_PROVIDER_CLASSES}
    assert bases == {
        "openai-gpt-image": "https://gateway.internal/openai/v1",
        "openai-dall-e-3": "https://gateway.internal/openai/v1",
        "openai-whisper": "https://gateway.internal/openai/v1",
        "openai-subtitles": "https://gateway.internal/openai/v1",
        "stability-core": "https://gateway.internal/stability",
        "runway": "https://gateway.internal/runway",
        "pika": "https://queue.gateway.internal",
        "assemblyai": "http://10.0.0.7:8080/assemblyai",
    }
    # unset: each provider's own host; an explicit base_url (tests, code) still wins
    for name in ("OPENAI_BASE_URL", "STABILITY_API_HOST", "RUNWAYML_BASE_URL", "FAL_QUEUE_RUN_HOST",
                 "ASSEMBLYAI_BASE_URL"):
        monkeypatch.delenv(name)
    assert OpenAIImageProvider(Settings()).base_url == "https://api.openai.com/v1"
    assert OpenAIImageProvider(settings, base_url="https://x.test/v1").base_url == "https://x.test/v1"


@pytest.mark.parametrize("bad", ["ftp://gateway.internal", "file:///etc/passwd"])
def test_an_endpoint_must_be_http(monkeypatch: pytest.MonkeyPatch, bad: str) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", bad)
    with pytest.raises(ValueError, match=r"openai_base_url|OPENAI_BASE_URL"):
        Settings()


@pytest.fixture
def gateway() -> Iterator[dict[str, Any]]:
    """A loopback OpenAI-compatible gateway (what the URL guard refuses for user URLs)."""
    seen: dict[str, Any] = {}

    class Handler(QuietHandler):
        def do_POST(self) -> None:
            seen["path"] = self.path
            seen["auth"] = self.headers.get("Authorization")
            seen["body"] = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            payload = json.dumps({"created": 1, "data": [{"b64_json": base64.b64encode(PNG).decode()}]}).encode()
            self.answer(200, payload, "application/json")

    with serving(Handler) as url:
        seen["url"] = f"{url}/v1"
        yield seen


def test_a_gateway_on_a_loopback_address_is_reached(gateway: dict[str, Any], settings: Settings,
                                                    make_ctx: MakeCtx) -> None:
    configured = settings.model_copy(update={
        "url_allowlist": (),  # nothing admitted for user URLs: the endpoint is not one
        "openai_base_url": gateway["url"], "openai_api_key": SecretStr("sk-team-gateway-key"),
    })
    provider = OpenAIImageProvider(configured)
    ctx, _ = make_ctx(settings=configured)
    out = run(provider.run(ImageGenerationRequest(prompt="a fox", size="1024x1024"), ctx))
    assert out["images"] and gateway["path"] == "/v1/images/generations"
    assert gateway["auth"] == "Bearer sk-team-gateway-key" and gateway["body"]["model"] == "gpt-image-1"
