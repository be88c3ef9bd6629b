"""A tenant's storage and lifecycle on the session's served API (docs/tenants.md): its files live
under its own prefix; deleting one tenant (work in flight cancelled first) removes every row, file,
key, schedule and cache entry of it and leaves the other tenant's rows and files as they were,
byte for byte; an export writes every row as Parquet and copies the files, under the deployment's
export folder only; a suspended tenant's accepted work finishes; the operator routes answer an
operator token only, with 404 naming the field for an unknown tenant."""

from __future__ import annotations

import hashlib
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest
from served_api import ADMIN_TENANTS as ADMIN
from served_api import Api, Receiver, error_of, eventually, new_tenant, noop, operator_client, unique

from videoai_ray.artifacts import ArtifactStore
from videoai_ray.cli import main
from videoai_ray.scheduler import find_scheduler
from videoai_ray.service import MediaService
from videoai_ray.store import make_engine
from videoai_ray.store.tenant_rows import TENANT_TABLES, tenant_rows
from videoai_ray.tenants.tenant_files import tenant_files


def _rows(api: Api, tenant: str) -> dict[str, list[dict[str, Any]]]:
    return tenant_rows(make_engine(api.settings.db_url), tenant, instance=api.settings.instance)


def _hashes(api: Api, tenant: str) -> dict[str, str]:
    store = ArtifactStore.of(api.settings)
    return {rel: hashlib.sha256(Path(path).read_bytes()).hexdigest() for rel, path in tenant_files(store, tenant)}


def _settled(api: Api, tenant: str) -> bool:
    """Nothing of the tenant changes by itself any more: tasks ended, pipelines ended, webhooks sent."""
    rows = _rows(api, tenant)
    return (all(t["status"] in ("completed", "failed", "cancelled") for t in rows["tasks"])
            and all(p["status"] != "running" for p in rows["pipelines"])
            and all(d["status"] != "pending" for d in rows["webhook_deliveries"]))


def _populate(api: Api, tenant: str, rx: Receiver, text: str) -> dict[str, Any]:
    """One of everything for ``ana`` of ``tenant``: a task with an output file (cached, with a
    webhook), a batch, a pipeline, a schedule, an experiment, a budget, a webhook secret and a
    provider key set by the tenant's admin."""
    ana = api.client("ana", tenant=tenant)
    r = ana.post("/subtitles/generate", params={"wait": 30},
                 json={"text": text, "provider": "local-subtitles", "webhook_url": rx.url,
                       "webhook_events": ["task.completed"]})
    assert r.status_code == 200 and r.json()["status"] == "completed", r.text
    task = r.json()
    made = [ana.post("/batch", json=[{"task_type": "image_generation", "input_data": noop()}]),
            ana.post("/pipelines", json={"steps": [{"id": "a", "task_type": "image_generation", "input": noop()}]}),
            ana.post("/schedules", json={"cron": "0 9 * * *", "target": {
                "task": {"task_type": "image_generation", "input_data": noop()}}}),
            ana.post("/experiments", json={"name": "e", "task_type": "image_generation", "arms": [
                {"provider": "noop", "weight": 1}, {"provider": "slow", "weight": 1}]}),
            ana.put("/budget", json={"budget_usd": 7.5}), ana.get("/webhooks/secret"),
            api.client("boss", tenant=tenant, tenant_admin=True).put("/tenant/provider-keys/openai",
                                                                     json={"api_key": f"sk-{tenant}"})]
    for m in made:
        assert m.status_code in (200, 201, 202), m.text
    return {**task, "schedule_id": made[2].json()["id"]}


def _leftovers(api: Api, tenant: str) -> dict[str, int]:
    """Rows of ``tenant`` in every table, by the owner prefix or the tenant id."""
    return {name: len(rows) for name, rows in _rows(api, tenant).items() if rows}


