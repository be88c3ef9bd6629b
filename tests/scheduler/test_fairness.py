"""Where a user's weight and cap come from (token claim, then the settings' map, then the default),
and the set of users at their cap that the dispatcher passes over."""

from __future__ import annotations

from typing import Any

from videoai_ray.models import ImageGenerationRequest, Priority, TaskType
from videoai_ray.scheduler.fairness import FairShare
from videoai_ray.scheduler.state import Active
from videoai_ray.settings import Settings


def task(tid: str, user: str, **options: Any) -> Active:
    return Active(id=tid, type=TaskType.IMAGE_GENERATION, priority=Priority.MEDIUM, user_id=user, input={},
                  request=ImageGenerationRequest(prompt="x"), options=options, max_retries=0, metadata={})


def test_weight_and_cap_from_the_token_then_settings_then_default() -> None:
    fair = FairShare(Settings(fair_share_weights={"team": 4}, fair_share_default_weight=0.5,
                              user_max_in_flight=10, user_max_in_flight_by_user={"team": 3}))
    assert fair.key(task("a", "someone")) == ("someone", 0.5, "", 1.0)  # no tenant: the group ""
    assert fair.key(task("b", "team"))[:2] == ("team", 4.0)
    assert fair.cap("someone") == 10 and fair.cap("team") == 3
    assert fair.key(task("c", "team", share={"weight": 2.0, "max_in_flight": None}))[:2] == ("team", 2.0)
    assert fair.cap("team") == 3  # the token claimed no cap: the setting's
    fair.key(task("d", "team", share={"weight": None, "max_in_flight": 1}))
    assert fair.weight("team") == 4.0 and fair.cap("team") == 1
    fair.key(task("e", "team"))  # a task without claims (the SDK): the settings again
    assert fair.weight("team") == 4.0 and fair.cap("team") == 3


def test_users_at_their_cap_are_in_full_until_an_attempt_ends() -> None:
    fair = FairShare(Settings(user_max_in_flight=2))
    a1, a2, b1 = task("a1", "a"), task("a2", "a"), task("b1", "b")
    fair.started(a1)
    assert fair.full == set()
    fair.started(a2)
    fair.started(a2)  # counted once
    fair.started(b1)
    assert fair.full == {"a"} and fair.in_flight["a"] == 2
    fair.ended("a1")
    fair.ended("a1")  # already ended: nothing
    fair.ended("unknown")
    assert fair.full == set() and fair.in_flight["a"] == 1
    # a token that lowers the cap puts the user at it at once
    fair.key(task("a3", "a", share={"max_in_flight": 1}))
    assert fair.full == {"a"}


def test_off_queues_everything_under_one_key_and_caps_nothing() -> None:
    fair = FairShare(Settings(fair_share=False, user_max_in_flight=1))
    assert fair.key(task("a", "u", share={"weight": 9})) == ("", 1.0, "", 1.0)
    fair.started(task("a", "u"))
    fair.started(task("b", "u"))
    assert fair.full == set()
    assert fair.describe("u", [])["queued"] is None
