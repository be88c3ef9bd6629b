"""Tenants' own provider keys reach the provider (docs/tenants.md): a loopback fake of OpenAI's
image API records the ``Authorization`` header of every request. Through the real Scheduler and
workers, each tenant's tasks arrive with that tenant's key, a plain user's and a keyless tenant's
with the deployment's (fallback on); by hand, with fallback off a keyless tenant's attempt fails
permanently naming the provider and the tenant, and never reaches the provider; a changed key
takes effect; a remote job cancelled by the Scheduler is cancelled with its tenant's key. A
canary key is then looked for in the database file, the task rows and answers, and Ray's logs."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

import videoai_ray as vai
from videoai_ray.errors import AuthenticationFailed, InvalidRequest, NoSecretsKey, TenantNotFound
from videoai_ray.providers.cloud import OpenAIImageProvider, RunwayVideoProvider
from videoai_ray.providers.context import AttemptContext
from videoai_ray.providers.remote_job import RemoteJob
from videoai_ray.scheduler import kill_scheduler
from videoai_ray.service import MediaService
from videoai_ray.settings import Settings
from videoai_ray.store import TaskStore

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")
DEPLOYMENT_KEY = "sk-deployment-" + uuid.uuid4().hex


class FakeProvider:
    """OpenAI's ``POST /v1/images/generations`` and RunwayML's task cancel on 127.0.0.1, recording
    ``(path, Authorization, prompt)`` of every request."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _record(self) -> dict[str, Any]:
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}") if length else {}
                fake.calls.append((self.path, self.headers.get("authorization", ""), str(body.get("prompt", ""))))
                return body

            def do_POST(self) -> None:
                self._record()
                self._answer(200, {"created": 1, "data": [{"b64_json": base64.b64encode(PNG).decode()}]})

            def do_DELETE(self) -> None:
                self._record()
                self.send_response(204)
                self.end_headers()

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def keys_by_prompt(self) -> dict[str, str]:
        return {prompt: auth for _path, auth, prompt in self.calls}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    server = FakeProvider()
    yield server
    server.close()


def _settings(home: Path, **kw: Any) -> Settings:
    return Settings(home=home, instance=f"t-keys-{uuid.uuid4().hex[:6]}", database_url=None, redis_url=None,
                    retry_schedule=(0.2,), max_retries=0, url_allowlist=("127.0.0.1",),
                    openai_api_key=SecretStr(DEPLOYMENT_KEY), secrets_key=SecretStr(Fernet.generate_key().decode()),
                    **kw).pinned()


def _tenants(service: MediaService, *names: str) -> None:
    for name in names:
        service.tenants.create({"id": name})


