"""The deployment as a whole. One store for every entry point: an API replica and a notebook open
the store of the running Scheduler whatever their own settings say, a replica that names another
database refuses to start, and ``/health`` checks the schema of the store, not only the
connection. Each task says on which node its last attempt ran; ``/health`` says where the control
plane runs (the head node)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import videoai_ray as vai
from videoai_ray.api import ApiContext, create_app
from videoai_ray.api.auth import create_token
from videoai_ray.api.ratelimit import MemoryRateLimiter
from videoai_ray.api.submit_batcher import SubmitBatcher
from videoai_ray.errors import StoreMismatch, StoreNotReady
from videoai_ray.files import TaskFiles
from videoai_ray.providers.local.image import ProceduralImageProvider
from videoai_ray.providers.testing import NoopProvider
from videoai_ray.scheduler import kill_scheduler
from videoai_ray.service import MediaService
from videoai_ray.settings import Settings
from videoai_ray.store import TaskStore

INSTANCE = "t-one-store"


@pytest.fixture(scope="module")
def first(ray_session: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[vai.Client, str]]:
    """A Scheduler started by a notebook with its own data folder, and one finished task."""
    settings = Settings(home=tmp_path_factory.mktemp("first-home"), instance=INSTANCE, database_url=None,
                        redis_url=None, cache_enabled=False)
    kill_scheduler(settings)
    client = vai.connect(settings=settings, providers=[NoopProvider(), ProceduralImageProvider()])
    task = client.images.generate(prompt="a cat", provider="noop").result(timeout=60)
    yield client, task.id
    kill_scheduler(settings)


def _get(ctx: ApiContext, path: str, user: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {create_token(ctx.settings, user, 600)}"} if user else {}

    async def call() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(ctx)), base_url="http://t") as c:
            return await c.get(f"/api/v1/media{path}", headers=headers)

    return asyncio.run(call())


def _health(ctx: ApiContext) -> httpx.Response:
    return _get(ctx, "/health")


def test_a_replica_with_another_data_folder_serves_the_schedulers_store(first: tuple[vai.Client, str],
                                                                        tmp_path: Path) -> None:
    client, task_id = first
    # what `serve deploy serve/config.yaml` did: VIDEOAI_HOME=/tmp/videoai, another folder
    ctx = ApiContext.start(Settings(home=tmp_path / "other", instance=INSTANCE, database_url=None, redis_url=None))
    try:
        assert ctx.settings.db_url == client.settings.db_url
        assert ctx.settings.artifacts_root == client.settings.artifacts_root
        assert ctx.service.tasks.get(task_id).status.value == "completed"
        body = _health(ctx).json()
        assert body["status"] == "healthy"
        assert body["checks"]["store"]["revision"] == body["checks"]["store"]["expected"] is not None
    finally:
        asyncio.run(ctx.close())


def test_each_task_says_where_its_last_attempt_ran(first: tuple[vai.Client, str]) -> None:
    import ray

    client, task_id = first
    here = {"node_id": ray.get_runtime_context().get_node_id(), "ip": ray.util.get_node_ip_address()}
    task = client.get(task_id)
    assert task.node == here  # no GPU on this node: no gpu_ids
    frame = client.tasks()
    row = frame[frame["id"] == task_id].iloc[0]
    assert (row["node_id"], row["node_ip"]) == (here["node_id"], here["ip"])
    ctx = ApiContext.start(client.settings)
    try:
        assert _get(ctx, f"/tasks/{task_id}", user="local").json()["node"] == here
    finally:
        asyncio.run(ctx.close())


def test_a_tasks_files_are_read_from_the_driver_wherever_they_are(first: tuple[vai.Client, str], tmp_path: Path,
                                                                   monkeypatch: Any) -> None:
    client, _ = first
    task = client.images.generate(prompt="a red square", size="512x512",
                                  provider="local-procedural-image").result(timeout=60)
    [name] = client.files.names(task)
    assert task.output["image_url"].startswith("file://")  # the store's URL: a path on the head node
    data = client.files.read(task)
    assert data[:4] == b"\x89PNG" and client.files.open(task.id, name).read() == data
    assert client.files.download(task, tmp_path).read_bytes() == data
    # a driver on another node cannot open the head node's path: the artifact sink sends the bytes
    monkeypatch.setattr(TaskFiles, "local_file", lambda self, url: None)
    assert client.files.read(task, name) == data
    with pytest.raises(vai.TaskNotFound, match=r"no file 'nope\.png'"):
        client.files.read(task, "nope.png")


def test_health_says_the_control_plane_runs_on_the_head_node(first: tuple[vai.Client, str]) -> None:
    import ray

    client, _ = first
    ctx = ApiContext.start(client.settings)
    try:
        placed = _health(ctx).json()["checks"]["control_plane"]
    finally:
        asyncio.run(ctx.close())
    head = ray.get_runtime_context().get_node_id()  # the test session's one-node Ray
    assert placed["status"] == "ok" and placed["head_node_id"] == head and placed["all_on_head"]
    assert placed["actors"]["scheduler"] == {"node_id": head, "on_head": True}
    assert placed["actors"]["artifact_sink"] == {"node_id": head, "on_head": True}


def test_a_replica_that_names_another_database_refuses_to_start(first: tuple[vai.Client, str],
                                                                 tmp_path: Path) -> None:
    client, _ = first
    other = f"sqlite:///{tmp_path / 'other.db'}"
    with pytest.raises(StoreMismatch) as e:
        ApiContext.start(Settings(home=tmp_path, instance=INSTANCE, database_url=other, redis_url=None))
    assert "DATABASE_URL" in e.value.message and str(tmp_path / "other.db") in e.value.message
    assert client.settings.db_url.removeprefix("sqlite:///") in e.value.message


def test_a_notebook_in_another_folder_opens_the_schedulers_store(first: tuple[vai.Client, str],
                                                                 tmp_path: Path) -> None:
    client, task_id = first
    again = vai.connect(settings=Settings(home=tmp_path / "notebook", instance=INSTANCE, database_url=None,
                                          redis_url=None))
    assert again.settings.db_url == client.settings.db_url
    assert again.get(task_id).status.value == "completed"
    assert not (tmp_path / "notebook").exists()  # no empty database of its own


def test_health_is_503_on_a_store_without_the_schema(tmp_path: Path, ray_session: None) -> None:
    settings = Settings(home=tmp_path, instance="t-empty-store")
    service = MediaService(settings, _Idle(), TaskStore(settings.db_url, migrate=False))
    ctx = ApiContext(settings, service, MemoryRateLimiter(), SubmitBatcher(service))
    r = _health(ctx)
    assert r.status_code == 503
    store = r.json()["checks"]["store"]
    assert store["status"] == "error" and store["revision"] is None
    assert "no videoai schema" in store["error"] and "videoai db upgrade" in store["error"]


def test_a_replica_on_an_empty_store_refuses_to_start(tmp_path: Path, ray_session: None,
                                                      monkeypatch: Any) -> None:
    from videoai_ray.api import context

    settings = Settings(home=tmp_path, instance="t-empty-replica")
    monkeypatch.setattr(context, "MediaService", lambda s, sched: MediaService(s, sched, TaskStore(s.db_url,
                                                                                                 migrate=False)))
    with pytest.raises(StoreNotReady, match="no videoai schema"):
        ApiContext.start(settings, scheduler=_Idle())


class _Idle:
    """A Scheduler handle that answers the live numbers at once (the store is what is tested)."""

    class _Method:
        def remote(self, *args: Any) -> Any:
            async def answer() -> dict[str, Any]:
                return {"active": 0, "providers": [{"name": "noop", "available": True}]}

            return answer()

    def __getattr__(self, name: str) -> Any:
        return self._Method()
