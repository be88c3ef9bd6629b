"""Tenants below the HTTP layer (docs/tenants.md): the id rule, what a token may combine and what
its caller becomes, the ``tenants`` rows on both back ends, the directory's short cache, the
cache scopes, a tenant admin's listing, and ``videoai tenant`` / ``videoai token create``."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jwt
import pytest
from sqlalchemy import func, select

from videoai_ray.api.auth import create_token, verify_token
from videoai_ray.api.errors import ApiError
from videoai_ray.cli import main
from videoai_ray.errors import InvalidRequest, TenantExists, TenantNotFound
from videoai_ray.models.record import row_from_submission
from videoai_ray.scheduler.caching import cache_scope
from videoai_ray.settings import Settings
from videoai_ray.store import TaskStore, utcnow
from videoai_ray.store.schema import tenants
from videoai_ray.tenants import directory as directory_module
from videoai_ray.tenants.directory import TenantDirectory
from videoai_ray.tenants.ids import check_tenant_id, owner_id, owner_prefix, tenant_of, valid_tenant_id
from videoai_ray.tenants.service import TenantService

BAD_IDS = ["", "..", "../x", "a/b", "a\\b", "Acme", "\u0430cme", "acme\n", "-acme", "a" * 64, "a.b", "a b",
           "a_b", "ac%me", "\uff41cme", None, 7]


def test_tenant_ids_are_strict() -> None:
    for good in ("acme", "a", "0", "acme-eu-2", "a" * 63):
        assert valid_tenant_id(good) and check_tenant_id(good) == good
    for bad in BAD_IDS:
        assert not valid_tenant_id(bad), bad
        with pytest.raises(InvalidRequest) as err:
            check_tenant_id(bad, "tenant")
        assert err.value.field == "tenant"
    assert owner_id("acme", "ana") == "acme/ana" and owner_id(None, "ana") == "ana"
    assert tenant_of("acme/ana") == "acme" and tenant_of("ana") is None and owner_prefix("acme") == "acme/"


def _raw(settings: Settings, **claims: Any) -> str:
    now = int(time.time())
    return jwt.encode({"iss": settings.jwt_issuer, "exp": now + 60, **claims},
                      settings.jwt_secret.get_secret_value(), algorithm="HS256")


def test_a_tenant_token_is_a_namespaced_caller(tmp_path: Path) -> None:
    s = Settings(home=tmp_path)
    caller = verify_token(s, create_token(s, "ana", tenant="acme", tenant_admin=True, weight=2.0))
    assert (caller.user_id, caller.tenant, caller.tenant_admin, caller.admin, caller.operator) == (
        "acme/ana", "acme", True, False, False)
    assert verify_token(s, create_token(s, "ana")).user_id == "ana"
    op = verify_token(s, create_token(s, "ops", operator=True))
    assert op.operator and op.tenant is None and not op.tenant_admin
    # claims minted by the secret's holder that do not go together: the narrower reading wins
    both = verify_token(s, _raw(s, sub="ana", tenant="acme", admin=True, operator=True))
    assert (both.admin, both.operator, both.user_id) == (False, False, "acme/ana")
    assert not verify_token(s, _raw(s, sub="ana", tenant_admin=True)).tenant_admin


@pytest.mark.parametrize("claims", [
    {"sub": "acme/ana"},  # a plain user passing for acme's ana
    {"sub": "ana", "tenant": "../acme"}, {"sub": "ana", "tenant": "Acme"}, {"sub": "ana", "tenant": ""},
    {"sub": "ana", "tenant": 5}, {"sub": "ana", "tenant": ["acme"]},
    {"sub": "x/ana", "tenant": "acme"}, {"sub": "a" * 65, "tenant": "acme"},
])
def test_tokens_that_could_cross_a_tenant_line_are_refused(tmp_path: Path, claims: dict[str, Any]) -> None:
    s = Settings(home=tmp_path)
    with pytest.raises(ApiError) as err:
        verify_token(s, _raw(s, **claims))
    assert err.value.status == 401 and err.value.code == "invalid_token"


@pytest.mark.parametrize(("user", "kw"), [
    ("acme/ana", {}), ("ana", {"tenant": "Acme"}), ("ana", {"tenant": "a/b"}), ("a/b", {"tenant": "acme"}),
    ("a" * 65, {"tenant": "acme"}), ("ana", {"tenant_admin": True}), ("ana", {"tenant": "acme", "admin": True}),
    ("ana", {"tenant": "acme", "operator": True}),
])
def test_create_token_refuses_what_does_not_go_together(tmp_path: Path, user: str, kw: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        create_token(Settings(home=tmp_path), user, **kw)


def test_tenant_rows_on_both_back_ends(any_store: TaskStore) -> None:
    svc = TenantService(any_store.engine, any_store.instance)
    made = svc.create({"id": "acme", "display_name": " Acme Inc "})
    assert (made["id"], made["display_name"], made["status"], made["limits"]) == ("acme", "Acme Inc", "active", None)
    assert svc.create({"id": "globex"})["display_name"] == "globex"
    with pytest.raises(TenantExists):
        svc.create({"id": "acme"})
    for body, field in [({"id": "../x"}, "id"), ({"id": "ok", "display_name": "\x00"}, "display_name"),
                        ({"id": "ok", "owner": "x"}, "owner"), ({}, "id")]:
        with pytest.raises(InvalidRequest) as err:
            svc.create(body)
        assert err.value.field == field
    assert [t["id"] for t in svc.list()] == ["acme", "globex"]  # nothing else was stored
    assert svc.set_status("acme", "suspended")["status"] == "suspended"
    assert svc.set_status("acme", "suspended")["status"] == "suspended"  # twice is harmless
    assert svc.get("acme")["status"] == "suspended" and svc.get("globex")["status"] == "active"
    assert svc.set_status("acme", "active")["status"] == "active"
    for missing in (lambda: svc.get("nobody"), lambda: svc.set_status("nobody", "active")):
        with pytest.raises(TenantNotFound):
            missing()
    with pytest.raises(InvalidRequest):
        svc.set_status("acme", "deleted")
    other = TenantService(any_store.engine, "other-instance")
    assert other.list() == [] and other.create({"id": "acme"})["status"] == "active"  # each instance its own
    with any_store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(tenants)).scalar() == 3


def test_the_directory_reads_the_store_once_per_ttl(any_store: TaskStore, monkeypatch: pytest.MonkeyPatch) -> None:
    svc = TenantService(any_store.engine, any_store.instance)
    svc.create({"id": "acme"})
    reads: list[str] = []
    real = directory_module.get_tenant

    def counting(engine: Any, tenant: str, *, instance: str) -> Any:
        reads.append(tenant)
        return real(engine, tenant, instance=instance)

    monkeypatch.setattr(directory_module, "get_tenant", counting)
    d = TenantDirectory(any_store.engine, any_store.instance, ttl=0.5)
    for _ in range(50):
        assert d.state("acme") == "active" and d.state("ghost") is None and d.refusal(None) is None
    assert sorted(reads) == ["acme", "ghost"]  # unknown tenants are remembered too
    svc.set_status("acme", "suspended")
    assert d.state("acme") == "active"  # within the ttl: the old answer
    time.sleep(0.6)
    assert d.refusal("acme") == "tenant acme is suspended" and d.refusal("ghost") == "tenant ghost does not exist"


def test_a_tenant_admin_lists_its_tenants_owners_only(any_store: TaskStore) -> None:
    owners = ["acme/ana", "acme/bob", "acme-eu/ana", "acme", "ana", "globex/ana"]
    now = utcnow()
    any_store.insert_many([row_from_submission(
        {"id": f"task_{i}", "type": "image_generation", "user_id": u, "priority": "medium", "input": {},
         "options": {}, "metadata": {}, "max_retries": 0}, now) for i, u in enumerate(owners)])
    assert sorted(t.user_id for t in any_store.list(user_prefix=owner_prefix("acme"))) == ["acme/ana", "acme/bob"]


def test_cache_scopes_never_cross_a_tenant() -> None:
    def act(user: str, tenant: str | None) -> Any:
        return SimpleNamespace(user_id=user, options={"tenant": tenant} if tenant else {})

    acme, globex, plain = act("acme/ana", "acme"), act("globex/ana", "globex"), act("ana", None)
    assert [cache_scope("user", a) for a in (acme, globex, plain)] == ["user:acme/ana", "user:globex/ana", "user:ana"]
    assert [cache_scope("tenant", a) for a in (acme, globex, plain)] == ["tenant:acme", "tenant:globex", "user:ana"]
    assert [cache_scope("global", a) for a in (acme, globex, plain)] == ["tenant:acme", "tenant:globex", ""]
    # a tenant's task from the SDK names no ``tenant`` option: its owner id still keeps it inside
    sdk = act("acme/ana", None)
    assert [cache_scope(s, sdk) for s in ("user", "tenant", "global")] == ["user:acme/ana", "tenant:acme",
                                                                          "tenant:acme"]


def test_the_cli_creates_tenants_and_refuses_tokens_of_unknown_ones(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("VIDEOAI_HOME", str(tmp_path))
    for name in ("DATABASE_URL", "VIDEOAI_DATABASE_URL", "RAY_ADDRESS"):
        monkeypatch.delenv(name, raising=False)
    assert main(["tenant", "create", "acme", "--name", "Acme"]) == 0
    assert main(["tenant", "create", "../acme"]) == 2
    assert "id: a tenant id is" in capsys.readouterr().err
    assert main(["token", "create", "--user", "ana", "--tenant", "globex"]) == 2
    assert "no tenant globex" in capsys.readouterr().err
    assert main(["token", "create", "--user", "ana", "--tenant", "acme", "--tenant-admin"]) == 0
    caller = verify_token(Settings(), capsys.readouterr().out.strip())
    assert (caller.user_id, caller.tenant_admin) == ("acme/ana", True)
    assert main(["token", "create", "--operator"]) == 0
    assert verify_token(Settings(), capsys.readouterr().out.strip()).operator
    assert main(["token", "create", "--user", "ana", "--tenant", "acme", "--operator"]) == 2
    assert main(["tenant", "suspend", "acme"]) == 0
    assert '"status": "suspended"' in capsys.readouterr().out
    assert main(["tenant", "list"]) == 0
    listed = capsys.readouterr().out
    assert "acme" in listed and "suspended" in listed and "Acme" in listed
    assert main(["tenant", "resume", "acme"]) == 0 and main(["tenant", "show", "acme"]) == 0
    assert '"status": "active"' in capsys.readouterr().out
    assert main(["tenant", "show", "nobody"]) == 2
