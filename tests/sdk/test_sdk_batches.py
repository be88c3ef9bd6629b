"""SDK batches: streamed from any iterable, validated chunk by chunk, re-attached by id from
another client, mapped from a DataFrame into a live frame, estimated before submitting."""

from __future__ import annotations

import math

import pandas as pd
import pytest

import videoai_ray as vai
from videoai_ray.batching import BatchItemRefused, parquet_rows
from videoai_ray.errors import BatchNotFound, InvalidRequest
from videoai_ray.store.batches import batch_task_id, stored_ids


def item(i: int, provider: str = "noop", text: str | None = None) -> dict:
    return {"task_type": "subtitle_generation",
            "input_data": {"text": f"line {i}" if text is None else text, "provider": provider, "use_cache": False}}


def other_user(client: vai.Client, user: str = "someone-else") -> vai.Client:
    return vai.Client(client.settings, client.scheduler, client.service.store, user_id=user)


def batch_row(client: vai.Client, batch_id: str) -> pd.Series:
    return client.batches(limit=500).loc[batch_id]


def test_a_generator_streams_and_a_new_client_reattaches_to_the_same_batch(sdk_client) -> None:
    batch = sdk_client.batch((item(i) for i in range(25)), chunk_size=10)
    assert len(batch) == 25 and batch.expected == 25
    again = other_user(sdk_client, sdk_client.user_id).batch_from_id(batch.id)  # a new driver, same user
    assert type(again) is vai.Batch and list(again.ids) == list(batch.ids) and again.expected == 25
    assert sorted(t.id for t in again.as_completed(timeout=60)) == sorted(batch.ids)
    assert again.counts() == batch.counts() == {"completed": 25}
    assert list(again.to_pandas()["id"]) == list(batch.ids) == [batch_task_id(batch.id, i) for i in range(25)]
    row = batch_row(sdk_client, batch.id)
    assert (row["expected"], row["submitted"], row["missing"], row["completed"]) == (25, 25, 0, 25)
    assert not pd.isna(row["sealed_at"]) and row["cost_usd"] == 0.0 and pd.isna(row["budget_usd"])
    assert sdk_client.get_batch(batch.id).ids == again.ids  # the documented older name


def test_a_dataframe_and_parquet_rows_are_batch_inputs(sdk_client, tmp_path) -> None:
    frame = pd.DataFrame({"task_type": ["subtitle_generation"] * 12,
                          "input_data": [item(i)["input_data"] for i in range(12)],
                          "priority": ["low", "high"] * 6})
    batch = sdk_client.batch(frame, chunk_size=5)
    assert batch.wait(timeout=60) == {"completed": 12}
    assert list(batch.to_pandas()["priority"].astype(str)) == ["low", "high"] * 6
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "items.parquet"
    pq.write_table(pa.Table.from_pylist([item(i) for i in range(30)]), path, row_group_size=7)
    rows = parquet_rows(path, batch_size=8)
    assert not isinstance(rows, list)  # read a record batch at a time
    streamed = sdk_client.batch(rows, chunk_size=10)
    assert len(streamed) == 30 and streamed.wait(timeout=60) == {"completed": 30}
    assert {t.input["text"] for t in streamed.results()} == {f"line {i}" for i in range(30)}


def test_a_bad_streamed_item_refuses_its_chunk_naming_its_index(sdk_client) -> None:
    def items():
        for i in range(35):
            yield item(i, text="" if i == 23 else None)

    before = len(sdk_client.batches(limit=500))
    with pytest.raises(BatchItemRefused) as info:
        sdk_client.batch(items(), chunk_size=10)
    err = info.value
    assert err.field == "[23].input_data.text" and err.accepted == 20 and err.batch_id
    assert "[23].input_data.text" in str(err) and "20 items" in str(err)
    stored = stored_ids(sdk_client.service.store.engine, err.batch_id)
    assert sorted(stored) == sorted(batch_task_id(err.batch_id, i) for i in range(20))  # nothing of chunk 3
    row = batch_row(sdk_client, err.batch_id)
    assert pd.isna(row["expected"]) and pd.isna(row["sealed_at"]) and row["submitted"] == 20
    assert len(sdk_client.batches(limit=500)) == before + 1
    # a bad item in the first chunk: nothing is stored at all
    with pytest.raises(BatchItemRefused) as info:
        sdk_client.batch([item(0), item(1, text="")], chunk_size=10)
    assert info.value.field == "[1].input_data.text" and info.value.accepted == 0 and info.value.batch_id is None
    assert len(sdk_client.batches(limit=500)) == before + 1


def test_a_sized_batch_refused_midway_shows_what_is_missing_and_resumes(sdk_client) -> None:
    items = [item(i, text="" if i == 12 else None) for i in range(18)]
    with pytest.raises(BatchItemRefused) as info:
        sdk_client.batch(items, chunk_size=5)
    batch_id = info.value.batch_id
    assert info.value.accepted == 10
    cut = sdk_client.batch_from_id(batch_id)
    assert len(cut) == 10 and cut.counts()["not_submitted"] == 8
    items[12] = item(12)
    resumed = sdk_client.resume_batch(batch_id, items, chunk_size=5)
    assert resumed.wait(timeout=60) == {"completed": 18}
    with pytest.raises(InvalidRequest) as wrong:
        sdk_client.resume_batch(batch_id, items[:-1])
    assert wrong.value.field == "items"


