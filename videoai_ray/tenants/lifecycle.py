"""The end of a tenant's life: export everything it has (rows as Parquet, files as they are) and
delete everything it has, its work in flight cancelled first (docs/tenants.md).

Delete asks for a suspended tenant (``TenantNotSuspended``, a 409, otherwise) unless it is forced,
and a forced delete suspends the tenant first: a delete is final, so the operator says so twice
(suspend, then delete) or once loudly (``--force``). Then, in this order:

1. it waits until the suspension is ``tenant_cache_seconds`` old, so no API replica and no
   schedule runner still holds the tenant as active (no new work can arrive);
2. through the Scheduler, as a user's own cancel does: deletes the tenant's schedules (a pass that
   is firing one is waited for), cancels its running pipelines and every unfinished task, and
   waits (``DELETE_WAIT_SECONDS``) until the store shows none unfinished (``TenantBusy`` otherwise:
   no row or file deleted yet, run it again);
3. removes the cache entries of the tenant's results from every layer (the Scheduler's);
4. removes its files (the prefix ``tenants/<tenant>/`` of the artifact store), then every row of it
   in one transaction (``store.tenant_rows``; the ``tenants`` row too), then its files again, in
   case a cancelled attempt wrote one after the first sweep.

A delete that stops half-way (the store went down) leaves the tenant row, so it can be run again.
"""

from __future__ import annotations

import time
from contextlib import suppress
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, cast

from ..artifacts import ArtifactStore
from ..errors import InvalidRequest, InvalidTransition, TaskNotFound, TenantBusy, TenantNotFound, TenantNotSuspended
from ..store.tenant_rows import TENANT_TABLES, delete_tenant_rows, tenant_rows, tenant_work
from .ids import check_tenant_id
from .tenant_files import copy_tenant_files, remove_tenant_files

if TYPE_CHECKING:
    from ..service import MediaService

#: how long a delete waits for the tenant's cancelled work to be written as ended
DELETE_WAIT_SECONDS = 60.0
#: tasks cancelled per Scheduler call
CANCEL_CHUNK = 500


