from videoai_ray.errors import RateLimited, RetryableError
from videoai_ray.models import Priority
from videoai_ray.scheduler.queue import AgingQueue
from videoai_ray.scheduler.retry_delay import retry_delay


def drain(q: AgingQueue, now: float) -> list[str]:
    out = []
    while (e := q.pop(now)) is not None:
        out.append(e.task_id)
    return out


def test_strict_priority_then_fifo():
    q = AgingQueue(aging_seconds=1000)
    for i, p in enumerate(["low", "urgent", "medium", "high", "urgent", "low", "medium"]):
        q.push(f"{p}-{i}", Priority(p).rank, now=float(i))
    assert drain(q, 10.0) == ["urgent-1", "urgent-4", "high-3", "medium-2", "medium-6", "low-0", "low-5"]


def test_aging_lifts_an_old_low_task_over_new_urgent_ones():
    q = AgingQueue(aging_seconds=10)
    q.push("old-low", Priority.LOW.rank, now=0.0)
    for i in range(5):
        q.push(f"urgent-{i}", Priority.URGENT.rank, now=25.0 + i)
    # at t=31 the low task has waited 31 s: three levels up, it is as urgent as the others and older
    assert q.pop(31.0).task_id == "old-low"
    # without the wait it would have come last
    q2 = AgingQueue(aging_seconds=10)
    q2.push("new-low", Priority.LOW.rank, now=30.0)
    q2.push("urgent", Priority.URGENT.rank, now=30.0)
    assert drain(q2, 31.0) == ["urgent", "new-low"]


def test_remove_is_lazy_and_depth_counts_live_entries():
    q = AgingQueue(aging_seconds=60)
    for i in range(4):
        q.push(f"t{i}", Priority.HIGH.rank, now=0)
    assert q.remove("t0") and q.remove("t2")
    assert not q.remove("missing")
    assert len(q) == 2
    assert q.depth()["high"] == 2
    assert drain(q, 1.0) == ["t1", "t3"]


def test_backoff_follows_the_seed_schedule_and_honours_retry_after():
    sched = (30.0, 300.0, 1800.0, 7200.0, 86400.0)
    delays = [retry_delay(sched, n, jitter=0) for n in range(1, 7)]
    assert delays == [30.0, 300.0, 1800.0, 7200.0, 86400.0, 86400.0]
    assert 30.0 <= retry_delay(sched, 1) <= 33.0
    assert retry_delay(sched, 1, RateLimited("slow down", retry_after=90), jitter=0) == 90.0
    assert retry_delay(sched, 2, RateLimited("slow down", retry_after=5), jitter=0) == 300.0
    assert retry_delay(sched, 1, RetryableError("x"), jitter=0) == 30.0