def test_cancel_through_a_reattached_batch(sdk_client) -> None:
    batch = sdk_client.batch([item(i, provider="lat") for i in range(16)])
    answers = sdk_client.batch_from_id(batch.id).cancel()
    assert answers and all(a["status"] == "cancelled" for a in answers)
    counts = batch.wait(timeout=60)
    assert counts.get("cancelled", 0) == len(answers) and sum(counts.values()) == 16


def test_unknown_and_other_users_batches_and_bad_budgets_are_refused(sdk_client) -> None:
    mine = sdk_client.batch([item(0)])
    stranger = other_user(sdk_client)
    for client, batch_id in ((stranger, mine.id), (sdk_client, "batch_nope")):
        with pytest.raises(BatchNotFound):
            client.batch_from_id(batch_id)
        with pytest.raises(BatchNotFound):
            client.resume_batch(batch_id, [item(0)])
    assert mine.id not in stranger.batches().index
    before = len(sdk_client.batches(limit=500))
    # the HTTP API's rule (tests/api/test_api_batches.py refuses the same): 2e9 is over the cap
    for budget in (0, -1.5, math.nan, math.inf, 2e9, True, "5"):
        with pytest.raises(InvalidRequest) as info:
            sdk_client.batch([item(0)], budget_usd=budget)
        assert info.value.field == "budget_usd"
        with pytest.raises(InvalidRequest) as info:
            sdk_client.set_budget(budget)
        assert info.value.field == "budget_usd" and "above 0 (at most 1e+09)" in str(info.value)
        with pytest.raises(InvalidRequest) as info:
            sdk_client.service.batches.open("batch_refused", sdk_client.user_id, 1, budget)
        assert info.value.field == "budget_usd"
    assert len(sdk_client.batches(limit=500)) == before
    assert sdk_client.budget()["budget_usd"] is None, "a refused budget sets nothing"
    assert sdk_client.set_budget(1e9)["budget_usd"] == 1e9, "the cap itself is accepted"
    sdk_client.set_budget(None)


def test_map_fills_result_columns_and_retries_failed_rows(sdk_client) -> None:
    frame = pd.DataFrame({"caption": [f"caption {i}" for i in range(10)],
                          "who": ["perm" if i in (3, 7) else "noop" for i in range(10)]},
                         index=[f"r{i}" for i in range(10)])
    view = sdk_client.map(frame, task_type="subtitle_generation", columns={"text": "caption", "provider": "who"},
                          use_cache=False)
    assert isinstance(view, vai.MapView) and len(view) == 10
    done = view.wait(timeout=60)
    assert list(done.index) == list(frame.index) and list(done["caption"]) == list(frame["caption"])
    assert done.loc["r0", "status"] == "completed" and done.loc["r0", "provider"] == "noop"
    assert done.loc["r0", "output"] == {"noop": True} and done.loc["r0", "cost"] == 0.0
    assert list(done.loc[["r3", "r7"], "status"]) == ["failed", "failed"]
    assert done.loc["r3", "error"].startswith("invalid_input: ") and pd.isna(done.loc["r0", "error"])
    assert view.retry_failed() == 2
    assert set(view.frame.loc[["r3", "r7"], "status"]) <= {"pending", "processing", "retrying", "failed"}
    again = view.wait(timeout=60)
    attempts = {t.id: t.attempts for t in view.batch.results()}
    assert list(again.loc[["r3", "r7"], "status"]) == ["failed", "failed"]
    assert [attempts[t] for t in again.loc[["r3", "r7"], "task_id"]] == [2, 2]
    with pytest.raises(InvalidRequest) as info:
        sdk_client.map(frame, task_type="subtitle_generation", columns={"text": "nope"})
    assert info.value.field == "columns"


def test_estimate_prices_items_on_the_provider_they_would_run_on(sdk_client) -> None:
    sdk_client.batch([item(i, provider="lat") for i in range(4)]).wait(timeout=60)  # time "lat" once
    tasks_before = len(sdk_client.tasks(limit=1000))
    est = sdk_client.estimate([*(item(i, provider="lat") for i in range(10)), *(item(i) for i in range(5)),
                               item(0, provider="ghost")])
    assert est.tasks == 16 and est.cost_usd == pytest.approx(0.10)
    assert est.by_provider.loc["lat", "tasks"] == 10 and est.by_provider.loc["noop", "tasks"] == 5
    latency = est.by_provider.loc["lat", "latency_s"]
    assert 0.25 < latency < 2.0 and est.by_provider.loc["lat", "duration_s"] == pytest.approx(3 * latency)
    assert est.duration_s is not None and est.duration_s >= 3 * latency
    assert list(est.unservable.values()) == [1] and "ghost" in next(iter(est.unservable))
    assert len(sdk_client.tasks(limit=1000)) == tasks_before, "an estimate stores nothing"
    with pytest.raises(InvalidRequest) as info:
        sdk_client.estimate([item(0), item(1, text="")])
    assert info.value.field == "[1].input_data.text"