def test_deleting_a_tenant_removes_all_of_it_and_nothing_of_the_other(api: Api, tmp_path: Path) -> None:
    doomed, kept = new_tenant(api, "doomed"), new_tenant(api, "kept")
    text = unique("the same words")
    with Receiver() as rx:
        task = _populate(api, doomed, rx, text)
        kept_task = _populate(api, kept, rx, text)  # the same body: not a cache hit across tenants
        assert not kept_task["cache_hit"]
        plain = api.client(unique("plain")).post("/subtitles/generate", params={"wait": 30},
                                                 json={"text": text, "provider": "local-subtitles"}).json()
        eventually(lambda: _settled(api, doomed) and _settled(api, kept))
    root = Path(api.settings.artifacts_root)
    # outputs under each tenant's own prefix; a plain user's where they always were
    name = task["output"]["subtitle_download_url"].rsplit("/", 1)[1]
    assert (root / "tenants" / doomed / task["id"] / name).is_file()
    assert (root / plain["id"]).is_dir() and not (root / task["id"]).exists()
    ana = api.client("ana", tenant=doomed)
    assert ana.get(f"/tasks/{task['id']}/files/{name}").status_code == 200
    assert api.client("ana", tenant=kept).get(f"/tasks/{task['id']}/files/{name}").status_code == 404
    # the other tenant's schedule is paused, so no tick (at 09:00) can change its rows meanwhile
    kept_ana = api.client("ana", tenant=kept)
    assert kept_ana.post(f"/schedules/{kept_task['schedule_id']}/pause").json()["state"] == "paused"
    # work in flight when the delete comes: a queued-or-running task of the park provider
    inflight = ana.post("/images/generate", json={**noop(), "provider": "park"}).json()["id"]
    kept_rows, kept_files = _rows(api, kept), _hashes(api, kept)
    assert kept_files and all(kept_rows[t] for t in TENANT_TABLES)  # the other tenant has something everywhere
    assert all(_rows(api, doomed)[t] for t in TENANT_TABLES) and _hashes(api, doomed)

    ops = operator_client(api)
    for who, token in [("its tenant admin", api.token("boss", tenant=doomed, tenant_admin=True)),
                       ("its user", api.token("ana", tenant=doomed)),
                       ("a deployment admin", api.token("r", admin=True))]:
        c = api.root()
        c.headers["Authorization"] = f"Bearer {token}"
        assert c.delete(f"{ADMIN}/{doomed}", params={"force": "true"}).status_code == 403, who
        assert c.post(f"{ADMIN}/{doomed}/export").status_code == 403, who
    for bad in ("never-made", "Acme", "a.b", "\u0430cme"):
        for r in (ops.delete(f"{ADMIN}/{bad}", params={"force": "true"}), ops.post(f"{ADMIN}/{bad}/export")):
            assert r.status_code == 404, (bad, r.text)
            assert error_of(r)["code"] == "tenant_not_found" and error_of(r)["field"] == "id"
    r = ops.delete(f"{ADMIN}/{doomed}")  # active: the operator suspends first, or forces it
    assert r.status_code == 409 and error_of(r)["code"] == "tenant_not_suspended" and error_of(r)["field"] == "status"
    assert _rows(api, doomed)["tasks"] and ops.get(f"{ADMIN}/{doomed}").json()["status"] == "active"  # nothing done

    r = ops.delete(f"{ADMIN}/{doomed}", params={"force": "true"}, timeout=120)
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["cancelled"]["tasks"] >= 1 and done["cancelled"]["schedules"] == 1 and done["files"] >= 1
    assert done["rows"]["tasks"] >= 4 and done["rows"]["tenant_provider_keys"] == 1 and done["rows"]["tenants"] == 1
    assert _leftovers(api, doomed) == {}
    assert _hashes(api, doomed) == {} and not (root / "tenants" / doomed).exists()
    assert _rows(api, kept) == kept_rows and _hashes(api, kept) == kept_files  # value for value, byte for byte
    assert ops.get(f"{ADMIN}/{doomed}").status_code == 404
    eventually(lambda: ana.get("/tasks").status_code == 401)  # its tokens name a tenant that no longer exists
    assert api.client("ana", tenant=kept).get(f"/tasks/{kept_task['id']}").json()["status"] == "completed"
    assert inflight not in str(_rows(api, doomed))
    # its cached result went too: the same tenant id made again computes afresh
    assert ops.post(ADMIN, json={"id": doomed}).status_code == 201
    eventually(lambda: ana.get("/tasks").status_code == 200)
    again = api.client("ana", tenant=doomed).post(
        "/subtitles/generate", params={"wait": 30}, json={"text": text, "provider": "local-subtitles"}).json()
    assert again["status"] == "completed" and not again["cache_hit"], again
    assert api.client("ana", tenant=kept).post(
        "/subtitles/generate", params={"wait": 30}, json={"text": text, "provider": "local-subtitles"}
    ).json()["cache_hit"]  # the other tenant's cache entry is still there
    assert ops.delete(f"{ADMIN}/{doomed}", params={"force": "true"}, timeout=120).status_code == 200


