"""``MediaService.models`` (its ``Admission``'s): register, list, remove and resolve catalogue entries.

Registration pins the weights: a folder's or a URL's files are read once here and their digest
becomes the revision (or is checked against the one given). A request names an entry by
``model=``; ``resolve`` turns the name into the ``ModelSpec`` the task carries to its pool (so a
task runs the revision it was submitted with, and the result cache keys on it).
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from ..errors import InvalidRequest, TaskNotFound
from .spec import (
    PROVIDERS,
    TASK_TYPES,
    ModelSpec,
    check_name,
    check_provider,
    check_revision,
    check_source,
    hub_revision_matches,
    source_kind,
)

if TYPE_CHECKING:
    from ..admission import Admission

#: seconds a process trusts its copy of the catalogue when resolving ``model=`` (its own writes
#: refresh it at once; another process's show within this time)
_TTL_SECONDS = 2.0


class ModelService:
    """The catalogue of one deployment instance, kept in the store."""

    def __init__(self, service: Admission) -> None:
        self.service = service
        self._rows: dict[str, dict[str, Any]] | None = None
        self._read_at = 0.0
        self._lock = threading.Lock()

    @property
    def _engine(self) -> Any:
        return self.service.store.engine

    def _all(self, fresh: bool = False) -> dict[str, dict[str, Any]]:
        from ..store.catalogue import load_models

        with self._lock:
            if fresh or self._rows is None or time.monotonic() - self._read_at > _TTL_SECONDS:
                self._rows = {r["name"]: r for r in load_models(self._engine, self.service.store.instance)}
                self._read_at = time.monotonic()
            return self._rows

    def list(self, *, show_sources: bool = True) -> list[dict[str, Any]]:
        """Every entry (``show_sources=False``: without ``source``, for callers who are not admins)."""
        rows = [dict(r) for r in self._all(fresh=True).values()]
        for r in rows:
            r["registered_at"] = r["registered_at"].isoformat() if r.get("registered_at") else None
            r["kind"] = source_kind(r["source"])
            if not show_sources:
                r.pop("source")
                r.pop("registered_by", None)
        return rows

    def register(self, name: str, *, provider: str, source: str, revision: str | None = None,
                 base: str | None = None, download: bool = False, replace: bool = False,
                 trusted: bool, user_id: str) -> dict[str, Any]:
        """Add an entry; ``InvalidRequest`` naming the field. ``trusted``: the caller may name a
        local folder (the SDK, the CLI); an HTTP caller may not (see ``spec.check_source``)."""
        settings = self.service.settings
        check_name(name)
        check_provider(provider)
        check_source(source, settings.model_roots, trusted=trusted)
        kind = source_kind(source)
        if not isinstance(download, bool):
            raise InvalidRequest("download: true or false", field="download")
        if download and kind != "hub":
            raise InvalidRequest("download: only a Hub source downloads (a URL is always fetched)", field="download")
        if base is not None:
            if provider != "diffusers":
                raise InvalidRequest("base: only a diffusers model (a LoRA adapter) has a base", field="base")
            row = self._all(fresh=True).get(base) if isinstance(base, str) else None
            if row is None:
                raise InvalidRequest(f"base: no model {base!r} in the catalogue", field="base")
            if row["provider"] != provider or row["base"] is not None:
                raise InvalidRequest(f"base: {base!r} is not a full diffusers model", field="base")
        if kind == "hub":
            pinned = hub_revision_matches(source, revision)
        else:
            given = check_revision(revision, kind)
            pinned = self._digest(source, kind)
            if given is not None and given != pinned:
                raise InvalidRequest(f"revision: hash mismatch: the files at the source are {pinned}, not {given}",
                                     field="revision")
        from ..store.catalogue import save_model

        row = {"name": name, "provider": provider, "source": source, "revision": pinned, "base": base,
               "download": download, "registered_by": user_id}
        if not save_model(self._engine, self.service.store.instance, row, replace=replace):
            raise InvalidRequest(f"name: a model {name!r} is in the catalogue already (replace=True replaces it)",
                                 field="name")
        self._all(fresh=True)
        return next(r for r in self.list() if r["name"] == name)

    def _digest(self, source: str, kind: str) -> str:
        from pathlib import Path

        from .weights import folder_digest, remote_digest

        try:
            if kind == "local":
                folder = Path(source)
                if not folder.is_dir():
                    raise InvalidRequest(f"source: no folder {source}", field="source")
                return folder_digest(folder)
            return remote_digest(source, self.service.settings.storage_options)
        except InvalidRequest:
            raise
        except Exception as exc:  # not found, no access, no files
            raise InvalidRequest(f"source: cannot read {source}: {type(exc).__name__}: {exc}"[:500],
                                 field="source") from None

    def remove(self, name: str) -> None:
        from ..store.catalogue import delete_model

        users = [r["name"] for r in self._all(fresh=True).values() if r["base"] == name]
        if users:
            raise InvalidRequest(f"name: {name!r} is the base of {', '.join(users)}; remove those first", field="name")
        if not delete_model(self._engine, self.service.store.instance, name):
            raise TaskNotFound(f"no model {name!r} in the catalogue")
        self._all(fresh=True)

    def resolve(self, name: str, task_type: str, field: str = "model") -> ModelSpec:
        """The entry a request's ``model=`` names, for a task of ``task_type``; ``InvalidRequest``
        naming ``field`` when there is none or it serves another kind of task."""
        rows = self._all()
        row = rows.get(name) or self._all(fresh=True).get(name)
        if row is None:
            raise InvalidRequest(f"{field}: no model {name!r} in the catalogue (client.models.list())", field=field)
        if TASK_TYPES[row["provider"]] != task_type:
            raise InvalidRequest(f"{field}: {name!r} is a {row['provider']} model; it does not serve {task_type}",
                                 field=field)
        base = None
        if row["base"]:
            base_row = rows.get(row["base"]) or self._all(fresh=True).get(row["base"])
            if base_row is None:
                raise InvalidRequest(f"{field}: the base {row['base']!r} of {name!r} is gone", field=field)
            base = ModelSpec(base_row["name"], base_row["provider"], base_row["source"], base_row["revision"],
                             download=bool(base_row["download"]))
        return ModelSpec(row["name"], row["provider"], row["source"], row["revision"], base=base,
                         download=bool(row["download"]))


def local_provider(spec: ModelSpec) -> str:
    return PROVIDERS[spec.provider]


__all__ = ["ModelService", "local_provider"]
