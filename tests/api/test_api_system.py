"""Health (no auth; 503 when the Scheduler is unreachable), statistics, providers, cache, and the
OpenAPI document."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
from served_api import Api, noop, unique

from videoai_ray.api import ApiContext, create_app
from videoai_ray.api.ratelimit import MemoryRateLimiter
from videoai_ray.api.submit_batcher import SubmitBatcher
from videoai_ray.service import MediaService
from videoai_ray.settings import Settings


def test_health_needs_no_token_and_reports_every_part(api: Api) -> None:
    r = api.client().get("/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "healthy" and body["instance"] == "t-api"
    checks = body["checks"]
    assert {"ray", "scheduler", "store", "cache", "providers", "api"} <= set(checks)
    assert all(checks[k]["status"] == "ok" for k in ("ray", "scheduler", "store", "providers"))
    assert checks["store"]["dialect"] == "sqlite"
    assert {"noop", "park", "local-subtitles"} <= set(checks["providers"]["available"])
    assert checks["api"]["rate_limiter"] == ("redis" if api.settings.redis_url else "memory")


class _Unreachable:
    """A Scheduler handle whose calls never answer (an actor that is down or restarting)."""

    class _Method:
        def remote(self, *args: Any) -> Any:
            return asyncio.sleep(3600)

    def __getattr__(self, name: str) -> Any:
        return self._Method()


def test_health_is_503_when_the_scheduler_is_unreachable(tmp_path: Path, monkeypatch: Any) -> None:
    from videoai_ray.api import routes_system

    monkeypatch.setattr(routes_system, "HEALTH_TIMEOUT", 0.2)
    settings = Settings(home=tmp_path, instance="t-api-down")
    sched = _Unreachable()
    service = MediaService(settings, sched, migrate=True)
    ctx = ApiContext(settings, service, MemoryRateLimiter(), SubmitBatcher(service))

    async def call() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(ctx)), base_url="http://t") as c:
            return await c.get("/api/v1/media/health")

    r = asyncio.run(call())
    assert r.status_code == 503
    body = r.json()
    assert body["status"] == "unhealthy"
    assert body["checks"]["scheduler"] == {"status": "error", "error": "timed out"}
    assert body["checks"]["store"]["status"] == "ok"


def test_statistics_are_the_callers(api: Api) -> None:
    c = api.client(unique("u"))
    for _ in range(2):
        c.post("/images/generate", params={"wait": 10}, json=noop())
    stats = c.get("/statistics").json()
    assert stats["total_tasks"] == 2 and stats["by_status"] == {"completed": 2}
    assert stats["success_rate"] == 1.0
    assert stats["by_type"]["image_generation"]["completed"] == 2
    assert stats["by_provider"]["noop"]["tasks"] == 2
    assert {"queue_depth", "in_flight", "providers", "cache", "total_cost"} <= set(stats)


def test_providers_and_cache_stats(api: Api) -> None:
    c = api.client(unique("u"))
    providers = c.get("/providers").json()
    assert providers["count"] == len(providers["providers"]) >= 5
    noop_row = next(p for p in providers["providers"] if p["name"] == "noop")
    assert noop_row["available"] is True and noop_row["health"] in ("healthy", "degraded")
    # the rate limiter's numbers (noop declares no limit: nothing to throttle)
    assert noop_row["rate_limit_rpm"] is None and noop_row["rate_group"] == "noop"
    assert (noop_row["throttled"], noop_row["throttled_now"], noop_row["rate_limited"]) == (0, 0, 0)
    cache = c.get("/cache/stats")
    assert cache.status_code == 200 and "total" in cache.json()
    assert api.client().get("/providers").status_code == 401


def test_openapi_lists_every_path_with_the_seed_models(api: Api) -> None:
    root = api.root()
    doc = root.get("/openapi.json").json()
    p = "/api/v1/media"
    expected = {
        f"{p}/images/generate": {"post"}, f"{p}/videos/generate": {"post"}, f"{p}/audio/transcribe": {"post"},
        f"{p}/subtitles/generate": {"post"}, f"{p}/batch": {"post"}, f"{p}/tasks": {"get"},
        f"{p}/tasks/{{task_id}}": {"get", "delete"}, f"{p}/tasks/{{task_id}}/cancel": {"post"},
        f"{p}/tasks/{{task_id}}/retry": {"post"}, f"{p}/tasks/{{task_id}}/files/{{name}}": {"get"},
        f"{p}/statistics": {"get"}, f"{p}/health": {"get"}, f"{p}/providers": {"get"},
        f"{p}/cache/stats": {"get"}, f"{p}/webhooks": {"get"}, f"{p}/webhooks/statistics": {"get"},
        f"{p}/webhooks/secret": {"get"}, f"{p}/webhooks/secret/rotate": {"post"},
        f"{p}/webhooks/{{webhook_id}}/status": {"get"}, f"{p}/webhooks/{{webhook_id}}/redeliver": {"post"},
        f"{p}/batches": {"get"}, f"{p}/batches/{{batch_id}}": {"get"}, f"{p}/budget": {"get", "put"},
        f"{p}/spend": {"get"},
        f"{p}/experiments": {"get", "post"}, f"{p}/experiments/{{experiment_id}}": {"get"},
        f"{p}/experiments/{{experiment_id}}/stop": {"post"},
        f"{p}/schedules": {"get", "post"},
        f"{p}/schedules/{{schedule_id}}": {"get", "delete"}, f"{p}/schedules/{{schedule_id}}/pause": {"post"},
        f"{p}/schedules/{{schedule_id}}/resume": {"post"},
        f"{p}/pipelines": {"get", "post"}, f"{p}/pipelines/{{pipeline_id}}": {"get"},
        f"{p}/pipelines/{{pipeline_id}}/cancel": {"post"},
        f"{p}/models": {"get", "post"}, f"{p}/models/{{name}}": {"delete"},
        "/api/v1/admin/tenants": {"get", "post"}, "/api/v1/admin/tenants/{tenant_id}": {"get", "delete"},
        "/api/v1/admin/tenants/{tenant_id}/export": {"post"}, "/api/v1/admin/tenants/{tenant_id}/suspend": {"post"},
        "/api/v1/admin/tenants/{tenant_id}/resume": {"post"},
        "/api/v1/admin/tenants/{tenant_id}/limits": {"put", "patch"},
        f"{p}/tenant/provider-keys": {"get"}, f"{p}/tenant/provider-keys/{{provider}}": {"put", "delete"},
        f"{p}/tenant/webhook-secret": {"get"}, f"{p}/tenant/webhook-secret/rotate": {"post"},
    }
    assert {path: set(ops) for path, ops in doc["paths"].items()} == expected
    schemas = doc["components"]["schemas"]
    for name in ("ImageGenerationRequest", "VideoGenerationRequest", "AudioTranscriptionRequest",
                 "SubtitleGenerationRequest", "BatchItem", "TaskResponse", "ErrorBody", "Cue"):
        assert name in schemas, name
    assert set(schemas["ImageGenerationRequest"]["properties"]) >= {"prompt", "style", "size", "quality", "n",
                                                                    "webhook_url", "priority", "metadata"}
    body = doc["paths"][f"{p}/images/generate"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/ImageGenerationRequest"}
    for route in ("images/generate", "videos/generate", "audio/transcribe", "subtitles/generate"):
        params = {(q["in"], q["name"]) for q in doc["paths"][f"{p}/{route}"]["post"]["parameters"]}
        assert params == {("query", "wait"), ("header", "Idempotency-Key")}, route
    batch = doc["paths"][f"{p}/batch"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert batch["maxItems"] == 50 and batch["items"] == {"$ref": "#/components/schemas/BatchItem"}
    ok = doc["paths"][f"{p}/tasks/{{task_id}}"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/TaskResponse"}
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert "security" not in doc["paths"][f"{p}/health"]["get"]
    assert doc["paths"][f"{p}/tasks"]["get"]["security"] == [{"bearer": []}]
    docs = root.get("/docs")
    assert docs.status_code == 200 and "swagger-ui" in docs.text
