"""Never pay twice, per adapter (RunwayML, Pika through fal.ai, AssemblyAI), against the respx
fakes validated by the providers' documents: the remote job is recorded after the create call
and before the first status read; an attempt given a recorded job re-attaches (no create, no
upload) and finishes it; a recorded job that is gone or failed is over; a job the task no longer
wants is cancelled; ``cancel_remote_job`` cancels a recorded job at the provider."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from attempt_context import run
from attempt_context import upload as upload_file
from fake_answers import BASES, CDN, MP4, RUNWAY_TASK_ID, artifact_bytes, assemblyai_transcript, runway_task

from videoai_ray.errors import RetryableError
from videoai_ray.models import AudioTranscriptionRequest, VideoGenerationRequest
from videoai_ray.providers.cloud import AssemblyAITranscriptionProvider, PikaVideoProvider, RunwayVideoProvider, prices
from videoai_ray.providers.context import AttemptContext
from videoai_ray.providers.remote_job import RemoteJob
from videoai_ray.settings import Settings

RUNWAY = BASES["runway"]
TASK = f"{RUNWAY}/v1/tasks/{RUNWAY_TASK_ID}"
OUTPUT = f"{CDN}/runway/{RUNWAY_TASK_ID}.mp4"
FAL = BASES["fal"]
FAL_ID = "764cabcf-b745-4b3e-ae38-1200304cf45b"
FAL_REQ = f"{FAL}/fal-ai/pika/requests/{FAL_ID}"
AAI = BASES["assemblyai"]
TID = "9ea68fd3-f953-42c1-9742-976c447fb463"
REQUEST = VideoGenerationRequest(prompt="waves", duration=5, resolution="720p")


class Journal:
    """Records the jobs an attempt asks to record (and what the fake saw before each)."""

    def __init__(self, router: respx.MockRouter, accept: bool = True) -> None:
        self.router, self.accept = router, accept
        self.jobs: list[RemoteJob] = []
        self.calls_before: list[list[str]] = []

    async def __call__(self, job: RemoteJob) -> bool:
        self.jobs.append(job)
        self.calls_before.append([f"{c.request.method} {c.request.url.path}" for c in self.router.calls])
        return self.accept


@pytest.fixture
def contexts(cloud_settings: Settings) -> Iterator[Any]:
    made: list[AttemptContext] = []

    def make(provider: str, *, journal: Journal | None = None, job: RemoteJob | None = None,
             attempt: int = 1) -> AttemptContext:
        ctx = AttemptContext("task_rj", attempt, cloud_settings, provider=provider, remote_job=job,
                             record_job=journal, progress_interval=0.0)
        made.append(ctx)
        return ctx

    yield make
    for ctx in made:
        ctx.close()


def runway(settings: Settings) -> RunwayVideoProvider:
    return RunwayVideoProvider(settings, base_url=RUNWAY, poll_interval=0.01)


def runway_job() -> RemoteJob:
    return RemoteJob("runway", RUNWAY_TASK_ID, {"model": "veo3.1_fast", "ratio": "1280:720", "duration": 6,
                                                "audio": False, "image_to_video": False}, attempt=1)


# -- RunwayML -------------------------------------------------------------------------------------


def test_runway_records_the_task_before_polling_it(http: respx.MockRouter, cloud_settings: Settings,
                                                   contexts: Any) -> None:
    http.post(f"{RUNWAY}/v1/text_to_video").respond(200, json={"id": RUNWAY_TASK_ID})
    http.get(TASK).mock(side_effect=[httpx.Response(200, json=runway_task("running")),
                                     httpx.Response(200, json=runway_task("succeeded", output=[OUTPUT]))])
    http.get(OUTPUT).respond(200, content=MP4)
    journal = Journal(http)
    ctx = contexts("runway", journal=journal)
    out = run(runway(cloud_settings).run(REQUEST, ctx))
    assert [j.id for j in journal.jobs] == [RUNWAY_TASK_ID]
    assert journal.calls_before == [["POST /v1/text_to_video"]]  # recorded before the first status read
    assert journal.jobs[0].data == runway_job().data and journal.jobs[0].provider == "runway"
    assert out["metadata"]["runway_task_id"] == RUNWAY_TASK_ID and not ctx.remote_job_over


def test_runway_reattaches_to_a_recorded_task(http: respx.MockRouter, cloud_settings: Settings,
                                              contexts: Any) -> None:
    create = http.post(f"{RUNWAY}/v1/text_to_video").respond(200, json={"id": "never"})
    http.get(TASK).respond(200, json=runway_task("succeeded", output=[OUTPUT]))
    http.get(OUTPUT).respond(200, content=MP4)
    journal = Journal(http)
    ctx = contexts("runway", journal=journal, job=runway_job(), attempt=2)
    out = run(runway(cloud_settings).run(REQUEST, ctx))
    assert create.call_count == 0 and journal.jobs == []
    assert artifact_bytes(out["video_url"]) == MP4 and out["duration"] == 6
    assert ctx.cost == pytest.approx(prices.runway_video("veo3.1_fast", False, 6))


def test_a_job_of_another_provider_is_not_reattached(http: respx.MockRouter, cloud_settings: Settings,
                                                     contexts: Any) -> None:
    ctx = contexts("runway", job=RemoteJob("pika", FAL_ID))
    assert ctx.remote_job is None


def test_a_recorded_runway_task_that_is_gone_is_over(http: respx.MockRouter, cloud_settings: Settings,
                                                     contexts: Any) -> None:
    http.get(TASK).respond(404, json={"error": "Task not found"})
    ctx = contexts("runway", job=runway_job(), attempt=2)
    with pytest.raises(RetryableError, match="no longer exists"):
        run(runway(cloud_settings).run(REQUEST, ctx))
    assert ctx.remote_job_over and ctx.remote_job is None


def test_a_failed_runway_task_is_over(http: respx.MockRouter, cloud_settings: Settings, contexts: Any) -> None:
    http.get(TASK).respond(200, json=runway_task("failed", failureCode="INTERNAL.BAD_OUTPUT.CODE01"))
    ctx = contexts("runway", job=runway_job(), attempt=2)
    with pytest.raises(RetryableError):
        run(runway(cloud_settings).run(REQUEST, ctx))
    assert ctx.remote_job_over


def test_a_failed_download_keeps_the_job_for_the_next_attempt(http: respx.MockRouter, cloud_settings: Settings,
                                                              contexts: Any) -> None:
    http.post(f"{RUNWAY}/v1/text_to_video").respond(200, json={"id": RUNWAY_TASK_ID})
    http.get(TASK).respond(200, json=runway_task("succeeded", output=[OUTPUT]))
    http.get(OUTPUT).respond(403, text="expired")
    ctx = contexts("runway", journal=Journal(http))
    with pytest.raises(RetryableError):
        run(runway(cloud_settings).run(REQUEST, ctx))
    assert not ctx.remote_job_over and ctx.remote_job is not None  # the paid result is still there


def test_a_task_that_no_longer_wants_the_job_cancels_it(http: respx.MockRouter, cloud_settings: Settings,
                                                        contexts: Any) -> None:
    http.post(f"{RUNWAY}/v1/text_to_video").respond(200, json={"id": RUNWAY_TASK_ID})
    delete = http.delete(TASK).respond(204)
    status = http.get(TASK).respond(200, json=runway_task("running"))
    ctx = contexts("runway", journal=Journal(http, accept=False))
    with pytest.raises(asyncio.CancelledError):
        run(runway(cloud_settings).run(REQUEST, ctx))
    assert delete.call_count == 1 and status.call_count == 0


def test_cancel_remote_job_deletes_the_runway_task(http: respx.MockRouter, cloud_settings: Settings) -> None:
    delete = http.delete(TASK).mock(side_effect=[httpx.Response(204), httpx.Response(404, json={"error": "gone"})])
    run(runway(cloud_settings).cancel_remote_job(runway_job()))
    run(runway(cloud_settings).cancel_remote_job(runway_job()))  # already gone: fine, as the document says
    assert delete.call_count == 2


# -- Pika through fal.ai ----------------------------------------------------------------------------


def pika_job() -> RemoteJob:
    return RemoteJob("pika", FAL_ID, {"status_url": f"{FAL_REQ}/status", "response_url": FAL_REQ,
                                      "cancel_url": f"{FAL_REQ}/cancel", "resolution": "720p", "duration": 5,
                                      "image_to_video": False}, attempt=1)


def test_pika_records_the_request_and_reattaches(http: respx.MockRouter, cloud_settings: Settings,
                                                 contexts: Any) -> None:
    submit = http.post(f"{FAL}/fal-ai/pika/v2.2/text-to-video").respond(200, json={
        "request_id": FAL_ID, "response_url": FAL_REQ, "status_url": f"{FAL_REQ}/status",
        "cancel_url": f"{FAL_REQ}/cancel"})
    http.get(f"{FAL_REQ}/status").respond(200, json={"status": "COMPLETED", "response_url": FAL_REQ})
    http.get(FAL_REQ).respond(200, json={"video": {"url": f"{CDN}/fal/o.mp4"}, "seed": 3})
    http.get(f"{CDN}/fal/o.mp4").respond(200, content=MP4)
    journal = Journal(http)
    pika = PikaVideoProvider(cloud_settings, base_url=FAL, poll_interval=0.01)
    run(pika.run(REQUEST, contexts("pika", journal=journal)))
    assert [j.data for j in journal.jobs] == [pika_job().data]
    assert journal.calls_before == [["POST /fal-ai/pika/v2.2/text-to-video"]]
    out = run(pika.run(REQUEST, contexts("pika", job=pika_job(), attempt=2)))
    assert submit.call_count == 1 and out["metadata"]["fal_request_id"] == FAL_ID
    cancel = http.put(f"{FAL_REQ}/cancel").respond(202, json={"status": "CANCELLATION_REQUESTED"})
    run(pika.cancel_remote_job(pika_job()))
    assert cancel.call_count == 1


# -- AssemblyAI -----------------------------------------------------------------------------------


def test_assemblyai_reattaches_without_uploading_again(http: respx.MockRouter, cloud_settings: Settings,
                                                        contexts: Any, tmp_path: Path) -> None:
    upload = http.post(f"{AAI}/v2/upload").respond(200, json={"upload_url": "https://cdn.assemblyai.test/u1"})
    create = http.post(f"{AAI}/v2/transcript").respond(200, json=assemblyai_transcript("queued", TID))
    http.get(f"{AAI}/v2/transcript/{TID}").respond(200, json=assemblyai_transcript("completed", TID))
    provider = AssemblyAITranscriptionProvider(cloud_settings, base_url=AAI, poll_interval=0.01)
    audio = tmp_path / "talk.wav"
    audio.write_bytes(b"RIFF" + b"\0" * 64)
    request = AudioTranscriptionRequest(audio_url=upload_file(cloud_settings, audio))
    journal = Journal(http)
    run(provider.run(request, contexts("assemblyai", journal=journal)))
    assert [j.id for j in journal.jobs] == [TID]
    assert journal.calls_before == [["POST /v2/upload", "POST /v2/transcript"]]
    out = run(provider.run(request, contexts("assemblyai", job=journal.jobs[0], attempt=2)))
    assert create.call_count == 1 and upload.call_count == 1 and out["metadata"]["transcript_id"] == TID
    sent = len(http.calls)
    run(provider.cancel_remote_job(journal.jobs[0]))  # no cancel call exists: nothing is sent
    assert len(http.calls) == sent
