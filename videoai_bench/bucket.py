"""``videoai bench data``: inputs in object storage, results back there, against a Ray Data pipeline.

N small objects (one-second 16 kHz WAV clips by default, each different) are put in an S3-compatible server on
loopback (moto's server, in its own process, so the driver's I/O counters see only the driver).
Per round, interleaved:

* **videoai-ray**: ``client.map(manifest_url)`` over a Parquet manifest in the bucket, one task per
  clip on the ``inputs`` provider (the worker fetches the object and hashes it: SHA-256 and size),
  ``batch.wait()``, then ``batch.to_parquet("s3://.../results.parquet")``;
* **Ray Data**: ``read_binary_files`` over the same objects, the same SHA-256 and size in
  ``map_batches``, ``write_parquet`` into the bucket.

Reported: the throughput ratio (median of the rounds), and for each side the bytes the driver
process read (``/proc/self/io``: ``rchar``, every read call including sockets, and ``read_bytes``,
from storage) and the growth of its resident memory at its peak, against the bytes of the media.

The manifest names each clip by its ``s3://`` URL under a root the deployment grants
(``VIDEOAI_INPUT_ROOTS``); the worker reads it through s3fs with the deployment's storage options,
as Ray Data's side does. (``INPUT_BY = "http"`` instead: by the object's plain public-read HTTP URL,
the way the bench measured before ``s3://`` inputs existed.)
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import math
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

#: how the worker is told where a clip is; the one line to change for ``s3://`` inputs
INPUT_BY = "s3"


def input_url(endpoint: str, bucket: str, key: str) -> str:
    """The URL a task names its clip by."""
    return f"{endpoint}/{bucket}/{key}" if INPUT_BY == "http" else f"s3://{bucket}/{key}"


def _clip(i: int, seconds: float = 1.0, rate: int = 16_000) -> bytes:
    """A mono 16-bit WAV: a tone whose pitch depends on ``i`` (every clip is different)."""
    import numpy as np

    n = int(seconds * rate)
    freq = 200.0 + 7.0 * (i % 400) + i / 1000
    pcm = (8000 * np.sin(2 * math.pi * freq * np.arange(n) / rate)).astype("<i2").tobytes()
    header = struct.pack("<4sI4s4sIHHIIHH4sI", b"RIFF", 36 + len(pcm), b"WAVE", b"fmt ", 16, 1, 1, rate,
                         rate * 2, 2, 16, b"data", len(pcm))
    return header + pcm


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def s3_server() -> Iterator[dict[str, Any]]:
    """moto's S3 server in a child process on loopback; yields the s3fs options to reach it."""
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("moto's S3 server did not start (pip install 'moto[server]')")
            time.sleep(0.1)
        yield {"endpoint_url": f"http://127.0.0.1:{port}", "key": "bench", "secret": "bench-secret",
               "client_kwargs": {"region_name": "eu-west-1"}}
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _io() -> dict[str, int]:
    with open("/proc/self/io") as f:
        return {k: int(v) for k, v in (line.split(": ") for line in f if line.strip())}


class _PeakRss:
    """The driver's resident memory, sampled every 20 ms while in the block; ``growth``: peak - start."""

    def __init__(self) -> None:
        self.start = self.peak = self._rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _rss() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * 4096

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self._rss())

    def __enter__(self) -> _PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())

    @property
    def growth(self) -> int:
        return self.peak - self.start


def _digests(batch: dict[str, Any]) -> dict[str, Any]:
    """Ray Data's side of the work: what the ``inputs`` provider reports for each object."""
    data = list(batch["bytes"])
    return {"path": batch["path"], "size": [len(b) for b in data],
            "sha256": [hashlib.sha256(b).hexdigest() for b in data]}


def _measure(fn: Any) -> tuple[float, dict[str, int], int]:
    before = _io()
    with _PeakRss() as rss:
        started = time.perf_counter()
        fn()
        elapsed = time.perf_counter() - started
    after = _io()
    return elapsed, {k: after[k] - before[k] for k in ("rchar", "read_bytes")}, rss.growth


