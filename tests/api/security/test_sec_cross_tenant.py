"""Tenants on the session's served API (docs/tenants.md): a user of one tenant finds nothing of
another tenant's (nor of another user's of its own, nor of a same-named user's elsewhere) on any
route, by id or in a list; a tenant admin reads its own tenant's work (tasks, batches,
pipelines, schedules, experiments) and nothing else, and changes only its own; the
operator's routes answer an operator token only; bad tenant ids are refused with nothing stored;
tokens of unknown tenants answer 401 and of suspended ones 403, until the tenant is resumed."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from served_api import ADMIN_TENANTS as ADMIN
from served_api import Api, Receiver, error_of, eventually, new_tenant, noop, operator_client, unique

from videoai_ray.store import make_engine
from videoai_ray.store.schedules import get_schedule


def _admin(api: Api, token: str) -> httpx.Client:
    """A client on the operator's routes (beside ``/api/v1/media``)."""
    c = api.root()
    c.headers["Authorization"] = f"Bearer {token}"
    return c


@dataclass
class World:
    """Two tenants, and one of each kind of thing made by ``ana`` of the first."""

    acme: str
    globex: str
    ana: httpx.Client
    ids: dict[str, str]


@pytest.fixture(scope="module")
def world(api: Api) -> World:
    acme, globex = new_tenant(api, "acme"), new_tenant(api, "globex")
    ana = api.client("ana", tenant=acme)
    with Receiver() as rx:
        r = ana.post("/subtitles/generate", params={"wait": 20},
                     json={"text": unique("acme's words"), "provider": "local-subtitles", "use_cache": False,
                           "webhook_url": rx.url, "webhook_events": ["task.completed"]})
        assert r.status_code == 200, r.text
        task = r.json()
        eventually(lambda: any(b["task_id"] == task["id"] for b in rx.bodies), 60)
    assert rx.bodies[0]["user_id"] == f"{acme}/ana"  # the owner id its webhooks name
    [delivery] = ana.get("/webhooks", params={"task_id": task["id"]}).json()["deliveries"]
    batch = ana.post("/batch", json=[{"task_type": "image_generation", "input_data": noop()}])
    pipeline = ana.post("/pipelines", json={"steps": [{"id": "a", "task_type": "image_generation",
                                                       "input": noop()}]})
    schedule = ana.post("/schedules", json={"cron": "0 9 * * *", "target": {
        "task": {"task_type": "image_generation", "input_data": noop()}}})
    experiment = ana.post("/experiments", json={"name": "acme's", "task_type": "image_generation", "arms": [
        {"provider": "noop", "weight": 1}, {"provider": "slow", "weight": 1}]})
    for made in (batch, pipeline, schedule, experiment):
        assert made.status_code in (201, 202), made.text
    ids = {"task": task["id"], "file": task["output"]["subtitle_download_url"].rsplit("/", 1)[1],
           "webhook": delivery["webhook_id"], "batch": batch.json()["batch_id"], "pipeline": pipeline.json()["id"],
           "schedule": schedule.json()["id"], "experiment": experiment.json()["id"]}
    return World(acme, globex, ana, ids)


def _by_id(ids: dict[str, str]) -> list[tuple[str, str]]:
    t = ids["task"]
    return [("GET", f"/tasks/{t}"), ("POST", f"/tasks/{t}/cancel"), ("DELETE", f"/tasks/{t}"),
            ("POST", f"/tasks/{t}/retry"), ("GET", f"/tasks/{t}/files/{ids['file']}"),
            ("GET", f"/batches/{ids['batch']}"),
            ("GET", f"/pipelines/{ids['pipeline']}"), ("POST", f"/pipelines/{ids['pipeline']}/cancel"),
            ("GET", f"/schedules/{ids['schedule']}"), ("POST", f"/schedules/{ids['schedule']}/pause"),
            ("POST", f"/schedules/{ids['schedule']}/resume"), ("DELETE", f"/schedules/{ids['schedule']}"),
            ("GET", f"/experiments/{ids['experiment']}"), ("POST", f"/experiments/{ids['experiment']}/stop"),
            ("GET", f"/webhooks/{ids['webhook']}/status"), ("POST", f"/webhooks/{ids['webhook']}/redeliver")]


