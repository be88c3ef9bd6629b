"""``/schedules`` over HTTP (the session's Serve app): create, read with the next run times,
pause, resume, delete; another user's schedule is a 404; bad input answers 422 naming the field
and stores nothing; the routes are in ``/openapi.json`` and the statistics count schedules."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from served_api import Api, error_of, noop, unique

pytestmark = pytest.mark.slow


def task_target(**input_data: object) -> dict:
    return {"task": {"task_type": "image_generation", "input_data": {**noop("scheduled"), **input_data}}}


def test_schedules_over_http_per_user(api: Api) -> None:
    alice, bob = api.client(unique("alice")), api.client(unique("bob"))
    r = alice.post("/schedules", json={"cron": "0 9 * * MON-FRI", "timezone": "Europe/Lisbon", "name": "weekday",
                                       "target": task_target(webhook_secret="s3cret-s3cret")})
    assert r.status_code == 201, r.text
    s = r.json()
    assert (s["state"], s["kind"], s["misfire"], s["ticks_fired"]) == ("active", "cron", "run_once", 0)
    assert "webhook_secret" not in s["target"]["task"]["input_data"]
    assert len(s["next_runs"]) == 5 and all(r["local"][11:16] == "09:00" for r in s["next_runs"])
    got = alice.get(f"/schedules/{s['id']}", params={"next": 12}).json()
    assert len(got["next_runs"]) == 12 and got["next_run_at"] == got["next_runs"][0]["utc"]
    assert [x["id"] for x in alice.get("/schedules").json()["schedules"]] == [s["id"]]
    assert bob.get("/schedules").json() == {"schedules": [], "count": 0}
    for other in (bob.get(f"/schedules/{s['id']}"), bob.post(f"/schedules/{s['id']}/pause"),
                  bob.post(f"/schedules/{s['id']}/resume"), bob.delete(f"/schedules/{s['id']}"),
                  alice.get("/schedules/sched_unknown")):
        assert other.status_code == 404 and error_of(other)["code"] == "schedule_not_found"
    assert alice.get(f"/schedules/{s['id']}").json()["state"] == "active"  # bob changed nothing
    paused = alice.post(f"/schedules/{s['id']}/pause").json()
    assert paused["state"] == "paused" and paused["next_runs"] == []
    assert alice.post(f"/schedules/{s['id']}/resume").json()["state"] == "active"
    assert alice.delete(f"/schedules/{s['id']}").status_code == 204
    assert alice.get(f"/schedules/{s['id']}").status_code == 404


def test_a_schedule_fires_tasks_its_owner_alone_can_read(api: Api) -> None:
    alice, bob = api.client(unique("alice")), api.client(unique("bob"))
    s = alice.post("/schedules", json={"cron": "* * * * * *", "target": task_target()}).json()
    deadline = time.monotonic() + 30
    while alice.get(f"/schedules/{s['id']}").json()["ticks_fired"] < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    got = alice.post(f"/schedules/{s['id']}/pause").json()
    assert got["ticks_fired"] >= 2 and got["last_task_id"]
    task = alice.get(f"/tasks/{got['last_task_id']}").json()
    assert task["metadata"]["schedule"]["id"] == s["id"]
    assert bob.get(f"/tasks/{got['last_task_id']}").status_code == 404
    stats = alice.get("/statistics").json()["schedules"]
    assert stats["by_state"] == {"paused": 1} and stats["ticks_fired"] == got["ticks_fired"]
    alice.delete(f"/schedules/{s['id']}")


PAST = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
BAD = [
    ({"cron": "0 9 * * FUNDAY", "target": task_target()}, "cron"),
    ({"cron": "0 9 * * *", "timezone": "Europe/Atlantis", "target": task_target()}, "timezone"),
    ({"at": PAST, "target": task_target()}, "at"),
    ({"cron": "0 9 * * *", "target": {"task": {"task_type": "image_generation", "input_data": {}}}},
     "target.task.input_data.prompt"),
    ({"cron": "0 9 * * *", "target": {"task": {"task_type": "audio_transcription",
                                               "input_data": {"audio_url": "file:///etc/passwd"}}}},
     "target.task.input_data.audio_url"),
    ({"cron": "0 9 * * *", "target": {"pipeline": {}}}, "target.pipeline.steps"),
    ({"cron": "0 9 * * *", "target": {"pipeline": {"steps": [
        {"id": "a", "task_type": "image_generation", "input": noop("x")},
        {"id": "b", "task_type": "image_generation", "input": {"prompt": {"$ref": "zz.output.text"}}}]}}},
     "target.pipeline.steps[1].input.prompt"),
    ({"cron": "0 9 * * *", "target": {"pipeline": {"steps": [
        {"id": "a", "task_type": "audio_transcription", "input": {"audio_url": "file:///etc/passwd"}}]}}},
     "target.pipeline.steps[0].input.audio_url"),
    ({"cron": "0 9 * * *"}, "target"),
    # the ends of the calendar (they were a 500: OverflowError)
    ({"at": "9999-12-31T23:59:59-05:00", "target": task_target()}, "at"),
    ({"at": "0001-01-01T00:00:00+01:00", "target": task_target()}, "at"),
    ({"at": "9999-12-31T23:59:59Z", "timezone": "Asia/Tokyo", "target": task_target()}, "at"),
]


@pytest.mark.parametrize(("body", "field"), BAD, ids=[f for _, f in BAD])
def test_bad_schedules_answer_422_naming_the_field(api: Api, body: dict, field: str) -> None:
    c = api.client(unique("u"))
    r = c.post("/schedules", json=body)
    assert r.status_code == 422, r.text
    assert error_of(r)["code"] == "invalid_request" and error_of(r)["field"] == field
    assert c.get("/schedules").json()["count"] == 0


def test_a_schedule_starts_pipelines_its_owner_alone_can_read(api: Api) -> None:
    alice, bob = api.client(unique("alice")), api.client(unique("bob"))
    spec = {"steps": [{"id": "a", "task_type": "image_generation", "input": noop()},
                      {"id": "b", "task_type": "image_generation",
                       "input": {**noop(), "prompt": {"$ref": "a.input.prompt"}}}],
            "webhook_secret": "pipe-s3cret-s3cret"}
    r = alice.post("/schedules", json={"cron": "* * * * * *", "target": {"pipeline": spec}})
    assert r.status_code == 201, r.text
    s = r.json()
    assert "webhook_secret" not in s["target"]["pipeline"] and "s3cret" not in r.text
    deadline = time.monotonic() + 30
    while alice.get(f"/schedules/{s['id']}").json()["ticks_fired"] < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    got = alice.post(f"/schedules/{s['id']}/pause").json()
    assert got["ticks_fired"] >= 2 and got["last_pipeline_id"] and got["last_task_id"] is None
    pipe = alice.get(f"/pipelines/{got['last_pipeline_id']}").json()
    assert pipe["metadata"]["schedule"]["id"] == s["id"] and [x["id"] for x in pipe["steps"]] == ["a", "b"]
    assert bob.get(f"/pipelines/{got['last_pipeline_id']}").status_code == 404
    alice.delete(f"/schedules/{s['id']}")


def test_schedules_are_in_the_openapi_document(api: Api) -> None:
    doc = api.root().get("/openapi.json").json()
    prefix = "/api/v1/media"
    assert {"post", "get"} <= set(doc["paths"][f"{prefix}/schedules"])
    assert {"get", "delete"} <= set(doc["paths"][f"{prefix}/schedules/{{schedule_id}}"])
    assert "post" in doc["paths"][f"{prefix}/schedules/{{schedule_id}}/pause"]
    assert "post" in doc["paths"][f"{prefix}/schedules/{{schedule_id}}/resume"]
    props = doc["components"]["schemas"]["ScheduleRequest"]["properties"]
    assert {"cron", "at", "timezone", "target", "misfire", "misfire_grace_seconds"} <= set(props)
    schemas = doc["components"]["schemas"]
    target = schemas[props["target"]["$ref"].rsplit("/", 1)[1]]["properties"]
    assert {"task", "pipeline"} <= set(target)
    assert target["pipeline"]["$ref"] == "#/components/schemas/PipelineSpec"
    assert "steps" in schemas["PipelineSpec"]["properties"]
