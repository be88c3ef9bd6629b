"""Data where it lives, end to end on the loopback S3 server: held-in speech clips are put in a
corpus bucket, transcribed by ``s3://`` URL through the SDK from a Parquet manifest in that bucket,
the results written back there as Parquet, and every output lands in another bucket
(``VIDEOAI_ARTIFACTS_URL=s3://...``), readable through ``client.files``, the notebook view,
the ``/files`` route and webhooks, none of it naming the bucket. Bad inputs are refused at submit
(the field named; through the SDK also the roots granted), or fail once as ``input_not_found``;
over HTTP a user with no granted root is still held to http(s). The deployment's S3 secret is a
canary: it must appear in no task row, error, webhook body or log."""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from loopback import QuietHandler, serving
from PIL import Image
from sqlalchemy import create_engine, inspect, text

import videoai_ray as vai
from videoai_bench import SPEECH_CLIPS_DIR as SPEECH
from videoai_bench.providers import word_error_rate as wer
from videoai_ray.api import ApiContext, create_app, create_token
from videoai_ray.api.ratelimit import MemoryRateLimiter
from videoai_ray.artifacts import ArtifactStore
from videoai_ray.providers.local import (
    LocalSubtitleProvider,
    LocalWhisperProvider,
    ProceduralImageProvider,
    ProceduralVideoProvider,
)
from videoai_ray.providers.testing import InputReaderProvider
from videoai_ray.scheduler import kill_scheduler
from videoai_ray.snapshots import task_html

CLIPS: dict[str, dict[str, str]] = json.loads((SPEECH / "clips.json").read_text())
BASE = "/api/v1/media"
CANARY = "videoai-CANARY-" + uuid.uuid4().hex[:12]


@dataclasses.dataclass
class Deployment:
    client: vai.Client
    fs: Any  # s3fs, as the test sees the server (not the deployment's options)
    corpus: str  # bucket of the inputs: clips under clips/
    out: str  # bucket of the outputs
    media: Path  # a local input root
    whisper_missing: str | None
    hooks: list[str]
    hook_url: str

    def user(self, name: str) -> vai.Client:
        return vai.Client(self.client.settings, self.client.scheduler, self.client.service.store, name)

    def put(self, key: str, data: bytes) -> str:
        self.fs.pipe(f"{self.corpus}/{key}", data)
        return f"s3://{self.corpus}/{key}"


