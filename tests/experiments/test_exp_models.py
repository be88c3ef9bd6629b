"""Catalogue models as experiment arms (issue 25), on a real Scheduler of its own: an arm names a
model (its provider implied by the model's kind), its tasks carry the model with its pinned
revision and run with it in the model provider's pool, and the report and the statistics show
the arms by label. A bad model arm is refused naming ``arms[i].model`` (SDK) or 422 (HTTP)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import videoai_ray as vai
from videoai_ray.api import ApiContext, create_app, create_token
from videoai_ray.api.ratelimit import MemoryRateLimiter
from videoai_ray.models import TaskType
from videoai_ray.providers.testing import BatchSleepProvider, FixedLatencyProvider
from videoai_ray.scheduler import kill_scheduler

BASE = "/api/v1/media"


def _weights(root: Path, name: str, size: int) -> Path:
    folder = root / name
    folder.mkdir()
    (folder / "unet.bin").write_bytes(name.encode() * size)
    return folder


@pytest.fixture(scope="module")
def client(ray_session: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[vai.Client]:
    root = tmp_path_factory.mktemp("exp-models")
    settings = vai.Settings(home=root / "home", instance="t-exp-models", prefetch=0, max_retries=0,
                            database_url=None, redis_url=None)
    kill_scheduler(settings)
    # the edge: a model provider that reads the catalogue model's files instead of running diffusion
    pool = BatchSleepProvider(name="local-diffusers", latency=0.02, max_batch_size=4, pool_idle_s=600)
    pool.task_types = frozenset({TaskType.IMAGE_GENERATION})  # type: ignore[misc]
    c = vai.connect(settings=settings, providers=[pool, FixedLatencyProvider(0.01, 4, name="fast")],
                    user_id="exp-models-admin")
    c.models.register("sd-a", provider="diffusers", source=str(_weights(root, "sd-a", 100)))
    c.models.register("sd-b", provider="diffusers", source=str(_weights(root, "sd-b", 300)))
    c.models.register("whisper-x", provider="whisper", source=str(_weights(root, "whisper-x", 10)))
    yield c
    kill_scheduler(settings)


def _user(client: vai.Client) -> vai.Client:
    return vai.Client(client.settings, client.scheduler, client.service.store, f"m-{uuid.uuid4().hex[:8]}")


BAD_ARMS = [
    ([{"model": "sd-a"}, {"model": "nope"}], "arms[1].model", "no model 'nope' in the catalogue"),
    ([{"model": "whisper-x"}, {"model": "sd-a"}], "arms[0].model", "does not serve image_generation"),
    ([{"model": "whisper-1"}, {"model": "sd-a"}], "arms[0].model", "not a catalogue model"),
    ([{"model": "sd-a", "provider": "fast"}, {"model": "sd-b"}], "arms[0].provider", "served by local-diffusers"),
    ([{"weight": 1}, {"model": "sd-b"}], "arms[0].provider", "a provider or a model"),
    ([{"model": "../sd"}, {"model": "sd-b"}], "arms[0].model", "should match pattern"),
    ([{"model": "sd-a"}, {"model": "sd-a"}], "arms[1].name", "given twice"),
]


@pytest.mark.parametrize(("arms", "field", "why"), BAD_ARMS)
def test_a_bad_model_arm_is_refused_naming_it(client: vai.Client, arms: list[dict[str, object]], field: str,
                                              why: str) -> None:
    user = _user(client)
    with pytest.raises(vai.InvalidRequest, match=why) as e:
        user.experiment(name="bad", task_type="image_generation", arms=arms)
    assert e.value.field == field
    assert user.experiments().empty


@pytest.mark.parametrize(("arms", "field", "why"), BAD_ARMS)
def test_a_bad_model_arm_is_422_over_http(client: vai.Client, arms: list[dict[str, object]], field: str,
                                          why: str) -> None:
    ctx = ApiContext.start(client.settings, client.scheduler, MemoryRateLimiter())
    headers = {"Authorization": f"Bearer {create_token(client.settings, 'http-models')}"}
    with TestClient(create_app(ctx)) as http:
        r = http.post(f"{BASE}/experiments", headers=headers,
                      json={"name": "bad", "task_type": "image_generation", "arms": arms})
        assert r.status_code == 422, r.text
        assert r.json()["error"]["field"] == field and why in r.json()["error"]["message"]
        assert http.get(f"{BASE}/experiments", headers=headers).json()["count"] == 0


def test_two_models_compared_as_arms(client: vai.Client) -> None:
    user = _user(client)
    exp = user.experiment(name="sd-a vs sd-b", task_type="image_generation",
                          arms=[{"model": "sd-a"}, {"model": "sd-b", "weight": 1}])
    assert [(a["name"], a["provider"], a["model"]) for a in exp.info()["arms"]] == [
        ("sd-a", "local-diffusers", "sd-a"), ("sd-b", "local-diffusers", "sd-b")]
    tag = uuid.uuid4().hex[:8]
    tasks = [f.wait(timeout=180) for f in [user.images.generate(f"{tag} {i}") for i in range(16)]]
    revisions = client.models.list()["revision"].to_dict()
    sizes = {"sd-a": 4 * 100, "sd-b": 4 * 300}
    for t in tasks:
        assert t.status == vai.TaskStatus.COMPLETED, t.error
        arm = t.experiment_arm
        assert t.experiment_id == exp.id and arm in ("sd-a", "sd-b") and t.provider == "local-diffusers"
        # the task carries the arm's model, and ran with its weights
        assert t.input["model"] == arm and (t.output or {})["model"] == arm
        assert (t.output or {})["model_bytes"] == sizes[arm]
        # the pinned revision travelled with it (the result cache keys on it)
        assert client.service.store.in_flight_fields([t.id])[t.id]["options"]["model"]["revision"] == revisions[arm]
    assert {t.experiment_arm for t in tasks} == {"sd-a", "sd-b"}  # 16 draws of 50/50: both, bar 2**-15
    # the report shows the arms by label, with their models
    raw = exp.report().raw
    rows = {a["arm"]: a for a in raw["arms"]}
    assert {a: (r["model"], r["provider"]) for a, r in rows.items()} == {
        "sd-a": ("sd-a", "local-diffusers"), "sd-b": ("sd-b", "local-diffusers")}
    assert sum(r["completed"] for r in rows.values()) == 16
    assert {a: r["completed"] for a, r in rows.items()} == {
        a: sum(t.experiment_arm == a for t in tasks) for a in ("sd-a", "sd-b")}
    # a request naming its model, or a provider, is pinned: never part of the experiment
    pinned = user.images.generate(f"{tag} pinned", model="sd-b").wait(timeout=120)
    assert pinned.experiment_id is None and (pinned.output or {})["model"] == "sd-b"
    # the statistics count the tasks per model too
    stats = user.statistics()
    by_model = stats.raw["by_model"]
    assert by_model["sd-b"]["completed"] == rows["sd-b"]["completed"] + 1
    assert by_model["sd-a"]["completed"] == rows["sd-a"]["completed"]
    assert set(stats.by_model.index) == {"sd-a", "sd-b"}