def _finds_nothing(c: httpx.Client, ids: dict[str, str], who: str) -> None:
    for method, path in _by_id(ids):
        r = c.request(method, path)
        assert r.status_code == 404, (who, method, path, r.text)
    lists = [c.get("/tasks", params={"limit": 200}), c.get("/tasks", params={"batch_id": ids["batch"]}),
             c.get("/batches"), c.get("/pipelines"), c.get("/schedules"), c.get("/experiments"),
             c.get("/webhooks"), c.get("/webhooks", params={"task_id": ids["task"]}), c.get("/spend"),
             c.get("/webhooks/statistics"), c.get("/statistics")]
    for r in lists:
        assert r.status_code == 200, (who, r.request.url, r.text)
        assert not any(v in r.text for v in ids.values()), (who, r.request.url, r.text)
    assert lists[0].json()["tasks"] == [] and lists[1].json()["tasks"] == []
    assert lists[2].json()["batches"] == [] and lists[3].json()["pipelines"] == []
    assert lists[4].json()["schedules"] == [] and lists[5].json()["experiments"] == []
    assert lists[6].json()["deliveries"] == [] and lists[7].json()["deliveries"] == []
    stats = lists[10].json()
    assert stats["total_tasks"] == 0 and stats["pipelines"]["total"] == 0, (who, stats)
    assert not stats["schedules"]["by_state"], (who, stats)


def test_nothing_of_a_tenant_is_found_from_anywhere_else(api: Api, world: World) -> None:
    ana = world.ana
    for method, path in _by_id(world.ids)[:1] + _by_id(world.ids)[5:7] + _by_id(world.ids)[8:9]:
        assert ana.request(method, path).status_code == 200, path  # the owner finds each
    others = {
        "bob of the same tenant": api.client("bob", tenant=world.acme),
        "ana of another tenant": api.client("ana", tenant=world.globex),
        "the other tenant's admin": api.client("boss", tenant=world.globex, tenant_admin=True),
        "ana without a tenant": api.client("ana"),
        "a deployment admin": api.client("root", admin=True),
    }
    for who, c in others.items():
        _finds_nothing(c, world.ids, who)
    assert ana.get(f"/schedules/{world.ids['schedule']}").json()["state"] == "active"  # nobody changed it


def test_a_tenant_admin_reads_its_own_tenants_tasks_only(api: Api, world: World) -> None:
    boss = api.client("boss", tenant=world.acme, tenant_admin=True)
    theirs = api.client("ana", tenant=world.globex).post("/images/generate", json=noop()).json()["id"]
    plain = api.client("ana").post("/images/generate", json=noop()).json()["id"]
    own = boss.post("/images/generate", json=noop()).json()["id"]
    tid = world.ids["task"]
    assert boss.get(f"/tasks/{tid}").json()["id"] == tid
    listed = [t["id"] for t in boss.get("/tasks", params={"limit": 200}).json()["tasks"]]
    assert tid in listed and own in listed and theirs not in listed and plain not in listed
    for other in (theirs, plain):
        assert boss.get(f"/tasks/{other}").status_code == 404
    assert boss.post(f"/tasks/{tid}/cancel").status_code == 404  # reads, never changes, another's
    # ana herself (no tenant_admin) still sees only her own
    assert own not in [t["id"] for t in world.ana.get("/tasks", params={"limit": 200}).json()["tasks"]]


