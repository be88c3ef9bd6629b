"""A tenant's rows as export and delete see them (``store.tenant_rows``), on both back ends: every
table holding a tenant's rows is found by the tenant's owner prefix, a tenant whose id starts like
another's (``acme`` and ``acme-2``) and plain users whose names look alike are never caught, and a
delete leaves every other row as it was, value for value."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Table, insert, select

from videoai_ray.artifacts import ArtifactStore, owner_space, task_folder, tenant_prefix, uploads_folder
from videoai_ray.store import TaskStore, utcnow
from videoai_ray.store.tenant_rows import TENANT_TABLES, delete_tenant_rows, tenant_rows, tenant_work
from videoai_ray.tenants.ids import valid_tenant_id

#: owners whose rows must survive ``acme``'s delete: another tenant with a longer id, plain users
#: named like acme's, and a plain user named like the tenant
OTHERS = ["acme-2/ana", "acme", "acmeana", "ana", "acme_/x"]


def _rows(table: str, owner: str, n: int, instance: str) -> dict[str, Any] | None:
    """One row of ``table`` for ``owner`` (``None``: the table holds no row per owner)."""
    now, ident = utcnow(), f"{table[:4]}-{n}"
    return {
        "tasks": {"id": ident, "instance": instance, "type": "image_generation", "status": "completed",
                  "priority": "medium", "user_id": owner, "input": {"prompt": owner}, "created_at": now,
                  "meta": {}, "options": {}, "output": {"url": f"file:///x/{ident}.png"}},
        "batches": {"id": ident, "instance": instance, "user_id": owner, "created_at": now},
        "pipelines": {"id": ident, "instance": instance, "user_id": owner, "status": "running", "spec": {"steps": []},
                      "priority": "medium", "meta": {}, "created_at": now},
        "schedules": {"id": ident, "instance": instance, "user_id": owner, "cron": "0 9 * * *", "timezone": "UTC",
                      "target": {}, "context": {}, "misfire": "skip", "misfire_grace_seconds": 1.0,
                      "state": "active", "created_at": now, "updated_at": now},
        "experiments": {"id": ident, "instance": instance, "owner_id": owner, "name": "e",
                        "task_type": "image_generation", "arms": [], "baseline": "a", "created_at": now},
        "webhook_deliveries": {"id": ident, "instance": instance, "task_id": "t", "user_id": owner,
                               "event_type": "task.completed", "seq": 1, "url": "http://x", "body": "{}",
                               "status": "pending", "created_at": now, "cycle_started_at": now, "log": []},
        "webhook_secrets": {"user_id": owner, "secret": f"whsec_{n}", "created_at": now},
        "user_budgets": {"user_id": owner, "budget_usd": 1.5, "updated_at": now},
    }.get(table)


def _fill(store: TaskStore, instance: str, owners: list[str], start: int) -> None:
    with store.engine.begin() as conn:
        for i, owner in enumerate(owners):
            for name, (table, _) in TENANT_TABLES.items():
                row = _rows(name, owner, start + i, instance)
                if row is not None and not (name in ("webhook_secrets", "user_budgets") and instance != "default"):
                    conn.execute(insert(table).values(**row))
        for tenant in {o.partition("/")[0] for o in owners if "/" in o}:
            conn.execute(insert(TENANT_TABLES["tenants"][0]).values(
                instance=instance, id=tenant, display_name=tenant, status="active", created_at=utcnow(),
                updated_at=utcnow()))
            conn.execute(insert(TENANT_TABLES["tenant_provider_keys"][0]).values(
                instance=instance, tenant=tenant, provider="openai", ciphertext=f"c-{tenant}", created_at=utcnow(),
                updated_at=utcnow()))


def _everything(store: TaskStore) -> dict[str, list[dict[str, Any]]]:
    out = {}
    with store.engine.connect() as conn:
        for name, (table, _) in TENANT_TABLES.items():
            t: Table = table
            out[name] = [dict(r) for r in conn.execute(select(t).order_by(*t.primary_key.columns)).mappings()]
    return out


def test_a_tenants_rows_are_found_and_deleted_and_nothing_else_is(any_store: TaskStore) -> None:
    inst = any_store.instance
    _fill(any_store, inst, ["acme/ana", "acme/bob"], 0)
    _fill(any_store, inst, OTHERS, 10)
    _fill(any_store, "elsewhere", ["acme/ana"], 20)  # the same tenant id on another instance
    mine = tenant_rows(any_store.engine, "acme", instance=inst)
    assert set(mine) == set(TENANT_TABLES)
    for name, rows in mine.items():
        assert rows, name  # every table has rows of acme here, and they are found
        owners = {r.get("user_id") or r.get("owner_id") or r.get("tenant") or r.get("id") for r in rows}
        assert owners <= {"acme/ana", "acme/bob", "acme"}, (name, owners)
    assert len(mine["tasks"]) == 2 and len(mine["tenants"]) == 1
    work = tenant_work(any_store.engine, "acme", instance=inst)
    assert sorted(o for _, o in work["pipelines"]) == ["acme/ana", "acme/bob"] and work["tasks"] == []
    before = _everything(any_store)
    counts = delete_tenant_rows(any_store.engine, "acme", instance=inst)
    # shared tables (no instance column) are kept while acme exists on another instance
    assert counts["webhook_secrets"] == 0 and counts["user_budgets"] == 0 and counts["tasks"] == 2
    assert all(not rows for name, rows in tenant_rows(any_store.engine, "acme", instance=inst).items()
               if name not in ("webhook_secrets", "user_budgets"))
    after = _everything(any_store)
    for name in TENANT_TABLES:
        gone = [r for r in before[name] if r not in after[name]]
        assert len(gone) == counts[name], name
        assert all(r in before[name] for r in after[name]), name  # nothing else changed, value for value
    assert tenant_rows(any_store.engine, "acme", instance="elsewhere")["tasks"]  # the other instance's acme
    # the last instance's delete of acme takes its shared rows too
    counts = delete_tenant_rows(any_store.engine, "acme", instance="elsewhere")
    assert counts["webhook_secrets"] == 2 and counts["user_budgets"] == 2 and counts["tasks"] == 1
    assert not any(tenant_rows(any_store.engine, "acme", instance=inst).values())
    assert tenant_rows(any_store.engine, "acme-2", instance=inst)["tasks"]  # the look-alike tenant is whole


@pytest.mark.parametrize("tenant", ["acme", "a", "0-x", "a" * 63])
def test_a_tenants_files_live_under_its_own_prefix(tmp_path: Any, tenant: str) -> None:
    assert valid_tenant_id(tenant)
    store = ArtifactStore(str(tmp_path / "artifacts"))
    owner = f"{tenant}/ana"
    assert owner_space(owner) == f"tenants/{tenant}/" and tenant_prefix(tenant) == f"tenants/{tenant}"
    assert task_folder("t1", owner) == f"tenants/{tenant}/t1" and task_folder("t1", "ana") == "t1"
    assert uploads_folder(owner).startswith(f"tenants/{tenant}/uploads/")
    assert uploads_folder("ana").startswith("uploads/")
    out = store.put(task_folder("t1", owner), "x.png", b"png")
    assert out["url"] == f"{store.root}/tenants/{tenant}/t1/x.png"
    assert store.output_folder(out["url"], owner) == "t1"
    # nobody else's: another tenant, a same-named plain user, another user of the tenant is the
    # same space (a tenant admin's and cache hits' reads are checked by the task, not the folder)
    assert store.output_folder(out["url"], "other/ana") is None and store.output_folder(out["url"], "ana") is None
    plain = store.put(task_folder("t2", "ana"), "y.png", b"png")["url"]
    assert store.output_folder(plain, "ana") == "t2" and store.output_folder(plain, owner) is None
    ref = store.put_upload(owner, _file(tmp_path, b"audio"))
    assert store.upload_url(ref, owner).startswith(f"{store.root}/tenants/{tenant}/uploads/")
    assert store.output_folder(store.upload_url(ref, owner), owner) is None  # an upload is no output
    assert store.output_folder(f"{store.root}/tenants/{tenant}/../x/y.png", owner) is None


def _file(tmp_path: Any, data: bytes) -> Any:
    path = tmp_path / "in.wav"
    path.write_bytes(data)
    return path


def test_pipeline_references_and_downloads_stay_inside_the_owners_space(tmp_path: Any) -> None:
    from videoai_ray.api.views import artifact_candidates
    from videoai_ray.models import Priority, Task, TaskStatus, TaskType
    from videoai_ray.pipelines.resolve import made_by

    store = ArtifactStore(str(tmp_path / "artifacts"))
    mine = store.put(task_folder("t1", "acme/ana"), "a.png", b"1")["url"]
    theirs = store.put(task_folder("t9", "globex/ana"), "b.png", b"2")["url"]
    plain = store.put(task_folder("t8", "ana"), "c.png", b"3")["url"]
    legacy = store.put("t1", "d.png", b"4")["url"]  # a tenant's task written before tenant prefixes

    def task(output: dict[str, Any], cache_hit: bool = False) -> Task:
        return Task(id="t1", type=TaskType.IMAGE_GENERATION, status=TaskStatus.COMPLETED, priority=Priority.MEDIUM,
                    user_id="acme/ana", input={}, output=output, created_at=utcnow(), cache_hit=cache_hit)

    assert made_by(task({"url": mine}), mine, store)
    for url in (theirs, plain):  # another tenant's file, a plain user's, even as a cache hit's output
        assert not made_by(task({"url": url}, cache_hit=True), url, store), url
        assert url not in artifact_candidates(task({"url": url}, cache_hit=True), url.rsplit("/", 1)[1], store)
    assert artifact_candidates(task({"url": mine}), "a.png", store)[0] == mine
    assert legacy in artifact_candidates(task({}), "d.png", store)


def test_a_tenants_files_in_a_bucket_are_listed_copied_and_removed_alone(s3_server: Any, s3_bucket: str,
                                                                          tmp_path: Any) -> None:
    from s3_loopback import S3Server

    from videoai_ray.tenants.tenant_files import copy_tenant_files, remove_tenant_files, tenant_files

    server: S3Server = s3_server
    store = ArtifactStore(f"s3://{s3_bucket}/videoai", server.storage_options)
    store.put(task_folder("t1", "acme/ana"), "a.png", b"acme-1")
    store.put(uploads_folder("acme/bob"), "d/in.wav", b"acme-2")
    kept = [store.put(task_folder("t2", "acme-2/ana"), "b.png", b"other")["url"],
            store.put(task_folder("t3", "acme"), "c.png", b"plain")["url"]]  # a plain user named like the tenant
    upload = uploads_folder("acme/bob").removeprefix("tenants/acme/")
    assert [rel for rel, _ in tenant_files(store, "acme")] == ["t1/a.png", f"{upload}/d/in.wav"]
    copied = copy_tenant_files(store, "acme", str(tmp_path / "out"), {})
    assert sorted(c["path"] for c in copied) == sorted(rel for rel, _ in tenant_files(store, "acme"))
    assert (tmp_path / "out" / "t1" / "a.png").read_bytes() == b"acme-1"
    assert remove_tenant_files(store, "acme") == 2 and list(tenant_files(store, "acme")) == []
    assert [store.read_bytes(u) for u in kept] == [b"other", b"plain"]
    assert remove_tenant_files(store, "acme") == 0  # again: nothing, no error
