"""``videoai bench data`` at a small size: the S3 server starts in its own process, both sides
run on the same objects, and every row is there."""

from __future__ import annotations

import pytest

from videoai_bench.bucket import input_url, run_data_benchmark


def test_clips_are_named_by_s3_urls_under_the_granted_root() -> None:
    assert input_url("http://127.0.0.1:9", "b", "clips/x.wav") == "s3://b/clips/x.wav"


@pytest.mark.slow
def test_data_bench_rows_at_a_small_size(ray_session: None) -> None:
    pytest.importorskip("moto.server")
    speed, phases, driver_read, memory = run_data_benchmark(objects=12, rounds=1, concurrency=4)
    assert speed["unit"] == "clips/s" and speed["value"] > 0 and speed["ratio"] > 0
    assert "Ray Data read_binary_files" in speed["baseline"] and len(speed["rounds"]) == 1
    assert "by s3:// URLs" in speed["benchmark"]
    assert phases["unit"] == "s" and "submit (client.map)" in phases["baseline"] and "to_parquet" in phases["baseline"]
    assert driver_read["unit"] == "MB rchar" and driver_read["value"] >= 0
    assert memory["unit"] == "MB"
