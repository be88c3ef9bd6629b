"""The pipeline routes of the HTTP API (the FastAPI app in-process, on the pipeline tests'
Scheduler): create, get, list, cancel, a 422 naming the step for an unknown reference or a cycle
with nothing stored, per-user isolation (another user's pipeline is a 404), and the OpenAPI document."""

from __future__ import annotations

from typing import Any

import pytest
from pipeline_steps import Call, finished, img, run_api

import videoai_ray as vai
from videoai_ray.pipelines import ref

pytestmark = pytest.mark.slow


def spec(*steps: dict[str, Any], **kw: Any) -> dict[str, Any]:
    return {"steps": list(steps), **kw}


def test_create_get_list_and_isolation(pipe_client: vai.Client) -> None:
    async def test(as_user: Call) -> None:
        alice, bob = as_user("alice-p"), as_user("bob-p")
        r = await alice.post("/pipelines", json=spec(img("a", "over http"), img("b", ref("a.output.provider"))),
                             headers={"Idempotency-Key": "k-http-1"})
        assert r.status_code == 202, r.text
        created = r.json()
        pid = created["id"]
        assert r.headers["location"] == f"/api/v1/media/pipelines/{pid}"
        assert [s["id"] for s in created["steps"]] == ["a", "b"] and created["steps"][1]["needs"] == ["a"]
        done = await finished(alice, pid)
        assert done["status"] == "completed" and done["steps"][1]["output"]["provider"] == "lat"
        again = await alice.post("/pipelines", json=spec(img("a", "over http"), img("b", ref("a.output.provider"))),
                                 headers={"Idempotency-Key": "k-http-1"})
        assert again.json()["id"] == pid and again.headers["idempotent-replayed"] == "true"
        listed = (await alice.get("/pipelines")).json()
        assert pid in [p["id"] for p in listed["pipelines"]]
        # another user's pipeline does not exist for them
        for call in (bob.get(f"/pipelines/{pid}"), bob.post(f"/pipelines/{pid}/cancel")):
            r = await call
            assert r.status_code == 404 and r.json()["error"]["code"] == "pipeline_not_found"
        assert pid not in [p["id"] for p in (await bob.get("/pipelines")).json()["pipelines"]]
        assert (await alice.get("/statistics")).json()["pipelines"]["by_status"]["completed"] >= 1
        assert (await bob.get("/statistics")).json()["pipelines"]["total"] == 0

    run_api(pipe_client, test)


def test_unknown_step_and_cycle_are_422_naming_the_step_and_nothing_is_stored(pipe_client: vai.Client) -> None:
    async def test(as_user: Call) -> None:
        c = as_user("carol-p")
        r = await c.post("/pipelines", json=spec(img("a", "x"), img("b", ref("ghost.output.provider"))))
        assert r.status_code == 422
        err = r.json()["error"]
        assert err["field"] == "steps[1].input.prompt" and "unknown step 'ghost'" in err["message"]
        r = await c.post("/pipelines", json=spec(img("a", ref("b.output.provider")), img("b", ref("a.output.x"))))
        assert r.status_code == 422 and "cycle" in r.json()["error"]["message"]
        assert "'a'" in r.json()["error"]["message"] or "'b'" in r.json()["error"]["message"]
        r = await c.post("/pipelines", json=spec(vai.step("t", "audio_transcription",
                                                          audio_url="upload://" + "0" * 32 + "/x.wav")))
        assert r.status_code == 422 and r.json()["error"]["field"] == "steps[0].input.audio_url"
        for bad in ([], "x", {"steps": "no"}, {"steps": [], "extra": 1}):
            r = await c.post("/pipelines", json=bad)
            assert r.status_code == 422, (bad, r.text)
        assert (await c.get("/pipelines")).json() == {"pipelines": [], "count": 0}

    run_api(pipe_client, test)


def test_cancel_over_http(pipe_client: vai.Client) -> None:
    async def test(as_user: Call) -> None:
        c = as_user("dave-p")
        pid = (await c.post("/pipelines", json=spec(img("long", "stop me", provider="park"),
                                                    img("next", ref("long.output.provider"))))).json()["id"]
        r = await c.post(f"/pipelines/{pid}/cancel")
        assert r.status_code == 200 and r.json()["status"] == "cancelled"
        assert [s["status"] for s in r.json()["steps"]] == ["cancelled", "skipped"]
        r = await c.post(f"/pipelines/{pid}/cancel")
        assert r.status_code == 409 and r.json()["error"]["code"] == "invalid_transition"

    run_api(pipe_client, test)


def test_openapi_documents_the_routes_and_the_spec(pipe_client: vai.Client) -> None:
    async def test(as_user: Call) -> None:
        doc = (await as_user("x").get("http://t/openapi.json")).json()
        paths = doc["paths"]
        assert {"/api/v1/media/pipelines", "/api/v1/media/pipelines/{pipeline_id}",
                "/api/v1/media/pipelines/{pipeline_id}/cancel"} <= set(paths)
        body = paths["/api/v1/media/pipelines"]["post"]["requestBody"]["content"]["application/json"]["schema"]
        assert body == {"$ref": "#/components/schemas/PipelineSpec"}
        assert "PipelineStep" in doc["components"]["schemas"] and "PipelineRecord" in doc["components"]["schemas"]
        video = doc["components"]["schemas"]["VideoGenerationRequest"]["properties"]
        assert {"audio_url", "subtitles_url"} <= set(video)

    run_api(pipe_client, test)
