"""The done-when of issue 25 (items 1-3), on the real local Ray: two Whisper models from the
catalogue (one on the loopback S3 server, one in a local Hub cache folder) and a diffusers model
with a LoRA adapter serve interleaved requests through the SDK and the HTTP API, one pool actor per
provider holding them all, each model loaded once per node and fetched once per node."""

from __future__ import annotations

import asyncio
import functools
import http.server
import importlib.util
import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from ci_env import IN_CI
from loopback import serving
from PIL import Image
from s3_loopback import S3Server
from speech_clips import SPEECH

import videoai_ray as vai
from videoai_ray.api import create_app, create_token
from videoai_ray.api.context import ApiContext
from videoai_ray.artifacts import ArtifactStore
from videoai_ray.catalogue.weights import MARKER
from videoai_ray.models import TaskStatus
from videoai_ray.providers.local import DiffusersImageProvider, LocalWhisperProvider
from videoai_ray.scheduler import kill_scheduler

MISSING = DiffusersImageProvider(vai.Settings(diffusers_model=Path("/nonexistent"))).unavailable_reason()
PEFT = importlib.util.find_spec("peft") is not None
pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    ((MISSING is not None and "not installed" in MISSING) or not PEFT) and not IN_CI,
    reason=f"{MISSING or 'peft is not installed (the LoRA adapter needs it)'}")]


class QuietFiles(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from tiny_catalogue import build_tiny_lora, variant
    from tiny_models import build_tiny_stable_diffusion, build_tiny_whisper

    root = tmp_path_factory.mktemp("catalogue-models")
    whisper = build_tiny_whisper(root)
    sd = build_tiny_stable_diffusion(root, vae_blocks=4)  # 512x512 from 64x64 latents: fast on a CPU
    return {"whisper": whisper, "whisper_hub": variant(whisper, root / "whisper-hub", "hub"), "sd": sd,
            "lora": build_tiny_lora(sd, root / "lora")}


@pytest.fixture(scope="module")
def cat_client(ray_session: None, tmp_path_factory: pytest.TempPathFactory, built: dict[str, Path],
               s3_server: S3Server) -> Iterator[vai.Client]:
    from tiny_catalogue import fill_hub_cache, upload

    bucket = s3_server.make_bucket("catalogue")
    upload(s3_server.fs(), built["whisper"], f"{bucket}/models/whisper-s3")
    upload(s3_server.fs(), built["whisper"], f"{bucket}/models/tampered")
    hub = tmp_path_factory.mktemp("hf-cache")
    commit = fill_hub_cache(hub, "acme/whisper-hub", built["whisper_hub"])
    settings = vai.Settings(home=tmp_path_factory.mktemp("catalogue-home"), instance="t-catalogue",
                            whisper_model=built["whisper"], diffusers_model=built["sd"], diffusers_steps=2,
                            max_retries=0, url_allowlist=("127.0.0.1",), storage_options=s3_server.storage_options,
                            model_roots=(f"s3://{bucket}/models",), hf_cache_dir=hub)
    kill_scheduler(settings)
    providers = [LocalWhisperProvider(settings), DiffusersImageProvider(settings)]
    for p in providers:  # one actor per pool for the whole module, however slow the machine
        p.pool_idle_s = 1200  # type: ignore[misc]
    client = vai.connect(settings=settings, providers=providers)
    client.models.register("whisper-s3", provider="whisper", source=f"s3://{bucket}/models/whisper-s3/")
    client.models.register("tampered", provider="whisper", source=f"s3://{bucket}/models/tampered/")
    client.models.register("sd-base", provider="diffusers", source=str(built["sd"]))
    client.models.register("sd-lora", provider="diffusers", source=str(built["lora"]), base="sd-base")
    client.hub_commit = commit  # type: ignore[attr-defined]
    client.bucket = bucket  # type: ignore[attr-defined]
    yield client
    kill_scheduler(settings)


@pytest.fixture(scope="module")
def speech_server() -> Iterator[str]:
    with serving(functools.partial(QuietFiles, directory=str(SPEECH))) as url:
        yield url


def _actor(client: vai.Client, provider: str, models: int) -> dict[str, Any]:
    """The pool's one actor, once its listing shows ``models`` loaded (it is refreshed after a load)."""
    deadline = time.monotonic() + 30
    while True:
        pool = next(r for r in client.service.providers.list() if r["name"] == provider)["pool"]
        assert pool is not None and pool["started"] == 1, pool
        [actor] = pool["actors"]
        if len(actor.get("model_loads", {})) >= models or time.monotonic() > deadline:
            return dict(actor)
        time.sleep(0.2)


async def _done(c: httpx.AsyncClient, answer: httpx.Response) -> httpx.Response:
    """The task of a submit once it is done (a slow machine may need more than one 60 s wait)."""
    assert answer.status_code in (200, 201, 202), answer.text
    deadline = time.monotonic() + 600
    while answer.json()["status"] not in ("completed", "failed", "cancelled") and time.monotonic() < deadline:
        await asyncio.sleep(1.0)
        answer = await c.get(f"/api/v1/media/tasks/{answer.json()['id']}")
    return answer


def _pixels(store: ArtifactStore, task: vai.Task) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(store.read_bytes((task.output or {})["image_url"]))), dtype=float)


