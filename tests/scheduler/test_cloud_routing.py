"""The registry choosing between local and cloud providers, and failing over from one to the other,
with a local HTTP server speaking OpenAI's images protocol in place of the real host."""

from __future__ import annotations

import base64
import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PIL import Image
from pydantic import SecretStr

import videoai_ray as vai
from videoai_ray.models import ImageGenerationRequest, Strategy, TaskType
from videoai_ray.providers.cloud import cloud_providers
from videoai_ray.providers.cloud.openai_images import OpenAIImageProvider
from videoai_ray.providers.local import local_providers
from videoai_ray.providers.local.image import ProceduralImageProvider
from videoai_ray.providers.registry import ProviderRegistry
from videoai_ray.scheduler import kill_scheduler

IMG = TaskType.IMAGE_GENERATION
REQ = ImageGenerationRequest(prompt="a red fox", size="1024x1024")


@pytest.fixture
def keyed(settings):
    return settings.model_copy(update={"openai_api_key": SecretStr("sk-test"),
                                       "stability_api_key": SecretStr("sk-stab")})


def test_strategies_choose_between_local_and_cloud(keyed):
    reg = ProviderRegistry()
    for p in [*local_providers(keyed), *cloud_providers(keyed)]:
        reg.register(p)
    names = reg.candidates(IMG, REQ)
    assert {"local-procedural-image", "openai-gpt-image", "stability-core"} <= set(names)
    assert reg.pick(names, Strategy.QUALITY, REQ, now=0) == "openai-gpt-image"
    assert reg.pick(names, Strategy.COST, REQ, now=0) == "local-procedural-image"
    for name, secs in (("openai-gpt-image", 9.0), ("openai-dall-e-3", 8.0), ("stability-core", 3.0),
                       ("local-procedural-image", 0.4)):
        reg.started(name)
        reg.finished(name, ok=True, duration=secs)
    assert reg.pick(names, Strategy.SPEED, REQ, now=0) == "local-procedural-image"
    reg.started("local-procedural-image")
    reg.finished("local-procedural-image", ok=False, error="boom")
    assert reg.pick(names, Strategy.RELIABILITY, REQ, now=0) in {"openai-gpt-image", "openai-dall-e-3",
                                                                  "stability-core"}


class FakeOpenAI:
    """Just enough of ``POST /v1/images/generations``: 500 while ``failing``, else a b64 PNG."""

    def __init__(self) -> None:
        self.failing = True
        self.requests: list[dict] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
                if fake.failing:
                    payload = json.dumps({"error": {"message": "server error", "type": "server_error"}}).encode()
                    self.send_response(500)
                else:
                    buf = io.BytesIO()
                    Image.new("RGB", (1024, 1024), "red").save(buf, "PNG")
                    image = base64.b64encode(buf.getvalue()).decode()
                    usage = {"input_tokens": 10, "output_tokens": 4160, "total_tokens": 4170,
                             "input_tokens_details": {"text_tokens": 10, "image_tokens": 0}}
                    payload = json.dumps({"created": 1, "data": [{"b64_json": image}], "usage": usage}).encode()
                    self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"


@pytest.mark.slow
def test_failing_cloud_provider_fails_over_to_local(ray_session, tmp_path):
    fake = FakeOpenAI()
    # gpt-image-1's default limit (5 images a minute) would send the second task elsewhere: this
    # test is about failover, so the limit is lifted
    settings = vai.Settings(home=tmp_path, instance="t-cloud", retry_schedule=(0.2,),
                            openai_api_key=SecretStr("sk-test"), provider_rate_limits={"openai-gpt-image": None})
    kill_scheduler(settings)
    providers = [OpenAIImageProvider(settings, base_url=fake.url), ProceduralImageProvider()]
    client = vai.connect(settings=settings, providers=providers)
    try:
        task = client.images.generate(prompt="a red fox", size="512x512", use_cache=False).result(timeout=90)
        assert task.provider == "local-procedural-image" and task.attempts == 2
        assert fake.requests[0]["auth"] == "Bearer sk-test" and fake.requests[0]["body"]["model"] == "gpt-image-1"
        fake.failing = False
        task = client.images.generate(prompt="a blue fox", size="1024x1024", use_cache=False).result(timeout=90)
        assert task.provider == "openai-gpt-image" and task.attempts == 1 and task.cost and task.cost > 0
        assert task.output["image_url"].endswith(".png")
        cheap = client.images.generate(prompt="a green fox", size="512x512", strategy="cost", use_cache=False)
        assert cheap.result(timeout=90).provider == "local-procedural-image"
    finally:
        kill_scheduler(settings)
        fake.server.shutdown()