def run_data_benchmark(objects: int = 1000, rounds: int = 3, concurrency: int = 32,
                       seconds: float = 1.0) -> list[dict[str, Any]]:
    """Rows ``{"benchmark", "value", "unit", "baseline", "ratio", "target", ...}``. ``concurrency``:
    fetches in flight on the ``inputs`` provider (Ray Data reads with every CPU it has);
    ``seconds``: each clip's length (the driver's reads must not grow with it)."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.fs as pafs
    import pyarrow.parquet as pq
    import ray.data
    import s3fs

    from videoai_ray.client import connect
    from videoai_ray.providers.testing import InputReaderProvider
    from videoai_ray.scheduler import kill_scheduler
    from videoai_ray.settings import Settings

    logging.getLogger("ray.data").setLevel(logging.WARNING)  # a progress table per Dataset otherwise
    with s3_server() as options:
        fs = s3fs.S3FileSystem(**options, skip_instance_cache=True)
        bucket = "bench-data"
        fs.mkdir(bucket, region_name="eu-west-1")
        keys = [f"clips/clip-{i:05d}.wav" for i in range(objects)]
        media_bytes = 0
        for i, key in enumerate(keys):
            clip = _clip(i, seconds)
            media_bytes += len(clip)
            fs.pipe(f"{bucket}/{key}", clip)
            if INPUT_BY == "http":
                fs.chmod(f"{bucket}/{key}", "public-read")
        buf = io.BytesIO()
        pq.write_table(pa.table({"clip": keys, "audio": [input_url(options["endpoint_url"], bucket, k) for k in keys]}),
                       buf, row_group_size=10_000)
        fs.pipe(f"{bucket}/manifest.parquet", buf.getvalue())

        settings = Settings(home=Path(tempfile.mkdtemp(prefix="videoai-bench-data-")), instance="bench-data",
                            cache_enabled=False, max_retries=0,
                            url_allowlist=("127.0.0.1",) if INPUT_BY == "http" else (),
                            input_roots=(f"s3://{bucket}/clips/",), storage_options={"s3": options})
        kill_scheduler(settings)
        reader = InputReaderProvider()
        reader.max_concurrency = concurrency  # type: ignore[misc]
        client = connect(settings=settings, providers=[reader])
        arrow_fs = pafs.PyFileSystem(pafs.FSSpecHandler(fs))

        phases: list[tuple[float, float, float]] = []  # per measured round: submit, wait, to_parquet

        def ours(r: int) -> None:
            t0 = time.perf_counter()
            batch = client.map(f"s3://{bucket}/manifest.parquet", task_type="audio_transcription",
                               columns={"audio_url": "audio"}, provider="inputs")
            t1 = time.perf_counter()
            counts = batch.wait(timeout=3600)
            if counts != {"completed": objects}:
                raise RuntimeError(f"videoai-ray tasks did not all complete: {counts}")
            t2 = time.perf_counter()
            batch.to_parquet(f"s3://{bucket}/out/videoai-{r}.parquet")
            if r >= 0:
                phases.append((t1 - t0, t2 - t1, time.perf_counter() - t2))

        def theirs(r: int) -> None:
            ds = ray.data.read_binary_files(f"{bucket}/clips", filesystem=arrow_fs, include_paths=True)
            ds.map_batches(_digests, batch_format="pandas").write_parquet(
                f"{bucket}/out/raydata-{r}", filesystem=arrow_fs)

        try:
            ours(-1)  # warm: the worker actor, the store's tables
            theirs(-1)
            a_runs, b_runs = [], []
            for r in range(rounds):  # interleaved, so both see the same machine
                a_runs.append(_measure(lambda r=r: ours(r)))
                b_runs.append(_measure(lambda r=r: theirs(r)))
            check = pd.read_parquet(f"s3://{bucket}/out/videoai-0.parquet", storage_options=options)
            if check["status"].tolist() != ["completed"] * objects:
                raise RuntimeError("the results file does not hold every task as completed")
        finally:
            kill_scheduler(settings)

    a_rate = statistics.median(objects / t for t, _, _ in a_runs)
    b_rate = statistics.median(objects / t for t, _, _ in b_runs)
    per_round = [round(b / a, 2) for (a, _, _), (b, _, _) in zip(a_runs, b_runs, strict=True)]

    def worst(runs: list[tuple[float, dict[str, int], int]], key: str) -> int:
        return max(io_[key] for _, io_, _ in runs)

    submit_s, wait_s, write_s = (statistics.median(p[i] for p in phases) for i in range(3))
    mb = 1024 * 1024
    via = "their loopback HTTP object URLs" if INPUT_BY == "http" else "s3:// URLs"
    return [
        {"benchmark": f"{objects} {seconds:g}-second clips in S3 (loopback), manifest -> tasks reading each clip "
                      f"by {via} (SHA-256, {concurrency} in flight) -> Parquet in the bucket",
         "value": round(a_rate, 1), "unit": "clips/s",
         "baseline": f"Ray Data read_binary_files + map_batches + write_parquet, same objects: {b_rate:.1f} clips/s "
                     f"(ratio per round: {', '.join(map(str, per_round))})",
         "ratio": round(a_rate / b_rate, 2), "target": ">= 1.0x", "rounds": per_round},
        # where videoai-ray's time goes: client.map (the manifest read, each input's identity asked
        # at submit, the tasks stored), batch.wait (the fetches), batch.to_parquet
        {"benchmark": "videoai-ray's round, median seconds",
         "value": round(statistics.median(t for t, _, _ in a_runs), 2), "unit": "s",
         "baseline": f"submit (client.map) {submit_s:.2f} s, wait {wait_s:.2f} s, to_parquet {write_s:.2f} s; "
                     f"Ray Data's round {statistics.median(t for t, _, _ in b_runs):.2f} s",
         "ratio": None, "target": None},
        {"benchmark": f"driver read, videoai-ray side (media: {media_bytes / mb:.1f} MB per round)",
         "value": round(worst(a_runs, "rchar") / mb, 2), "unit": "MB rchar",
         "baseline": f"Ray Data side: {worst(b_runs, 'rchar') / mb:.2f} MB rchar; read_bytes (storage) "
                     f"{worst(a_runs, 'read_bytes') / mb:.2f} vs {worst(b_runs, 'read_bytes') / mb:.2f} MB",
         "ratio": None, "target": "none of the media"},
        {"benchmark": "driver resident memory growth at peak, worst round",
         "value": round(max(g for _, _, g in a_runs) / mb, 1), "unit": "MB",
         "baseline": f"Ray Data side: {max(g for _, _, g in b_runs) / mb:.1f} MB", "ratio": None, "target": None},
    ]


__all__ = ["INPUT_BY", "input_url", "run_data_benchmark"]
