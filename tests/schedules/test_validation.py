"""A bad schedule is refused naming the field, and nothing is stored (checked before the
Scheduler is called: the service here has none)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from videoai_ray.errors import InvalidRequest
from videoai_ray.service import MediaService
from videoai_ray.store import TaskStore
from videoai_ray.store.schedules import list_schedules

TASK = {"task": {"task_type": "image_generation", "input_data": {"prompt": "a lighthouse"}}}


@pytest.fixture
def service(settings):
    store = TaskStore(settings.db_url)
    yield MediaService(settings, None, store)
    store.close()


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
    ({"cron": "0 3 * * *", "target": {"pipeline": {"steps": []}}}, "target.pipeline"),
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
]


@pytest.mark.parametrize(("body", "field"), BAD, ids=[f"{f}-{i}" for i, (_, f) in enumerate(BAD)])
def test_a_bad_schedule_names_the_field_and_stores_nothing(service, body, field):
    with pytest.raises(InvalidRequest) as info:
        service.create_schedule(body, user_id="ana")
    assert info.value.field == field, info.value.message
    assert info.value.message.startswith(field)
    assert list_schedules(service.store.engine, "ana") == []


def test_a_naive_at_is_read_in_the_schedules_time_zone(service):
    from videoai_ray.schedules.service import new_schedule_row

    now = datetime.now(UTC)
    row = new_schedule_row(service, {"at": "2099-07-01T09:00:00", "timezone": "Europe/Lisbon", "target": TASK},
                           user_id="ana", http=False, tenant=None, now=now)
    assert row["at"] == datetime(2099, 7, 1, 8, 0, tzinfo=UTC)  # WEST is UTC+1 in July
    assert row["next_run_at"] == row["at"] and row["state"] == "active"
    cron = new_schedule_row(service, {"cron": "0 9 * * *", "timezone": "Europe/Lisbon", "target": TASK,
                                      "name": "morning"}, user_id="ana", http=False, tenant=None, now=now)
    local = cron["next_run_at"].astimezone(ZoneInfo("Europe/Lisbon"))
    assert cron["next_run_at"] > now and (local.hour, local.minute) == (9, 0)
