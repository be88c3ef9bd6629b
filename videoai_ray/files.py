"""A task's output files, readable from any driver (``client.files``).

In the SDK a task's ``output`` holds the store's own URLs (``file:///…/artifacts/<task>/x.png``,
or ``s3://…`` with object storage): a ``file://`` URL names a file on the head node's disk (the
executor sends bytes made on other nodes to the head's artifact sink), readable as a path only
there, or where that folder is shared. These helpers read it wherever this driver runs: straight
from the store when it can (object storage, the head node, a shared folder), else through the
artifact sink actor on the head node. Over HTTP every such URL is this API's download path instead
(``/api/v1/media/tasks/{id}/files/{name}``).
"""

from __future__ import annotations

from pathlib import Path
from typing import IO, Any

import ray

from .actor_names import NAMESPACE, artifact_sink_name
from .artifacts import ArtifactStore, file_name, output_urls
from .errors import TaskNotFound
from .models import Task
from .settings import Settings


class TaskFiles:
    """``client.files``: list, read, open and download the files a task produced."""

    def __init__(self, settings: Settings, get_task: Any) -> None:
        self.settings = settings
        self.store = ArtifactStore.of(settings)
        self._get = get_task

    def _task(self, task: Task | str) -> Task:
        return task if isinstance(task, Task) else self._get(task)

    def urls(self, task: Task | str) -> dict[str, str]:
        """``{file name: store URL}`` of the task's output files (outside URLs left out)."""
        t = self._task(task)
        return {file_name(u): u for u in output_urls(t.output or {}) if self.store.owns(u)}

    def names(self, task: Task | str) -> list[str]:
        return list(self.urls(task))

    def read(self, task: Task | str, name: str | None = None) -> bytes:
        """The bytes of one of the task's files (``name``; may be left out when it has one)."""
        t = self._task(task)
        urls = self.urls(t)
        if name is None and len(urls) == 1:
            name = next(iter(urls))
        if name not in urls:
            raise TaskNotFound(f"task {t.id} has no file {name!r} (its files: {', '.join(urls) or 'none'})")
        return self._read_url(urls[name])

    def open(self, task: Task | str, name: str | None = None) -> IO[bytes]:
        """A binary file object of one of the task's files (``PIL.Image.open(client.files.open(t))``)."""
        import io

        return io.BytesIO(self.read(task, name))

    def download(self, task: Task | str, dest: str | Path = ".", name: str | None = None) -> Path:
        """Write one of the task's files to ``dest`` (a folder, or a file path); the path written."""
        t = self._task(task)
        urls = self.urls(t)
        if name is None and len(urls) == 1:
            name = next(iter(urls))
        data = self.read(t, name)
        target = Path(dest)
        if target.is_dir():
            target = target / str(name)
        target.write_bytes(data)
        return target

    def local_file(self, url: str) -> Path | None:
        """The file behind ``url`` when this node can open it (the head node, a shared folder)."""
        path = self.store.local_path(url)
        return path if path.is_file() else None

    def _read_url(self, url: str) -> bytes:
        if not self.store.is_local:
            return self.store.read_bytes(url)  # object storage: readable from every node
        path = self.local_file(url)
        if path is not None:
            return path.read_bytes()
        try:
            sink = ray.get_actor(artifact_sink_name(self.settings.instance), namespace=NAMESPACE)
        except ValueError:
            raise TaskNotFound(f"{url} is not on this node and the artifact sink of instance "
                               f"{self.settings.instance!r} is not running to fetch it") from None
        return bytes(ray.get(sink.read.remote(url)))


__all__ = ["TaskFiles"]