def test_a_tenant_admin_reads_its_tenants_other_work_and_numbers(api: Api, world: World) -> None:
    boss = api.client("boss", tenant=world.acme, tenant_admin=True)
    ids = world.ids
    theirs = api.client("ana", tenant=world.globex).post("/pipelines", json={"steps": [
        {"id": "a", "task_type": "image_generation", "input": noop()}]}).json()["id"]
    for kind, key in (("batches", "batch"), ("pipelines", "pipeline"), ("schedules", "schedule"),
                      ("experiments", "experiment")):
        assert boss.get(f"/{kind}/{ids[key]}").status_code == 200, kind
        listed = boss.get(f"/{kind}").json()[kind]
        assert ids[key] in [row.get("id", row.get("batch_id")) for row in listed], kind
    assert theirs not in [p["id"] for p in boss.get("/pipelines").json()["pipelines"]]
    assert boss.get(f"/pipelines/{theirs}").status_code == 404
    # reads, never changes, another user's work
    for method, path in (("POST", f"/pipelines/{ids['pipeline']}/cancel"),
                         ("POST", f"/schedules/{ids['schedule']}/pause"), ("DELETE", f"/schedules/{ids['schedule']}"),
                         ("POST", f"/experiments/{ids['experiment']}/stop")):
        assert boss.request(method, path).status_code == 404, path
    # its statistics count the tenant's work (ana's pipeline and schedule), the other tenant's admin
    # counts none of it (``_finds_nothing`` above)
    stats = boss.get("/statistics").json()
    assert stats["total_tasks"] >= 2 and stats["pipelines"]["total"] >= 1 and stats["schedules"]["total"] >= 1
    assert boss.get("/spend").status_code == 200
    # a plain user of the same tenant reads none of ana's
    bob = api.client("bob", tenant=world.acme)
    for kind, key in (("batches", "batch"), ("pipelines", "pipeline"), ("schedules", "schedule"),
                      ("experiments", "experiment")):
        assert bob.get(f"/{kind}/{ids[key]}").status_code == 404, kind


def test_the_same_body_is_not_a_cache_hit_across_tenants(api: Api, world: World) -> None:
    body = {"text": unique("cached per tenant user"), "format": "srt", "provider": "local-subtitles"}
    first = world.ana.post("/subtitles/generate", params={"wait": 20}, json=body).json()
    again = world.ana.post("/subtitles/generate", params={"wait": 20}, json=body).json()
    assert (first["cache_hit"], again["cache_hit"]) == (False, True)
    for c in (api.client("ana", tenant=world.globex), api.client("ana")):
        assert c.post("/subtitles/generate", params={"wait": 20}, json=body).json()["cache_hit"] is False


def test_the_operator_routes_answer_an_operator_token_only(api: Api, world: World) -> None:
    for token in (api.token("ops"), api.token("ops", admin=True), api.token("ops", tenant=world.acme),
                  api.token("ops", tenant=world.acme, tenant_admin=True)):
        c = _admin(api, token)
        for method, path in [("GET", ADMIN), ("POST", ADMIN), ("GET", f"{ADMIN}/{world.acme}"),
                             ("POST", f"{ADMIN}/{world.acme}/suspend"), ("POST", f"{ADMIN}/{world.acme}/resume")]:
            r = c.request(method, path, json={"id": unique("sneaky")} if method == "POST" else None)
            assert r.status_code == 403 and error_of(r)["code"] == "forbidden", (method, path, r.text)
    assert api.root().get(ADMIN).status_code == 401
    ops = operator_client(api)
    assert ops.get(f"{ADMIN}/{world.acme}").json()["status"] == "active"  # nobody suspended it
    assert world.acme in [t["id"] for t in ops.get(ADMIN).json()["tenants"]]
    assert not [t for t in ops.get(ADMIN).json()["tenants"] if t["id"].startswith("sneaky")]


@pytest.mark.parametrize(("body", "field"), [
    ({"id": "../etc"}, "id"), ({"id": "a/b"}, "id"), ({"id": "a\\b"}, "id"), ({"id": "Acme"}, "id"),
    ({"id": "\u0430cme"}, "id"),  # a Cyrillic "a"
    ({"id": "acme\n"}, "id"), ({"id": "-acme"}, "id"), ({"id": "a" * 64}, "id"), ({"id": ""}, "id"),
    ({"id": "ac me"}, "id"), ({"id": "a.b"}, "id"), ({"id": 7}, "id"), ({}, "id"),
    ({"id": "ok-id", "display_name": ""}, "display_name"), ({"id": "ok-id", "display_name": "x" * 201}, "display_name"),
    ({"id": "ok-id", "display_name": "bell\x07"}, "display_name"), ({"id": "ok-id", "limits": {}}, "limits"),
])
def test_a_bad_tenant_is_refused_naming_the_field(api: Api, body: dict[str, Any], field: str) -> None:
    ops = operator_client(api)
    before = ops.get(ADMIN).json()["count"]
    r = ops.post(ADMIN, json=body)
    assert r.status_code == 422 and error_of(r)["field"] == field, r.text
    assert ops.get(ADMIN).json()["count"] == before  # nothing stored


