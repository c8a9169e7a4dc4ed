"""Due times: DST days in Europe/Paris and America/New_York, month ends, intervals, one-offs."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import ConfigurationError
from core.models import ScheduleSpec
from core.scheduler.timetable import (
    at_least,
    first_due,
    next_due,
    upcoming,
    validate_schedule,
    wall_clock_to_utc,
)

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def local_runs(schedule: ScheduleSpec, zone: ZoneInfo, first: date, last: date) -> dict[date, list[str]]:
    """The runs of each local day from ``first`` to ``last``, as local wall-clock times."""
    start = datetime.combine(first, datetime.min.time(), zone).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), datetime.min.time(), zone).astimezone(UTC)
    days: dict[date, list[str]] = {}
    slot = next_due(schedule, start - timedelta(microseconds=1))
    while slot is not None and slot < end:
        local = slot.astimezone(zone)
        days.setdefault(local.date(), []).append(local.strftime("%H:%M %Z"))
        slot = next_due(schedule, slot)
    return days


@pytest.mark.parametrize(
    ("zone", "spring", "autumn"),
    [
        (PARIS, date(2026, 3, 29), date(2026, 10, 25)),
        (NEW_YORK, date(2026, 3, 8), date(2026, 11, 1)),
    ],
)
def test_a_daily_job_in_the_dst_gap_runs_once_on_both_change_days(zone, spring, autumn):
    schedule = ScheduleSpec(every="day", start=datetime(2026, 1, 1, 2, 30), timezone=zone.key)
    around_spring = local_runs(schedule, zone, spring - timedelta(days=1), spring + timedelta(days=1))
    before, after = ("02:30 CET", "02:30 CEST") if zone is PARIS else ("02:30 EST", "02:30 EDT")
    # 02:30 does not exist on the spring-forward day: the run is when the gap ends, 03:00
    gap_end = "03:00 CEST" if zone is PARIS else "03:00 EDT"
    assert list(around_spring.values()) == [[before], [gap_end], [after]]
    around_autumn = local_runs(schedule, zone, autumn - timedelta(days=1), autumn + timedelta(days=1))
    assert list(around_autumn.values()) == [[after], [after if zone is PARIS else before], [before]]


@pytest.mark.parametrize(("zone", "autumn"), [(PARIS, date(2026, 10, 25)), (NEW_YORK, date(2026, 11, 1))])
def test_a_daily_job_in_the_repeated_hour_runs_once_at_its_first_occurrence(zone, autumn):
    at = (2, 30) if zone is PARIS else (1, 30)  # the hour that happens twice in each zone
    schedule = ScheduleSpec(every="1 day", start=datetime(2026, 1, 1, *at), timezone=zone.key)
    runs = local_runs(schedule, zone, autumn, autumn)
    daylight = "CEST" if zone is PARIS else "EDT"
    assert runs == {autumn: [f"{at[0]:02d}:30 {daylight}"]}  # the first one, still on summer time
    slot = next_due(schedule, datetime.combine(autumn, datetime.min.time(), zone).astimezone(UTC))
    assert slot is not None
    assert next_due(schedule, slot) - slot == timedelta(hours=25)  # the next day's, on winter time


@pytest.mark.parametrize(("zone", "spring", "autumn"), [(PARIS, 29, 25), (NEW_YORK, 8, 1)])
def test_hourly_counts_elapsed_time_so_change_days_have_23_and_25_runs(zone, spring, autumn):
    schedule = ScheduleSpec(every="1 hour", timezone=zone.key)
    spring_day = date(2026, 3, spring)
    autumn_day = date(2026, 10, autumn) if zone is PARIS else date(2026, 11, autumn)
    assert len(local_runs(schedule, zone, spring_day, spring_day)[spring_day]) == 23
    assert len(local_runs(schedule, zone, autumn_day, autumn_day)[autumn_day]) == 25
    slots = upcoming(schedule, utc(2026, 3, 28, 20), 12)
    assert {b - a for a, b in pairwise(slots)} == {timedelta(hours=1)}


def test_minute_intervals_are_aligned_on_local_midnight_without_a_start():
    kolkata = ScheduleSpec(every="15 minutes", timezone="Asia/Kolkata")  # UTC+05:30
    assert upcoming(kolkata, utc(2026, 5, 1, 10, 7), 3) == [
        utc(2026, 5, 1, 10, 15),
        utc(2026, 5, 1, 10, 30),
        utc(2026, 5, 1, 10, 45),
    ]
    ninety = ScheduleSpec(every="90 minutes", start=datetime(2026, 5, 1, 9, 0), timezone="Europe/Paris")
    assert upcoming(ninety, utc(2026, 4, 30), 3) == [
        utc(2026, 5, 1, 7, 0),
        utc(2026, 5, 1, 8, 30),
        utc(2026, 5, 1, 10, 0),
    ]
    assert next_due(ninety, utc(2026, 5, 1, 8, 30)) == utc(2026, 5, 1, 10, 0)  # strictly after


def test_month_ends_daily_weekly_and_every_two_days():
    daily = ScheduleSpec(every="day", start=datetime(2026, 1, 1, 0, 30), timezone="Europe/Paris")
    runs = local_runs(daily, PARIS, date(2026, 1, 30), date(2026, 2, 2))
    assert runs == {date(2026, 1, d): ["00:30 CET"] for d in (30, 31)} | {
        date(2026, 2, d): ["00:30 CET"] for d in (1, 2)
    }
    # a leap year's end of February
    leap = local_runs(daily, PARIS, date(2028, 2, 28), date(2028, 3, 1))
    assert sorted(leap) == [date(2028, 2, 28), date(2028, 2, 29), date(2028, 3, 1)]
    weekly = ScheduleSpec(every="1 week", start=datetime(2026, 1, 31, 8, 0), timezone="America/New_York")
    slots = [s.astimezone(NEW_YORK) for s in upcoming(weekly, utc(2026, 1, 1), 7)]
    assert [s.date() for s in slots] == [date(2026, 1, 31) + timedelta(weeks=k) for k in range(7)]
    assert {s.strftime("%H:%M %a") for s in slots} == {"08:00 Sat"}  # across the March 8 change too
    every_other = ScheduleSpec(every="2 days", start=datetime(2026, 1, 29, 6, 0), timezone="UTC")
    assert [s.date() for s in upcoming(every_other, utc(2026, 1, 30), 3)] == [
        date(2026, 1, 31),
        date(2026, 2, 2),
        date(2026, 2, 4),
    ]


def test_weeks_without_a_start_run_on_monday_midnight():
    weekly = ScheduleSpec(every="week", timezone="Europe/Paris")
    slot = next_due(weekly, utc(2026, 7, 15, 12))
    assert slot is not None
    assert slot.astimezone(PARIS).strftime("%Y-%m-%d %H:%M %a") == "2026-07-20 00:00 Mon"


def test_an_aware_start_keeps_its_instant_as_the_zone_wall_clock():
    schedule = ScheduleSpec(
        every="day", start=datetime(2026, 6, 1, 0, 30, tzinfo=UTC), timezone="Europe/Paris"
    )  # 02:30 in Paris, summer time
    slot = next_due(schedule, utc(2026, 12, 1))
    assert slot is not None
    assert slot.astimezone(PARIS).strftime("%H:%M") == "02:30"


def test_a_one_off_runs_at_its_start_then_never():
    once = ScheduleSpec(once=True, start=datetime(2026, 12, 1, 2, 0), timezone="Europe/Paris")
    assert next_due(once, utc(2026, 11, 1)) == utc(2026, 12, 1, 1, 0)
    assert next_due(once, utc(2026, 12, 1, 1, 0)) is None
    # first seen after its start it has not run yet: due at once
    assert first_due(once, utc(2027, 1, 1)) == utc(2026, 12, 1, 1, 0)
    assert first_due(ScheduleSpec(once=True), utc(2027, 1, 1)) == utc(2027, 1, 1)
    assert first_due(ScheduleSpec(every="1 hour"), utc(2027, 1, 1, 0, 10)) == utc(2027, 1, 1, 1)
    assert next_due(None, utc(2027, 1, 1)) is None
    assert next_due(ScheduleSpec(), utc(2027, 1, 1)) is None  # manual only


def test_validation_and_the_minimum_interval(monkeypatch):
    validate_schedule(ScheduleSpec(every="5 minutes"))
    with pytest.raises(ConfigurationError, match="at least every 5 minutes"):
        validate_schedule(ScheduleSpec(every="2 minutes"))
    monkeypatch.setenv("TRIBUTARY_MIN_INTERVAL_MINUTES", "60")
    with pytest.raises(ConfigurationError, match="TRIBUTARY_MIN_INTERVAL_MINUTES"):
        validate_schedule(ScheduleSpec(every="30 minutes"))
    validate_schedule(ScheduleSpec(every="1 hour"))
    validate_schedule(ScheduleSpec(every="1 minute"), minimum_minutes=1)
    with pytest.raises(ConfigurationError, match="not both"):
        validate_schedule(ScheduleSpec(every="1 day", once=True))
    with pytest.raises(ConfigurationError, match="how often"):
        validate_schedule(ScheduleSpec(start=datetime(2026, 1, 1)))
    with pytest.raises(ConfigurationError, match="1 or more"):
        validate_schedule(ScheduleSpec(every="0 minutes"), minimum_minutes=0)
    # a schedule saved below a minimum raised since runs at the minimum
    assert at_least(ScheduleSpec(every="2 minutes"), 5).every == "5 minutes"
    assert at_least(ScheduleSpec(every="1 day"), 5).every == "1 day"


def test_a_time_in_the_gap_resolves_to_the_end_of_the_gap_to_the_second():
    lord_howe = ZoneInfo("Australia/Lord_Howe")  # a 30-minute change
    assert (
        wall_clock_to_utc(datetime(2026, 10, 4, 2, 10), lord_howe).astimezone(lord_howe).strftime("%H:%M:%S")
        == "02:30:00"
    )
    assert wall_clock_to_utc(datetime(2026, 3, 29, 2, 59, 59), PARIS) == utc(2026, 3, 29, 1, 0)


ZONES = ["Europe/Paris", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "UTC"]


@settings(max_examples=300, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    every=st.sampled_from(["30 minutes", "1 hour", "3 hours", "day", "2 days", "week"]),
    start=st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 1, 1)),
    after=st.datetimes(min_value=datetime(2024, 6, 1), max_value=datetime(2028, 1, 1)),
)
def test_next_due_is_the_first_slot_after_and_skips_none(zone, every, start, after):
    schedule = ScheduleSpec(every=every, start=start.replace(microsecond=0), timezone=zone)
    moment = after.replace(tzinfo=UTC)
    slot = next_due(schedule, moment)
    assert slot is not None and slot > moment
    # no slot was skipped: from any instant between, the same slot comes next
    for probe in (max(moment, slot - timedelta(seconds=1)), moment + (slot - moment) / 2):
        assert next_due(schedule, probe) == slot
    following = next_due(schedule, slot)
    assert following is not None
    interval = schedule.interval()
    assert interval is not None
    if interval[1] in ("minute", "hour"):
        assert following - slot == timedelta(minutes=interval[0] * (60 if interval[1] == "hour" else 1))
    else:
        # the wall-clock time holds (or the gap's end), and local dates step by the interval
        days = interval[0] * (7 if interval[1] == "week" else 1)
        local_zone = ZoneInfo(zone)
        assert (following.astimezone(local_zone).date() - slot.astimezone(local_zone).date()).days == days
        wall = slot.astimezone(local_zone).replace(tzinfo=None)
        assert (
            wall.time() == schedule.start.time()
            or wall_clock_to_utc(datetime.combine(wall.date(), schedule.start.time()), local_zone) == slot
        )
