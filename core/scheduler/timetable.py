"""When a schedule's runs are due: pure functions of a ScheduleSpec and a UTC instant.

Minute and hour intervals count elapsed time (every 90 minutes is every 90
minutes, whatever the clocks on the wall do). Day and week intervals keep the
start's local wall-clock time in the schedule's IANA zone, so a daily 02:30
job in Europe/Paris runs at 02:30 Paris time all year, and exactly once on both
daylight-saving change days:

- spring forward, when 02:30 does not exist, it runs when the gap ends (03:00);
- fall back, when 02:30 happens twice, it runs at the first one.

Without a start, minute and hour intervals are aligned on local midnight
(every 15 minutes runs at :00, :15, :30, :45) and day and week intervals run at
local midnight, weeks on Mondays.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from core.errors import ConfigurationError
from core.models import ScheduleSpec

MIN_INTERVAL_ENV = "TRIBUTARY_MIN_INTERVAL_MINUTES"
DEFAULT_MIN_INTERVAL_MINUTES = 5
_ALIGNMENT = datetime(2000, 1, 3)  # a Monday at midnight: the anchor of schedules without a start
_MINUTES = {"minute": 1, "hour": 60, "day": 24 * 60, "week": 7 * 24 * 60}


def min_interval_minutes() -> int:
    """The shortest interval allowed, from ``TRIBUTARY_MIN_INTERVAL_MINUTES`` (default 5)."""
    raw = os.environ.get(MIN_INTERVAL_ENV, "")
    try:
        return max(1, int(raw)) if raw.strip() else DEFAULT_MIN_INTERVAL_MINUTES
    except ValueError:
        return DEFAULT_MIN_INTERVAL_MINUTES


def interval_minutes(schedule: ScheduleSpec) -> int | None:
    """The schedule's interval in minutes (a day counts 1,440), or None without ``every``."""
    interval = schedule.interval()
    if interval is None:
        return None
    count, unit = interval
    return count * _MINUTES[unit]


def validate_schedule(schedule: ScheduleSpec, minimum_minutes: int | None = None) -> None:
    """Raises ConfigurationError when a schedule cannot run as written.

    Args:
        schedule: the schedule to check.
        minimum_minutes: the shortest interval allowed; default
            ``TRIBUTARY_MIN_INTERVAL_MINUTES`` (5).
    """
    minimum = min_interval_minutes() if minimum_minutes is None else minimum_minutes
    if schedule.once and schedule.every:
        raise ConfigurationError("schedule: choose `once: true` or `every: ...`, not both.")
    if not schedule.once and not schedule.every and schedule.start is not None:
        raise ConfigurationError(
            "schedule: a start needs `every: ...` (e.g. every: 1 day) or `once: true` to say how often."
        )
    minutes = interval_minutes(schedule)
    if minutes is not None and minutes < 1:
        raise ConfigurationError(f"schedule: every {schedule.every!r} is not an interval; use 1 or more.")
    if minutes is not None and minutes < minimum:
        raise ConfigurationError(
            f"schedule: every {schedule.every!r} is more often than this installation allows "
            f"(at least every {minimum} minutes, set by {MIN_INTERVAL_ENV})."
        )


def at_least(schedule: ScheduleSpec, minimum_minutes: int) -> ScheduleSpec:
    """The schedule, its interval raised to the minimum if it was saved below it."""
    minutes = interval_minutes(schedule)
    if minutes is None or minutes >= minimum_minutes:
        return schedule
    return schedule.model_copy(update={"every": f"{minimum_minutes} minutes"})


def is_scheduled(schedule: ScheduleSpec | None) -> bool:
    """Whether the schedule ever runs by itself (a one-off or an interval)."""
    return schedule is not None and (schedule.once or schedule.every is not None)


def next_due(schedule: ScheduleSpec | None, after: datetime) -> datetime | None:
    """The first slot strictly after ``after``, in UTC; None when no slot is left.

    A one-off's only slot is its start (one without a start has no slot here:
    see :func:`first_due`).
    """
    if not is_scheduled(schedule):
        return None
    assert schedule is not None
    after = _utc(after)
    zone = ZoneInfo(schedule.timezone)
    start = _local_start(schedule, zone)
    if schedule.once:
        if start is None:
            return None
        slot = wall_clock_to_utc(start, zone)
        return slot if slot > after else None
    interval = schedule.interval()
    assert interval is not None
    count, unit = interval
    if unit in ("minute", "hour"):
        step = timedelta(minutes=count * _MINUTES[unit])
        anchor = wall_clock_to_utc(start or _ALIGNMENT, zone)
        if after < anchor:
            return anchor
        return anchor + ((after - anchor) // step + 1) * step
    return _next_wall_clock(start or _ALIGNMENT, count * (7 if unit == "week" else 1), zone, after)


def first_due(schedule: ScheduleSpec | None, now: datetime) -> datetime | None:
    """When a schedule seen for the first time (or just changed) is due first.

    A one-off is due at its start even when that is past (it has not run
    yet), or right away without a start; an interval at its first slot after
    ``now``.
    """
    if schedule is not None and schedule.once:
        zone = ZoneInfo(schedule.timezone)
        start = _local_start(schedule, zone)
        return _utc(now) if start is None else wall_clock_to_utc(start, zone)
    return next_due(schedule, now)


def upcoming(schedule: ScheduleSpec | None, after: datetime, count: int = 5) -> list[datetime]:
    """The next ``count`` slots after ``after`` (fewer when the schedule ends), in UTC."""
    slots: list[datetime] = []
    cursor: datetime | None = after
    while cursor is not None and len(slots) < count:
        cursor = next_due(schedule, cursor)
        if cursor is not None:
            slots.append(cursor)
    return slots


def wall_clock_to_utc(local: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant of a naive local time in ``zone``.

    A time that happens twice (clocks go back) resolves to its first
    occurrence; a time that does not exist (clocks go forward) to the end of
    the gap, the first valid time after it.
    """
    first = local.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) == local:
        return first
    # in a gap: fold=0 and fold=1 land on either side of the transition; find it to the second
    second = local.replace(tzinfo=zone, fold=1).astimezone(UTC)
    low, high = sorted((first, second))
    after_offset = high.astimezone(zone).utcoffset()
    while high - low > timedelta(seconds=1):
        middle = low + timedelta(seconds=int((high - low).total_seconds()) // 2)
        if middle.astimezone(zone).utcoffset() == after_offset:
            high = middle
        else:
            low = middle
    return high


def _next_wall_clock(anchor: datetime, step_days: int, zone: ZoneInfo, after: datetime) -> datetime:
    """The first ``anchor.time()`` on ``anchor.date() + k * step_days`` (k >= 0) after ``after``."""
    elapsed = (after.astimezone(zone).date() - anchor.date()).days
    first = max(0, elapsed // step_days - 1)
    for k in range(first, first + 4):  # local days shift by hours at most: the answer is among these
        day = anchor.date() + timedelta(days=k * step_days)
        slot = wall_clock_to_utc(datetime.combine(day, anchor.time()), zone)
        if slot > after:
            return slot
    raise AssertionError("unreachable: a later day's slot is always after")  # pragma: no cover


def _local_start(schedule: ScheduleSpec, zone: ZoneInfo) -> datetime | None:
    """The start as a naive wall-clock time in the schedule's zone (naive starts already are)."""
    start = schedule.start
    if start is None or start.tzinfo is None:
        return start
    return start.astimezone(zone).replace(tzinfo=None)


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("scheduling needs aware datetimes (UTC)")
    return moment.astimezone(UTC)
