"""A bad schedule is refused naming the field, and nothing is stored (checked before the
Scheduler is called: the service here has none)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from videoai_ray.errors import InvalidRequest
from videoai_ray.schedules.service import new_schedule_row
from videoai_ray.service import MediaService
from videoai_ray.store import TaskStore
from videoai_ray.store.schedules import list_schedules

TASK = {"task": {"task_type": "image_generation", "input_data": {"prompt": "a lighthouse"}}}


@pytest.fixture
def service(settings):
    store = TaskStore(settings.db_url, instance=settings.instance)
    yield MediaService(settings, None, store)
    store.close()


ROW_ARGS = {"user_id": "ana", "http": False, "tenant": None, "now": datetime.now(UTC)}


def future(seconds: float = 3600) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


BAD = [
    ({"cron": "61 * * * *", "target": TASK}, "cron"),
    ({"cron": "every day", "target": TASK}, "cron"),
    ({"cron": "0 3 * * *", "timezone": "Mars/Olympus_Mons", "target": TASK}, "timezone"),
    ({"cron": "0 3 * * *", "timezone": "", "target": TASK}, "timezone"),
    ({"at": "2020-01-01T00:00:00Z", "target": TASK}, "at"),
    ({"at": "not a time", "target": TASK}, "at"),
    ({"target": TASK}, "cron"),
    ({"cron": "0 3 * * *", "at": "2099-01-01T00:00:00Z", "target": TASK}, "cron"),
    ({"cron": "0 3 * * *"}, "target"),
    ({"cron": "0 3 * * *", "target": {}}, "target"),
    ({"cron": "0 3 * * *", "target": {"task": TASK["task"], "pipeline": {}}}, "target"),
    ({"cron": "0 3 * * *", "target": {"pipeline": {"steps": []}}}, "target.pipeline.steps"),
    ({"cron": "0 3 * * *", "target": {"pipeline": {}}}, "target.pipeline.steps"),
    ({"cron": "0 3 * * *", "target": {"job": {}}}, "target.job"),
    ({"cron": "0 3 * * *", "target": {"task": {"task_type": "poetry", "input_data": {}}}}, "target.task.task_type"),
    ({"cron": "0 3 * * *", "target": {"task": {"task_type": "image_generation", "input_data": {}}}},
     "target.task.input_data.prompt"),
    ({"cron": "0 3 * * *", "target": {"task": {"task_type": "image_generation",
                                               "input_data": {"prompt": "x", "n": 99}}}}, "target.task.input_data.n"),
    ({"cron": "0 3 * * *", "target": {"task": {"task_type": "image_generation", "input_data": {"prompt": "x"},
                                               "priority": "asap"}}}, "target.task.priority"),
    ({"cron": "0 3 * * *", "target": TASK, "misfire": "sometimes"}, "misfire"),
    ({"cron": "0 3 * * *", "target": TASK, "misfire_grace_seconds": 0}, "misfire_grace_seconds"),
    ({"cron": "0 3 * * *", "target": TASK, "colour": "blue"}, "colour"),
    ({"cron": "0 3 * * *", "target": {"task": {"task_type": "image_generation", "input_data": {
        "prompt": "x", "webhook_url": "http://10.0.0.1/hook"}}}}, "target.task.input_data.webhook_url"),
    ({"cron": "0 3 * * *", "target": {"task": None}}, "target"),
    ({"cron": "0 3 * * *", "target": {"task": TASK["task"], "pipeline": None}}, "target"),
    # the ends of the calendar: their UTC time is off its ends (it was an OverflowError, a 500)
    ({"at": "9999-12-31T23:59:59-05:00", "target": TASK}, "at"),
    ({"at": "0001-01-01T00:00:00+01:00", "target": TASK}, "at"),
    ({"at": "9999-12-31T23:30:00", "timezone": "America/New_York", "target": TASK}, "at"),
    # valid in UTC, but not in the schedule's zone (Tokyo is 10000-01-01), nor sensible
    ({"at": "9999-12-31T23:59:59Z", "timezone": "Asia/Tokyo", "target": TASK}, "at"),
    ({"at": "2300-01-01T00:00:00Z", "target": TASK}, "at"),
    # firing more often than the minimum interval (60 s by default)
    ({"cron": "* * * * * *", "target": TASK}, "cron"),
    ({"cron": "0,30 * * * * *", "target": TASK}, "cron"),
    # close together only on 29 February (within the next four years)
    ({"cron": "0,30 0 0 29 2 *", "target": TASK}, "cron"),
]


def refused(service, body: dict, field: str) -> InvalidRequest:
    """The error creating ``body`` raises, checked to name ``field``, with nothing stored."""
    with pytest.raises(InvalidRequest) as info:
        service.schedules.create(body, user_id="ana")
    assert info.value.field == field, info.value.message
    assert info.value.message.startswith(field)
    assert list_schedules(service.store.engine, "ana", instance=service.store.instance) == []
    return info.value


@pytest.mark.parametrize(("body", "field"), BAD, ids=[f"{f}-{i}" for i, (_, f) in enumerate(BAD)])
def test_a_bad_schedule_names_the_field_and_stores_nothing(service, body, field):
    refused(service, body, field)


def test_the_minimum_interval_is_a_setting(settings):
    """Exactly the minimum is allowed; 0 turns the check off; the error names the setting."""
    store = TaskStore(settings.db_url)
    try:
        strict = MediaService(settings.model_copy(update={"schedule_min_interval_seconds": 3600}), None, store)
        with pytest.raises(InvalidRequest) as info:
            new_schedule_row(strict, {"cron": "*/30 * * * *", "target": TASK}, **ROW_ARGS)
        assert info.value.field == "cron" and "1800 s" in info.value.message
        assert "VIDEOAI_SCHEDULE_MIN_INTERVAL_SECONDS" in info.value.message
        assert new_schedule_row(strict, {"cron": "0 * * * *", "target": TASK}, **ROW_ARGS)["cron"] == "0 * * * *"
        off = MediaService(settings.model_copy(update={"schedule_min_interval_seconds": 0}), None, store)
        assert new_schedule_row(off, {"cron": "* * * * * *", "target": TASK}, **ROW_ARGS)["cron"] == "* * * * * *"
    finally:
        store.close()


def test_the_last_allowed_at_and_a_rare_cron_are_accepted(service):
    from videoai_ray.schedules.service import schedule_view

    ahead = (datetime.now(UTC) + timedelta(days=365 * 99)).replace(microsecond=0)
    row = new_schedule_row(service, {"at": ahead.isoformat(), "timezone": "Pacific/Kiritimati", "target": TASK},
                           **ROW_ARGS)
    assert row["at"] == ahead and schedule_view(row)["next_runs"][0]["utc"] == ahead.isoformat()
    # the fifth Friday of February: once in 28 years or more
    rare = new_schedule_row(service, {"cron": "0 0 * 2 5#5", "target": TASK}, **ROW_ARGS)
    assert len(schedule_view(rare, 100)["next_runs"]) == 100


def test_a_naive_at_is_read_in_the_schedules_time_zone(service):
    now = datetime.now(UTC)
    row = new_schedule_row(service, {"at": "2099-07-01T09:00:00", "timezone": "Europe/Lisbon", "target": TASK},
                           user_id="ana", http=False, tenant=None, now=now)
    assert row["at"] == datetime(2099, 7, 1, 8, 0, tzinfo=UTC)  # WEST is UTC+1 in July
    assert row["next_run_at"] == row["at"] and row["state"] == "active"
    cron = new_schedule_row(service, {"cron": "0 9 * * *", "timezone": "Europe/Lisbon", "target": TASK,
                                      "name": "morning"}, user_id="ana", http=False, tenant=None, now=now)
    local = cron["next_run_at"].astimezone(ZoneInfo("Europe/Lisbon"))
    assert cron["next_run_at"] > now and (local.hour, local.minute) == (9, 0)


STEP = {"id": "a", "task_type": "image_generation", "input": {"prompt": "a lighthouse"}}


def pipeline(*steps: dict, **options: object) -> dict:
    return {"cron": "0 3 * * *", "target": {"pipeline": {"steps": [STEP, *steps], **options}}}


# the same checks as POST /pipelines, the field named under target.pipeline.
BAD_PIPELINES = [
    (pipeline({"id": "b", "task_type": "image_generation", "input": {"prompt": {"$ref": "nowhere.output.text"}}}),
     "target.pipeline.steps[1].input.prompt"),
    (pipeline({"id": "b", "task_type": "image_generation", "input": {"prompt": "x"}, "after": ["c"]},
              {"id": "c", "task_type": "image_generation", "input": {"prompt": "x"}, "after": ["b"]}),
     "target.pipeline.steps[2]"),
    (pipeline({"id": "b", "task_type": "image_generation", "input": {"prompt": "x"}, "after": ["ghost"]}),
     "target.pipeline.steps[1].after[0]"),
    (pipeline(STEP), "target.pipeline.steps[1].id"),
    (pipeline({"id": "b", "task_type": "poetry", "input": {}}), "target.pipeline.steps.1.task_type"),
    (pipeline({"id": "b", "task_type": "image_generation", "input": {"prompt": "x", "n": 99}}),
     "target.pipeline.steps[1].input.n"),
    (pipeline({"id": "b", "task_type": "image_generation", "input": {"prompt": {"$ref": "a.sideways.x"}}}),
     "target.pipeline.steps[1].input.prompt"),
    (pipeline(webhook_url="http://10.0.0.1/hook"), "target.pipeline.webhook_url"),
    (pipeline(colour="blue"), "target.pipeline.colour"),
]


@pytest.mark.parametrize(("body", "field"), BAD_PIPELINES, ids=[f"{f}-{i}" for i, (_, f) in enumerate(BAD_PIPELINES)])
def test_a_bad_pipeline_target_names_the_field_and_stores_nothing(service, body, field):
    error = refused(service, body, field)
    # exactly what POST /pipelines says about the same spec, under the target's prefix
    with pytest.raises(InvalidRequest) as direct:
        service.pipelines.validate(body["target"]["pipeline"])
    assert f"target.pipeline.{direct.value.field}" == field
    assert error.message == f"target.pipeline.{direct.value.message}"


def test_a_pipeline_target_is_stored_as_validated_and_shown_without_secrets(service):
    from videoai_ray.schedules.service import schedule_view

    spec = {"steps": [{"id": "a", "task_type": "image_generation",
                       "input": {"prompt": "x", "webhook_secret": "step-secret-123"}},
                      {"id": "b", "task_type": "image_generation", "input": {"prompt": {"$ref": "a.input.prompt"}}}],
            "webhook_secret": "pipe-secret-123"}
    row = new_schedule_row(service, {"cron": "0 3 * * *", "target": {"pipeline": spec}}, user_id="ana",
                           http=False, tenant=None, now=datetime.now(UTC))
    stored = row["target"]["pipeline"]
    # the validated spec, defaults filled in, secrets kept for the ticks
    assert stored["priority"] == "medium" and stored["metadata"] == {}
    assert stored["steps"][1] == {"id": "b", "task_type": "image_generation", "after": [], "priority": None,
                                  "input": {"prompt": {"$ref": "a.input.prompt"}}}
    assert stored["webhook_secret"] == "pipe-secret-123"
    view = schedule_view(row)
    shown = view["target"]["pipeline"]
    assert "webhook_secret" not in shown and "webhook_secret" not in shown["steps"][0]["input"]
    assert shown["steps"][0]["input"] == {"prompt": "x"}
    assert "secret" not in str(view)
    assert view["last_task_id"] is None and view["last_pipeline_id"] is None


def test_the_sdk_body_takes_a_pipeline_or_its_steps():
    from videoai_ray.schedules.handle import schedule_body

    steps = [STEP]
    common = {"cron": "0 3 * * *", "at": None, "timezone": "UTC", "name": None, "misfire": "skip",
              "misfire_grace_seconds": 5.0}
    body = schedule_body(None, None, target=None, priority="high", pipeline=steps, **common)
    assert body["target"] == {"pipeline": {"steps": steps, "priority": "high"}}
    spec = {"steps": steps, "priority": "low"}
    assert schedule_body(None, None, target=None, priority="high", pipeline=spec, **common)["target"] == {
        "pipeline": spec}
    for clash in ({"target": {"pipeline": spec}}, {"task_type": "image_generation", "input_data": {"prompt": "x"}}):
        args = {"task_type": None, "input_data": None, "target": None, **clash}
        with pytest.raises(InvalidRequest) as info:
            schedule_body(args.pop("task_type"), args.pop("input_data"), priority=None, pipeline=spec, **args,
                          **common)
        assert info.value.field == "target"
