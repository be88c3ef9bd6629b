"""Small providers for benchmarks, tests and notebooks. They do no media work and say so."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import httpx

from ..errors import InvalidInput, PermanentError, ProviderError, RetryableError
from ..models import TaskRequest, TaskType
from .base import Provider, ProviderContext
from .cloud.http import error_for_response
from .limits import RateLimits
from .model import ModelProvider

ALL_TYPES = frozenset(TaskType)


class NoopProvider(Provider):
    """Returns at once with an empty output: measures the system's own overhead."""

    name = "noop"
    task_types = ALL_TYPES
    quality = 0.01
    max_concurrency = 10_000
    description = "does nothing (benchmarks and tests)"

    async def run(self, request: Any, ctx: ProviderContext) -> dict[str, Any]:
        return {"noop": True}


class FixedLatencyProvider(Provider):
    """Waits a fixed time per attempt (an I/O-bound provider with a concurrency cap)."""

    name = "fixed-latency"
    task_types = ALL_TYPES
    quality = 0.02
    max_concurrency = 4
    description = "sleeps a fixed time (benchmarks and tests)"

    def __init__(self, latency: float = 0.05, max_concurrency: int = 4, name: str | None = None,
                 task_types: frozenset[TaskType] | None = None, quality: float | None = None,
                 cost: float = 0.0, log_dir: Path | None = None) -> None:
        self.latency = latency
        self.max_concurrency = max_concurrency  # type: ignore[misc]
        self.cost = cost
        self.log_dir = log_dir
        if name:
            self.name = name  # type: ignore[misc]
        if task_types:
            self.task_types = task_types  # type: ignore[misc]
        if quality is not None:
            self.quality = quality  # type: ignore[misc]

    def estimate_cost(self, request: TaskRequest) -> float:
        return self.cost

    async def run(self, request: Any, ctx: ProviderContext) -> dict[str, Any]:
        started = time.time()
        t0 = time.monotonic()
        steps = 5
        for i in range(steps):
            # sleep to each step's deadline, not a fifth of the latency each time: five separate
            # sleeps would add five timer overshoots to every attempt's fixed latency
            await asyncio.sleep(max(0.0, t0 + self.latency * (i + 1) / steps - time.monotonic()))
            ctx.raise_if_cancelled()
            ctx.progress((i + 1) / steps)
        if self.log_dir is not None:
            # one file per completed attempt: tests count completions across processes with it
            (self.log_dir / f"{ctx.task_id}.{ctx.attempt}.done").write_text(f"{started}\n{time.time()}\n")
        return {"provider": self.name, "slept": self.latency, "started": started}