def test_an_export_writes_every_row_as_parquet_and_copies_the_files(api: Api, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    tenant = new_tenant(api, "exported")
    with Receiver() as rx:
        task = _populate(api, tenant, rx, unique("words to export"))
        eventually(lambda: _settled(api, tenant))
    ops = operator_client(api)
    r = ops.post(f"{ADMIN}/{tenant}/export")
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["export"].startswith(f"{tenant}/") and str(api.settings.home) not in r.text  # no server path
    where = Path(api.settings.tenant_export_root) / done["export"]
    rows = _rows(api, tenant)
    for name in TENANT_TABLES:
        frame = pd.read_parquet(where / "tables" / f"{name}.parquet")
        assert len(frame) == len(rows[name]) == done["tables"][name], name
    tasks = pd.read_parquet(where / "tables" / "tasks.parquet")
    assert task["id"] in set(tasks["id"]) and set(tasks["user_id"]) == {f"{tenant}/ana"}
    keys = pd.read_parquet(where / "tables" / "tenant_provider_keys.parquet")
    assert f"sk-{tenant}" not in keys.to_json()  # the key is ciphertext in the export too
    copied = {str(p.relative_to(where / "files")): hashlib.sha256(p.read_bytes()).hexdigest()
              for p in (where / "files").rglob("*") if p.is_file()}
    assert copied == _hashes(api, tenant) and len(copied) == done["files"] >= 1
    # the request names no location: a body or a query is ignored, never written to
    r = ops.post(f"{ADMIN}/{tenant}/export", params={"to": str(tmp_path / "evil")}, json={"to": str(tmp_path)})
    assert r.status_code == 200 and not (tmp_path / "evil").exists() and not (tmp_path / "tables").exists()
    assert ops.post(f"{ADMIN}/nobody-at-all/export").status_code == 404
    # the CLI exports to a folder its operator names, through the deployment's own service
    media = MediaService(api.settings, find_scheduler(api.settings))
    monkeypatch.setattr("videoai_ray.client.connect", lambda *a, **kw: SimpleNamespace(service=media))
    assert main(["tenant", "export", tenant, "--to", str(tmp_path / "cli")]) == 0
    assert len(pd.read_parquet(tmp_path / "cli" / "tables" / "tasks.parquet")) == len(rows["tasks"])
    assert main(["tenant", "delete", tenant]) == 2  # still active: refused
    assert _rows(api, tenant)["tenants"]
    assert main(["tenant", "delete", tenant, "--force"]) == 0
    assert _leftovers(api, tenant) == {} and _hashes(api, tenant) == {}


def test_a_suspended_tenants_accepted_work_finishes(api: Api) -> None:
    tenant = new_tenant(api, "finishing")
    c = api.client("ana", tenant=tenant)
    r = c.post("/batch", json=[{"task_type": "image_generation",
                                "input_data": {**noop(), "provider": "slow"}} for _ in range(24)])
    assert r.status_code in (200, 202), r.text
    assert operator_client(api).post(f"{ADMIN}/{tenant}/suspend").json()["status"] == "suspended"
    unfinished = [t for t in _rows(api, tenant)["tasks"] if t["status"] not in ("completed", "failed", "cancelled")]
    assert unfinished, "every task had ended before the suspension: nothing was in flight"
    eventually(lambda: _settled(api, tenant), 60)
    rows = _rows(api, tenant)
    assert {t["status"] for t in rows["tasks"]} == {"completed"} and len(rows["tasks"]) == 24
    assert rows["tenants"][0]["status"] == "suspended"  # it finished while suspended


def _signed_with(api: Api, headers: dict[str, str]) -> list[str]:
    """The ``v1,`` signatures of one received delivery, checked against its stored body: which of
    the candidate secrets made them is up to the caller (``standard_signature``)."""
    from sqlalchemy import select

    from videoai_ray.webhooks.schema import webhook_deliveries

    with make_engine(api.settings.db_url).connect() as conn:
        body = conn.execute(select(webhook_deliveries.c.body).where(
            webhook_deliveries.c.id == headers["webhook-id"])).scalar_one()
    return [headers["webhook-id"], headers["webhook-timestamp"], body, headers["webhook-signature"]]


def _verifies(api: Api, headers: dict[str, str], secret: str) -> bool:
    from videoai_ray.webhooks.signing import standard_signature

    wid, ts, body, sigs = _signed_with(api, headers)
    return standard_signature(wid, int(ts), body, secret) in sigs.split(" ")


def test_a_tenants_default_webhook_secret_signs_its_users_deliveries(api: Api) -> None:
    tenant, other = new_tenant(api, "signing"), new_tenant(api, "signing")
    boss = api.client("boss", tenant=tenant, tenant_admin=True)
    r = boss.get("/tenant/webhook-secret")
    assert r.status_code == 200 and r.json()["secret"].startswith("whsec_")
    default = r.json()["secret"]
    assert boss.get("/tenant/webhook-secret").json()["secret"] == default  # kept
    assert api.client("boss", tenant=other, tenant_admin=True).get("/tenant/webhook-secret").json()["secret"] != default
    for who, c in [("its user", api.client("ana", tenant=tenant)), ("a plain user", api.client("ana")),
                   ("the operator", api.client("ops", operator=True)), ("an admin", api.client("r", admin=True))]:
        for r in (c.get("/tenant/webhook-secret"), c.post("/tenant/webhook-secret/rotate")):
            assert r.status_code == 403 and error_of(r)["field"] == "tenant", (who, r.text)
    ana, bob = api.client("ana", tenant=tenant), api.client("bob", tenant=tenant)
    assert ana.get("/webhooks/secret").json()["secret"] == default  # no secret of her own: the tenant's
    assert api.client("ana", tenant=other).get("/webhooks/secret").json()["secret"] != default
    assert api.client("ana").get("/webhooks/secret").json()["secret"] != default
    own = bob.post("/webhooks/secret/rotate").json()["secret"]  # bob takes one of his own
    assert own != default and bob.get("/webhooks/secret").json()["secret"] == own
    with Receiver() as rx:
        for c in (ana, bob):
            r = c.post("/subtitles/generate", json={"text": unique("signed"), "provider": "local-subtitles",
                                                    "webhook_url": rx.url, "webhook_events": ["task.completed"]})
            assert r.status_code == 202, r.text
        eventually(lambda: len(rx.headers) >= 2)
    by_user = {b["user_id"]: h for b, h in zip(rx.bodies, rx.headers, strict=True)}
    assert _verifies(api, by_user[f"{tenant}/ana"], default)
    assert _verifies(api, by_user[f"{tenant}/bob"], own) and _verifies(api, by_user[f"{tenant}/bob"], default)  # grace
    rotated = boss.post("/tenant/webhook-secret/rotate").json()["secret"]
    assert rotated not in (default, own) and ana.get("/webhooks/secret").json()["secret"] == rotated
    assert bob.get("/webhooks/secret").json()["secret"] == own  # his own stays his
    # deleting the tenant removes its default secret with the rest
    assert operator_client(api).delete(f"{ADMIN}/{tenant}", params={"force": "true"}, timeout=120).status_code == 200
    assert _leftovers(api, tenant) == {}