def test_each_tenants_tasks_reach_the_provider_with_its_own_key(ray_session: None, tmp_path: Path,
                                                                fake: FakeProvider) -> None:
    # gpt-image-1's declared 5 images a minute would start the five tasks 12 s apart: this test is
    # about whose key each request carries, not about the rate limiter (tested on its own)
    settings = _settings(tmp_path / "home", tenant_keys_fallback=True,
                         provider_rate_limits={"openai-gpt-image": None})
    kill_scheduler(settings)
    client = vai.connect(settings=settings, providers=[OpenAIImageProvider(settings, base_url=fake.url + "/v1")])
    try:
        acme_key, globex_key = "sk-acme-canary-" + uuid.uuid4().hex, "sk-globex-canary-" + uuid.uuid4().hex
        _tenants(client.service, "acme", "globex", "initech")
        client.tenant.set_provider_key("openai", acme_key, tenant="acme")
        entry = vai.Client(settings, client.scheduler, client.service.store, "globex/boss").tenant.set_provider_key(
            "openai", globex_key)  # the tenant of the client's user
        assert entry["provider"] == "openai" and globex_key not in json.dumps(entry)
        owners = ["acme/ana", "acme/bo", "globex/ana", "initech/cy", "dan"]
        futures = {}
        for owner in owners:
            user = vai.Client(settings, client.scheduler, client.service.store, owner)
            futures[owner] = user.images.generate(f"a harbour for {owner}", provider="openai-gpt-image",
                                                  use_cache=False)
        tasks = {owner: f.result(timeout=60) for owner, f in futures.items()}
        assert all(t.status.value == "completed" for t in tasks.values()), {o: t.error for o, t in tasks.items()}
        seen = fake.keys_by_prompt()
        used = {owner: next(a for p, a in seen.items() if p.startswith(f"a harbour for {owner},")) for owner in owners}
        assert used == {"acme/ana": f"Bearer {acme_key}", "acme/bo": f"Bearer {acme_key}",
                        "globex/ana": f"Bearer {globex_key}", "initech/cy": f"Bearer {DEPLOYMENT_KEY}",
                        "dan": f"Bearer {DEPLOYMENT_KEY}"}

        # the keys are nowhere but in the provider's requests: not the database file (ciphertext
        # only), the task rows, the listing, Ray's logs of this session
        listing = json.dumps(client.tenant.provider_keys(tenant="acme"))
        rows = json.dumps([t.model_dump(mode="json") for t in tasks.values()])
        db = b"".join(p.read_bytes() for p in (tmp_path / "home").glob("videoai.db*"))
        for key in (acme_key, globex_key):
            assert key not in listing and key not in rows and key.encode() not in db
        logs = Path(_session_dir()) / "logs"
        for log_file in logs.rglob("*"):
            if log_file.is_file():
                data = log_file.read_bytes()
                assert acme_key.encode() not in data and globex_key.encode() not in data, log_file
    finally:
        kill_scheduler(settings)


def _session_dir() -> str:
    import ray

    return str(ray._private.worker._global_node.get_session_dir_path())  # type: ignore[attr-defined]


def _attempt(settings: Settings, owner: str) -> AttemptContext:
    return AttemptContext(f"task_{uuid.uuid4().hex[:8]}", 1, settings, provider="openai-gpt-image", user_id=owner)


def _generate(settings: Settings, fake: FakeProvider, owner: str, prompt: str) -> dict[str, Any]:
    adapter = OpenAIImageProvider(settings, base_url=fake.url + "/v1")
    ctx = _attempt(settings, owner)
    try:
        out: dict[str, Any] = asyncio.run(adapter.run({"prompt": prompt}, ctx))
        return out
    finally:
        ctx.close()


def test_without_fallback_a_keyless_tenant_fails_naming_the_provider(tmp_path: Path, fake: FakeProvider) -> None:
    settings = _settings(tmp_path / "home", tenant_keys_fallback=False, tenant_cache_seconds=0)
    service = MediaService(settings, None, TaskStore(settings.db_url, instance=settings.instance))
    _tenants(service, "acme", "initech")
    with pytest.raises(AuthenticationFailed) as failed:
        _generate(settings, fake, "initech/cy", "keyless")
    assert "openai-gpt-image" in str(failed.value) and "initech" in str(failed.value)
    assert DEPLOYMENT_KEY not in str(failed.value)
    assert fake.calls == []  # nothing was sent, not even with the deployment's key
    # a plain user still has the deployment's key; a tenant with its own key its own; a new key
    # is used from the next attempt on (tenant_cache_seconds=0), a removed one no more
    _generate(settings, fake, "dan", "plain")
    service.provider_keys.set("acme", "openai", {"api_key": "sk-first"})
    _generate(settings, fake, "acme/ana", "first")
    service.provider_keys.set("acme", "openai", {"api_key": "sk-second"})
    _generate(settings, fake, "acme/ana", "second")
    assert {p.split(",")[0]: a for p, a in fake.keys_by_prompt().items()} == {
        "plain": f"Bearer {DEPLOYMENT_KEY}", "first": "Bearer sk-first", "second": "Bearer sk-second"}
    assert service.provider_keys.delete("acme", "openai")
    with pytest.raises(AuthenticationFailed):
        _generate(settings, fake, "acme/ana", "removed")