@pytest.mark.timeout(1200)
def test_interleaved_models_through_the_sdk_and_http(cat_client: vai.Client, speech_server: str,
                                                     s3_server: S3Server) -> None:
    client = cat_client
    settings = client.settings
    ctx = ApiContext.start(settings, client.scheduler)
    admin = {"Authorization": f"Bearer {create_token(settings, 'root', admin=True)}"}
    user = {"Authorization": f"Bearer {create_token(settings, 'http-user')}"}
    commit = client.hub_commit  # type: ignore[attr-defined]

    async def register_hub() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(ctx)), base_url="http://t") as c:
            return await c.post("/api/v1/media/models", headers=admin, json={
                "name": "whisper-hub", "provider": "whisper", "source": f"hf://acme/whisper-hub@{commit}"})

    # the Hub model is added over HTTP by an admin (a URL-less source the server may read: the Hub cache)
    added = asyncio.run(register_hub())
    assert added.status_code == 201, added.text
    assert set(client.models.list().index) == {"whisper-s3", "whisper-hub", "tampered", "sd-base", "sd-lora"}

    # -- the SDK: one batch, the models interleaved, the same clip and the same prompt and seed
    clip = client.upload(SPEECH / "fox_rms.wav")
    names = ["whisper-s3", "whisper-hub", "whisper-1"]
    images = ["sd-base", "sd-lora"]
    speech: list[dict[str, Any]] = [{"task_type": "audio_transcription",
                                     "input_data": {"audio_url": clip, "model": n, "language": "pt"}} for n in names]
    draw: list[dict[str, Any]] = [{"task_type": "image_generation",
                                   "input_data": {"prompt": "t1 t2", "size": "512x512", "seed": 3, "model": m}}
                                  for m in images]
    items = [speech[0], draw[0], speech[1], draw[1], speech[2]]
    batch = client.batch(items)
    assert batch.wait(timeout=600) == {"completed": 5}, [t.error for t in batch.results()]
    tasks = batch.results()
    stt = [tasks[0], tasks[2], tasks[4]]
    for n, t in zip(names, stt, strict=True):
        meta = (t.output or {})["metadata"]
        assert t.provider == "local-whisper" and meta["requested_model"] == n and t.output["language"] == "pt"
        assert meta["model"].startswith(f"{n}@") if n != "whisper-1" else meta["model"].endswith("tiny-whisper")
    assert not any(t.cache_hit for t in stt)  # the same clip: one cache key per model and revision
    store = ArtifactStore(settings.artifacts_root)
    base, lora = _pixels(store, tasks[1]), _pixels(store, tasks[3])
    assert np.abs(lora - base).mean() > 1.0  # the adapter changes the image
    assert [(t.output or {})["metadata"]["model"].split("@")[0] for t in (tasks[1], tasks[3])] == images

    # -- over HTTP, more of the same: the models are warm, nothing loads again
    async def over_http() -> dict[str, httpx.Response]:
        out = {}
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(ctx)), base_url="http://t",
                                     headers=user, timeout=300) as c:
            for n in ("whisper-hub", "whisper-s3"):
                out[n] = await _done(c, await c.post("/api/v1/media/audio/transcribe", params={"wait": 60}, json={
                    "audio_url": f"{speech_server}/fox_rms.wav", "model": n, "response_format": "srt"}))
            out["sd-lora"] = await _done(c, await c.post("/api/v1/media/images/generate", params={"wait": 60}, json={
                "prompt": "t1 t5", "size": "512x512", "seed": 4, "model": "sd-lora"}))
            out["unknown"] = await c.post("/api/v1/media/audio/transcribe", json={
                "audio_url": f"{speech_server}/fox_rms.wav", "model": "nope"})
            out["wrong-kind"] = await c.post("/api/v1/media/images/generate", json={
                "prompt": "t1", "model": "whisper-s3"})
            out["list"] = await c.get("/api/v1/media/models")
        return out

    r = asyncio.run(over_http())
    for n in ("whisper-hub", "whisper-s3", "sd-lora"):
        assert r[n].json()["status"] == TaskStatus.COMPLETED.value, r[n].text
    assert r["whisper-hub"].json()["output"]["metadata"]["model"] == f"whisper-hub@{commit}"
    for bad in ("unknown", "wrong-kind"):
        assert r[bad].status_code == 422 and r[bad].json()["error"]["field"] == "model", r[bad].text
    assert "source" not in r["list"].json()["models"][0]

    # -- each model loaded once on this node (one actor per pool), the S3 one fetched once
    whisper, diffusers = _actor(client, "local-whisper", 2), _actor(client, "local-diffusers", 2)
    assert sorted(k.split("@")[0] for k in whisper["model_loads"]) == ["whisper-hub", "whisper-s3"]
    assert set(whisper["model_loads"].values()) == {1} and whisper["model_downloads"] == 1
    assert sorted(k.split("@")[0] for k in diffusers["model_loads"]) == ["sd-base", "sd-lora"]
    assert set(diffusers["model_loads"].values()) == {1} and diffusers["model_downloads"] == 0
    cache = Path(settings.home) / "model-cache"
    fetched = [p for p in cache.iterdir() if (p / MARKER).is_file()]
    assert [p.name.rsplit("-", 1)[0] for p in fetched] == ["whisper-s3"]


def test_tampered_weights_fail_the_task_as_permanent(cat_client: vai.Client, s3_server: S3Server) -> None:
    bucket = cat_client.bucket  # type: ignore[attr-defined]
    s3_server.fs().pipe_file(f"{bucket}/models/tampered/config.json", b"{}")
    fut = cat_client.audio.transcribe(file=str(SPEECH / "fox_rms.wav"), model="tampered")
    task = fut.wait(timeout=120)
    assert task.status is TaskStatus.FAILED and task.error is not None
    assert "hash mismatch" in (task.error.message or "") and task.error.retryable is False
    cache = Path(cat_client.settings.home) / "model-cache"
    assert not [p for p in cache.iterdir() if p.name.startswith(("tampered", ".partial")) and p.suffix != ".lock"]