class TenantLifecycle:
    """Export and delete whole tenants of ``media``'s deployment (``MediaService.tenant_lifecycle``)."""

    def __init__(self, media: MediaService) -> None:
        self.media = media
        self.engine, self.instance = media.store.engine, media.store.instance
        self.settings = media.settings

    # -- export ------------------------------------------------------------------------------------

    def export(self, tenant_id: str, target: str) -> dict[str, Any]:
        """Write every row of the tenant, one Parquet file per table (``<target>/tables/<table>.parquet``,
        every table even when empty), and copy its files (``<target>/files/...``, the paths under its
        prefix). ``target`` is an fsspec URL or a local folder, trusted: the caller decides who may
        name one (the CLI's operator; over HTTP a folder under ``tenant_export_root``)."""
        import io

        import pandas as pd

        from ..storage import url_to_fs

        tenant = self._tenant(tenant_id)["id"]
        rows = tenant_rows(self.engine, tenant, instance=self.instance)
        fs, root = url_to_fs(target, self.settings.storage_options)
        root = root.rstrip("/")
        fs.makedirs(f"{root}/tables", exist_ok=True)
        counts = {}
        for name, table_rows in rows.items():
            table = TENANT_TABLES[name][0]
            frame = pd.DataFrame(table_rows, columns=[c.name for c in table.columns])
            for column in table.columns:  # JSON columns as their JSON text: Parquet needs one type per column
                if column.type.__class__.__name__ == "JSON":
                    frame[column.name] = frame[column.name].map(_json_text)
            buf = io.BytesIO()
            frame.to_parquet(buf, index=False)
            with fs.open(f"{root}/tables/{name}.parquet", "wb") as fh:
                fh.write(buf.getvalue())
            counts[name] = len(table_rows)
        files = copy_tenant_files(self.store, tenant, f"{target.rstrip('/')}/files", self.settings.storage_options)
        return {"tenant": tenant, "tables": counts, "files": len(files),
                "bytes": sum(f["size_bytes"] for f in files)}

    # -- delete ------------------------------------------------------------------------------------

    def delete(self, tenant_id: str, *, force: bool = False) -> dict[str, Any]:
        """Delete the tenant and everything it has (see the module's docstring); what was removed:
        ``{"tenant", "cancelled": {"tasks", "pipelines", "schedules"}, "rows": {table: n}, "files": n}``."""
        row = self._tenant(tenant_id)
        tenant = row["id"]
        if row["status"] != "suspended":
            if not force:
                raise TenantNotSuspended(f"tenant {tenant} is {row['status']}: suspend it first (videoai tenant "
                                         "suspend), or force the delete", field="status")
            row = self.media.tenants.set_status(tenant, "suspended")
        self._wait_for_suspension(row)
        cancelled = self._stop_work(tenant)
        self._forget_cached(tenant)
        files = remove_tenant_files(self.store, tenant)
        counts = delete_tenant_rows(self.engine, tenant, instance=self.instance)
        files += remove_tenant_files(self.store, tenant)
        self.media.tenants.directory.load(tenant)  # this process knows at once it is gone
        return {"tenant": tenant, "cancelled": cancelled, "rows": counts, "files": files}

    def _wait_for_suspension(self, row: dict[str, Any]) -> None:
        """Until every cache of the tenant's state (``tenant_cache_seconds``) has seen it suspended."""
        since = datetime.fromisoformat(row["updated_at"])
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        left = self.settings.tenant_cache_seconds - (datetime.now(UTC) - since).total_seconds()
        if left > 0:
            time.sleep(left + 0.05)

    def _stop_work(self, tenant: str) -> dict[str, int]:
        """Delete the schedules, cancel the pipelines and tasks; wait until no task is unfinished."""
        import ray

        from ..scheduler_calls import call_scheduler

        scheduler = self.media.scheduler
        work = tenant_work(self.engine, tenant, instance=self.instance)
        for schedule_id, owner in work["schedules"]:
            call_scheduler(lambda s=schedule_id, o=owner: ray.get(scheduler.schedule_op.remote("delete", s, o)))
        for pipeline_id, owner in work["pipelines"]:
            with suppress(InvalidTransition, TaskNotFound):  # it ended (or went) meanwhile
                call_scheduler(lambda p=pipeline_id, o=owner: ray.get(scheduler.cancel_pipeline.remote(p, o)))
        deadline = time.monotonic() + DELETE_WAIT_SECONDS
        cancelled: set[str] = set()
        while True:
            ids = [tid for tid, _ in tenant_work(self.engine, tenant, instance=self.instance)["tasks"]]
            if not ids:
                break
            if time.monotonic() > deadline:
                raise TenantBusy(f"tenant {tenant}: {len(ids)} tasks did not end within {DELETE_WAIT_SECONDS:.0f} s "
                                 "of being cancelled; its schedules are gone and its work is cancelled, but no "
                                 "row or file was deleted yet: run the delete again", field="id")
            for start in range(0, len(ids), CANCEL_CHUNK):
                self.media.tasks.cancel_many(ids[start:start + CANCEL_CHUNK])
            cancelled.update(ids)
            ray.get(scheduler.flush_now.remote())
            time.sleep(0.1)
        return {"tasks": len(cancelled), "pipelines": len(work["pipelines"]), "schedules": len(work["schedules"])}

    def _forget_cached(self, tenant: str) -> int:
        """Remove the cache entries of the tenant's completed tasks (their keys hold the tenant's
        scope, so no other tenant's entry is among them)."""
        import ray

        from ..scheduler.caching import TaskCache

        if not self.settings.cache_enabled:
            return 0
        cache = TaskCache(None, self.settings.cache_scope)
        keys = {cache.key(cast(Any, SimpleNamespace(type=r["type"], input=r["input"], options=r["options"] or {},
                                                    user_id=r["user_id"])))
                for r in tenant_rows(self.engine, tenant, instance=self.instance)["tasks"]
                if r["status"] == "completed" and not r["cache_hit"]}
        return int(ray.get(self.media.scheduler.forget_cached.remote(sorted(keys)))) if keys else 0

    # -- shared ------------------------------------------------------------------------------------

    @property
    def store(self) -> ArtifactStore:
        return ArtifactStore.of(self.settings)

    def _tenant(self, tenant_id: object) -> dict[str, Any]:
        if not isinstance(tenant_id, str):
            raise InvalidRequest("id: a string is required", field="id")
        try:
            check_tenant_id(tenant_id, "id")
        except InvalidRequest:
            raise TenantNotFound(f"no tenant {tenant_id!r}", field="id") from None
        return self.media.tenants.get(tenant_id)


def _json_text(value: Any) -> str | None:
    import json

    return None if value is None else json.dumps(value, sort_keys=True, default=str)


__all__ = ["DELETE_WAIT_SECONDS", "TenantLifecycle"]
