"""``videoai bench http``: task submission over HTTP through Ray Serve, against a bare Serve echo.

Both endpoints run in the same Serve instance, behind the same ingress (HAProxy + direct ingress
when available, else the default proxy), and are loaded the same way in the same run: ``POST``
of the same small JSON body from ``concurrency`` keep-alive connections on 127.0.0.1, for at most
``requests`` requests or ``duration`` seconds per round, rounds interleaved. The submission is
``POST /images/generate`` with a bearer token, pinned to the no-op provider with the cache off, so
what is measured is auth + rate limit (in the replica's memory, as with one replica and no
``REDIS_URL``) + validation + the task accepted into the store (202). The CPU each process role
spends per request (API replica, Scheduler, HAProxy, load generator, the rest) is accounted in
the same rounds and reported against an echo request. A third endpoint, the echo plus one batched
Ray actor call per chunk of requests (``hop_application``), measures the floor of any accept that
goes through the Scheduler actor, with nothing stored.

The load generator is aiohttp when installed (it ships with ``ray[default]``), else httpx, whose
client tops out below the server on a small machine and would hide the server side (figures in
docs/benchmarks.md).
Rows are ``{"benchmark", "value", "unit", "baseline", "ratio", "target", ...details}``.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import ray
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from videoai_ray.api.auth import create_token
from videoai_ray.api.context import API_PREFIX
from videoai_ray.api.server import Ingress, run_server, serve_running
from videoai_ray.providers.testing import FixedLatencyProvider, NoopProvider
from videoai_ray.scheduler import NAMESPACE, get_or_create_scheduler, kill_scheduler
from videoai_ray.settings import Settings

Poster = Callable[[dict[str, Any]], Awaitable[int]]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve_application(app: FastAPI, name: str) -> Any:
    """``app`` as a Serve ingress deployment named ``name``, sized like the API's."""
    from ray import serve

    @serve.deployment(name=name, ray_actor_options={"num_cpus": 0}, max_ongoing_requests=1000)
    @serve.ingress(app)
    class Ingress:
        pass

    return Ingress.bind()  # type: ignore[attr-defined]


def echo_application() -> Any:
    """A bare FastAPI echo as a Serve ingress deployment (the baseline), at ``POST /echo/``."""
    app = FastAPI()

    @app.post("/")
    async def echo(request: Request) -> JSONResponse:
        return JSONResponse(await request.json())

    return _serve_application(app, "videoai-bench-echo")


@ray.remote(num_cpus=0)
class AckActor:
    """Answers a chunk of submissions the way the Scheduler does, storing nothing."""

    async def submit(self, items: list[dict[str, Any]], return_tasks: bool = False) -> list[dict[str, Any]]:
        return [{"id": it["id"], "status": "pending", "existing": False, "cache_hit": False} for it in items]


def hop_application() -> Any:
    """The echo plus what any accept through the Scheduler costs at least: each request goes
    through the API's ``SubmitBatcher`` to an actor that acknowledges it (``AckActor``), one Ray
    call per chunk of concurrent requests, at ``POST /hop/``."""
    import uuid

    from videoai_ray.api.submit_batcher import SubmitBatcher
    from videoai_ray.service import MediaService

    app = FastAPI()
    batchers: list[SubmitBatcher] = []  # made in the replica, on its first request

    @app.post("/")
    async def hop(request: Request) -> JSONResponse:
        body = await request.json()
        if not batchers:
            batchers.append(SubmitBatcher(MediaService(Settings(), AckActor.remote())))  # type: ignore[attr-defined]
        # a bare hop: the acknowledging actor reads the id alone
        [answer] = await batchers[0].submit([{"id": uuid.uuid4().hex, "input": body}])  # type: ignore[typeddict-item]
        return JSONResponse({**body, **answer})

    return _serve_application(app, "videoai-bench-hop")


