"""Runs the benchmark suites and prints their rows as a table (Markdown for docs/benchmarks.md)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def _suites(n: int, batch_items: int = 100_000, objects: int = 1000,
            clip_seconds: float = 1.0) -> dict[str, Callable[[], list[dict[str, Any]]]]:
    def core() -> list[dict[str, Any]]:
        from .core import run_core_benchmarks

        return run_core_benchmarks(n=n)

    def http() -> list[dict[str, Any]]:
        from .http import run_http_benchmarks

        return run_http_benchmarks()

    def providers() -> list[dict[str, Any]]:
        from videoai_ray.settings import Settings

        from .providers import run_provider_benchmarks

        return run_provider_benchmarks(Settings())

    def cache() -> list[dict[str, Any]]:
        from videoai_ray.settings import Settings

        from .cache import run_cache_benchmarks

        return run_cache_benchmarks(Settings())

    def batch() -> list[dict[str, Any]]:
        from .batch import run_batch_benchmark

        return run_batch_benchmark(batch_items)

    def models() -> list[dict[str, Any]]:
        from .models import run_model_benchmarks

        return run_model_benchmarks()

    def fairness() -> list[dict[str, Any]]:
        from .fairness import run_fairness_benchmarks

        return run_fairness_benchmarks()

    def data() -> list[dict[str, Any]]:
        from .bucket import run_data_benchmark

        return run_data_benchmark(objects, seconds=clip_seconds)

    return {"core": core, "http": http, "providers": providers, "cache": cache, "batch": batch, "models": models,
            "fairness": fairness, "data": data}


def format_rows(rows: list[dict[str, Any]], markdown: bool) -> str:
    cols = ["benchmark", "value", "unit", "baseline", "ratio", "target"]
    table = [[("" if r.get(c) is None else str(r.get(c))) for c in cols] for r in rows]
    if any(r.get("p50_ms") is not None for r in rows):  # request latencies (bench http)
        cols.append("p50 / p99 ms")
        for r, row in zip(rows, table, strict=True):
            row.append(f"{r['p50_ms']} / {r['p99_ms']}" if r.get("p50_ms") is not None else "")
    if markdown:
        lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        lines += ["| " + " | ".join(row) + " |" for row in table]
        return "\n".join(lines)
    widths = [max(len(c), *(len(row[i]) for row in table)) if table else len(c) for i, c in enumerate(cols)]
    out = ["  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True))]
    out += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in table]
    return "\n".join(out)


def run_benchmarks(names: list[str], *, markdown: bool = False, n: int = 20_000,
                   batch_items: int = 100_000, objects: int = 1000, clip_seconds: float = 1.0) -> int:
    import ray

    suites = _suites(n, batch_items, objects, clip_seconds)
    selected = list(suites) if "all" in names else names
    if not ray.is_initialized():
        ray.init(include_dashboard=False, log_to_driver=False, namespace="videoai")
    rows: list[dict[str, Any]] = []
    for name in selected:
        rows.extend(suites[name]())
    print(format_rows(rows, markdown), flush=True)
    return 0
