"""The benchmark table printer: base columns always, request latencies when a suite has them."""

from __future__ import annotations

from videoai_bench.report import format_rows


def test_latency_column_only_when_rows_carry_latencies() -> None:
    plain = [{"benchmark": "core", "value": 2.5, "unit": "x", "ratio": 2.5, "target": ">= 1.0x"}]
    assert "p50" not in format_rows(plain, markdown=True)
    http = [*plain, {"benchmark": "http", "value": 600, "unit": "req/s", "p50_ms": 49.1, "p99_ms": 120.5}]
    lines = format_rows(http, markdown=True).splitlines()
    assert lines[0] == "| benchmark | value | unit | baseline | ratio | target | p50 / p99 ms |"
    assert lines[2].endswith("| 2.5 | >= 1.0x |  |") and lines[3].endswith("|  |  | 49.1 / 120.5 |")
    assert "49.1 / 120.5" in format_rows(http, markdown=False)
