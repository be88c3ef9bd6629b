"""``local-whisper`` and ``local-diffusers`` end to end with tiny random-weight models that these
tests build (``tiny_models``), loaded through the providers' real path in their actor pools, via
the SDK and the HTTP API (the FastAPI app in process, against the same Scheduler)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import io
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from local_helpers import IN_CI, SPEECH
from PIL import Image

import videoai_ray as vai
from videoai_ray.api import create_app, create_token
from videoai_ray.api.context import ApiContext
from videoai_ray.artifacts import ArtifactStore
from videoai_ray.models import TaskStatus
from videoai_ray.providers.local import DiffusersImageProvider, LocalWhisperProvider
from videoai_ray.scheduler import kill_scheduler

MISSING = DiffusersImageProvider(vai.Settings(diffusers_model=Path("/nonexistent"))).unavailable_reason()
pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    MISSING is not None and "not installed" in MISSING and not IN_CI, reason=f"{MISSING}")]


@pytest.fixture(scope="module")
def models_client(ray_session: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[vai.Client]:
    from tiny_models import build_tiny_stable_diffusion, build_tiny_whisper

    root = tmp_path_factory.mktemp("tiny-models")
    settings = vai.Settings(home=tmp_path_factory.mktemp("models-home"), instance="t-models", cache_enabled=False,
                            whisper_model=build_tiny_whisper(root), diffusers_model=build_tiny_stable_diffusion(root),
                            diffusers_steps=2, max_retries=0, url_allowlist=("127.0.0.1",))
    kill_scheduler(settings)
    client = vai.connect(settings=settings,
                         providers=[LocalWhisperProvider(settings), DiffusersImageProvider(settings)])
    yield client
    kill_scheduler(settings)


def _pool(client: vai.Client, name: str) -> dict[str, Any]:
    return dict(next(r for r in client.service.providers() if r["name"] == name)["pool"])


def test_tiny_whisper_in_its_pool(models_client: vai.Client) -> None:
    clip = models_client.upload(SPEECH / "fox_rms.wav")
    items = [{"task_type": "audio_transcription", "input_data": {"audio_url": clip, "response_format": fmt,
                                                                  **({"language": "en"} if i % 2 else {})}}
             for i, fmt in enumerate(["json", "srt", "vtt", "text"])]
    batch = models_client.batch(items)
    assert batch.wait(timeout=240) == {"completed": 4}, [t.error for t in batch.results()]
    for t in batch.results():
        out = t.output or {}
        assert t.provider == "local-whisper" and out["metadata"]["model"].endswith("tiny-whisper")
        assert out["metadata"]["device"] == "cpu" and "int8" in out["metadata"]["engine"]
        assert out["duration"] == pytest.approx(3.47, abs=0.1)
        assert all(0 <= s["start"] <= s["end"] <= out["duration"] + 0.05 for s in out["segments"])
        assert out["language"]  # detected when absent, the requested one otherwise
    pool = _pool(models_client, "local-whisper")
    assert pool["started"] == 1 and pool["loads"] == 1 and pool["items"] == 4


def test_tiny_whisper_refuses_a_language_its_loaded_model_lacks(models_client: vai.Client) -> None:
    """This CTranslate2 build treats the tiny random model as English-only (although its vocabulary
    holds 100 language tokens): the registry's guess from the vocabulary lets ``pt`` through, and
    the pool actor, which asks the loaded model, refuses it with the list."""
    fut = models_client.audio.transcribe(file=str(SPEECH / "fox_rms.wav"), language="pt")
    task = fut.wait(timeout=120)
    assert task.status is TaskStatus.FAILED and task.error is not None
    assert task.error.code == "invalid_input" and "does not know language 'pt' (it knows: en)" in task.error.message


def test_tiny_diffusion_batches_equal_sizes_and_honours_seeds(models_client: vai.Client) -> None:
    items = [{"task_type": "image_generation", "input_data": {"prompt": "t1 t2", "size": "512x512", "seed": 7,
                                                               "n": n, "style": "anime"}} for n in (1, 2)]
    items.append({"task_type": "image_generation", "input_data": {"prompt": "t1 t2", "size": "512x512", "seed": 8}})
    batch = models_client.batch(items)
    assert batch.wait(timeout=300) == {"completed": 3}, [t.error for t in batch.results()]
    tasks = batch.results()
    store = ArtifactStore(models_client.settings.artifacts_root)
    pngs = [[store.read_bytes(i["url"]) for i in (t.output or {})["images"]] for t in tasks]
    assert [len(p) for p in pngs] == [1, 2, 1]
    assert Image.open(io.BytesIO(pngs[0][0])).size == (512, 512)
    assert pngs[0][0] == pngs[1][0]  # same prompt, style and seed: the same image
    assert pngs[1][1] != pngs[1][0] and pngs[2][0] != pngs[0][0]  # seed + 1, another seed
    meta = tasks[1].output["metadata"]
    assert meta["steps"] == 2 and meta["dtype"] == "float32" and meta["batch_images"] == 4  # one call, 3 requests
    assert _pool(models_client, "local-diffusers")["largest_batch"] == 3


@contextlib.contextmanager
def _serving(folder: Path) -> Iterator[str]:
    """A loopback HTTP server for ``folder``'s files; yields its base URL."""
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_models_over_http(models_client: vai.Client) -> None:
    settings = models_client.settings
    ctx = ApiContext.start(settings, models_client.scheduler)
    headers = {"Authorization": f"Bearer {create_token(settings, 'http-user')}"}

    async def call(audio_url: str) -> tuple[httpx.Response, httpx.Response, httpx.Response]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(ctx)), base_url="http://t",
                                     headers=headers, timeout=300) as c:
            img = await c.post("/api/v1/media/images/generate", params={"wait": 60},
                               json={"prompt": "t5", "size": "512x512", "seed": 1, "provider": "local-diffusers"})
            stt = await c.post("/api/v1/media/audio/transcribe", params={"wait": 60},
                               json={"audio_url": audio_url, "provider": "local-whisper"})
            listing = await c.get("/api/v1/media/providers")
            return img, stt, listing

    with _serving(SPEECH) as origin:  # over HTTP an input is an http(s) URL; loopback is allowlisted here
        img, stt, listing = asyncio.run(call(f"{origin}/fox_rms.wav"))
    assert img.status_code in (200, 201, 202), img.text
    assert img.json()["status"] == TaskStatus.COMPLETED.value, img.json()
    assert stt.json()["status"] == TaskStatus.COMPLETED.value, stt.json()
    rows = {r["name"]: r for r in listing.json()["providers"]}
    assert rows["local-diffusers"]["pool"]["loads"] >= 1 and rows["local-whisper"]["pool"]["batches"] >= 1


def test_diffusers_without_a_folder_says_what_to_set(tmp_path: Path) -> None:
    reason = DiffusersImageProvider(vai.Settings(home=tmp_path)).unavailable_reason()
    assert reason is not None and "VIDEOAI_DIFFUSERS_MODEL" in reason
    assert "model_index.json" in (DiffusersImageProvider(vai.Settings(home=tmp_path, diffusers_model=tmp_path))
                                  .unavailable_reason() or "")
