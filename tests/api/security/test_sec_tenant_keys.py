"""A tenant's own provider keys over HTTP (docs/tenants.md): only the tenant admin of that tenant
sets, lists and removes them; every other kind of token is refused with nothing stored; bad input
is a 422 naming the field; and a canary key never comes back, in an answer, an error, the listing
or the logs of the session's Ray (Serve replicas, the Scheduler, workers)."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
from served_api import Api, error_of, new_tenant

KEYS = "/tenant/provider-keys"


@pytest.fixture(scope="module")
def tenants(api: Api) -> tuple[str, str]:
    return new_tenant(api, "keys-a"), new_tenant(api, "keys-b")


def _listed(c: httpx.Client) -> list[str]:
    r = c.get(KEYS)
    assert r.status_code == 200, r.text
    return [k["provider"] for k in r.json()["provider_keys"]]


def test_a_tenant_admin_sets_lists_and_removes_its_keys_never_seeing_them(api: Api, tenants: tuple[str, str]) -> None:
    acme, globex = tenants
    canary = "sk-canary-" + uuid.uuid4().hex
    boss = api.client("boss", tenant=acme, tenant_admin=True)
    r = boss.put(f"{KEYS}/openai", json={"api_key": canary})
    assert r.status_code == 200, r.text
    assert r.json()["provider"] == "openai" and canary not in r.text
    r = boss.put(f"{KEYS}/runwayml", json={"api_key": canary + "-runway"})
    assert r.status_code == 200 and canary not in r.text
    listing = boss.get(KEYS)
    assert listing.json()["tenant"] == acme and listing.json()["fallback"] is True
    assert _listed(boss) == ["openai", "runwayml"] and canary not in listing.text
    assert boss.get(KEYS, params={"tenant": acme}).status_code == 200
    # the other tenant's admin sees none of them, and cannot reach acme's
    other = api.client("boss", tenant=globex, tenant_admin=True)
    assert _listed(other) == []
    for r in (other.get(KEYS, params={"tenant": acme}), other.put(f"{KEYS}/openai", params={"tenant": acme},
                                                                  json={"api_key": "sk-intruder"}),
              other.delete(f"{KEYS}/openai", params={"tenant": acme})):
        assert r.status_code == 403 and error_of(r)["field"] == "tenant", r.text
    assert other.delete(f"{KEYS}/openai").status_code == 404  # its own: it has none
    # removing one
    assert boss.delete(f"{KEYS}/runwayml").status_code == 204
    assert boss.delete(f"{KEYS}/runwayml").status_code == 404
    assert _listed(boss) == ["openai"]
    # nothing of the canary in the logs of any process of the session (Serve, Scheduler, workers)
    import ray

    logs = Path(ray._private.worker._global_node.get_session_dir_path()) / "logs"  # type: ignore[attr-defined]
    for log_file in logs.rglob("*"):
        if log_file.is_file():
            assert canary.encode() not in log_file.read_bytes(), log_file


def test_anyone_but_the_tenant_admin_is_refused(api: Api, tenants: tuple[str, str]) -> None:
    acme, _ = tenants
    for who in (api.client("ana", tenant=acme), api.client("ana"), api.client("root", admin=True),
                api.client("ops", operator=True)):
        for r in (who.get(KEYS), who.put(f"{KEYS}/openai", json={"api_key": "sk-nope"}),
                  who.delete(f"{KEYS}/openai")):
            assert r.status_code == 403, r.text
            assert error_of(r)["field"] == "tenant" and "sk-nope" not in r.text
    assert api.client().get(KEYS).status_code == 401
    assert _listed(api.client("boss", tenant=acme, tenant_admin=True)) in ([], ["openai"])  # nothing stored by them


@pytest.mark.parametrize(("provider", "body", "field"), [
    ("openai-whisper", {"api_key": "sk-secret-bad"}, "provider"),
    ("open ai", {"api_key": "sk-secret-bad"}, "provider"),
    ("%2e%2e", {"api_key": "sk-secret-bad"}, "provider"),
    ("OPENAI", {"api_key": "sk-secret-bad"}, "provider"),
    ("openai", {}, "api_key"),
    ("openai", {"api_key": ""}, "api_key"),
    ("openai", {"api_key": 12}, "api_key"),
    ("openai", {"api_key": "sk secret bad"}, "api_key"),
    ("openai", {"api_key": "sk-secret-bad\n"}, "api_key"),
    ("openai", {"api_key": "x" * 5000}, "api_key"),
    ("openai", {"api_key": "sk-secret-bad", "tenant": "other"}, "tenant"),
    ("openai", ["sk-secret-bad"], "body"),
])
def test_bad_input_names_the_field_and_stores_nothing(api: Api, tenants: tuple[str, str], provider: str,
                                                      body: object, field: str) -> None:
    _, globex = tenants
    boss = api.client("boss", tenant=globex, tenant_admin=True)
    r = boss.put(f"{KEYS}/{provider}", json=body)
    assert r.status_code == 422, r.text
    assert error_of(r)["field"] == field and "secret" not in r.text
    assert _listed(boss) == []
    r = boss.delete(f"{KEYS}/openai-whisper")
    assert r.status_code == 422 and error_of(r)["field"] == "provider"
