"""The one batch lifecycle (``BatchLifecycle``) that the SDK's batches and ``POST /batch`` share,
on a real store: opened once, an empty batch listed when sealed, a replayed batch discarded."""

import pytest

from videoai_ray.batch_lifecycle import BatchLifecycle
from videoai_ray.errors import BatchNotFound
from videoai_ray.service import MediaService
from videoai_ray.settings import Settings
from videoai_ray.store import TaskStore


@pytest.fixture
def service(tmp_path):
    store = TaskStore(f"sqlite:///{tmp_path}/t.db")
    yield MediaService(Settings(home=tmp_path), scheduler=None, store=store)
    store.close()


def test_a_batch_is_opened_once_with_its_budget_and_sealed(service):
    life = BatchLifecycle(service, "batch_a", "ana", 2.5)
    life.open(3)
    life.open(3)  # a second chunk: the row exists (a second insert would fail on its key)
    row = service.batches.get("batch_a", "ana")
    assert row["expected"] == 3 and row["budget_usd"] == 2.5 and row["sealed_at"] is None
    life.seal(3)
    assert service.batches.get("batch_a", "ana")["sealed_at"] is not None


def test_a_streamed_batch_learns_its_size_when_sealed(service):
    life = BatchLifecycle(service, "batch_s", "ana")
    life.open(None)
    assert service.batches.get("batch_s", "ana")["expected"] is None
    life.seal(5)
    assert service.batches.get("batch_s", "ana")["expected"] == 5


def test_an_empty_batch_is_opened_when_sealed(service):
    BatchLifecycle(service, "batch_e", "ana", 1.0).seal(0)
    row = service.batches.get("batch_e", "ana")
    assert row["expected"] == 0 and row["sealed_at"] is not None and row["budget_usd"] == 1.0


def test_a_resumed_batch_is_not_opened_again(service):
    BatchLifecycle(service, "batch_r", "ana", opened=True).open(4)
    with pytest.raises(BatchNotFound):
        service.batches.get("batch_r", "ana")


def test_a_batch_answered_by_replays_is_discarded_else_sealed(service):
    replay = BatchLifecycle(service, "batch_again", "ana")
    replay.open(2)
    assert replay.end([{"id": "task_1", "status": None, "existing": True, "cache_hit": False}] * 2)
    with pytest.raises(BatchNotFound):
        service.batches.get("batch_again", "ana")

    new = BatchLifecycle(service, "batch_new", "ana")
    new.open(2)
    answers = [{"id": "task_1", "status": None, "existing": True, "cache_hit": False},
               {"id": "task_2", "status": "pending", "existing": False, "cache_hit": False}]
    assert not new.end(answers)
    row = service.batches.get("batch_new", "ana")
    assert row["sealed_at"] is not None and row["expected"] == 2


def test_a_failed_send_leaves_no_row(service):
    life = BatchLifecycle(service, "batch_f", "ana")
    life.open(1)
    life.discard()
    with pytest.raises(BatchNotFound):
        service.batches.get("batch_f", "ana")
