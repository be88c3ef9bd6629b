"""The task's field list is written once (``protocol.Submission``): what a submission holds is
what its row, its ``Task`` and its in-flight ``Active`` get, with no second list to forget."""

from typing import get_type_hints

import pytest

from videoai_ray.models import Task
from videoai_ray.models.record import (
    Active,
    active_from_submission,
    active_from_task,
    row_from_submission,
    task_from_row,
)
from videoai_ray.protocol import SUBMISSION_FIELDS, Submission
from videoai_ray.service import MediaService
from videoai_ray.settings import Settings
from videoai_ray.store.schema import tasks


@pytest.fixture
def service(tmp_path):
    return MediaService(Settings(home=tmp_path), scheduler=None, store=object())


def _every_field(service):
    """A submission with every field set to a value no default has."""
    item = service.prepare("image_generation", {"prompt": "a cat", "priority": "high", "metadata": {"k": 1},
                                                "webhook_url": "https://93.184.215.14/hook",
                                                "webhook_events": ["task.completed"]},
                           user_id="ana", idempotency_key="key-1", batch_id="batch_1")
    item.update(experiment_id="exp_1", experiment_arm="b")
    return item


def test_prepare_sets_exactly_the_declared_fields(service):
    item = service.prepare("image_generation", {"prompt": "a cat"}, user_id="ana")
    assert set(item) == set(SUBMISSION_FIELDS) - {"experiment_id", "experiment_arm"}  # those: joining one
    assert set(get_type_hints(Submission)) == set(SUBMISSION_FIELDS)


def test_each_submitted_field_lands_in_a_column_of_the_row(service):
    item = _every_field(service)
    row = row_from_submission(item, None)
    assert set(row) <= set(tasks.c.keys())  # nothing the table cannot store
    for f in SUBMISSION_FIELDS:
        assert row["meta" if f == "metadata" else f] == item[f], f
    assert row["status"] == "pending" and row["attempts"] == 0 and row["output"] is None


def test_the_task_of_a_row_carries_the_submission(service):
    item = _every_field(service)
    task = task_from_row(row_from_submission(item, None))
    for f in SUBMISSION_FIELDS:
        if f in Task.model_fields:
            value = getattr(task, f)
            assert getattr(value, "value", value) == item[f], f


def test_active_gets_the_shared_fields_from_a_submission_and_from_a_loaded_task(service):
    item = _every_field(service)
    act = active_from_submission(item)
    shared = [f for f in SUBMISSION_FIELDS if f in Active.__dataclass_fields__]
    assert {"id", "user_id", "input", "options", "metadata", "webhook_url", "webhook_events", "batch_id",
            "max_retries"} <= set(shared)
    for f in shared:
        value = getattr(act, f)
        assert getattr(value, "value", value) == item[f], f
    loaded = active_from_task(task_from_row(row_from_submission(item, None)), options=item["options"],
                              webhook_events=item["webhook_events"])
    for f in shared:
        assert getattr(loaded, f) == getattr(act, f), f
