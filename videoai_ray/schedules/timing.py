"""When a schedule fires: cron expressions (cronsim: five fields, or six with seconds first) in an
IANA time zone, and one-time schedules (``at``).

Daylight saving time follows Debian cron (cronsim's rules): a job at a fixed time that falls in
the hour skipped in spring runs at the first valid time after the gap, and one in the hour
repeated in autumn runs once; jobs with ``*`` in the minute or hour field run in both copies of
the repeated hour, since those are real, distinct hours.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from ..errors import InvalidRequest

#: most ticks one pass lists for one schedule (a 1 s cron down for ~3 hours, ~0.2 s of work); past
#: it the rest are counted from the ticks' mean spacing instead of being listed one by one
MAX_SCAN = 10_000
#: how far ahead a one-time schedule's ``at`` may be (well inside the calendar's end, year 9999,
#: in every time zone)
MAX_AHEAD_YEARS = 100
#: the firings of a cron that the rate check looks at: the next ``GAP_FIRINGS``, within
#: ``GAP_HORIZON`` (28 years: the calendar's cycle of dates and weekdays from 1901 to 2099, so
#: every day-of-month and weekday pattern a cron can name comes round in it); bounded, since it
#: runs on every creation (at most ~0.05 s)
GAP_FIRINGS = 256
GAP_HORIZON = timedelta(days=28 * 366)


def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; ``InvalidRequest`` naming ``timezone`` when there is none."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidRequest(f"timezone: {name!r} is not an IANA time zone (e.g. 'Europe/Lisbon', 'UTC')",
                             field="timezone") from None


def check_cron(expr: str) -> None:
    """``InvalidRequest`` naming ``cron`` when ``expr`` does not parse or can never fire."""
    try:
        it = CronSim(expr, datetime(2000, 1, 1, tzinfo=UTC))
        next(it)
    except (CronSimError, ValueError, KeyError, IndexError, StopIteration) as e:
        raise InvalidRequest(f"cron: {expr!r} is not a valid cron expression ({e or 'never fires'}); five "
                             "fields (minute hour day month weekday), or six with seconds first",
                             field="cron") from None


def cron_ticks(expr: str, tz: ZoneInfo, after: datetime) -> Iterator[datetime]:
    """The ticks of ``expr`` strictly after ``after``, as UTC datetimes; they end with the
    calendar (year 9999) instead of raising ``OverflowError`` there."""
    try:
        ticks = CronSim(expr, after.astimezone(tz))
        while True:
            yield next(ticks).astimezone(UTC)
    except (StopIteration, OverflowError):
        return


def min_gap(expr: str, tz: ZoneInfo, after: datetime) -> float | None:
    """The shortest time in seconds between two consecutive ticks of ``expr`` among its next
    ``GAP_FIRINGS`` after ``after`` within ``GAP_HORIZON`` (``None``: fewer than two there)."""
    end = after + min(GAP_HORIZON, datetime.max.replace(tzinfo=UTC) - after)  # not past the calendar's end
    ticks = itertools.takewhile(lambda t: t <= end, itertools.islice(cron_ticks(expr, tz, after), GAP_FIRINGS))
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(ticks)]
    return min(gaps, default=None)


def check_rate(cron: str, tz: ZoneInfo, now: datetime, min_interval: float) -> None:
    """``InvalidRequest`` naming ``cron`` when two of its next firings come closer together than
    ``min_interval`` seconds (``VIDEOAI_SCHEDULE_MIN_INTERVAL_SECONDS``)."""
    gap = min_gap(cron, tz, now) if min_interval > 0 else None
    if gap is not None and gap < min_interval:
        raise InvalidRequest(
            f"cron: {cron!r} fires {gap:g} s apart at its closest (over its next {GAP_FIRINGS} firings), more "
            f"often than the minimum interval of {min_interval:g} s (VIDEOAI_SCHEDULE_MIN_INTERVAL_SECONDS)",
            field="cron", limit="VIDEOAI_SCHEDULE_MIN_INTERVAL_SECONDS")


def check_at(at: datetime, tz: ZoneInfo, now: datetime) -> datetime:
    """A one-time schedule's ``at`` in UTC (read in ``tz`` when it has no offset);
    ``InvalidRequest`` naming ``at`` unless it is after ``now`` and at most ``MAX_AHEAD_YEARS``
    ahead."""
    local = at if at.tzinfo is not None else at.replace(tzinfo=tz)
    latest = now + timedelta(days=365.2425 * MAX_AHEAD_YEARS)
    try:
        utc = local.astimezone(UTC)
    except OverflowError:  # the calendar's first or last hours, whose UTC time is off its ends
        utc = (datetime.min if local.year == 1 else datetime.max).replace(tzinfo=UTC)
    if utc > latest:
        raise InvalidRequest(f"at: {at.isoformat()} is too far ahead; a one-time schedule runs at most "
                             f"{MAX_AHEAD_YEARS} years from now (before {latest.isoformat()})", field="at")
    if utc <= now:
        raise InvalidRequest(f"at: {at.isoformat()} is in the past (now {now.isoformat()}); "
                             "a one-time schedule must be in the future", field="at")
    return utc


@dataclass
class Plan:
    """What one pass does for a due schedule."""

    #: ticks that are due, oldest first (``count`` is the true number when the scan was capped)
    due: list[datetime] = field(default_factory=list)
    count: int = 0
    #: the first tick after ``now`` (``None``: a one-time schedule, or a cron that never fires again)
    next_run_at: datetime | None = None


def due_ticks(cron: str | None, tz: ZoneInfo, first: datetime, now: datetime) -> Plan:
    """The ticks from ``first`` (the stored ``next_run_at``, itself a tick; a one-time schedule's
    ``at`` when ``cron`` is ``None``) up to ``now``."""
    if cron is None:
        return Plan([first], 1, None) if first <= now else Plan([], 0, first)
    if first > now:
        return Plan([], 0, first)
    due = [first]
    ticks = cron_ticks(cron, tz, first)
    for t in ticks:
        if t > now:
            return Plan(due, len(due), t)
        if len(due) >= MAX_SCAN:
            break
        due.append(t)
    # capped: listing every tick of a long outage could hold the Scheduler's loop for seconds, so
    # the rest are counted from the mean spacing of the listed ones up to the last tick before now
    last = _last_tick(cron, tz, now)
    spacing = (due[-1] - due[0]) / (len(due) - 1) if len(due) > 1 else None
    rest = round((last - due[-1]) / spacing) if spacing and last > due[-1] else 0
    return Plan(due, len(due) + rest, next(cron_ticks(cron, tz, now), None))


def _last_tick(cron: str, tz: ZoneInfo, now: datetime) -> datetime:
    """The latest tick at or before ``now`` (cronsim's reverse iteration starts strictly before
    a whole second, so it starts a microsecond after ``now``)."""
    start = (now + timedelta(microseconds=1)).astimezone(tz)
    return next(iter(CronSim(cron, start, reverse=True))).astimezone(UTC)


def next_runs(cron: str | None, at: datetime | None, tz: ZoneInfo, after: datetime,
              n: int) -> list[datetime]:
    """The next ``n`` run times after ``after`` (UTC)."""
    if cron is None:
        return [at] if at is not None and at > after else []
    return list(itertools.islice(cron_ticks(cron, tz, after), n))


def describe_time(t: datetime, tz: ZoneInfo) -> dict[str, str]:
    """A run time in UTC and in the schedule's time zone (ISO 8601, with the offset)."""
    return {"utc": t.astimezone(UTC).isoformat(), "local": t.astimezone(tz).isoformat()}


__all__ = ["GAP_FIRINGS", "GAP_HORIZON", "MAX_AHEAD_YEARS", "MAX_SCAN", "Plan", "check_at", "check_cron", "check_rate",
           "cron_ticks", "describe_time", "due_ticks", "min_gap", "next_runs", "zone"]