def test_tenant_lookups_and_conflicts(api: Api, world: World) -> None:
    ops = operator_client(api)
    r = ops.post(ADMIN, json={"id": world.acme})
    assert r.status_code == 409 and error_of(r)["code"] == "tenant_exists"
    for method, path in [("GET", f"{ADMIN}/nobody-here"), ("POST", f"{ADMIN}/nobody-here/suspend"),
                         ("GET", f"{ADMIN}/..%2Fx")]:
        r = ops.request(method, path)
        assert r.status_code == 404, (path, r.text)
    r = ops.post(ADMIN, json=[1])
    assert r.status_code == 422 and error_of(r)["field"] == "body"


def test_a_token_of_an_unknown_tenant_is_401(api: Api) -> None:
    r = api.client("ana", tenant="never-created").get("/tasks")
    assert r.status_code == 401 and error_of(r)["code"] == "unknown_tenant" and error_of(r)["field"] == "tenant"


def test_a_suspended_tenant_is_403_until_resumed(api: Api) -> None:
    tenant = new_tenant(api, "paused")
    c, ops = api.client("ana", tenant=tenant), operator_client(api)
    accepted = c.post("/images/generate", json=noop())
    assert accepted.status_code == 202
    assert ops.post(f"{ADMIN}/{tenant}/suspend").json()["status"] == "suspended"
    eventually(lambda: c.get("/tasks").status_code == 403)
    r = c.post("/images/generate", json=noop())
    assert r.status_code == 403 and error_of(r) == {"code": "tenant_suspended", "field": "tenant",
                                                    "message": f"tenant {tenant} is suspended"}
    assert api.client("ana", tenant=tenant, tenant_admin=True).get("/tasks").status_code == 403
    assert api.client("ana").get("/tasks").status_code == 200  # nobody else is touched
    # what it had sent before finishes
    task_id = accepted.json()["id"]
    assert ops.post(f"{ADMIN}/{tenant}/resume").json()["status"] == "active"
    eventually(lambda: c.get("/tasks").status_code == 200)
    eventually(lambda: c.get(f"/tasks/{task_id}").json()["status"] == "completed", 60)


@pytest.mark.slow
def test_a_suspended_tenants_schedules_skip_their_ticks(api: Api) -> None:
    tenant = new_tenant(api, "ticks")
    c, ops = api.client("ana", tenant=tenant), operator_client(api)
    s = c.post("/schedules", json={"cron": "* * * * * *", "target": {
        "task": {"task_type": "image_generation", "input_data": noop()}}}).json()
    eventually(lambda: c.get(f"/schedules/{s['id']}").json()["ticks_fired"] >= 1, 15)
    ops.post(f"{ADMIN}/{tenant}/suspend")
    time.sleep(2 * api.settings.tenant_cache_seconds + 0.5)  # the API's and the Scheduler's caches
    engine = make_engine(api.settings.db_url)
    first = get_schedule(engine, s["id"], instance=api.settings.instance)
    time.sleep(3)
    later = get_schedule(engine, s["id"], instance=api.settings.instance)
    assert first is not None and later is not None
    assert later["ticks_fired"] == first["ticks_fired"], "a suspended tenant's schedule fired"
    assert later["ticks_missed"] > first["ticks_missed"] and f"tenant {tenant} is suspended" in later["last_error"]
    ops.post(f"{ADMIN}/{tenant}/resume")
    eventually(lambda: c.get(f"/schedules/{s['id']}").status_code == 200
                and c.get(f"/schedules/{s['id']}").json()["ticks_fired"] > later["ticks_fired"], 15)
    c.delete(f"/schedules/{s['id']}")
