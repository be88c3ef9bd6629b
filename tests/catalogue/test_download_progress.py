"""A model's download, seen from outside while it runs (issue 25, item 3), on the real local Ray:
two pool actors of one node need the same catalogue model from the loopback S3 server at once;
one downloads it (paced by ``VIDEOAI_MODEL_DOWNLOAD_RATE``, so the download lasts long enough to
be watched) and the other waits on the node's file lock. Meanwhile the tasks say so in their
``progress`` and ``progress_message`` and the pool's status shows the model per actor with the
bytes done; afterwards both actors hold it, fetched once."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from s3_loopback import S3Server
from tiny_catalogue import upload

import videoai_ray as vai
from videoai_ray.catalogue.weights import MARKER
from videoai_ray.models import TaskStatus
from videoai_ray.providers.testing import BatchSleepProvider
from videoai_ray.scheduler import kill_scheduler

#: 6 MiB at 1 MiB/s: six seconds of download, reported every MiB
SIZE = 6 << 20
RATE = 1 << 20


@pytest.fixture
def client(ray_session: None, tmp_path: Path, s3_server: S3Server) -> Iterator[vai.Client]:
    bucket = s3_server.make_bucket("progress")
    weights = tmp_path / "weights"
    weights.mkdir()
    (weights / "unet.bin").write_bytes(os.urandom(SIZE))
    upload(s3_server.fs(), weights, f"{bucket}/models/big")
    settings = vai.Settings(home=tmp_path / "home", instance="t-dlprogress", max_retries=0,
                            storage_options=s3_server.storage_options, model_roots=(f"s3://{bucket}/models",),
                            model_download_rate=RATE)
    kill_scheduler(settings)
    # the edge: a model provider that reads the fetched weights instead of running a diffusion model
    provider = BatchSleepProvider(name="local-diffusers", latency=0.05, max_batch_size=1, pool_max=2,
                                  batch_wait_s=0.0, pool_idle_s=600)
    provider.batches_per_actor = 1  # type: ignore[misc]  # the second task needs the second actor
    c = vai.connect(settings=settings, providers=[provider])
    c.models.register("big", provider="diffusers", source=f"s3://{bucket}/models/big/")
    yield c
    kill_scheduler(settings)


def _pool(client: vai.Client) -> dict[str, Any]:
    return dict(next(r for r in client.service.providers.list() if r["name"] == "local-diffusers")["pool"] or {})


@pytest.mark.timeout(300)
def test_a_download_shows_in_the_tasks_and_the_pool_status(client: vai.Client) -> None:
    futures = [client.submit("image_generation", {"prompt": f"a cat {i}", "model": "big"}) for i in range(2)]
    messages: set[str] = set()
    fractions: list[float] = []
    pool_states: list[dict[str, Any]] = []
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        tasks = [client.get(f.id) for f in futures]
        for t in tasks:
            if t.progress_message:
                messages.add(t.progress_message)
                if t.progress_message.startswith("downloading"):
                    fractions.append(t.progress)
        pool_states += _pool(client).get("models", {}).get("big", [])
        if all(t.status.terminal for t in tasks):
            break
        time.sleep(0.1)
    tasks = [f.wait(timeout=60) for f in futures]
    assert [t.status for t in tasks] == [TaskStatus.COMPLETED] * 2, [t.error for t in tasks]

    # the tasks said what they waited for: the download with its bytes, and the lock of the node
    shown = re.compile(r"^downloading weights of big: (\d+\.\d) of 6\.3 MB$")
    done = sorted({float(m.group(1)) for m in map(shown.match, messages) if m})
    assert any(0.0 < d < 6.3 for d in done), messages  # at least one report between start and end
    assert any(0.0 < f < 1.0 for f in fractions), fractions
    assert "waiting for another download of big on this node" in messages, messages
    # ... and the pool's status said it per actor, with the bytes
    downloading = [s for s in pool_states if s["state"] == "downloading"]
    assert any(0 < s["bytes_done"] < s["bytes_total"] == SIZE for s in downloading), pool_states
    assert {s["state"] for s in pool_states} >= {"waiting", "downloading"}

    # done: the message is gone, each task ran on the model's real weights, fetched once for the node
    for t in tasks:
        assert t.progress == 1.0 and t.progress_message is None
        assert (t.output or {})["model"] == "big" and (t.output or {})["model_bytes"] == SIZE
    deadline = time.monotonic() + 30
    while True:
        pool = _pool(client)
        held = pool.get("models", {}).get("big", [])
        if (len(held) == 2 and all(h["state"] == "loaded" for h in held)) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert sorted(h["state"] for h in held) == ["loaded", "loaded"], held
    assert {h["actor"] for h in held} == {a["id"] for a in pool["actors"]}
    assert sum(a.get("model_downloads", 0) for a in pool["actors"]) == 1
    assert all(a["loading"] == [] for a in pool["actors"])
    cache = Path(client.settings.home) / "model-cache"
    [folder] = [p for p in cache.iterdir() if p.is_dir()]
    assert (folder / MARKER).is_file()
