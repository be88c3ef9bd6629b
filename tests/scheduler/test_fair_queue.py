"""Fair sharing in the queue: users take turns by weight within a priority (deficit round-robin),
priorities still come first, aging still lifts a waiting task, users at their cap are skipped."""

import pytest

from videoai_ray.models import Priority
from videoai_ray.scheduler.queue import AgingQueue

MEDIUM = Priority.MEDIUM.rank


def drain(q: AgingQueue, now: float, skip: frozenset[str] = frozenset()) -> list[str]:
    out = []
    while (e := q.pop(now, skip)) is not None:
        out.append(e.task_id)
    return out


def users(ids: list[str]) -> str:
    return "".join(i[0] for i in ids)


def test_equal_weights_alternate_and_a_late_user_starts_at_once():
    q = AgingQueue(aging_seconds=1000)
    for i in range(100):
        q.push(f"h{i}", MEDIUM, now=0.0, user="heavy")
    assert q.pop(1.0).task_id == "h0"
    for i in range(3):
        q.push(f"l{i}", MEDIUM, now=1.0, user="light")
    order = drain(q, 2.0)
    # the light user joined the round: it takes every other task until it has nothing left
    assert users(order[:6]) == "hlhlhl"
    assert order[1::2][:3] == ["l0", "l1", "l2"]
    assert [t for t in order if t[0] == "h"] == [f"h{i}" for i in range(1, 100)]  # FIFO within a user


@pytest.mark.parametrize(("weight_b", "n", "b_count", "prefix"), [
    (1.0 / 3, 40, 10, "aaaba"),  # weights 1 and 1/3: three to one (turns accumulate credit)
    (0.25, 20, 4, "aaaab"),  # weights 1 and 0.25: one in five
])
def test_weights_share_turns(weight_b: float, n: int, b_count: int, prefix: str) -> None:
    q = AgingQueue(aging_seconds=1000)
    for i in range(n):
        q.push(f"a{i}", MEDIUM, now=0.0, user="a", weight=1.0)
        q.push(f"b{i}", MEDIUM, now=0.0, user="b", weight=weight_b)
    first = users(drain(q, 1.0)[:n])
    assert first.count("b") == b_count, first
    assert first.startswith(prefix), first


def test_a_weight_above_one_takes_that_many_in_a_turn():
    q = AgingQueue(aging_seconds=1000)
    for i in range(12):
        q.push(f"a{i}", MEDIUM, now=0.0, user="a", weight=3.0)
    for i in range(12):
        q.push(f"b{i}", MEDIUM, now=0.0, user="b")
    assert users(drain(q, 1.0)[:8]) == "aaabaaab"


def test_priorities_come_before_fairness():
    q = AgingQueue(aging_seconds=1000)
    for i in range(5):
        q.push(f"hlow{i}", Priority.LOW.rank, now=0.0, user="heavy", weight=100)
    q.push("urgent", Priority.URGENT.rank, now=1.0, user="light")
    q.push("high", Priority.HIGH.rank, now=1.0, user="light")
    assert drain(q, 2.0)[:2] == ["urgent", "high"]


def test_aging_still_lifts_a_waiting_low_task_over_other_users_urgent_ones():
    q = AgingQueue(aging_seconds=10)
    q.push("old-low", Priority.LOW.rank, now=0.0, user="a")
    for i in range(5):
        q.push(f"urgent-{i}", Priority.URGENT.rank, now=25.0 + i, user="b", weight=50)
    assert q.pop(31.0).task_id == "old-low"
    q2 = AgingQueue(aging_seconds=10)
    q2.push("new-low", Priority.LOW.rank, now=30.0, user="a")
    q2.push("urgent", Priority.URGENT.rank, now=30.0, user="b")
    assert drain(q2, 31.0) == ["urgent", "new-low"]


def test_one_key_is_strict_fifo_within_a_priority():
    """Fair sharing off queues every task under one key: today's order."""
    q = AgingQueue(aging_seconds=1000)
    for i in range(5):
        q.push(f"h{i}", MEDIUM, now=float(i))
    q.push("l0", MEDIUM, now=9.0)
    assert drain(q, 10.0) == ["h0", "h1", "h2", "h3", "h4", "l0"]


def test_a_skipped_user_does_not_block_the_others_and_keeps_its_turn():
    q = AgingQueue(aging_seconds=1000)
    for i in range(3):
        q.push(f"c{i}", MEDIUM, now=0.0, user="capped")
    for i in range(3):
        q.push(f"o{i}", MEDIUM, now=1.0, user="other")
    skip = frozenset({"capped"})
    assert q.peek(2.0, skip).task_id == "o0"
    assert q.peek(2.0, skip).task_id == "o0"  # peeking again changes nothing
    assert drain(q, 2.0, skip) == ["o0", "o1", "o2"]
    assert q.peek(2.0, skip) is None  # only capped work left
    assert len(q) == 3 and q.queued("capped") == 3
    assert drain(q, 2.0) == ["c0", "c1", "c2"]


def test_skip_with_a_small_weight_still_finds_the_other_user():
    q = AgingQueue(aging_seconds=1000)
    q.push("c0", MEDIUM, now=0.0, user="capped")
    q.push("s0", MEDIUM, now=0.0, user="small", weight=0.01)
    assert q.peek(1.0, frozenset({"capped"})).task_id == "s0"


def test_remove_is_lazy_and_counts_per_user():
    q = AgingQueue(aging_seconds=60)
    for i in range(4):
        q.push(f"a{i}", Priority.HIGH.rank, now=0, user="a")
    q.push("b0", Priority.LOW.rank, now=0, user="b")
    assert q.remove("a0") and q.remove("a2") and not q.remove("a0")
    assert len(q) == 3 and q.queued("a") == 2 and q.queued("b") == 1
    assert q.depth()["high"] == 2 and q.depth()["low"] == 1
    assert q.depth_of("a")["high"] == 2 and q.depth_of("b")["low"] == 1 and q.depth_of("nobody")["high"] == 0
    assert drain(q, 1.0) == ["a1", "a3", "b0"]
    assert q.queued("a") == 0
    q.push("a0", Priority.HIGH.rank, now=2, user="a")  # a removed id can come back
    assert drain(q, 3.0) == ["a0"]
