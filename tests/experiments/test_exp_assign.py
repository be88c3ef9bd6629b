"""Experiment bodies, arm draws by weight and the intake rules, without Ray: parsing and the
provider checks (422 naming the field), the draw's shares, pinned tasks, user and metadata filters."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from videoai_ray.errors import InvalidRequest
from videoai_ray.experiments import ArmSpec, Experiment, ExperimentRouter, check_providers, parse_spec, pick_arm
from videoai_ray.models import TaskType

PROVIDERS = [
    {"name": "fast", "task_types": ["image_generation", "video_generation"], "available": True},
    {"name": "half", "task_types": ["image_generation"], "available": True},
    {"name": "cloud", "task_types": ["image_generation"], "available": False, "unavailable_reason": "no key"},
]


def body(**over: Any) -> dict[str, Any]:
    return {"name": "e", "task_type": "image_generation",
            "arms": [{"provider": "fast", "weight": 1}, {"provider": "half", "weight": 1}], **over}


def field_of(b: dict[str, Any]) -> str | None:
    with pytest.raises(InvalidRequest) as e:
        check_providers(parse_spec(b), PROVIDERS)
    return e.value.field


@pytest.mark.parametrize(("over", "field"), [
    ({"arms": [{"provider": "fast", "weight": 0}, {"provider": "half", "weight": 0}]}, "arms"),
    ({"arms": [{"provider": "fast", "weight": -1}, {"provider": "half", "weight": 2}]}, "arms[0].weight"),
    ({"arms": [{"provider": "fast", "weight": 1}, {"provider": "nope", "weight": 1}]}, "arms[1].provider"),
    ({"arms": [{"provider": "fast"}, {"provider": "cloud"}]}, "arms[1].provider"),
    ({"task_type": "video_generation"}, "arms[1].provider"),  # half serves images only
    ({"task_type": "hologram_generation"}, "task_type"),
    ({"arms": [{"provider": "fast"}]}, "arms"),
    ({"arms": [{"provider": "fast"}, {"provider": "fast"}]}, "arms[1].name"),
    ({"arms": [{"provider": "fast", "colour": "red"}, {"provider": "half"}]}, "arms[0].colour"),
    ({"baseline": "nope"}, "baseline"),
    ({"user_id": "bob", "all_users": True}, "user_id"),
    ({"name": ""}, "name"),
])
def test_bad_bodies_name_the_field(over: dict[str, Any], field: str) -> None:
    assert field_of(body(**over)) == field


def test_weights_nan_and_infinity_are_refused() -> None:
    for bad in (float("nan"), float("inf")):
        assert field_of(body(arms=[{"provider": "fast", "weight": bad}, {"provider": "half"}])) == "arms[0].weight"


def test_an_a_a_test_names_its_arms() -> None:
    spec = parse_spec(body(arms=[{"provider": "fast", "name": "a1"}, {"provider": "fast", "name": "a2"}]))
    check_providers(spec, PROVIDERS)
    assert [a.label for a in spec.arms] == ["a1", "a2"]


def experiment(weights: tuple[float, ...] = (1, 3), *, user: str | None = "alice",
               metadata: dict[str, str | int | bool] | None = None, age: float = 0.0) -> Experiment:
    providers = ["fast", "half", "third"]
    return Experiment(id="exp_" + uuid.uuid4().hex, owner_id="alice", name="e", task_type=TaskType.IMAGE_GENERATION,
                      arms=[ArmSpec(provider=providers[i], weight=w) for i, w in enumerate(weights)],
                      baseline="fast", user_id=user, metadata=metadata,
                      created_at=datetime.now(UTC) - timedelta(seconds=age))


def test_arms_are_drawn_by_weight() -> None:
    exp = experiment((1, 3, 0))
    n = 20_000
    picks = [pick_arm(exp, f"task_{uuid.uuid4().hex}").provider for _ in range(n)]
    share = picks.count("half") / n
    # binomial(20000, 0.75): standard deviation 0.0031; four of them either side
    assert abs(share - 0.75) < 4 * 0.0031
    assert "third" not in picks  # weight 0: never drawn
    tid = "task_fixed"
    assert len({pick_arm(exp, tid).provider for _ in range(5)}) == 1  # the same task, the same arm


def test_another_experiment_draws_independently() -> None:
    a, b = experiment((1, 1)), experiment((1, 1))
    ids = [f"task_{i}" for i in range(2000)]
    same = sum(pick_arm(a, t).provider == pick_arm(b, t).provider for t in ids) / len(ids)
    assert 0.4 < same < 0.6


def prepared(user: str = "alice", provider: str | None = None, metadata: dict[str, Any] | None = None,
             task_type: str = "image_generation") -> dict[str, Any]:
    return {"id": f"task_{uuid.uuid4().hex}", "type": task_type, "user_id": user, "metadata": metadata or {},
            "options": {"provider": provider, "strategy": None, "use_cache": True}}


def test_router_rules() -> None:
    tagged = experiment((1, 0), user=None, metadata={"campaign": "spring"}, age=10)
    mine = experiment((0, 1), user="alice")
    loads: list[int] = []

    def load() -> list[Experiment]:
        loads.append(1)
        return [tagged, mine]  # oldest first, as the store gives them

    router = ExperimentRouter(load, refresh=60)
    p = prepared()
    router.assign(p)
    assert (p["experiment_id"], p["experiment_arm"], p["options"]["provider"]) == (mine.id, "half", "half")
    p = prepared(metadata={"campaign": "spring"})  # both match: the older one takes it
    router.assign(p)
    assert (p["experiment_id"], p["options"]["provider"]) == (tagged.id, "fast")
    p = prepared(user="bob", metadata={"campaign": "autumn"})  # neither matches
    router.assign(p)
    assert "experiment_id" not in p and p["options"]["provider"] is None
    p = prepared(user="bob", metadata={"campaign": "spring"})  # all users, tagged
    router.assign(p)
    assert p["experiment_id"] == tagged.id
    p = prepared(provider="noop")  # pinned: never in an experiment
    router.assign(p)
    assert "experiment_id" not in p and p["options"]["provider"] == "noop"
    p = prepared(task_type="video_generation")
    router.assign(p)
    assert "experiment_id" not in p
    assert len(loads) == 1  # read once within the refresh time
    router.invalidate()
    router.assign(prepared())
    assert len(loads) == 2


def test_router_keeps_the_last_list_when_a_read_fails() -> None:
    mine = experiment((0, 1))
    answers: list[Any] = [[mine], RuntimeError("database away")]

    def load() -> list[Experiment]:
        a = answers.pop(0)
        if isinstance(a, Exception):
            raise a
        return list(a)

    router = ExperimentRouter(load, refresh=0)
    for _ in range(2):
        p = prepared()
        router.assign(p)
        assert p["experiment_id"] == mine.id


def test_a_model_arm_sets_the_tasks_model() -> None:
    """An arm with a catalogue model gives its tasks the model (input and resolved entry) and the
    provider that serves it; a model gone from the catalogue keeps the task out of the experiment."""
    arms = [ArmSpec(provider="local-diffusers", model="sd-a", weight=1),
            ArmSpec(provider="local-diffusers", model="sd-b", weight=0)]
    exp = Experiment(id="exp_" + uuid.uuid4().hex, owner_id="alice", name="e", task_type=TaskType.IMAGE_GENERATION,
                     arms=arms, baseline="sd-a", user_id="alice", metadata=None, created_at=datetime.now(UTC))
    catalogue = {"sd-a": {"name": "sd-a", "revision": "sha256:" + "a" * 64}}

    def resolve(name: str, task_type: str) -> dict[str, Any]:
        if name not in catalogue:
            raise InvalidRequest(f"model: no model {name!r} in the catalogue", field="model")
        return {**catalogue[name], "task_type": task_type}

    router = ExperimentRouter(lambda: [exp], resolve_model=resolve)
    p = {**prepared(), "input": {"prompt": "x"}}
    router.assign(p)
    assert (p["experiment_arm"], p["options"]["provider"]) == ("sd-a", "local-diffusers")
    assert p["input"] == {"prompt": "x", "model": "sd-a"}
    assert p["options"]["model"] == {"name": "sd-a", "revision": "sha256:" + "a" * 64, "task_type": "image_generation"}
    del catalogue["sd-a"]  # removed while the experiment runs
    p = {**prepared(), "input": {"prompt": "x"}}
    router.assign(p)
    assert "experiment_id" not in p and p["options"]["provider"] is None and p["input"] == {"prompt": "x"}
    assert [a.label for a in arms] == ["sd-a", "sd-b"]
    assert exp.public()["arms"][0] == {"name": "sd-a", "provider": "local-diffusers", "model": "sd-a", "weight": 1.0}
