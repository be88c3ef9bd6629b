"""The model catalogue without Ray: registration rules and the attacks an HTTP caller may try, the
entries kept in the store across restarts, weights fetched once per node from the loopback S3
server (file lock, digest, atomic rename) or read from a local Hub cache, and the pool actor's
several loaded models (least recently used first, a cap, a memory limit)."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from s3_loopback import S3Server
from tiny_catalogue import fill_hub_cache, upload

import videoai_ray as vai
from videoai_ray.api import create_app, create_token
from videoai_ray.api.context import ApiContext
from videoai_ray.catalogue.spec import ModelSpec, check_source
from videoai_ray.catalogue.weights import MARKER, Weights, fetch, folder_digest
from videoai_ray.errors import InvalidRequest, PermanentError
from videoai_ray.pools.actor import load_progress
from videoai_ray.pools.multiplex import LoadedModels
from videoai_ray.service import MediaService


def _folder(root: Path, name: str, content: bytes = b"weights") -> Path:
    folder = root / name
    (folder / "sub").mkdir(parents=True)
    (folder / "model.bin").write_bytes(content * 100)
    (folder / "sub" / "config.json").write_text('{"a": 1}')
    return folder


@pytest.fixture
def s3_settings(tmp_path: Path, s3_server: S3Server, s3_bucket: str) -> vai.Settings:
    return vai.Settings(home=tmp_path / "home", storage_options=s3_server.storage_options,
                        model_roots=(f"s3://{s3_bucket}/models",), hf_cache_dir=tmp_path / "hub")


@pytest.fixture
def service(s3_settings: vai.Settings) -> Iterator[MediaService]:
    svc = MediaService(s3_settings, None, migrate=True)
    yield svc
    svc.close()


# -- what a caller may register ------------------------------------------------------------------


@pytest.mark.parametrize("source, why", [
    ("/etc", "only through the SDK or the CLI"),                           # the server's own folders
    ("file:///etc/", "names local files"),
    ("local:///srv/models", "names local files"),
    ("simplecache::s3://bucket/models/x", "not a plain storage URL"),      # fsspec chaining
    ("s3://bucket/models-private/x", "not under a granted model root"),   # a prefix, not a segment
    ("s3://bucket/models/../secrets", "'..'"),
    ("s3://bucket/models/x?versionId=1", "not a plain storage URL"),
    ("http://169.254.169.254/latest/", "not under a granted model root"),
    ("s3://other-bucket/models/x", "not under a granted model root"),
    ("hf://acme/repo", "hf://<org>/<repo>@<revision>"),
    ("hf://acme/../repo@main", "hf://<org>/<repo>@<revision>"),
])
def test_an_untrusted_source_is_refused_naming_the_field(source: str, why: str) -> None:
    with pytest.raises(InvalidRequest, match="source") as info:
        check_source(source, ("s3://bucket/models",), trusted=False)
    assert info.value.field == "source" and why in str(info.value)


def test_allowed_sources() -> None:
    roots = ("s3://bucket/models",)
    assert check_source("s3://bucket/models/x/", roots, trusted=False)
    assert check_source("hf://acme/tiny-whisper@" + "a" * 40, roots, trusted=False)
    assert check_source("/srv/models/x", (), trusted=True)  # the SDK and the CLI may name a folder
    with pytest.raises(InvalidRequest, match=r"not under a granted model root.*is empty"):
        check_source("s3://bucket/models/x", (), trusted=False)


def test_register_pins_the_digest_and_survives_a_restart(service: MediaService, s3_settings: vai.Settings,
                                                         tmp_path: Path) -> None:
    folder = _folder(tmp_path, "w1")
    row = service.models.register("w1", provider="whisper", source=str(folder), trusted=True, user_id="u")
    assert row["revision"] == folder_digest(folder) and row["revision"].startswith("sha256:")
    again = MediaService(s3_settings, None)  # another process, after a restart: the store has it
    try:
        assert [r["name"] for r in again.models.list()] == ["w1"]
        spec = again.models.resolve("w1", "audio_transcription")
        assert spec == ModelSpec("w1", "whisper", str(folder), row["revision"])
    finally:
        again.close()
    service.models.remove("w1")
    assert service.models.list() == []


@pytest.mark.parametrize("kwargs, field, why", [
    ({"name": "Bad Name"}, "name", "not a model name"),
    ({"name": "whisper-1"}, "name", "reserved"),
    ({"provider": "llama"}, "provider", "not a model provider kind"),
    ({"revision": "sha256:" + "0" * 64}, "revision", "hash mismatch"),
    ({"revision": "v1"}, "revision", "sha256:<64 hex digits>"),
    ({"source": "/nonexistent/folder"}, "source", "no folder"),
    ({"base": "nothing"}, "base", "only a diffusers model"),
    ({"download": True}, "download", "only a Hub source"),
])
def test_bad_registrations_name_the_field(service: MediaService, tmp_path: Path, kwargs: dict[str, Any],
                                          field: str, why: str) -> None:
    args: dict[str, Any] = {"name": "m", "provider": "whisper", "source": str(_folder(tmp_path, "m")), **kwargs}
    with pytest.raises(InvalidRequest, match=why) as info:
        service.models.register(args.pop("name"), trusted=True, user_id="u", **args)
    assert info.value.field == field
    assert service.models.list() == []


def test_request_model_names_are_checked_at_submit(service: MediaService, tmp_path: Path) -> None:
    service.models.register("w1", provider="whisper", source=str(_folder(tmp_path, "w1")), trusted=True, user_id="u")
    service.models.register("sd", provider="diffusers", source=str(_folder(tmp_path, "sd")), trusted=True, user_id="u")
    audio = {"audio_url": "https://93.184.215.14/a.wav"}
    with pytest.raises(InvalidRequest, match="no model 'nope' in the catalogue") as info:
        service.prepare("audio_transcription", {**audio, "model": "nope"}, user_id="u")
    assert info.value.field == "model"
    with pytest.raises(InvalidRequest, match="'sd' is a diffusers model; it does not serve audio_transcription"):
        service.prepare("audio_transcription", {**audio, "model": "sd"}, user_id="u")
    with pytest.raises(InvalidRequest, match="served by local-whisper, not openai") as info:
        service.prepare("audio_transcription", {**audio, "model": "w1", "provider": "openai"}, user_id="u")
    assert info.value.field == "provider"
    with pytest.raises(InvalidRequest) as info:
        service.prepare("image_generation", {"prompt": "x", "model": "../../etc"}, user_id="u")
    assert info.value.field == "model"
    # whisper-1 and best keep their meaning: no catalogue entry, no pinned provider
    plain = service.prepare("audio_transcription", {**audio, "model": "best"}, user_id="u")
    assert plain["options"]["provider"] is None and "model" not in plain["options"]
    named = service.prepare("audio_transcription", {**audio, "model": "w1"}, user_id="u")
    assert named["options"]["provider"] == "local-whisper"
    assert named["options"]["model"]["revision"] == service.models.list()[1]["revision"]


def test_a_video_model_is_a_cloud_providers_own(service: MediaService, tmp_path: Path) -> None:
    """No local model serves video: a catalogue name is refused; RunwayML's own model names
    (its API body takes one) go to the provider that honours ``model``."""
    service.models.register("sd", provider="diffusers", source=str(_folder(tmp_path, "sd")), trusted=True, user_id="u")
    for name in ("sd", "nope", "whisper-x"):
        with pytest.raises(InvalidRequest, match="no local model serves video yet") as info:
            service.prepare("video_generation", {"prompt": "waves", "model": name}, user_id="u")
        assert info.value.field == "model"
    with pytest.raises(InvalidRequest, match="gen4_turbo makes a video from an image") as info:
        service.prepare("video_generation", {"prompt": "waves", "model": "gen4_turbo"}, user_id="u")
    assert info.value.field == "model"
    with pytest.raises(InvalidRequest) as info:
        service.prepare_batch([{"task_type": "video_generation", "input_data": {"prompt": "w", "model": "sd"}}],
                            user_id="u", batch_id="b").__next__()
    assert info.value.field == "[0].input_data.model"
    text = service.prepare("video_generation", {"prompt": "waves", "model": "veo3"}, user_id="u")
    assert text["input"]["model"] == "veo3" and text["options"]["provider"] is None and "model" not in text["options"]
    image = service.prepare("video_generation", {"prompt": "waves", "model": "gen4_turbo",
                                                 "image_url": "https://93.184.215.14/a.png"}, user_id="u")
    assert image["input"]["model"] == "gen4_turbo"
    assert "model" not in service.prepare("video_generation", {"prompt": "waves"}, user_id="u")["input"]


def test_the_cache_key_holds_the_revision(service: MediaService, tmp_path: Path) -> None:
    from videoai_ray.models.record import active_from_submission
    from videoai_ray.scheduler.caching import TaskCache

    folder = _folder(tmp_path, "w1")
    service.models.register("w1", provider="whisper", source=str(folder), trusted=True, user_id="u")
    body = {"audio_url": "https://93.184.215.14/a.wav", "model": "w1"}
    first = service.prepare("audio_transcription", body, user_id="u")
    (folder / "model.bin").write_bytes(b"fine-tuned again")
    service.models.register("w1", provider="whisper", source=str(folder), trusted=True, user_id="u", replace=True)
    second = service.prepare("audio_transcription", body, user_id="u")
    cache = TaskCache(layers=None, scope="user")  # type: ignore[arg-type]
    keys = [cache.key(active_from_submission(p)) for p in (first, second)]
    assert first["input"] == second["input"] and keys[0] != keys[1]


# -- over HTTP -----------------------------------------------------------------------------------


def test_catalogue_over_http_admin_only_and_attacked(s3_settings: vai.Settings, s3_server: S3Server,
                                                     s3_bucket: str, tmp_path: Path) -> None:
    upload(s3_server.fs(), _folder(tmp_path, "remote"), f"{s3_bucket}/models/remote")
    settings = s3_settings
    MediaService(settings, None, migrate=True).close()
    ctx = ApiContext.start(settings, scheduler=object())
    admin = {"Authorization": f"Bearer {create_token(settings, 'root', admin=True)}"}
    plain = {"Authorization": f"Bearer {create_token(settings, 'someone')}"}
    good = {"name": "remote", "provider": "whisper", "source": f"s3://{s3_bucket}/models/remote/"}

    async def calls() -> dict[str, httpx.Response]:
        out = {}
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(ctx)), base_url="http://t") as c:
            out["plain_add"] = await c.post("/api/v1/media/models", json=good, headers=plain)
            out["local"] = await c.post("/api/v1/media/models", headers=admin,
                                        json={**good, "source": str(tmp_path)})
            out["file"] = await c.post("/api/v1/media/models", headers=admin,
                                       json={**good, "source": f"file://{tmp_path}/"})
            out["outside"] = await c.post("/api/v1/media/models", headers=admin,
                                          json={**good, "source": f"s3://{s3_bucket}/private/x/"})
            out["extra"] = await c.post("/api/v1/media/models", headers=admin, json={**good, "trusted": True})
            out["missing"] = await c.post("/api/v1/media/models", headers=admin,
                                          json={**good, "source": f"s3://{s3_bucket}/models/none/"})
            out["add"] = await c.post("/api/v1/media/models", json=good, headers=admin)
            out["twice"] = await c.post("/api/v1/media/models", json=good, headers=admin)
            out["plain_list"] = await c.get("/api/v1/media/models", headers=plain)
            out["admin_list"] = await c.get("/api/v1/media/models", headers=admin)
            out["plain_delete"] = await c.delete("/api/v1/media/models/remote", headers=plain)
            out["delete"] = await c.delete("/api/v1/media/models/remote", headers=admin)
            out["gone"] = await c.delete("/api/v1/media/models/remote", headers=admin)
            for name in ("remote", "gen4_turbo", "../x"):  # a catalogue name, an image model, no name at all
                out[f"video_{name}"] = await c.post("/api/v1/media/videos/generate", headers=plain,
                                                    json={"prompt": "waves", "model": name})
        return out

    r = asyncio.run(calls())
    ctx.service.close()
    assert r["plain_add"].status_code == 403 and r["plain_delete"].status_code == 403
    for case in ("local", "file", "outside", "missing"):
        assert r[case].status_code == 422, (case, r[case].text)
        assert r[case].json()["error"]["field"] == "source", (case, r[case].json())
    assert r["extra"].status_code == 422 and r["extra"].json()["error"]["field"] == "trusted"
    assert r["add"].status_code == 201, r["add"].text
    assert r["add"].json()["revision"].startswith("sha256:") and r["add"].json()["registered_by"] == "root"
    assert r["twice"].status_code == 422 and r["twice"].json()["error"]["field"] == "name"
    # every caller sees the names; only an admin sees where the weights are
    [seen] = r["plain_list"].json()["models"]
    assert seen["name"] == "remote" and seen.get("source") is None and seen.get("registered_by") is None
    assert r["admin_list"].json()["models"][0]["source"] == good["source"]
    assert r["delete"].status_code == 204 and r["gone"].status_code == 404
    for name in ("remote", "gen4_turbo", "../x"):
        assert r[f"video_{name}"].status_code == 422, r[f"video_{name}"].text
        assert r[f"video_{name}"].json()["error"]["field"] == "model"
    assert "no local model serves video yet" in r["video_remote"].json()["error"]["message"]


# -- weights on the node ---------------------------------------------------------------------------


def _remote_spec(service: MediaService, s3_server: S3Server, bucket: str, folder: Path, name: str) -> ModelSpec:
    upload(s3_server.fs(), folder, f"{bucket}/models/{name}")
    service.models.register(name, provider="whisper", source=f"s3://{bucket}/models/{name}/", trusted=False,
                            user_id="u")
    return service.models.resolve(name, "audio_transcription")


def test_remote_weights_are_fetched_once_per_node_and_verified(service: MediaService, s3_settings: vai.Settings,
                                                               s3_server: S3Server, s3_bucket: str,
                                                               tmp_path: Path) -> None:
    folder = _folder(tmp_path, "src")
    spec = _remote_spec(service, s3_server, s3_bucket, folder, "remote")
    got: list[Weights] = []
    threads = [threading.Thread(target=lambda: got.append(fetch(spec, s3_settings))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # four actors of one node at once: one download, the others waited on the lock and reuse it
    assert sorted(w.downloaded for w in got) == [0, 0, 0, 1]
    assert len({w.folder for w in got}) == 1 and folder_digest(got[0].folder) == spec.revision
    assert (got[0].folder / MARKER).is_file() and (got[0].folder / "sub" / "config.json").is_file()
    # a restart: the folder is reused, nothing is downloaded
    assert fetch(spec, s3_settings).downloaded == 0
    cache = got[0].folder.parent
    assert sorted(p.name for p in cache.iterdir() if not p.name.endswith(".lock")) == [got[0].folder.name]


def test_a_download_reports_its_progress_and_a_waiting_actor_says_so(service: MediaService,
                                                                     s3_settings: vai.Settings,
                                                                     s3_server: S3Server, s3_bucket: str,
                                                                     tmp_path: Path) -> None:
    folder = tmp_path / "big"
    folder.mkdir()
    (folder / "model.bin").write_bytes(os.urandom(3 << 20))  # three blocks of a MiB
    (folder / "config.json").write_text("{}")
    spec = _remote_spec(service, s3_server, s3_bucket, folder, "big")
    total = (3 << 20) + 2
    # paced to 4 MiB/s: the download takes about 0.75 s, long enough for the second actor to find the lock
    settings = s3_settings.model_copy(update={"model_download_rate": 4 << 20})
    first: list[tuple[str, str, int, int]] = []
    second: list[tuple[str, str, int, int]] = []
    began = threading.Event()

    def report_first(*event: Any) -> None:
        first.append(event)
        began.set()

    got: list[Weights] = []
    downloader = threading.Thread(target=lambda: got.append(fetch(spec, settings, report_first)))
    t0 = time.monotonic()
    downloader.start()
    assert began.wait(30)
    waited = fetch(spec, settings, lambda *event: second.append(event))  # the lock is held: it waits
    downloader.join()
    assert time.monotonic() - t0 >= 0.6  # the rate limit paced the copy
    assert got[0].downloaded == 1 and waited.downloaded == 0 and waited.folder == got[0].folder
    assert second == [("big", "waiting", 0, 0)]
    downloading = [e for e in first if e[1] == "downloading"]
    assert downloading[0] == ("big", "downloading", 0, total)
    assert downloading[-1] == ("big", "downloading", total, total)
    assert [e[2] for e in downloading] == sorted(e[2] for e in downloading)
    assert any(0 < e[2] < total for e in downloading)  # reports between the start and the end
    assert first[-1] == ("big", "verifying", total, total)
    assert fetch(spec, settings, lambda *event: second.append(event)).downloaded == 0
    assert len(second) == 1  # a folder already there: nothing to report


@pytest.mark.parametrize("state, fraction, message", [
    ({"state": "waiting", "bytes_done": 0, "bytes_total": 0}, 0.0, "waiting for another download of m on this node"),
    ({"state": "downloading", "bytes_done": 12_300_000, "bytes_total": 40_000_000}, 0.3075,
     "downloading weights of m: 12.3 of 40.0 MB"),
    ({"state": "verifying", "bytes_done": 40, "bytes_total": 40}, 1.0, "verifying weights of m"),
    ({"state": "loading", "bytes_done": 40, "bytes_total": 40}, 1.0, "loading m"),
])
def test_what_a_task_waiting_for_its_model_shows(state: dict[str, Any], fraction: float, message: str) -> None:
    assert load_progress({"model": "m", "weights": "m", **state}) == (fraction, message)
    base = load_progress({"model": "lora", "weights": "sd", "state": "downloading", "bytes_done": 1,
                          "bytes_total": 2})
    assert base == (0.5, "downloading weights of sd (the base of lora): 0.0 of 0.0 MB")


def test_a_hash_mismatch_fails_and_leaves_no_folder(service: MediaService, s3_settings: vai.Settings,
                                                    s3_server: S3Server, s3_bucket: str, tmp_path: Path) -> None:
    spec = _remote_spec(service, s3_server, s3_bucket, _folder(tmp_path, "src"), "tampered")
    s3_server.fs().pipe_file(f"{s3_bucket}/models/tampered/model.bin", b"not the registered weights")
    with pytest.raises(PermanentError, match="hash mismatch"):
        fetch(spec, s3_settings)
    cache = Path(s3_settings.home) / "model-cache"
    assert [p.name for p in cache.iterdir() if not p.name.endswith(".lock")] == []  # no half-written folder


def test_hub_weights_come_from_the_local_cache_only(s3_settings: vai.Settings, tmp_path: Path) -> None:
    folder = _folder(tmp_path, "hubsrc")
    commit = fill_hub_cache(tmp_path / "hub", "acme/tiny", folder)
    spec = ModelSpec("hubby", "whisper", f"hf://acme/tiny@{commit}", commit)
    w = fetch(spec, s3_settings)
    assert w.downloaded == 0 and (w.folder / "model.bin").read_bytes() == (folder / "model.bin").read_bytes()
    assert w.folder.name == commit
    # a revision the cache does not hold, downloads not allowed: a permanent failure, no hub reached
    missing = ModelSpec("hubby", "whisper", "hf://acme/tiny@" + "0" * 40, "0" * 40)
    with pytest.raises(PermanentError, match=r"is not in .* does not allow downloads"):
        fetch(missing, s3_settings)


# -- several models in one actor -------------------------------------------------------------------


def test_loaded_models_least_recently_used_cap_and_memory(tmp_path: Path) -> None:
    loads: list[str] = []
    sizes = {"a": 10, "b": 10, "c": 10, "huge": 100}

    def fetch_(spec: ModelSpec) -> Weights:
        return Weights(tmp_path, sizes[spec.name])

    def load(spec: ModelSpec, w: Weights) -> str:
        loads.append(spec.name)
        return f"model {spec.name}"

    models = LoadedModels(max_models=2, memory_bytes=25, fetch=fetch_, load=load)
    spec = {n: ModelSpec(n, "whisper", f"/m/{n}", "sha256:" + "0" * 64) for n in sizes}

    async def run() -> None:
        async with models.use(spec["a"]) as a:
            assert a == "model a"
            async with models.use(spec["b"]):
                pass
            async with models.use(spec["c"]):  # a is pinned (in use): b, the unpinned one, goes
                assert list(models.items) == [spec["a"].key, spec["c"].key]
        async with models.use(spec["a"]):  # warm: no load
            pass
        async with models.use(spec["b"]):  # c is the least recently used now
            pass
        with pytest.raises(PermanentError, match="more than a pool actor may hold"):
            async with models.use(spec["huge"]):
                pass

    asyncio.run(run())
    assert loads == ["a", "b", "c", "b"]
    assert [e.spec.name for e in models.items.values()] == ["a", "b"] and models.evictions == 2
    assert models.describe()["model_loads"][spec["b"].key] == 2


def test_cli_models_add_list_remove(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    from videoai_ray.cli import main

    monkeypatch.setenv("VIDEOAI_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    folder = _folder(tmp_path, "w1")
    assert main(["models", "add", "w1", "--provider", "whisper", "--source", str(folder)]) == 0
    assert folder_digest(folder) in capsys.readouterr().out
    assert main(["models", "add", "w1", "--provider", "whisper", "--source", str(folder)]) == 1
    assert "already" in capsys.readouterr().err
    assert main(["models", "list"]) == 0
    assert capsys.readouterr().out.startswith("w1 ")
    assert main(["models", "remove", "w1"]) == 0 and main(["models", "remove", "w1"]) == 1
