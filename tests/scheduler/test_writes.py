"""The Scheduler's batched write against real stores: a change the store cannot take is split out
and named, every other change of the batch is written; an unreachable store is not mistaken for
a bad row (nothing is split, the caller keeps the batch)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from videoai_ray.models.record import row_from_submission
from videoai_ray.scheduler.writes import unreachable, write_or_split
from videoai_ray.store import TaskStore


@pytest.fixture
def store(any_store):
    return any_store


def rows(n):
    return [row_from_submission({"id": f"task_{i}", "type": "image_generation", "user_id": "u", "priority": "medium",
                  "input": {"prompt": "p"}, "options": {}, "metadata": {}, "max_retries": 3},
                 datetime.now(UTC)) for i in range(n)]


def test_one_bad_change_is_split_out_and_the_rest_written(store):
    store.insert_many(rows(5))
    changes = [{"id": f"task_{i}", "status": "completed", "output": {"i": i}, "finish_seq": i + 1}
               for i in range(5)]
    changes[2]["output"] = {"tags": {"a", "b"}}  # a set: no JSON for it
    bad = write_or_split(store, changes, [])
    assert list(bad) == ["task_2"] and "TypeError" in bad["task_2"]
    got = {t.id: t for t in store.get_many([f"task_{i}" for i in range(5)])}
    assert [got[f"task_{i}"].status.value for i in range(5)] == ["completed"] * 2 + ["pending"] + ["completed"] * 2
    assert got["task_4"].output == {"i": 4}


def test_a_good_batch_is_one_write(store):
    store.insert_many(rows(3))
    assert write_or_split(store, [{"id": f"task_{i}", "progress": 0.5} for i in range(3)], []) == {}
    assert {t.progress for t in store.get_many(["task_0", "task_1", "task_2"])} == {0.5}


def test_an_unreachable_store_raises_instead_of_splitting(tmp_path):
    down = TaskStore("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1", migrate=False)
    with pytest.raises(Exception) as info:
        write_or_split(down, [{"id": "task_0", "progress": 0.1}, {"id": "task_1", "progress": 0.2}], [])
    assert unreachable(info.value)
