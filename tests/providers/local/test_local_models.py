"""``local-whisper`` and ``local-diffusers`` end to end with tiny random-weight models that these
tests build (``tiny_models``), loaded through the providers' real path in their actor pools, via
the SDK and the HTTP API (the FastAPI app in process, against the same Scheduler)."""

from __future__ import annotations

import asyncio
import functools
import http.server
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pysubs2
import pytest
from ci_env import IN_CI
from faster_whisper.tokenizer import _LANGUAGE_CODES
from loopback import serving
from PIL import Image
from speech_clips import SPEECH
from tiny_models import WHISPER_LANGUAGES

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
                            whisper_model=build_tiny_whisper(root),
                            diffusers_model=build_tiny_stable_diffusion(root, vae_blocks=4),
                            diffusers_steps=2, max_retries=0, url_allowlist=("127.0.0.1",))
    kill_scheduler(settings)
    client = vai.connect(settings=settings,
                         providers=[LocalWhisperProvider(settings), DiffusersImageProvider(settings)])
    yield client
    kill_scheduler(settings)


@pytest.fixture(scope="module")
def english_client(ray_session: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[vai.Client]:
    """A Scheduler whose ``local-whisper`` has the default, English-only tiny.en (nothing is loaded:
    the requests these tests send are refused before any pool actor starts)."""
    settings = vai.Settings(home=tmp_path_factory.mktemp("en-home"), instance="t-models-en", cache_enabled=False,
                            max_retries=0)
    kill_scheduler(settings)
    client = vai.connect(settings=settings, providers=[LocalWhisperProvider(settings)])
    yield client
    kill_scheduler(settings)


@pytest.fixture(scope="module")
def speech_server() -> Iterator[str]:
    """The speech clips over HTTP on 127.0.0.1 (the one host ``url_allowlist`` lets through): an
    HTTP request names its input by URL, never a local file."""
    with serving(functools.partial(QuietFiles, directory=str(SPEECH))) as url:
        yield url


class QuietFiles(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


def _pool(client: vai.Client, name: str) -> dict[str, Any]:
    return dict(next(r for r in client.service.providers.list() if r["name"] == name)["pool"])


#: the 99 languages of the tiny multilingual model (Whisper up to large-v2: faster-whisper's but ``yue``)
WHISPER_99 = sorted(WHISPER_LANGUAGES)


def test_tiny_multilingual_whisper_knows_99_languages(models_client: vai.Client) -> None:
    assert sorted(set(_LANGUAGE_CODES) - {"yue"}) == WHISPER_99  # all of faster-whisper's but large-v3's yue
    langs = models_client.providers().loc["local-whisper", "languages"]
    assert sorted(langs) == WHISPER_99 and {"pt", "en", "es", "fr"} <= set(langs)
    # the registry's reading of the vocabulary agrees with the loaded CTranslate2 model
    provider = LocalWhisperProvider(models_client.settings)
    assert provider.languages() == langs
    provider.load()
    assert provider.model.model.is_multilingual and provider.languages() == langs


def test_tiny_whisper_honours_the_language_or_detects_it(models_client: vai.Client) -> None:
    """One batch, four formats: ``pt`` asked for in two, no language (detected) in the others."""
    clip = models_client.upload(SPEECH / "fox_rms.wav")  # an upload reference: the SDK's way to a local file
    items = [{"task_type": "audio_transcription", "input_data": {"audio_url": clip, "response_format": fmt,
                                                                  **({"language": "pt"} if i % 2 else {})}}
             for i, fmt in enumerate(["json", "srt", "vtt", "text"])]
    batch = models_client.batch(items)
    assert batch.wait(timeout=240) == {"completed": 4}, [t.error for t in batch.results()]
    store = ArtifactStore(models_client.settings.artifacts_root)
    for i, t in enumerate(batch.results()):
        out = t.output or {}
        meta = out["metadata"]
        assert t.provider == "local-whisper" and meta["model"].endswith("tiny-whisper")
        assert meta["device"] == "cpu" and "int8" in meta["engine"]
        assert out["duration"] == pytest.approx(3.47, abs=0.1)
        assert all(0 <= s["start"] <= s["end"] <= out["duration"] + 0.05 for s in out["segments"])
        if i % 2:  # asked for: honoured, nothing detected
            assert out["language"] == "pt" and meta["language_requested"] == "pt"
            assert meta["language_probability"] is None
        else:  # detected among the model's languages, with how sure the model was
            assert out["language"] in WHISPER_99 and meta["language_requested"] is None
            assert 0 < meta["language_probability"] <= 1
        stored = store.read_bytes(out["transcript_url"]).decode("utf-8")
        fmt = out["format"]
        if fmt == "json":
            assert json.loads(stored)["language"] == out["language"] and json.loads(stored)["text"] == out["text"]
        elif fmt == "text":
            assert stored == out["text"] + "\n"
        else:
            subs = pysubs2.SSAFile.from_string(stored)
            assert stored == out["content"] and subs.format == fmt
            assert len(subs) == sum(1 for s in out["segments"] if s["text"])
    pool = _pool(models_client, "local-whisper")
    assert pool["started"] == 1 and pool["loads"] == 1 and pool["items"] == 4


def test_english_only_whisper_refuses_another_language_saying_what_it_knows(english_client: vai.Client) -> None:
    assert english_client.providers().loc["local-whisper", "languages"] == ["en"]
    fut = english_client.audio.transcribe(file=str(SPEECH / "fox_rms.wav"), language="pt")
    task = fut.wait(timeout=60)
    assert task.status is TaskStatus.FAILED and task.error is not None
    assert task.error.code == "no_provider"
    assert "local-whisper: the model tiny.en does not know language 'pt' (it knows: en)" in task.error.message
    assert english_client.service.providers.list()[0]["pool"] is None  # refused before any pool or model


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


def test_models_over_http(models_client: vai.Client, speech_server: str) -> None:
    settings = models_client.settings
    ctx = ApiContext.start(settings, models_client.scheduler)
    headers = {"Authorization": f"Bearer {create_token(settings, 'http-user')}"}

    async def call() -> tuple[httpx.Response, httpx.Response, httpx.Response]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(ctx)), base_url="http://t",
                                     headers=headers, timeout=300) as c:
            img = await c.post("/api/v1/media/images/generate", params={"wait": 60},
                               json={"prompt": "t5", "size": "512x512", "seed": 1, "provider": "local-diffusers"})
            stt = await c.post("/api/v1/media/audio/transcribe", params={"wait": 60},
                               json={"audio_url": f"{speech_server}/fox_rms.wav", "provider": "local-whisper",
                                     "language": "es", "response_format": "srt"})
            listing = await c.get("/api/v1/media/providers")
            return img, stt, listing

    img, stt, listing = asyncio.run(call())
    assert img.status_code in (200, 201, 202), img.text
    assert img.json()["status"] == TaskStatus.COMPLETED.value, img.json()
    assert stt.json()["status"] == TaskStatus.COMPLETED.value, stt.json()
    assert stt.json()["output"]["language"] == "es" and stt.json()["output"]["format"] == "srt"
    rows = {r["name"]: r for r in listing.json()["providers"]}
    assert rows["local-diffusers"]["pool"]["loads"] >= 1 and rows["local-whisper"]["pool"]["batches"] >= 1
    assert sorted(rows["local-whisper"]["languages"]) == WHISPER_99 and rows["local-diffusers"]["languages"] is None


def test_diffusers_without_a_folder_says_what_to_set(tmp_path: Path) -> None:
    reason = DiffusersImageProvider(vai.Settings(home=tmp_path)).unavailable_reason()
    assert reason is not None and "VIDEOAI_DIFFUSERS_MODEL" in reason
    assert "model_index.json" in (DiffusersImageProvider(vai.Settings(home=tmp_path, diffusers_model=tmp_path))
                                  .unavailable_reason() or "")
