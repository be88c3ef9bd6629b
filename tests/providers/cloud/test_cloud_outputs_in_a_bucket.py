"""The cloud adapters store their outputs in an S3 artifact store as the local providers do: the
OpenAI images adapter's base64 images, and DALL-E 3's images downloaded from the provider's CDN,
land in the bucket of ``VIDEOAI_ARTIFACTS_URL`` (the loopback S3 server), under the task's folder."""

from __future__ import annotations

import socket
from typing import Any

import httpx
import pytest
import respx
from attempt_context import MakeCtx, run
from fake_answers import BASES, CDN, PNG, openai_images_answer

from videoai_ray.models import ImageGenerationRequest
from videoai_ray.providers.cloud import OpenAIDallE3Provider, OpenAIImageProvider
from videoai_ray.settings import Settings

GENERATIONS = BASES["openai"] + "/images/generations"


#: the socket's own connect, taken before the ``no_network`` fixture replaces it
_REAL_CONNECT = socket.socket.connect


@pytest.fixture
def bucket_settings(cloud_settings: Settings, s3_server: Any, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The cloud settings with outputs in a bucket; the loopback S3 server is the one address a
    socket may reach (the provider hosts stay respx's)."""
    refuse = socket.socket.connect

    def connect(self: socket.socket, address: Any) -> None:
        if self.family == socket.AF_INET and address[0] == "127.0.0.1":
            return _REAL_CONNECT(self, address)
        return refuse(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    bucket = s3_server.make_bucket("cloud")
    return cloud_settings.model_copy(update={"artifacts_url": f"s3://{bucket}/outputs",
                                             "storage_options": s3_server.storage_options})


@pytest.mark.parametrize("provider", ["gpt-image-1", "dall-e-3"])
def test_cloud_images_are_stored_in_the_bucket(provider: str, http: respx.MockRouter, bucket_settings: Settings,
                                               make_ctx: MakeCtx, s3_server: Any) -> None:
    if provider == "dall-e-3":
        http.post(GENERATIONS).mock(side_effect=[httpx.Response(200, json=openai_images_answer(1, url=True))] * 2)
        http.get(url__startswith=CDN).respond(200, content=PNG, headers={"content-type": "image/png"})
        adapter: Any = OpenAIDallE3Provider(bucket_settings, base_url=BASES["openai"])
    else:
        http.post(GENERATIONS).respond(200, json=openai_images_answer(2))
        adapter = OpenAIImageProvider(bucket_settings, base_url=BASES["openai"])
    ctx, _ = make_ctx(task_id="task_cloud", settings=bucket_settings)
    out = run(adapter.run(ImageGenerationRequest(prompt="a quiet harbour", n=2), ctx))
    urls = [i["url"] for i in out["images"]]
    folder = f"{bucket_settings.artifacts_url}/task_cloud/"
    assert len(urls) == 2 and out["image_url"] == urls[0]
    assert all(u.startswith(folder) for u in urls), urls
    assert [s3_server.fs().cat(u.removeprefix("s3://")) for u in urls] == [PNG, PNG]
