"""Drivers that the fault tests run as processes of their own, so they can die as an operator's do.

``register``: starts its own local Ray (which dies with this process), registers a provider defined
here, submits a batch pinned to it and exits once one task completed: the next app starts on a new
Ray. ``cut``: joins the tests' Ray and dies (``os._exit``) in the middle of sending a batch.
``follow``: joins the tests' Ray, streams a batch from a generator, writes its id and follows it
with ``as_completed`` until the test kills it.
Settings come from the environment (``VIDEOAI_HOME``, ``DATABASE_URL``, ``VIDEOAI_INSTANCE``).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import videoai_ray as vai
from videoai_ray.providers.testing import FixedLatencyProvider


class RuntimeLatency(FixedLatencyProvider):
    """A provider class that exists only in this driver (pickled by value when registered)."""


def items(prefix: str, n: int, provider: str, task_type: str = "image_generation") -> list[dict[str, Any]]:
    field = "text" if task_type == "subtitle_generation" else "prompt"
    return [{"task_type": task_type, "input_data": {field: f"{prefix} {i}", "provider": provider, "use_cache": False}}
            for i in range(n)]


def register(out: Path) -> None:
    client = vai.connect("local", settings=vai.Settings(), providers=[], num_cpus=2, include_dashboard=False)
    client.register_provider(RuntimeLatency(0.3, 1, name="rp-lat", log_dir=Path(os.environ["DONE_DIR"])))
    batch = client.batch(items("rp", 12, "rp-lat", "subtitle_generation"))
    out.write_text(batch.id)
    deadline = time.monotonic() + 60
    while batch.counts().get("completed", 0) < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    # exiting stops this driver's local Ray: Scheduler, workers and Ray's KV store go with it


class _DiesAfter:
    """The Scheduler handle, except that the driver dies when it is about to send chunk n+1."""

    def __init__(self, handle: Any, chunks: int, out: Path) -> None:
        self.handle, self.left, self.out = handle, chunks, out
        self.submit = self

    def remote(self, chunk: list[dict[str, Any]], *args: Any) -> Any:
        if self.left == 0:
            self.out.write_text(chunk[0]["batch_id"])
            os._exit(1)
        self.left -= 1
        return self.handle.submit.remote(chunk, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.handle, name)


def cut(out: Path) -> None:
    client = vai.connect(os.environ["RAY_GCS"], settings=vai.Settings())
    client.service.scheduler = _DiesAfter(client.service.scheduler, 4, out)
    client.batch(items("cut", int(os.environ["CUT_ITEMS"]), "noop"), chunk_size=25)
    raise AssertionError("the driver should have died mid-batch")


def follow(out: Path) -> None:
    client = vai.connect(os.environ["RAY_GCS"], settings=vai.Settings())
    n, provider = int(os.environ["FOLLOW_ITEMS"]), os.environ["FOLLOW_PROVIDER"]
    batch = client.batch(iter(items("follow", n, provider)))
    out.write_text(batch.id)
    for seen, _ in enumerate(batch.as_completed(timeout=600), 1):
        if seen % 500 == 0:
            (out.parent / "follow-seen").write_text(str(seen))
    raise AssertionError("the driver should have been killed before the batch finished")


if __name__ == "__main__":
    {"register": register, "cut": cut, "follow": follow}[sys.argv[1]](Path(sys.argv[2]))
