"""When schedules fire: cron in real time zones across both DST changes, the due-tick plan the
tick loop works from, and the deterministic task id of a tick."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from videoai_ray.errors import InvalidRequest
from videoai_ray.schedules.targets import tick_task_id
from videoai_ray.schedules.timing import MAX_SCAN, check_cron, cron_ticks, due_ticks, min_gap, next_runs, zone

NY = zone("America/New_York")
LISBON = zone("Europe/Lisbon")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_a_daily_job_in_the_skipped_spring_hour_runs_right_after_the_gap():
    # New York, 2026-03-08: 02:00 EST jumps to 03:00 EDT; 02:30 does not exist that day
    runs = next_runs("30 2 * * *", None, NY, utc(2026, 3, 6, 12), 4)
    local = [r.astimezone(NY) for r in runs]
    assert [t.strftime("%m-%d %H:%M %Z") for t in local] == [
        "03-07 02:30 EST", "03-08 03:00 EDT", "03-09 02:30 EDT", "03-10 02:30 EDT"]
    # UTC shows the shift of the offset: 07:30 before, 06:30 after
    assert [r.strftime("%H:%M") for r in runs] == ["07:30", "07:00", "06:30", "06:30"]


def test_a_daily_job_in_the_repeated_autumn_hour_runs_once():
    # New York, 2026-11-01: 02:00 EDT falls back to 01:00 EST; 01:30 happens twice
    runs = next_runs("30 1 * * *", None, NY, utc(2026, 10, 31, 12), 3)
    assert [r.astimezone(NY).strftime("%m-%d %H:%M %Z") for r in runs] == [
        "11-01 01:30 EDT", "11-02 01:30 EST", "11-03 01:30 EST"]


def test_an_hourly_job_runs_in_both_copies_of_the_repeated_hour():
    runs = next_runs("0 * * * *", None, LISBON, utc(2026, 10, 24, 23, 30), 4)
    # Lisbon falls back at 02:00 WEST -> 01:00 WET on 2026-10-25: four real hours, 01:00 twice
    assert [r.isoformat() for r in runs] == ["2026-10-25T00:00:00+00:00", "2026-10-25T01:00:00+00:00",
                                             "2026-10-25T02:00:00+00:00", "2026-10-25T03:00:00+00:00"]
    assert [r.astimezone(LISBON).strftime("%H:%M") for r in runs] == ["01:00", "01:00", "02:00", "03:00"]


def test_six_fields_put_seconds_first():
    runs = next_runs("*/15 * * * * *", None, zone("UTC"), utc(2026, 1, 1, 0, 0, 7), 3)
    assert [r.second for r in runs] == [15, 30, 45]


@pytest.mark.parametrize("expr", ["61 * * * *", "* * *", "hello world", "* * * * * * *", "0 0 30 2 *", "*/0 * * * *"])
def test_a_cron_expression_that_does_not_parse_names_cron(expr):
    with pytest.raises(InvalidRequest) as info:
        check_cron(expr)
    assert info.value.field == "cron"


@pytest.mark.parametrize("name", ["Mars/Olympus_Mons", "", "../../etc/passwd", "Europe/", "UTC+99"])
def test_a_time_zone_that_does_not_exist_names_timezone(name):
    with pytest.raises(InvalidRequest) as info:
        zone(name)
    assert info.value.field == "timezone"


def test_due_ticks_lists_what_is_due_and_the_next_one():
    first = utc(2026, 1, 1, 0, 0, 0)
    plan = due_ticks("* * * * * *", zone("UTC"), first, first + timedelta(seconds=2.5))
    assert plan.due == [first, first + timedelta(seconds=1), first + timedelta(seconds=2)]
    assert plan.count == 3 and plan.next_run_at == first + timedelta(seconds=3)
    assert due_ticks("* * * * * *", zone("UTC"), first, first - timedelta(seconds=1)).due == []


def test_due_ticks_of_a_one_time_schedule():
    at = utc(2026, 1, 1, 12)
    assert due_ticks(None, zone("UTC"), at, at).due == [at]
    assert due_ticks(None, zone("UTC"), at, at).next_run_at is None
    assert due_ticks(None, zone("UTC"), at, at - timedelta(seconds=1)).next_run_at == at


def test_a_long_outage_is_counted_without_listing_every_tick():
    first = utc(2026, 1, 1)
    plan = due_ticks("* * * * * *", zone("UTC"), first, first + timedelta(seconds=MAX_SCAN + 99.5))
    assert len(plan.due) == MAX_SCAN and plan.count == MAX_SCAN + 100
    assert plan.next_run_at == first + timedelta(seconds=MAX_SCAN + 100)


def test_a_tick_has_one_task_id():
    tick = datetime(2026, 3, 8, 3, 0, tzinfo=NY)
    assert tick_task_id("sched_a", tick) == tick_task_id("sched_a", tick.astimezone(UTC))
    assert tick_task_id("sched_a", tick) != tick_task_id("sched_b", tick)
    assert tick_task_id("sched_a", tick) != tick_task_id("sched_a", tick + timedelta(seconds=1))
    assert len(tick_task_id("sched_a", tick)) == len("task_") + 32


def test_a_long_outage_of_an_uneven_cron_is_counted_from_the_mean_spacing():
    first = utc(2026, 1, 1)
    # two ticks a minute, 10 s then 50 s apart: a 20,000-minute outage holds 40,000 ticks
    plan = due_ticks("0,10 * * * * *", zone("UTC"), first, first + timedelta(minutes=20_000, seconds=5))
    assert len(plan.due) == MAX_SCAN and abs(plan.count - 40_001) <= 40  # an estimate, within 0.1 %
    assert plan.next_run_at == first + timedelta(minutes=20_000, seconds=10)


def test_ticks_end_with_the_calendar_instead_of_overflowing():
    # the last midnight of year 9999 is the last tick; there is none after it (was OverflowError)
    assert list(cron_ticks("0 0 * * *", zone("UTC"), utc(9999, 12, 30, 12))) == [utc(9999, 12, 31)]
    assert next_runs("0 0 * * *", None, zone("UTC"), utc(9999, 12, 31, 1), 5) == []
    plan = due_ticks("0 0 * * *", zone("UTC"), utc(9999, 12, 31), utc(9999, 12, 31, 1))
    assert plan.due == [utc(9999, 12, 31)] and plan.next_run_at is None


@pytest.mark.parametrize(("cron", "tz", "gap"), [
    ("* * * * * *", "UTC", 1.0),
    ("*/10 * * * *", "UTC", 600.0),
    ("0,10 * * * * *", "UTC", 10.0),
    # 30 s apart only on 29 February: the next one falls within the firings looked at
    ("0,30 0 0 29 2 *", "UTC", 30.0),
    # a daily job: 23 hours across the spring change of New York (2027-03-14), 24 otherwise
    ("30 3 * * *", "America/New_York", 23 * 3600.0),
    ("0 0 1 1 *", "UTC", 365 * 86400.0),
])
def test_the_shortest_gap_between_firings(cron, tz, gap):
    assert min_gap(cron, zone(tz), utc(2026, 12, 1)) == gap


def test_a_cron_that_fires_once_in_decades_has_no_gap_to_speak_of():
    # the fifth Friday of February (a 29 February on a Friday): 2036, then 2064
    assert min_gap("0 0 * 2 5#5", zone("UTC"), utc(2026, 12, 1)) is None
    assert min_gap("0 0 * 2 5#5", zone("UTC"), utc(2064, 2, 15)) == (datetime(2092, 2, 29) - datetime(2064, 2, 29)
                                                                      ).total_seconds()
    # one firing left before the calendar ends: no gap at all
    assert min_gap("0 0 1 1 *", zone("UTC"), utc(9999, 6, 1)) is None