@pytest.fixture(scope="module")
def dep(ray_session: None, s3_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    server = dataclasses.replace(s3_server, secret=CANARY)  # moto takes any secret: it stands for a real one
    corpus, out = server.make_bucket("corpus"), server.make_bucket("results")
    media = tmp_path_factory.mktemp("media")
    hooks: list[str] = []

    class Hook(QuietHandler):
        def do_POST(self) -> None:
            hooks.append(self.rfile.read(int(self.headers["Content-Length"])).decode())
            self.answer(200, b"ok")

    settings = vai.Settings(
        home=tmp_path_factory.mktemp("inputs-home"), instance="t-inputs", prefetch=0, retry_schedule=(0.2, 0.4),
        artifacts_url=f"s3://{out}/results", storage_options=server.storage_options,
        input_roots=f"s3://{corpus}/clips/,{media}",
        input_roots_by_user={"narrow": [f"s3://{corpus}/clips/team/"]},
        input_roots_http_by_user={"web": [f"s3://{corpus}/clips/"]},
        url_allowlist=("127.0.0.1", "localhost"), webhook_progress_interval=0, webhook_timeout=5.0,
    )
    kill_scheduler(settings)
    whisper = LocalWhisperProvider(settings)
    providers = [whisper, InputReaderProvider(), ProceduralImageProvider(), ProceduralVideoProvider(),
                 LocalSubtitleProvider()]
    with serving(Hook) as hook_url:
        client = vai.connect(settings=settings, providers=providers)
        fs = server.fs()
        for clip in CLIPS:
            fs.put_file(str(SPEECH / clip), f"{corpus}/clips/{clip}")
        yield Deployment(client, fs, corpus, out, media, whisper.unavailable_reason(), hooks, hook_url + "/hook")
        kill_scheduler(settings)


@pytest.mark.slow
def test_clips_in_a_bucket_are_transcribed_by_url_from_a_manifest_into_another_bucket_and_parquet(
        dep: Deployment, http: TestClient) -> None:
    """Issue 24's "done when", in one: the held-in clips are in the corpus bucket (the fixture put
    them there); a Parquet manifest in that bucket names them by ``s3://`` URL; ``client.map``
    transcribes them through the SDK with every output written to the other bucket; the results go
    to Parquet in the corpus bucket and are read back; over HTTP a user with no granted root is
    still refused the same ``s3://`` URL."""
    if dep.whisper_missing:
        pytest.skip(f"local-whisper: {dep.whisper_missing}")
    import pandas as pd

    tag = uuid.uuid4().hex[:6]
    urls = [f"s3://{dep.corpus}/clips/{clip}" for clip in CLIPS]
    manifest = io.BytesIO()
    pd.DataFrame({"clip": list(CLIPS), "audio": urls}).to_parquet(manifest, index=False)
    dep.fs.pipe(f"{dep.corpus}/manifests/{tag}.parquet", manifest.getvalue())

    batch = dep.client.map(f"s3://{dep.corpus}/manifests/{tag}.parquet", task_type="audio_transcription",
                           columns={"audio_url": "audio"}, language="en", provider="local-whisper")
    assert batch.wait(timeout=240) == {"completed": len(CLIPS)}
    for task in batch.results():
        assert task.input["audio_url"] in urls
        url = task.output["transcript_url"]
        assert url.startswith(f"s3://{dep.out}/results/{task.id}/"), url
        stored = json.loads(dep.fs.cat(url.removeprefix("s3://")))
        assert stored["text"] == task.output["text"]
        assert json.loads(dep.client.files.read(task))["text"] == task.output["text"]
    # nothing of the inputs was copied into the output bucket
    assert not [k for k in dep.fs.find(dep.out) if k.endswith(".wav")]

    assert batch.to_parquet(f"s3://{dep.corpus}/results/{tag}.parquet") == len(CLIPS)
    with dep.fs.open(f"{dep.corpus}/results/{tag}.parquet", "rb") as f:
        out = pd.read_parquet(f)
    assert list(out["audio"]) == urls  # the mapped column, in the manifest's order
    assert list(out["id"]) == list(batch.ids) and set(out["status"]) == {"completed"}
    for clip, heard, transcript in zip(CLIPS, out["output.text"], out["output.transcript_url"], strict=True):
        assert wer(CLIPS[clip]["text"], heard) < 0.15, (clip, heard)
        assert transcript.startswith(f"s3://{dep.out}/results/")

    refused = http.post(f"{BASE}/audio/transcribe", json={"audio_url": urls[0], "language": "en"},
                        headers=_headers(dep, "nobody"))
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["field"] == "audio_url"
    assert "http:// or https://" in refused.json()["error"]["message"]


def test_the_cache_key_is_the_objects_identity(dep: Deployment) -> None:
    url = dep.put(f"clips/id-{uuid.uuid4().hex[:6]}.wav", b"version one")
    first = dep.client.audio.transcribe(url, provider="inputs").result(timeout=60)
    assert first.output["inputs"]["audio_url"]["size"] == len(b"version one")
    again = dep.client.audio.transcribe(url, provider="inputs").result(timeout=60)
    assert again.cache_hit and again.output == first.output
    dep.fs.pipe(url.removeprefix("s3://"), b"version two, longer")  # a new ETag: a new key
    changed = dep.client.audio.transcribe(url, provider="inputs").result(timeout=60)
    assert not changed.cache_hit
    assert changed.output["inputs"]["audio_url"]["size"] == len(b"version two, longer")


def _refused(client: vai.Client, url: str) -> vai.InvalidRequest:
    with pytest.raises(vai.InvalidRequest) as info:
        client.audio.transcribe(url, provider="inputs")
    assert info.value.field == "audio_url", info.value
    return info.value


def test_bad_inputs_are_refused_at_submit_naming_the_field_and_the_roots(dep: Deployment) -> None:
    dep.put("private/secret.wav", b"not granted")
    roots = f"s3://{dep.corpus}/clips/, file://{dep.media}/"
    for url, why in [
        (f"s3://{dep.corpus}/private/secret.wav", "not under an input root"),
        (f"s3://{dep.corpus}/clips/../private/secret.wav", "'..'"),
        (f"s3://{dep.corpus}/clips/%2e%2e/private/secret.wav", "%"),
        (f"simplecache::s3://{dep.corpus}/clips/fox_rms.wav", "chains"),
        (f"s3://{dep.corpus}/clips/*.wav", "*"),
        (f"s3://{dep.corpus}/clips/no-such.wav", "does not exist"),
        ("s3://videoai-no-such-bucket/clips/a.wav", "not under an input root"),
        ("/etc/passwd", "not under an input root"),
    ]:
        err = _refused(dep.client, url)
        assert why in err.message, err.message
        if "not under" in why or "does not exist" in why:
            assert roots in err.message, err.message  # the SDK names the roots granted to this user
    narrow = _refused(dep.user("narrow"), f"s3://{dep.corpus}/clips/fox_rms.wav")
    assert f"s3://{dep.corpus}/clips/team/" in narrow.message and "file://" not in narrow.message
    # nothing was stored for these
    assert not [t for t in dep.client.service.tasks.list(dep.client.user_id, limit=500) if "private" in str(t.input)]


def test_a_local_root_is_read_in_place_and_a_symlink_out_of_it_is_refused(dep: Deployment, tmp_path: Path) -> None:
    clip = dep.media / f"in-{uuid.uuid4().hex[:6]}.wav"
    clip.write_bytes(b"local bytes")
    (tmp_path / "secret.wav").write_bytes(b"outside")
    link = dep.media / f"link-{uuid.uuid4().hex[:6]}.wav"
    link.symlink_to(tmp_path / "secret.wav")
    task = dep.client.audio.transcribe(str(clip), provider="inputs").result(timeout=60)
    assert task.input["audio_url"] == f"file://{clip}"
    assert task.output["inputs"]["audio_url"]["size"] == len(b"local bytes")
    err = _refused(dep.client, str(link))
    assert "symlinks" in err.message


def test_an_object_gone_before_the_worker_reads_it_fails_once_as_input_not_found(dep: Deployment) -> None:
    url = dep.put(f"clips/gone-{uuid.uuid4().hex[:6]}.wav", b"here at submit")
    service = dep.client.service
    prepared = service.prepare("audio_transcription", {"audio_url": url, "provider": "inputs"},
                               user_id=dep.client.user_id)
    assert prepared["options"]["inputs"]["audio_url"]["size"] == len(b"here at submit")
    dep.fs.rm(url.removeprefix("s3://"))
    [answer] = service.submit([prepared])
    task = service.tasks.wait(answer["id"], None, 60)
    assert task.status is vai.TaskStatus.FAILED
    assert task.error is not None and task.error.code == "input_not_found" and not task.error.retryable
    assert task.attempts == 1


@pytest.mark.slow
def test_every_local_provider_writes_to_the_bucket_and_reads_inputs_from_it(dep: Deployment) -> None:
    image = dep.client.images.generate("a lighthouse at dusk", size="512x512", seed=7).result(timeout=120)
    png = dep.client.files.read(image)
    assert png.startswith(b"\x89PNG")
    assert image.output["image_url"].startswith(f"s3://{dep.out}/results/{image.id}/")
    subs = dep.client.subtitles.generate("Hello there.\nGeneral words.", format="srt").result(timeout=60)
    assert subs.output["subtitle_url"].startswith(f"s3://{dep.out}/")
    # the video reads all three of its inputs from the corpus bucket: first frame, sound, subtitles
    first = dep.put("clips/frame.png", png)
    srt = dep.put("clips/subs.srt", dep.client.files.read(subs))
    video = dep.client.videos.generate("waves", image_url=first, audio_url=f"s3://{dep.corpus}/clips/fox_rms.wav",
                                       subtitles_url=srt, fps=4, resolution="720p").result(timeout=240)
    url = video.output["video_url"]
    assert url.startswith(f"s3://{dep.out}/results/{video.id}/") and dep.fs.size(url.removeprefix("s3://")) > 1000
    # the notebook view embeds the image, read from the bucket
    page = task_html(image, ArtifactStore.of(dep.client.settings))
    embedded = re.search(r'src="data:image/[a-z]+;base64,([^"]+)"', page)
    assert embedded, page
    with Image.open(io.BytesIO(base64.b64decode(embedded.group(1)))) as thumb:
        assert thumb.width > 0


@pytest.fixture(scope="module")
def http(dep: Deployment) -> Iterator[TestClient]:
    ctx = ApiContext.start(dep.client.settings, dep.client.scheduler, MemoryRateLimiter())
    with TestClient(create_app(ctx)) as client:
        yield client


def _headers(dep: Deployment, user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_token(dep.client.settings, user)}"}


def test_http_refuses_bucket_urls_without_a_grant_and_never_names_the_roots(dep: Deployment,
                                                                             http: TestClient) -> None:
    url = f"s3://{dep.corpus}/clips/fox_rms.wav"
    for user, body in [("nobody", {"audio_url": url}), ("nobody", {"audio_url": f"file://{dep.media}/x.wav"}),
                       ("web", {"audio_url": f"s3://{dep.corpus}/private/secret.wav"}),
                       ("web", {"audio_url": f"s3://{dep.corpus}/clips/../private/secret.wav"}),
                       ("web", {"audio_url": f"s3://{dep.corpus}/clips/missing.wav"})]:
        r = http.post(f"{BASE}/audio/transcribe", json={**body, "provider": "inputs"}, headers=_headers(dep, user))
        assert r.status_code == 422, r.text
        err = r.json()["error"]
        assert err["field"] == "audio_url", err
        assert "root" not in err["message"].replace("not under an input root granted to this user", ""), err
        assert dep.corpus + "/clips/," not in r.text and "file://" + str(dep.media) + "/" not in r.text
    nobody = http.post(f"{BASE}/audio/transcribe", json={"audio_url": url}, headers=_headers(dep, "nobody")).json()
    assert "http:// or https://" in nobody["error"]["message"]


def test_http_with_a_grant_reads_the_bucket_and_serves_outputs_by_download_path(dep: Deployment,
                                                                                http: TestClient) -> None:
    url = dep.put(f"clips/web-{uuid.uuid4().hex[:6]}.wav", b"web bytes")
    r = http.post(f"{BASE}/audio/transcribe?wait=30",
                  json={"audio_url": url, "provider": "inputs", "webhook_url": dep.hook_url,
                        "webhook_secret": "s3cret-hook"}, headers=_headers(dep, "web"))
    assert r.status_code in (200, 202), r.text
    task_id = r.json()["id"]
    deadline = time.monotonic() + 60
    while (task := http.get(f"{BASE}/tasks/{task_id}", headers=_headers(dep, "web")).json())["status"] != "completed":
        assert time.monotonic() < deadline and task["status"] not in ("failed", "cancelled"), task
        time.sleep(0.2)
    link = task["output"]["report_url"]
    assert link == f"{BASE}/tasks/{task_id}/files/inputs.json", task["output"]
    assert f"s3://{dep.out}" not in json.dumps(task)
    got = http.get(link, headers=_headers(dep, "web"))
    assert got.status_code == 200 and got.content == dep.fs.cat(f"{dep.out}/results/{task_id}/inputs.json")
    assert http.get(link, headers=_headers(dep, "nobody")).status_code == 404
    while not any(task_id in h and "task.completed" in h for h in dep.hooks):
        assert time.monotonic() < deadline, dep.hooks
        time.sleep(0.2)
    body = next(h for h in dep.hooks if task_id in h and "task.completed" in h)
    assert f"{BASE}/tasks/{task_id}/files/inputs.json" in body and f"s3://{dep.out}" not in body


def test_the_storage_secret_is_in_no_row_error_webhook_or_log(dep: Deployment) -> None:
    # a task that fails in the worker, so an error row and a failure webhook exist too
    url = dep.put(f"clips/fail-{uuid.uuid4().hex[:6]}.wav", b"x")
    prepared = dep.client.service.prepare("audio_transcription", {"audio_url": url, "provider": "inputs",
                                                                  "webhook_url": dep.hook_url},
                                          user_id=dep.client.user_id)
    dep.fs.rm(url.removeprefix("s3://"))
    [answer] = dep.client.service.submit([prepared])
    failed = dep.client.service.tasks.wait(answer["id"], None, 60)
    assert failed.error is not None and failed.error.code == "input_not_found"
    deadline = time.monotonic() + 30
    while not any(answer["id"] in h for h in dep.hooks):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    engine = create_engine(dep.client.settings.db_url)
    dumped = []
    with engine.connect() as conn:
        for table in inspect(engine).get_table_names():
            dumped.extend(str(row) for row in conn.execute(text(f'SELECT * FROM "{table}"')))
    engine.dispose()
    assert dumped and any(dep.corpus in row for row in dumped)  # the rows were read
    assert not [row for row in dumped if CANARY in row]
    assert dep.hooks and not [h for h in dep.hooks if CANARY in h]
    with pytest.raises(vai.InvalidRequest) as info:
        dep.client.audio.transcribe(f"s3://{dep.corpus}/clips/none.wav")
    assert CANARY not in str(info.value) and CANARY not in repr(dep.client.settings)
    import ray

    logs = Path(ray._private.worker._global_node.get_session_dir_path()) / "logs"
    leaked = [p.name for p in logs.rglob("*") if p.is_file() and p.stat().st_size < 50_000_000
              and CANARY.encode() in p.read_bytes()]
    assert not leaked


def test_a_driver_joining_the_deployment_checks_and_reads_with_its_roots_and_options(dep: Deployment,
                                                                                     tmp_path: Path) -> None:
    from videoai_ray.scheduler import deployment_settings

    joined = deployment_settings(vai.Settings(home=tmp_path, instance="t-inputs"))
    mine = dep.client.settings
    assert joined.input_roots == mine.input_roots and joined.input_roots_by_user == mine.input_roots_by_user
    assert joined.input_roots_http_by_user == mine.input_roots_http_by_user
    assert joined.storage_options == mine.storage_options and joined.artifacts_root == mine.artifacts_root


def test_a_batch_of_bucket_inputs_looks_up_identities_together_and_names_a_bad_item(dep: Deployment) -> None:
    tag = uuid.uuid4().hex[:6]
    urls = [dep.put(f"clips/batch-{tag}/{i}.wav", f"clip {i}".encode()) for i in range(12)]
    items = [{"task_type": "audio_transcription", "input_data": {"audio_url": u, "provider": "inputs"}} for u in urls]
    batch = dep.client.batch(items)
    batch.wait(timeout=120)
    tasks = batch.results()
    assert [t.output["inputs"]["audio_url"]["size"] for t in tasks] == [len(f"clip {i}") for i in range(12)]
    bad = [*items[:7], {"task_type": "audio_transcription",
                        "input_data": {"audio_url": f"s3://{dep.corpus}/clips/batch-{tag}/missing.wav"}}]
    with pytest.raises(vai.InvalidRequest) as info:
        dep.client.batch(bad)
    assert info.value.field == "[7].input_data.audio_url" and "does not exist" in info.value.message


def test_an_object_rewritten_after_submit_is_not_read_under_the_old_identity(dep: Deployment) -> None:
    url = dep.put(f"clips/rw-{uuid.uuid4().hex[:6]}.wav", b"at submit")
    service = dep.client.service
    prepared = service.prepare("audio_transcription", {"audio_url": url, "provider": "inputs"},
                               user_id=dep.client.user_id)
    dep.put(url.removeprefix(f"s3://{dep.corpus}/"), b"rewritten")
    [answer] = service.submit([prepared])
    task = service.tasks.wait(answer["id"], None, 60)
    assert task.status is vai.TaskStatus.FAILED and task.attempts == 1
    assert task.error is not None and task.error.code == "invalid_input" and "changed" in task.error.message


def test_an_sdk_pipeline_step_reads_an_input_under_a_granted_root_and_is_held_to_the_same_rule(
        dep: Deployment, http: TestClient) -> None:
    """A pipeline built through the SDK may name an object under a root granted to its user in a
    step's literal input, as a task may; the same check refuses, at creation and naming the field
    and the roots, a root not granted, a ``..`` out of one, another user's grant and a missing
    object, and nothing is stored. Over HTTP a pipeline's steps stay http(s), even with a grant."""
    from videoai_ray.pipelines import step

    url = dep.put(f"clips/pipe-{uuid.uuid4().hex[:6]}.wav", b"pipeline bytes")
    done = dep.client.pipeline([step("read", "audio_transcription", audio_url=url, provider="inputs")]).result(60)
    assert done.status == "completed", done
    read = dep.client.service.tasks.get(done.step("read").task_id, dep.client.user_id)
    assert read.input["audio_url"] == url and read.output["inputs"]["audio_url"]["size"] == len(b"pipeline bytes")

    dep.put("private/secret.wav", b"not granted")
    before = {u: len(dep.user(u).service.pipelines.list(u, limit=500)) for u in (dep.client.user_id, "narrow")}
    for user, bad, why in [
        (dep.client.user_id, f"s3://{dep.corpus}/private/secret.wav", "not under an input root"),
        (dep.client.user_id, f"s3://{dep.corpus}/clips/../private/secret.wav", "'..'"),
        (dep.client.user_id, f"simplecache::{url}", "chains"),
        (dep.client.user_id, f"s3://{dep.corpus}/clips/none-{uuid.uuid4().hex[:6]}.wav", "does not exist"),
        ("narrow", url, "not under an input root"),  # under the default grant, not under narrow's
    ]:
        with pytest.raises(vai.InvalidRequest) as info:
            dep.user(user).pipeline([step("ok", "subtitle_generation", text="hello", provider="local-subtitles"),
                                     step("read", "audio_transcription", audio_url=bad, provider="inputs")])
        assert info.value.field == "steps[1].input.audio_url", (bad, info.value)
        assert why in info.value.message, info.value.message
        if user == "narrow":
            assert f"s3://{dep.corpus}/clips/team/" in info.value.message and "file://" not in info.value.message
    after = {u: len(dep.user(u).service.pipelines.list(u, limit=500)) for u in (dep.client.user_id, "narrow")}
    assert after == before

    for user in ("web", "nobody"):  # "web" is granted the clips over HTTP for tasks; not for pipelines
        r = http.post(f"{BASE}/pipelines", headers=_headers(dep, user), json={"steps": [
            {"id": "read", "task_type": "audio_transcription", "input": {"audio_url": url, "provider": "inputs"}}]})
        assert r.status_code == 422, r.text
        assert r.json()["error"]["field"] == "steps[0].input.audio_url" and dep.corpus + "/clips/," not in r.text
