"""Pipeline specs: references to unknown steps, cycles and bad literal inputs are refused naming
the step's field, before anything is stored; references resolve to earlier steps' values."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from videoai_ray.artifacts import ArtifactStore
from videoai_ray.errors import InvalidReference, InvalidRequest
from videoai_ray.models import Task
from videoai_ray.pipelines import ref, step
from videoai_ray.pipelines.resolve import resolve_input
from videoai_ray.pipelines.spec import PipelineSpec, check_structure
from videoai_ray.service import MediaService
from videoai_ray.settings import Settings
from videoai_ray.store import TaskStore


@pytest.fixture
def service(settings: Settings) -> MediaService:
    return MediaService(settings, None, TaskStore(settings.db_url, instance=settings.instance))


def typical() -> dict[str, Any]:
    """transcribe -> subtitles from its segments -> a video with those subtitles and its audio."""
    return {"steps": [
        step("transcribe", "audio_transcription", audio_url="http://127.0.0.1:9/talk.wav"),
        step("subtitles", "subtitle_generation", text=ref("transcribe.output.text"), timing_mode="manual",
             cues=ref("transcribe.output.segments", as_="cues"), format="srt"),
        step("video", "video_generation", prompt="A talk", audio_url=ref("transcribe.input.audio_url"),
             subtitles_url=ref("subtitles.output.subtitle_url")),
    ]}


def refused(service: MediaService, spec: dict[str, Any], *, http: bool = False) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as info:
        service.pipelines.validate(spec, http=http)
    return info.value


def test_the_typical_pipeline_is_valid_and_ordered(service: MediaService) -> None:
    spec = service.pipelines.validate(typical())
    assert check_structure(spec) == ["transcribe", "subtitles", "video"]
    assert spec.step("video").needs() == ["transcribe", "subtitles"]


def test_a_reference_to_an_unknown_step_names_the_step_and_field(service: MediaService) -> None:
    spec = typical()
    spec["steps"][2]["input"]["subtitles_url"] = ref("subs.output.subtitle_url")
    err = refused(service, spec)
    assert err.field == "steps[2].input.subtitles_url"
    assert "'video' refers to unknown step 'subs'" in str(err)


def test_a_cycle_names_a_step_on_it(service: MediaService) -> None:
    spec = {"steps": [step("a", "image_generation", prompt=ref("c.output.text")),
                      step("b", "image_generation", prompt=ref("a.output.text")),
                      step("c", "subtitle_generation", text=ref("b.output.image_url"))]}
    err = refused(service, spec)
    assert err.field and err.field.startswith("steps[")
    assert "is part of a cycle" in str(err) and "a -> c -> b -> a" in str(err)
    self_ref = refused(service, {"steps": [step("x", "image_generation", prompt=ref("x.output.text"))]})
    assert self_ref.field == "steps[0]" and "'x' is part of a cycle (x -> x)" in str(self_ref)
    after = refused(service, {"steps": [step("a", "image_generation", prompt="p", after=["b"]),
                                        step("b", "image_generation", prompt="q", after=["a"])]})
    assert "cycle" in str(after)


def test_other_structural_errors(service: MediaService) -> None:
    dup = refused(service, {"steps": [step("a", "image_generation", prompt="p")] * 2})
    assert dup.field == "steps[1].id"
    unknown_after = refused(service, {"steps": [step("a", "image_generation", prompt="p", after=["zz"])]})
    assert unknown_after.field == "steps[0].after[0]" and "'zz'" in str(unknown_after)
    bad_ref = refused(service, {"steps": [step("a", "image_generation", prompt="p"),
                                          step("b", "image_generation", prompt={"$ref": "a.result.x"})]})
    assert bad_ref.field == "steps[1].input.prompt"
    bad_as = refused(service, {"steps": [step("a", "image_generation", prompt="p"),
                                         step("b", "image_generation", prompt=ref("a.output.x", as_="srt"))]})
    assert bad_as.field == "steps[1].input.prompt"
    assert refused(service, {"steps": []}).field == "steps"
    assert refused(service, {"steps": [step("1a", "image_generation", prompt="p")]}).field == "steps.0.id"
    assert refused(service, {"steps": [{"id": "a", "task_type": "nope", "input": {}}]}).field == "steps.0.task_type"


def test_literal_inputs_are_validated_but_referenced_fields_wait(service: MediaService) -> None:
    spec = typical()
    spec["steps"][1]["input"]["format"] = "docx"
    err = refused(service, spec)
    assert err.field == "steps[1].input.format"
    spec = typical()
    spec["steps"][2]["input"]["resolution"] = "8k"
    assert refused(service, spec).field == "steps[2].input.resolution"
    spec = typical()
    spec["steps"][0]["input"]["audio_url"] = "file:///etc/passwd"
    assert refused(service, spec).field == "steps[0].input.audio_url"
    spec = typical()
    spec["steps"][2]["input"]["no_such"] = ref("transcribe.output.text")
    assert refused(service, spec).field == "steps[2].input.no_such"


def test_reference_paths_take_keys_and_ascii_indexes_only(service: MediaService) -> None:
    for bad in ("transcribe.output.segments.²", "transcribe.output.seg%ments", "transcribe.output.a b",
                "transcribe.output." + ".".join("k" * 17)):
        spec = typical()
        spec["steps"][1]["input"]["text"] = ref(bad)
        assert refused(service, spec).field == "steps[1].input.text", bad
    spec = typical()
    spec["steps"][1]["input"]["text"] = ref("transcribe.output.segments.0.text")
    service.pipelines.validate(spec)


def test_over_http_a_literal_upload_reference_is_refused(service: MediaService) -> None:
    spec = typical()
    spec["steps"][0]["input"]["audio_url"] = "upload://" + "a" * 32 + "/talk.wav"
    service.pipelines.validate(spec)  # the SDK may name its own uploads
    assert refused(service, spec, http=True).field == "steps[0].input.audio_url"


def _task(task_id: str, task_type: str, inp: dict[str, Any], out: dict[str, Any]) -> Task:
    return Task(id=task_id, type=task_type, status="completed", priority="medium", user_id="u",
                input=inp, output=out, created_at=datetime.now(UTC))


def test_resolution_turns_segments_into_cues_and_hands_files_over_as_uploads(settings: Settings,
                                                                             tmp_path: Path) -> None:
    store = ArtifactStore(settings.artifacts_root)
    art = store.put("task_subs", "subtitles.srt", b"1\n00:00:00,000 --> 00:00:01,000\nhi\n")
    spec = PipelineSpec.model_validate(typical())
    asr = _task("task_asr", "audio_transcription", {"audio_url": "http://127.0.0.1:9/talk.wav"},
                {"text": "hi there", "language": "en",
                 "segments": [{"id": 0, "start": 0.0, "end": 1.2, "text": "hi"},
                              {"id": 1, "start": 1.2, "end": 1.2, "text": ""},
                              {"id": 2, "start": 1.2, "end": 2.0, "text": "there"}]})
    subs = _task("task_subs", "subtitle_generation", {"text": "hi"}, {"subtitle_url": art["url"]})
    body = resolve_input(spec.step("subtitles"), {"transcribe": asr}, "u", store).body
    assert body["text"] == "hi there"
    assert body["cues"] == [{"start": 0.0, "end": 1.2, "text": "hi"}, {"start": 1.2, "end": 2.0, "text": "there"}]
    resolved = resolve_input(spec.step("video"), {"transcribe": asr, "subtitles": subs}, "u", store)
    video = resolved.body
    assert resolved.handed == {"subtitles_url"}
    assert video["audio_url"] == "http://127.0.0.1:9/talk.wav"
    upload = video["subtitles_url"]
    assert upload.startswith("upload://") and upload.endswith("/subtitles.srt")
    # an upload of the pipeline's owner: another user's tasks cannot name it
    assert store.local_path(store.upload_url(upload, "u")).read_bytes().startswith(b"1\n")
    assert not store.local_path(store.upload_url(upload, "someone-else")).exists()
    with pytest.raises(InvalidReference, match=r"step 's': text = \{\$ref: 'transcribe.output.words'\}: "
                                               r"step 'transcribe' has no such output value"):
        resolve_input(PipelineSpec.model_validate({"steps": [
            step("transcribe", "audio_transcription", audio_url="https://x.example.com/a.wav"),
            step("s", "subtitle_generation", text=ref("transcribe.output.words"))]}).step("s"),
            {"transcribe": asr}, "u", store)


def test_only_a_file_the_referenced_task_made_is_handed_over(settings: Settings) -> None:
    store = ArtifactStore(settings.artifacts_root)
    bobs = store.put("task_bob", "subtitles.srt", b"bob's")["url"]
    spec = PipelineSpec.model_validate({"steps": [
        step("a", "subtitle_generation", text=bobs),
        step("b", "video_generation", prompt="v", subtitles_url=ref("a.input.text")),
        step("c", "video_generation", prompt="v", subtitles_url=ref("a.output.subtitle_url")),
        step("d", "video_generation", prompt="v", subtitles_url=ref("a.output.content"))]})
    for made in (bobs,  # a URL of another task's folder, at a URL key of a's output
                 store.root + "/task_a/../task_bob/subtitles.srt"):  # climbing out of a's own folder
        a = _task("task_a", "subtitle_generation", {"text": bobs}, {"subtitle_url": made, "content": bobs})
        for step_id in "bcd":
            resolved = resolve_input(spec.step(step_id), {"a": a}, "u", store)
            assert resolved.handed == frozenset(), step_id
            assert not resolved.body["subtitles_url"].startswith("upload://"), step_id
    assert not (store.local_path(bobs).parents[1] / "uploads").exists()