def test_a_cancelled_remote_job_is_cancelled_with_its_tenants_key(tmp_path: Path, fake: FakeProvider) -> None:
    settings = _settings(tmp_path / "home", tenant_keys_fallback=False).model_copy(
        update={"runwayml_api_secret": SecretStr("key_deployment")})
    service = MediaService(settings, None, TaskStore(settings.db_url, instance=settings.instance))
    _tenants(service, "acme")
    service.provider_keys.set("acme", "runwayml", {"api_key": "key_acme_runway"})
    runway = RunwayVideoProvider(settings, base_url=fake.url)
    # as the Scheduler sends it (``RemoteJobs.cancel`` adds the task's owner)
    asyncio.run(runway.cancel_remote_job(RemoteJob.from_json(  # type: ignore[arg-type]
        {"provider": "runway", "id": "job-1", "data": {}, "owner": "acme/ana"})))
    asyncio.run(runway.cancel_remote_job(RemoteJob("runway", "job-2", {}, 1, "")))
    assert [(path.rsplit("/", 1)[-1], auth) for path, auth, _ in fake.calls] == [
        ("job-1", "Bearer key_acme_runway"), ("job-2", "Bearer key_deployment")]


def test_setting_a_key_is_refused_cleanly(tmp_path: Path) -> None:
    settings = _settings(tmp_path / "home")
    service = MediaService(settings, None, TaskStore(settings.db_url, instance=settings.instance))
    _tenants(service, "acme")
    keys = service.provider_keys
    for provider, body, field in [("openai-whisper", {"api_key": "k"}, "provider"), ("", {"api_key": "k"}, "provider"),
                                  ("openai", {}, "api_key"), ("openai", {"api_key": 5}, "api_key"),
                                  ("openai", {"api_key": "with space"}, "api_key"),
                                  ("openai", {"api_key": "x" * 2000}, "api_key"),
                                  ("openai", {"api_key": "k", "extra": 1}, "extra")]:
        with pytest.raises(InvalidRequest) as bad:
            keys.set("acme", provider, body)
        assert bad.value.field == field and "with space" not in str(bad.value)
    with pytest.raises(TenantNotFound):
        keys.set("nobody", "openai", {"api_key": "k"})
    # without a deployment secrets key nothing can be stored
    bare = MediaService(settings.model_copy(update={"secrets_key": None}), None, service.store)
    with pytest.raises(NoSecretsKey) as refused:
        bare.provider_keys.set("acme", "openai", {"api_key": "sk-never-stored"})
    assert "VIDEOAI_SECRETS_KEY" in str(refused.value) and "sk-never-stored" not in str(refused.value)
    assert keys.list("acme")["provider_keys"] == []
    with pytest.raises(ValueError, match="VIDEOAI_SECRETS_KEY"):
        Settings(secrets_key="not-a-fernet-key")


def test_the_rows_hold_ciphertext_on_both_stores(any_store: TaskStore) -> None:
    from videoai_ray.store.provider_keys import get_provider_key

    settings = Settings(secrets_key=SecretStr(Fernet.generate_key().decode()), instance=any_store.instance)
    keys = MediaService(settings, None, any_store).provider_keys
    _tenants(MediaService(settings, None, any_store), "acme", "globex")
    keys.set("acme", "openai", {"api_key": "sk-one"})
    keys.set("acme", "openai", {"api_key": "sk-two"})  # replaced, not doubled
    keys.set("globex", "fal", {"api_key": "id:secret"})
    assert [k["provider"] for k in keys.list("acme")["provider_keys"]] == ["openai"]
    stored = get_provider_key(any_store.engine, "acme", "openai", instance=any_store.instance)
    assert stored and "sk-two" not in stored
    assert Fernet(settings.secrets_key.get_secret_value().encode()).decrypt(stored.encode()) == b"sk-two"  # type: ignore[union-attr]
    assert keys.delete("acme", "openai") and not keys.delete("acme", "openai")
    assert keys.list("acme")["provider_keys"] == [] and len(keys.list("globex")["provider_keys"]) == 1