async def _load(url: str, headers: dict[str, str], expect: int, requests: int, duration: float,
                concurrency: int, client: str, provider: str = "noop") -> dict[str, Any]:
    """Requests/s and latency percentiles of ``requests`` POSTs (or ``duration`` seconds)."""
    latencies: list[float] = []
    errors = 0
    counter = iter(range(requests))
    deadline = time.perf_counter() + duration

    async def worker(post: Poster) -> None:
        nonlocal errors
        for i in counter:
            if time.perf_counter() > deadline:
                return
            t = time.perf_counter()
            status = await post({"prompt": f"bench {i}", "provider": provider, "use_cache": False})
            latencies.append(time.perf_counter() - t)
            errors += status != expect

    async def run(post: Poster) -> float:
        start = time.perf_counter()
        await asyncio.gather(*(worker(post) for _ in range(concurrency)))
        return time.perf_counter() - start

    if client == "aiohttp":
        import aiohttp

        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency), headers=headers) as s:

            async def post_aiohttp(body: dict[str, Any]) -> int:
                async with s.post(url, json=body) as r:
                    await r.read()
                    return r.status

            elapsed = await run(post_aiohttp)
    else:
        import httpx

        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(limits=limits, headers=headers, timeout=30.0) as c:

            async def post_httpx(body: dict[str, Any]) -> int:
                return (await c.post(url, json=body)).status_code

            elapsed = await run(post_httpx)
    latencies.sort()
    n = len(latencies)
    return {"rps": n / elapsed, "requests": n, "errors": errors,
            "p50_ms": 1000 * latencies[n // 2] if n else None,
            "p99_ms": 1000 * latencies[min(n - 1, int(n * 0.99))] if n else None}


#: process roles for the CPU accounting, by a fragment of the process's command line
_ROLES = (("ServeReplica:videoai-bench-echo", "echo replica"), ("ServeReplica:videoai-bench-hop", "hop replica"),
          ("ServeReplica:", "API replica"),
          ("ray::Scheduler", "Scheduler"), ("haproxy", "HAProxy ingress"), ("HAProxyManager", "HAProxy ingress"))


def _cpu_by_role() -> dict[str, float]:
    """CPU seconds used so far by the processes of this machine, summed per role (the load
    generator is this process; whatever else runs counts as "other")."""
    import psutil

    out: dict[str, float] = {}
    me = os.getpid()
    for proc in psutil.process_iter(["pid", "cmdline", "cpu_times"]):
        times = proc.info["cpu_times"]
        if times is None:
            continue
        cmd = " ".join(proc.info["cmdline"] or [])
        role = "load generator" if proc.info["pid"] == me else next(
            (name for fragment, name in _ROLES if fragment in cmd), "other")
        out[role] = out.get(role, 0.0) + times.user + times.system
    return out


async def _accounted(coro: Awaitable[dict[str, Any]]) -> dict[str, Any]:
    """``coro``'s result plus ``cpu_us``: CPU microseconds per request of each role meanwhile."""
    before = _cpu_by_role()
    result = await coro
    after = _cpu_by_role()
    n = max(1, result["requests"])
    result["cpu_us"] = {role: 1e6 * (after[role] - before.get(role, 0.0)) / n for role in after}
    return result


def _run(coro: Awaitable[dict[str, Any]]) -> dict[str, Any]:
    """``asyncio.run``, in a thread when a loop already runs here (a notebook)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)  # type: ignore[arg-type]
    box: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: box.update(out=asyncio.run(coro)))  # type: ignore[arg-type]
    thread.start()
    thread.join()
    out: dict[str, Any] = box["out"]
    return out


def _client(requested: str) -> str:
    if requested == "auto":
        try:
            import aiohttp  # noqa: F401
        except ImportError:
            return "httpx"
        return "aiohttp"
    return requested


def _settle(scheduler: Any, timeout: float = 15.0) -> None:
    """Wait for the no-op tasks of the last round to finish, so rounds do not overlap (the
    parked tasks of the accept-only rounds stay queued, costing nothing)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        live = ray.get(scheduler.live_stats.remote())
        if not live["in_flight"].get("noop") and not live["queue_by_route"].get("provider:noop"):
            return
        time.sleep(0.1)


def run_http_benchmarks(requests: int = 4000, duration: float = 15.0, concurrency: int = 32, rounds: int = 5,
                        ingress: Ingress = "auto", client: str = "auto") -> list[dict[str, Any]]:
    """Measure both endpoints ``rounds`` times, interleaved (each round starts once the previous
    round's tasks are done); report the median round of each, and every round's rate."""
    from ray import serve

    started_ray = not ray.is_initialized()
    if started_ray:
        ray.init(namespace=NAMESPACE, include_dashboard=False, log_to_driver=False)
    if serve_running():
        raise RuntimeError("Ray Serve already runs on this Ray instance: the HTTP benchmark starts its own")
    home = tempfile.mkdtemp(prefix="videoai-bench-http-")
    # one replica: its rate-limit counters live in its memory (with REDIS_URL set they would cost
    # a Redis round trip per request, which is not what this compares)
    settings = Settings(home=Path(home), instance="bench-http", cache_enabled=False, redis_url=None,
                        rate_limit_per_minute=10**9)
    kill_scheduler(settings)
    loader = _client(client)
    try:
        # "parked": one slot, one-hour attempts, so its tasks are accepted and then simply wait
        parked = FixedLatencyProvider(latency=3600, max_concurrency=1, name="parked")
        info = run_server(settings, port=_free_port(), blocking=False, ingress=ingress,
                          providers=[NoopProvider(), parked],
                          serve_env={"RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S": "1"})
        serve.run(echo_application(), name="videoai-bench-echo", route_prefix="/echo", blocking=False)
        serve.run(hop_application(), name="videoai-bench-hop", route_prefix="/hop", blocking=False)
        headers = {"Authorization": f"Bearer {create_token(settings, 'bench', 3600)}"}
        submit_url = f"{info.url}{API_PREFIX}/images/generate"
        targets = {"echo": (f"{info.url}/echo/", {}, 200, "noop"), "hop": (f"{info.url}/hop/", {}, 200, "noop"),
                   "submit": (submit_url, headers, 202, "noop"),
                   "accept": (submit_url, headers, 202, "parked")}
        for url, hdrs, expect, prov in targets.values():  # warm up: connections, replicas, workers
            _run(_load(url, hdrs, expect, min(requests, 500), duration, concurrency, loader, prov))
        scheduler = get_or_create_scheduler(settings)
        results: dict[str, list[dict[str, Any]]] = {name: [] for name in targets}
        for _ in range(rounds):
            for name, (url, hdrs, expect, prov) in targets.items():
                _settle(scheduler)
                results[name].append(_run(_accounted(
                    _load(url, hdrs, expect, requests, duration, concurrency, loader, prov))))
    finally:
        serve.shutdown()
        kill_scheduler(settings)
        if started_ray:
            ray.shutdown()
        shutil.rmtree(home, ignore_errors=True)
    echo = _median(results["echo"])
    where: dict[str, Any] = {"ingress": info.ingress, "client": loader, "concurrency": concurrency}
    return [
        _rate_row("HTTP submit POST /images/generate (202, no-op provider)", results["submit"], echo,
                  baseline_rounds=[round(r["rps"], 1) for r in results["echo"]], **where),
        _rate_row("HTTP submit, accepted into the store only (tasks queue behind a busy provider)",
                  results["accept"], echo),
        _rate_row("bare Serve echo + one batched Ray actor call (the floor of an accept through the Scheduler)",
                  results["hop"], echo, target=None),
        _rate_row("bare Serve echo (baseline)", results["echo"], None, **where),
        *_cpu_rows(results["accept"], results["echo"]),
    ]


def _rate_row(label: str, rounds: list[dict[str, Any]], echo: dict[str, Any] | None,
              target: str | None = ">= 0.9x", **detail: Any) -> dict[str, Any]:
    """One endpoint's median round, as a ratio to the echo's median round when ``echo`` is given."""
    m = _median(rounds)
    row: dict[str, Any] = {"benchmark": label, "value": round(m["rps"], 1), "unit": "req/s"}
    if echo is not None:
        row.update(baseline=f"bare Serve echo: {echo['rps']:,.0f} req/s", ratio=round(m["rps"] / echo["rps"], 2),
                   target=target)
    row.update(p50_ms=_ms(m["p50_ms"]), p99_ms=_ms(m["p99_ms"]), errors=m["errors"],
               rounds=[round(r["rps"], 1) for r in rounds], **detail)
    return row


def _cpu_rows(accept: list[dict[str, Any]], echo: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Where the CPU of an accepted request goes, per process role, against an echo request
    (averaged over every round): the machine is shared, so this says what costs the ratio."""
    ours, base = _mean_cpu(accept), _mean_cpu(echo)
    rows = []
    for role in ("API replica", "Scheduler", "HAProxy ingress", "load generator", "other"):
        baseline_role = "echo replica" if role == "API replica" else role
        b = base.get(baseline_role, 0.0)
        rows.append({"benchmark": f"CPU per accepted request: {role}", "value": round(ours.get(role, 0.0)),
                     "unit": "µs", "baseline": f"per echo request: {b:,.0f} µs"})
    # each endpoint's total leaves out the other (idle) replicas
    total = sum(v for k, v in ours.items() if k not in ("echo replica", "hop replica"))
    total_base = sum(v for k, v in base.items() if k not in ("API replica", "hop replica"))
    rows.append({"benchmark": "CPU per accepted request: whole machine", "value": round(total), "unit": "µs",
                 "baseline": f"per echo request: {total_base:,.0f} µs", "ratio": round(total_base / total, 2)})
    return rows


def _mean_cpu(rounds: list[dict[str, Any]]) -> dict[str, float]:
    n = sum(r["requests"] for r in rounds)
    roles = {role for r in rounds for role in r["cpu_us"]}
    return {role: sum(r["cpu_us"].get(role, 0.0) * r["requests"] for r in rounds) / max(1, n) for role in roles}


def _median(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    mid = statistics.median_low([r["rps"] for r in rounds])
    return next(r for r in rounds if r["rps"] == mid)


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 2)
