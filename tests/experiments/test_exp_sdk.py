"""Experiments through the SDK on a real Scheduler: bad input stores nothing, tasks join by
type, user and tag (pinned ones never), run on their arm's provider, and the report's numbers on
a controlled run (``half`` fails the tasks ``FailureRateProvider.fails`` names)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from arms import FAST_COST, HALF_COST, images, two_arms

import videoai_ray as vai
from videoai_ray.experiments.stats import newcombe_diff, percentile, wilson
from videoai_ray.providers.testing import FailureRateProvider

MakeClient = Callable[[str], vai.Client]


def test_bad_experiments_are_refused_and_nothing_is_stored(make_client: MakeClient) -> None:
    alice = make_client("alice")
    cases = [
        (two_arms(arms=[{"provider": "fast", "weight": 1}, {"provider": "nope", "weight": 1}]), "arms[1].provider"),
        (two_arms(arms=[{"provider": "fast", "weight": 0}, {"provider": "half", "weight": 0}]), "arms"),
        (two_arms(arms=[{"provider": "subs"}, {"provider": "fast"}]), "arms[0].provider"),  # subs: no images
        (two_arms(task_type="nope"), "task_type"),
    ]
    for spec, field in cases:
        with pytest.raises(vai.InvalidRequest) as e:
            alice.experiment(**spec)
        assert e.value.field == field, spec
    assert alice.experiments().empty
    with pytest.raises(vai.ExperimentNotFound):
        alice.experiment("exp_unknown")
    with pytest.raises(vai.InvalidRequest):
        alice.experiment("exp_x", name="both")


def test_tasks_join_by_weight_and_run_on_their_arm(make_client: MakeClient) -> None:
    alice, bob = make_client("alice"), make_client("bob")
    exp = alice.experiment(**two_arms(arms=[{"provider": "fast", "weight": 1}, {"provider": "noop", "weight": 3}]))
    done = images(alice, 80)
    assert {t.experiment_id for t in done} == {exp.id}
    for t in done:
        assert t.provider == t.experiment_arm  # stays on its arm's provider
    share = sum(t.experiment_arm == "noop" for t in done) / len(done)
    assert 0.55 < share < 0.92  # 0.75 expected; binomial(80) sd 0.048, ~3.5 sd either side
    pinned = images(alice, 5, provider="fast")
    assert all(t.experiment_id is None and t.provider == "fast" for t in pinned)
    others = images(bob, 5)  # alice's experiment takes alice's traffic only
    assert all(t.experiment_id is None for t in others)
    subs = alice.subtitles.generate("hello there").wait(timeout=60)  # another task type
    assert subs.experiment_id is None
    report = exp.report()
    assert report.raw["tasks"] == 80
    assert int(report.frame["tasks"].sum()) == 80
    batch = alice.batch([{"task_type": "image_generation", "input_data": {"prompt": f"b {i}"}} for i in range(10)])
    batch.wait()
    tasks = batch.results()
    assert len(tasks) == 10
    assert all(t.experiment_id == exp.id and t.provider == t.experiment_arm for t in tasks)
    assert exp.stop()["status"] == "stopped"
    assert exp.status == "stopped"
    after = images(alice, 5)
    assert all(t.experiment_id is None for t in after)
    assert exp.report().raw["tasks"] == 90


def test_metadata_tag_filter(make_client: MakeClient) -> None:
    alice = make_client("alice")
    exp = alice.experiment(**two_arms(metadata={"campaign": "spring"}))
    tagged = images(alice, 6, metadata={"campaign": "spring", "other": 1})
    untagged = images(alice, 4, metadata={"campaign": "autumn"})
    assert all(t.experiment_id == exp.id for t in tagged)
    assert all(t.experiment_id is None for t in untagged)
    exp.stop()


def test_an_admin_experiment_on_all_users(make_client: MakeClient) -> None:
    admin, carol = make_client("admin"), make_client("carol")
    exp = admin.experiment(**two_arms(task_type="video_generation", all_users=True,
                                      arms=[{"provider": "fast", "name": "a1"}, {"provider": "fast", "name": "a2"}]))
    try:
        t = carol.videos.generate("a walk", duration=1).wait(timeout=60)
        assert t.experiment_id == exp.id and t.experiment_arm in ("a1", "a2") and t.provider == "fast"
        with pytest.raises(vai.ExperimentNotFound):  # carol's task is in it, but the experiment is admin's
            carol.experiment(exp.id)
    finally:
        exp.stop()


@pytest.mark.slow
def test_report_on_a_controlled_run(make_client: MakeClient) -> None:
    alice = make_client("alice")
    exp = alice.experiment(**two_arms())
    done = images(alice, 120)
    exp.stop()
    raw = exp.report().raw
    arms = {a["arm"]: a for a in raw["arms"]}
    expected = {}
    for name in ("fast", "half"):
        mine = [t for t in done if t.experiment_arm == name]
        fails = sum(FailureRateProvider.fails(t.id, 0.5) for t in mine) if name == "half" else 0
        assert [t.status.value for t in mine].count("failed") == fails
        a = arms[name]
        assert (a["tasks"], a["completed"], a["failed"], a["running"], a["cache_hits"]) == (
            len(mine), len(mine) - fails, fails, 0, 0)
        assert a["success_rate"] == pytest.approx((len(mine) - fails) / len(mine))
        assert a["success_rate_ci"] == pytest.approx(list(wilson(len(mine) - fails, len(mine))))  # type: ignore[arg-type]
        cost = FAST_COST if name == "fast" else HALF_COST
        assert a["cost_per_task_usd"] == pytest.approx(cost * (len(mine) - fails) / len(mine), abs=1e-6)
        lat = [t.duration for t in mine if t.status.value == "completed"]
        assert a["latency_p50_s"] == pytest.approx(percentile(lat, 50))  # type: ignore[arg-type]
        assert a["latency_p95_s"] == pytest.approx(percentile(lat, 95))  # type: ignore[arg-type]
        expected[name] = (len(mine) - fails, len(mine))
    assert 0.2 < arms["half"]["success_rate"] < 0.8  # 0.5 expected; about 60 tasks: sd 0.065
    assert arms["fast"]["success_rate"] == 1.0
    [comp] = raw["comparisons"]
    d, lo, hi = newcombe_diff(*expected["half"], *expected["fast"])  # type: ignore[misc]
    assert comp["arm"] == "half" and comp["baseline"] == "fast"
    assert comp["success_rate_diff"] == pytest.approx(d)
    assert comp["success_rate_diff_ci"] == pytest.approx([lo, hi])
    assert hi < 0  # half is worse, and the interval says so
    # half takes 0.15 s, fast 0.05 s: the median difference is about 0.1 s, and its interval above 0
    assert 0.05 < comp["latency_p50_diff_s"] < 0.3
    assert comp["latency_p50_diff_ci_s"][0] > 0
    assert {(r["arm"], r["provider"]) for r in raw["by_provider"]} == {("fast", "fast"), ("half", "half")}
    frame = exp.report().to_pandas()
    assert list(frame.index) == ["fast", "half"]
    assert {"success_rate", "success_rate_ci_low", "latency_p95_s", "success_rate_diff"} <= set(frame.columns)


@pytest.mark.slow
def test_the_cli_demo_prints_a_report(ray_session: None) -> None:
    from videoai_ray.experiments.demo import report_markdown, run_ab_demo

    report = run_ab_demo(tasks=40)
    arms = report.frame
    assert list(arms.index) == ["steady", "quick"] and int(arms["tasks"].sum()) == 40
    assert int(arms["running"].sum()) == 0
    text = report_markdown(report)
    assert text.startswith("| arm | provider | tasks |") and "| quick | steady |" in text


@pytest.mark.slow
def test_tasks_keep_their_arm_across_a_scheduler_restart(make_client: MakeClient) -> None:
    import ray

    from videoai_ray.scheduler import NAMESPACE
    from videoai_ray.scheduler.named_actor import scheduler_name

    alice = make_client("alice")
    exp = alice.experiment(**two_arms())
    batch = alice.batch([{"task_type": "image_generation", "input_data": {"prompt": f"restart {i}"}}
                         for i in range(60)])
    ray.kill(ray.get_actor(scheduler_name(alice.settings), namespace=NAMESPACE), no_restart=False)
    counts = batch.wait(timeout=180)
    assert sum(counts.values()) == 60 and set(counts) <= {"completed", "failed"}
    tasks = batch.results()
    assert all(t.experiment_id == exp.id and t.provider == t.experiment_arm for t in tasks)
    assert {a["arm"]: a["tasks"] for a in exp.report().raw["arms"]} == {
        arm: sum(t.experiment_arm == arm for t in tasks) for arm in ("fast", "half")}
    exp.stop()