class FlakyProvider(FixedLatencyProvider):
    """Fails its first ``failures`` attempts of every task with ``error``, then succeeds."""

    name = "flaky"
    failing: ClassVar[dict[str, int]] = {}

    def __init__(self, failures: int = 1, error: ProviderError | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self.failures = failures
        self.error = error or RetryableError("flaky: transient failure")

    async def run(self, request: Any, ctx: ProviderContext) -> dict[str, Any]:
        if ctx.attempt <= self.failures:
            raise self.error
        return await super().run(request, ctx)


class FailureRateProvider(FixedLatencyProvider):
    """A fixed-latency provider that fails a share of tasks for good (``PermanentError``, after
    its latency): those whose id hashes below ``failure_rate`` (``fails``), so a task always
    fails or always succeeds, and a test can tell which beforehand (A/B experiment reports)."""

    name = "failure-rate"

    def __init__(self, failure_rate: float = 0.5, **kw: Any) -> None:
        super().__init__(**kw)
        self.failure_rate = failure_rate

    @staticmethod
    def fails(task_id: str, failure_rate: float) -> bool:
        import hashlib

        digest = hashlib.sha256(f"fail:{task_id}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64 < failure_rate

    async def run(self, request: Any, ctx: ProviderContext) -> dict[str, Any]:
        out = await super().run(request, ctx)
        if self.fails(ctx.task_id, self.failure_rate):
            raise PermanentError(f"{self.name}: this task fails (failure rate {self.failure_rate:g})")
        return out


class CpuSleepProvider(FixedLatencyProvider):
    """A CPU-bound stand-in: runs as a Ray task and records the process id it runs in."""

    name = "cpu-sleep"
    cpu_bound = True
    max_concurrency = 2
    description = "sleeps in a Ray task (fault tests)"

    async def run(self, request: Any, ctx: ProviderContext) -> dict[str, Any]:
        import os

        if self.log_dir is not None:
            (self.log_dir / f"{ctx.task_id}.{ctx.attempt}.pid").write_text(str(os.getpid()))
        out = await super().run(request, ctx)
        import ray

        return {**out, "node_id": ray.get_runtime_context().get_node_id(), "pid": os.getpid(),
                "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"), "finished": time.time()}


class InputReaderProvider(Provider):
    """Fetches every input a request names (``audio_url``, ``image_url``) through
    ``ctx.open_input``, as a real provider would, and returns each one's size and SHA-256; stores
    one small artifact. Tests use it to see what a worker can and cannot read."""

    name = "inputs"
    task_types = frozenset({TaskType.VIDEO_GENERATION, TaskType.AUDIO_TRANSCRIPTION})
    quality = 0.01
    max_concurrency = 4
    description = "reads the request's inputs and reports their digests (tests)"

    async def run(self, request: Any, ctx: ProviderContext) -> dict[str, Any]:
        import hashlib

        from ..models import REQUEST_MODELS

        task_type = next(t for t, m in REQUEST_MODELS.items() if isinstance(request, m))
        read: dict[str, Any] = {}
        for field in REQUEST_MODELS[task_type].input_url_fields:
            url = getattr(request, field)
            if url:
                data = (await asyncio.to_thread(ctx.open_input, url)).read_bytes()
                read[field] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        art = ctx.store_artifact("inputs.json", repr(read).encode(), "application/json")
        return {"inputs": read, "report_url": art["url"]}


class OutputProvider(Provider):
    """Returns the output it was given (fault tests: outputs the store cannot hold)."""

    name = "fixed-output"
    task_types = ALL_TYPES
    quality = 0.01
    description = "returns a fixed output (fault tests)"

    def __init__(self, output: Any, name: str | None = None, pad: int = 0) -> None:
        self.output = output
        #: adds ``"blob": "x" * pad`` at run time (a large output, without a large provider object)
        self.pad = pad
        if name:
            self.name = name  # type: ignore[misc]

    async def run(self, request: Any, ctx: ProviderContext) -> dict[str, Any]:
        out: dict[str, Any] = self.output
        return {**out, "blob": "x" * self.pad} if self.pad else out


class LoopBlockingProvider(FixedLatencyProvider):
    """Blocks its worker's event loop (``time.sleep`` inside ``async run``) on the first attempt of
    tasks whose prompt contains ``block``; otherwise a fixed-latency provider."""

    name = "loop-blocking"

    def __init__(self, block_seconds: float, timeout: float, **kw: Any) -> None:
        super().__init__(**kw)
        self.block_seconds = block_seconds
        self.timeout = timeout  # type: ignore[misc]

    async def run(self, request: Any, ctx: ProviderContext) -> dict[str, Any]:
        if ctx.attempt == 1 and "block" in getattr(request, "prompt", ""):
            time.sleep(self.block_seconds)  # the mistake under test: blocking code in async run
        return await super().run(request, ctx)


class ExitingProvider(FixedLatencyProvider):
    """Leaves the attempts of tasks whose prompt contains ``exit`` the way ``how`` says, after
    ``exit_after`` seconds: ``"system_exit"`` raises ``SystemExit`` (a library calling
    ``sys.exit()``), ``"keyboard_interrupt"`` raises ``KeyboardInterrupt``, ``"process_exit"``
    ends its process (``os._exit``: a provider that crashes its worker on some input, a crash
    loop). Other tasks run as a fixed-latency provider; ``cpu_bound`` as given (fault tests)."""

    name = "exiting"
    HOWS = ("system_exit", "keyboard_interrupt", "process_exit")

    def __init__(self, how: str, *, exit_after: float = 0.2, cpu_bound: bool = False, timeout: float | None = None,
                 **kw: Any) -> None:
        if how not in self.HOWS:
            raise ValueError(f"how must be one of {self.HOWS}, not {how!r}")
        super().__init__(**kw)
        self.how = how
        self.exit_after = exit_after
        self.cpu_bound = cpu_bound  # type: ignore[misc]
        self.timeout = timeout  # type: ignore[misc]

    async def run(self, request: Any, ctx: ProviderContext) -> dict[str, Any]:
        if "exit" not in getattr(request, "prompt", ""):
            return await super().run(request, ctx)
        await asyncio.sleep(self.exit_after)
        if self.how == "system_exit":
            raise SystemExit(f"{self.name} gave up on task {ctx.task_id}")
        if self.how == "keyboard_interrupt":
            raise KeyboardInterrupt(f"{self.name} interrupted on task {ctx.task_id}")
        import os

        os._exit(3)


class HttpCallProvider(Provider):
    """Sends one ``POST`` per attempt to ``url`` (a local test server standing in for a provider's
    API) and maps its answer like a cloud adapter does (429 with ``Retry-After`` → ``RateLimited``);
    ``rate_limits`` as given. Tests of the rate limiter count the requests at that server."""

    name = "http-call"
    task_types = ALL_TYPES
    quality = 0.01
    description = "one POST to a test server per attempt (rate limit tests)"

    def __init__(self, url: str, name: str, rate_limits: RateLimits | None = None, max_concurrency: int = 8) -> None:
        self.url = url
        self.name = name  # type: ignore[misc]
        self.rate_limits = rate_limits  # type: ignore[misc]
        self.max_concurrency = max_concurrency  # type: ignore[misc]

    async def run(self, request: Any, ctx: ProviderContext) -> dict[str, Any]:
        async with httpx.AsyncClient(timeout=10.0) as client:
            resp = await client.post(self.url, json={"task_id": ctx.task_id, "provider": self.name})
        if not resp.is_success:
            raise error_for_response(resp, self.name)
        return {"provider": self.name, "answer": resp.json()}


class GpuSleepProvider(CpuSleepProvider):
    """``CpuSleepProvider`` that declares cluster resources (placement tests)."""

    name = "gpu-sleep"

    def __init__(self, latency: float = 0.5, max_concurrency: int = 8, *, name: str | None = None,
                 num_gpus: float = 0.0, accelerator_type: str | None = None,
                 resources: dict[str, float] | None = None, num_cpus: float = 0.0) -> None:
        super().__init__(latency, max_concurrency, name=name)
        self.num_gpus = num_gpus  # type: ignore[misc]
        self.accelerator_type = accelerator_type  # type: ignore[misc]
        self.resources = resources or {}  # type: ignore[misc]
        self.num_cpus = num_cpus  # type: ignore[misc]


class BatchSleepProvider(ModelProvider):
    """A model provider without a model: ``load()`` records one file per load (with the process
    id) in ``log_dir``; a batch sleeps ``latency`` once, whatever its size, and each output says
    the batch's size, the process and the GPUs it ran on. A prompt containing ``"fail"`` fails
    alone (``InvalidInput``); one containing ``"poison"`` returns an output that is not JSON; one
    containing ``"boom"`` makes the whole batch raise, one containing ``"sysexit"`` makes it raise
    ``SystemExit`` (a library calling ``sys.exit()``). With ``load_error``, ``load()`` raises it
    (weights that cannot be loaded)."""

    name = "batch-sleep"
    task_types = ALL_TYPES
    quality = 0.03
    description = "sleeps once per batch in a pool actor (tests and benchmarks)"

    def __init__(self, latency: float = 0.1, *, name: str | None = None, log_dir: Path | None = None,
                 max_batch_size: int = 8, pool_min: int = 0, pool_max: int = 1, batch_wait_s: float = 0.01,
                 pool_idle_s: float = 60.0, num_gpus: float = 0.0, num_cpus: float = 0.0,
                 resources: dict[str, float] | None = None, accelerator_type: str | None = None,
                 timeout: float | None = None, load_error: str | None = None) -> None:
        self.latency = latency
        self.load_error = load_error
        self.timeout = timeout  # type: ignore[misc]
        self.log_dir = log_dir
        if name:
            self.name = name  # type: ignore[misc]
        self.max_batch_size = max_batch_size  # type: ignore[misc]
        self.pool_min = pool_min  # type: ignore[misc]
        self.pool_max = pool_max  # type: ignore[misc]
        self.batch_wait_s = batch_wait_s  # type: ignore[misc]
        self.pool_idle_s = pool_idle_s  # type: ignore[misc]
        self.num_gpus = num_gpus  # type: ignore[misc]
        self.num_cpus = num_cpus  # type: ignore[misc]
        self.resources = resources or {}  # type: ignore[misc]
        self.accelerator_type = accelerator_type  # type: ignore[misc]
        self.loaded_pid: int | None = None

    def load(self) -> None:
        import os

        if self.load_error:
            raise RuntimeError(self.load_error)
        self.loaded_pid = os.getpid()
        if self.log_dir is not None:
            (self.log_dir / f"load.{self.name}.{os.getpid()}.{time.time_ns()}").write_text(str(os.getpid()))

    async def run_batch(self, requests: Sequence[Any], ctxs: Sequence[ProviderContext],
                        ) -> list[dict[str, Any] | BaseException]:
        import os

        if any("boom" in str(getattr(r, "prompt", "")) for r in requests):
            raise RuntimeError("boom: the whole batch failed")
        if any("sysexit" in str(getattr(r, "prompt", "")) for r in requests):
            raise SystemExit("the model library called sys.exit()")
        steps = 5
        for i in range(steps):
            await asyncio.sleep(self.latency / steps)
            for c in ctxs:
                c.progress((i + 1) / steps)
        gpus = os.environ.get("CUDA_VISIBLE_DEVICES")
        node = _node_id()
        out: list[dict[str, Any] | BaseException] = []
        for r in requests:
            if "fail" in str(getattr(r, "prompt", "")):
                out.append(InvalidInput("this item is refused on its own"))
            elif "poison" in str(getattr(r, "prompt", "")):
                out.append({"tags": {"a", "b"}})  # not JSON: must fail alone, never reach the store
            else:
                out.append({"provider": self.name, "batch_size": len(requests), "pid": os.getpid(),
                            "loaded_pid": self.loaded_pid, "cuda_visible_devices": gpus, "node_id": node,
                            "finished": time.time()})
        return out

    def load_catalogue_model(self, spec: Any, weights: Any) -> dict[str, Any]:
        """A catalogue model here is what its fetched files hold: their bytes are read and
        counted (so a test sees the real weights arrive, not a stand-in)."""
        files = [p for p in Path(weights.folder).rglob("*") if p.is_file() and not p.name.startswith(".videoai")]
        return {"name": spec.name, "revision": spec.revision, "bytes": sum(len(p.read_bytes()) for p in files)}

    async def run_model_batch(self, model: Any, requests: Sequence[Any], ctxs: Sequence[ProviderContext],
                              ) -> list[dict[str, Any] | BaseException]:
        outs = await self.run_batch(requests, ctxs)
        return [{**o, "model": model["name"], "model_bytes": model["bytes"]} if isinstance(o, dict) else o
                for o in outs]


def _node_id() -> str | None:
    try:
        import ray

        return str(ray.get_runtime_context().get_node_id())
    except Exception:  # outside Ray
        return None
