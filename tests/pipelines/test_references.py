"""What a reference may carry (issue 21, findings 1 and 2): a value read from a step's input is the
user's own input and follows the rules of the door the pipeline came through; only files the
pipeline's own earlier steps made are handed over; a reference that cannot give a valid value
fails the pipeline with ``invalid_reference`` naming the step and the reference (no server path),
also after a restart, never a pipeline left running."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
import ray
from pipeline_steps import Call, finished, run_api

import videoai_ray as vai
from videoai_ray.artifacts import ArtifactStore, user_key
from videoai_ray.errors import InvalidRequest
from videoai_ray.pipelines import PipelineSpec, PipelineStatus, pipeline_row, ref, step

pytestmark = pytest.mark.slow

SECRET = b"1\n00:00:00,000 --> 00:00:02,000\nbob's secret line\n"


def _root(client: vai.Client) -> Path:
    return Path(unquote(urlparse(ArtifactStore(client.settings.artifacts_root).root).path))


def _bobs_file(client: vai.Client) -> str:
    """A file another user's task wrote (bob's subtitles), as its artifact URL."""
    store = ArtifactStore(client.settings.artifacts_root)
    return str(store.put("task_" + uuid.uuid4().hex, "subtitles.srt", SECRET)["url"])


def _uploads_hold(client: vai.Client, user: str, data: bytes) -> bool:
    folder = _root(client) / "uploads" / user_key(user)
    return any(p.is_file() and p.read_bytes() == data for p in folder.rglob("*"))


def _video(step_id: str, **refs: object) -> dict[str, object]:
    return step(step_id, "video_generation", prompt="alice's video", provider="reader", use_cache=False, **refs)


def _subs(step_id: str, text: str) -> dict[str, object]:
    return step(step_id, "subtitle_generation", text=text, provider="lat", use_cache=False)


def _assert_refused(error: dict[str, object] | None, root: Path, reference: str) -> None:
    assert error is not None and error["code"] == "invalid_reference", error
    assert error["step"] == "b" and error["reference"] == reference, error
    message = str(error["message"])
    assert "'b'" in message and reference in message and "subtitles_url" in message, message
    assert str(root) not in message and "file://" not in message and "Traceback" not in message, message


def test_alices_pipeline_cannot_read_bobs_file_through_an_input_reference(pipe_client: vai.Client) -> None:
    """The issue's repro: a literal artifact URL of bob's in step a's text, referenced as a file."""
    bobs = _bobs_file(pipe_client)
    pipe = pipe_client.pipeline([_subs("a", bobs), _video("b", subtitles_url=ref("a.input.text"))])
    with pytest.raises(vai.PipelineFailed, match="invalid_reference"):
        pipe.result(timeout=60)
    record = pipe.record
    assert record.status is PipelineStatus.FAILED and record.step("b").status == "skipped"
    _assert_refused(record.error, _root(pipe_client), "a.input.text")
    assert not _uploads_hold(pipe_client, pipe_client.user_id, SECRET)


def test_an_http_pipeline_follows_the_http_rules_and_gets_its_own_files(pipe_client: vai.Client) -> None:
    root = _root(pipe_client)
    store = ArtifactStore(pipe_client.settings.artifacts_root)
    own = root.parent / f"own-{uuid.uuid4().hex}.srt"
    own.write_bytes(b"1\n00:00:00,000 --> 00:00:01,000\nmine\n")
    upload = store.put_upload("alice-refs", own)  # alice's own upload: HTTP requests may not name it

    async def test(as_user: Call) -> None:
        alice = as_user("alice-refs")
        for text, reference in ((_bobs_file(pipe_client), "a.input.text"), (upload, "a.input.text")):
            r = await alice.post("/pipelines", json={"steps": [
                _subs("a", text), _video("b", subtitles_url=ref(reference))]})
            assert r.status_code == 202, r.text
            body = await finished(alice, r.json()["id"])
            assert body["status"] == "failed", body
            _assert_refused(body["error"], root, reference)
        assert not _uploads_hold(pipe_client, "alice-refs", SECRET)
        # a file the pipeline's own step made is handed over, through the HTTP door too
        r = await alice.post("/pipelines", json={"steps": [
            _video("a"), _video("b", subtitles_url=ref("a.output.report_url"))]})
        assert r.status_code == 202, r.text
        body = await finished(alice, r.json()["id"])
        assert body["status"] == "completed", body
        made = pipe_client.service.tasks.get(body["steps"][0]["task_id"]).output["report_url"]
        read = pipe_client.service.tasks.get(body["steps"][1]["task_id"]).output["inputs"]["subtitles_url"]
        assert read["sha256"] == hashlib.sha256(store.read_bytes(made)).hexdigest()

    run_api(pipe_client, test)


def test_a_path_out_of_the_artifact_root_fails_the_pipeline(pipe_client: vai.Client) -> None:
    root = ArtifactStore(pipe_client.settings.artifacts_root).root
    pipe = pipe_client.pipeline([_subs("a", f"{root}/../videoai.db"), _video("b", subtitles_url=ref("a.input.text"))])
    with pytest.raises(vai.PipelineFailed, match="invalid_reference"):
        pipe.result(timeout=60)
    _assert_refused(pipe.record.error, _root(pipe_client), "a.input.text")


def test_a_file_gone_missing_fails_the_pipeline(pipe_client: vai.Client) -> None:
    pipe = pipe_client.pipeline([step("a", "subtitle_generation", text="x", provider="ghost", use_cache=False),
                                 _video("b", subtitles_url=ref("a.output.subtitle_url"))])
    with pytest.raises(vai.PipelineFailed, match="invalid_reference"):
        pipe.result(timeout=60)
    _assert_refused(pipe.record.error, _root(pipe_client), "a.output.subtitle_url")
    assert "no longer exists" in pipe.record.error["message"]


def test_an_index_in_other_digits_is_refused_at_creation_and_fails_if_stored(pipe_client: vai.Client) -> None:
    # ``"²".isdigit()`` is true, ``int("²")`` raises: a's output has a list there to index
    steps = [step("a", "image_generation", prompt="one", provider="images", use_cache=False),
             _video("b", subtitles_url=ref("a.output.images.²"))]
    with pytest.raises(InvalidRequest, match="ASCII digits") as info:
        pipe_client.pipeline(steps)
    assert info.value.field == "steps[1].input.subtitles_url"
    # a pipeline stored before that check (skipping it): it fails when b is due, it does not loop
    row = pipeline_row(PipelineSpec.model_validate({"steps": steps}), user_id=pipe_client.user_id)
    ray.get(pipe_client.scheduler.create_pipeline.remote(row))
    record = pipe_client.service.pipelines.wait(row["id"], pipe_client.user_id, 60)
    assert record.status is PipelineStatus.FAILED and record.step("a").status == "completed"
    _assert_refused(record.error, _root(pipe_client), "a.output.images.²")
