"""A token's fair-share claims and tenant travel with what it creates (issue 21, finding 5): each
step of a pipeline and each tick of a schedule runs under them, and none of them resets them."""

from __future__ import annotations

import asyncio
import itertools

import pytest
from pipeline_steps import Call, finished, img, run_api

import videoai_ray as vai

pytestmark = pytest.mark.slow

CLAIMS = {"weight": 0.05, "max_in_flight": 1}


def _claims(client: vai.Client, user: str) -> dict[str, object]:
    share = client.service.monitor.fair_share(user)
    return {"weight": share["weight"], "max_in_flight": share["max_in_flight"]}


def test_a_pipelines_steps_never_run_past_the_tokens_cap(pipe_client: vai.Client) -> None:
    async def test(as_user: Call) -> None:
        carol = as_user("carol-claims", **CLAIMS)
        # three independent steps on a provider that runs four at once: only the cap holds them
        r = await carol.post("/pipelines", json={"steps": [img(s, f"step {s}") for s in "abc"]})
        assert r.status_code == 202, r.text
        body = await finished(carol, r.json()["id"])
        assert body["status"] == "completed", body
        tasks = [pipe_client.service.tasks.get(s["task_id"]) for s in body["steps"]]
        spans = sorted((t.started_at, t.finished_at) for t in tasks)
        assert all(s is not None and e is not None for s, e in spans)
        assert all(nxt[0] >= prev[1] for prev, nxt in itertools.pairwise(spans)), spans  # type: ignore[operator]
        assert _claims(pipe_client, "carol-claims") == CLAIMS

    run_api(pipe_client, test)


def test_a_schedule_tick_does_not_reset_the_claims(pipe_client: vai.Client) -> None:
    async def test(as_user: Call) -> None:
        dave = as_user("dave-claims", **CLAIMS)
        r = await dave.post("/images/generate", params={"wait": 30},
                            json={"prompt": "direct", "provider": "lat", "use_cache": False})
        assert r.status_code == 200, r.text
        assert _claims(pipe_client, "dave-claims") == CLAIMS
        task = {"task": {"task_type": "image_generation",
                         "input_data": {"prompt": "tick", "provider": "lat", "use_cache": False}}}
        pipeline = {"pipeline": {"steps": [img("a", "tick step")]}}
        made = []
        for target in (task, pipeline):
            r = await dave.post("/schedules", json={"cron": "* * * * * *", "target": target})
            assert r.status_code == 201, r.text
            made.append(r.json()["id"])
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while min([(await dave.get(f"/schedules/{s}")).json()["ticks_fired"] for s in made]) < 2:
            assert loop.time() < deadline, "the schedules did not fire"
            await asyncio.sleep(0.2)
        for s in made:
            assert (await dave.delete(f"/schedules/{s}")).status_code == 204
        assert _claims(pipe_client, "dave-claims") == CLAIMS

    run_api(pipe_client, test)
