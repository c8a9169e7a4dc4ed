"""Date and time functions of the expression language.

Timestamps are UTC (``datetime64[us, UTC]``); dates are naive midnights
(``datetime64[s]``). Text and numbers given to a date function are read as
``to_timestamp`` reads them. Differences and additions in days, hours and
smaller units count elapsed time; months and years follow the calendar.
"""

from __future__ import annotations

import zoneinfo
from functools import cache

import numpy as np
import pandas as pd

from core.mapping import convert
from core.mapping.functions import Constant, Evaluated, converted, one_of, register


def _valid_date_format(fmt: str) -> bool:
    """Tells whether pandas accepts ``fmt`` as a strftime format."""
    if "%" not in fmt:
        return False
    try:
        pd.to_datetime(pd.Series(["x"]), format=fmt, errors="coerce")
    except ValueError:
        return False
    return True


@cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


FORMAT = Constant(
    "a date format in quotes such as '%d/%m/%Y', 'unix' / 'unix_ms', or null to detect it",
    lambda v: v is None or (isinstance(v, str) and (v in convert.EPOCH_FORMATS or _valid_date_format(v))),
)
ZONE = Constant("an IANA time zone in quotes such as 'Europe/Paris' or 'UTC'", lambda v: v in _zones())
_UNITS = ("seconds", "minutes", "hours", "days", "weeks", "months", "years")
UNIT = one_of(*_UNITS)
PART = one_of("year", "quarter", "month", "week", "day", "dayofweek", "dayofyear", "hour", "minute", "second")
_UNIT_SECONDS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400, "weeks": 604800}
_MICROS = 1_000_000
# Results outside years 1-9999 cannot be stored or shown as dates; date_add fails those rows.
_FIRST_US = int(np.datetime64("0001-01-01T00:00:00", "us").astype("int64"))
_LAST_US = int(np.datetime64("9999-12-31T23:59:59.999999", "us").astype("int64"))


def _stamps(value: pd.Series, function: str) -> tuple[pd.Series, pd.Series | None]:
    """Reads values as UTC timestamps (naive ones as UTC), with reasons for the rest."""
    result = convert.to_timestamp(value)
    return result.values, converted(result, value, function, "timestamp").reasons


def _zoned(value: pd.Series, fmt: str | None, zone: str | None, function: str) -> Evaluated:
    """Reads values as UTC timestamps; naive ones are local times in ``zone`` when it is given."""
    result = convert.to_timestamp(value, fmt)
    why = converted(result, value, function, "timestamp").reasons
    if zone is None:
        return Evaluated(result.values, why)
    stamps, gap = convert.localize(result.values, convert.naive_rows(value, fmt), zone)
    skipped = convert.reasons(value, gap, f"{function}: ", f" does not exist in {zone} (clocks go forward)")
    return Evaluated(stamps, convert.merge_reasons(why, skipped))


@register(
    "to_timestamp",
    family="dates",
    signature="to_timestamp(value[, format[, timezone]])",
    doc=(
        "Converts to a UTC timestamp. Values without an offset are times in `timezone` (default UTC; "
        "a time skipped by a clock change fails, a repeated one is its first occurrence)."
    ),
    example="to_timestamp(created, '%d/%m/%Y %H:%M', 'Europe/Paris')",
    constants={"format": FORMAT, "timezone": ZONE},
)
def _to_timestamp(value: pd.Series, format: str | None = None, timezone: str | None = None) -> Evaluated:
    return _zoned(value, format, timezone, "to_timestamp")


@register(
    "to_date",
    family="dates",
    signature="to_date(value[, format[, timezone]])",
    doc=(
        "Converts to a date; without a format ISO 8601 and common forms are read (01/02/2024 = 2 Jan). "
        "Timestamps with an offset give their date in `timezone` (default UTC)."
    ),
    example="to_date(dob, '%d/%m/%Y')",
    constants={"format": FORMAT, "timezone": ZONE},
)
def _to_date(value: pd.Series, format: str | None = None, timezone: str | None = None) -> Evaluated:
    if timezone is None:
        return converted(convert.to_date(value, format), value, "to_date", "date")
    stamps = convert.to_timestamp(value, format)
    naive = convert.naive_rows(value, format)
    local = stamps.values.dt.tz_convert(timezone).dt.tz_localize(None)
    # A naive value's date is the one it says; only instants move to the zone's calendar.
    wall = stamps.values.dt.tz_localize(None)
    dates = wall.where(naive, local.array).dt.normalize().astype(convert.DATE)
    return converted(convert.Converted(dates, stamps.failed), value, "to_date", "date")


@register(
    "now",
    family="dates",
    signature="now()",
    doc="The current UTC time when the chunk is mapped, the same on every row.",
    example="date_diff(now(), to_date(dob), 'years')",
)
def _now(*, index: pd.Index) -> pd.Series:
    stamp = pd.Timestamp.now(tz="UTC").floor("us")
    return pd.Series(stamp, index=index, dtype=convert.TIMESTAMP)


def _micros(stamps: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Microseconds since 1970 of UTC or naive timestamps (0 where null), and which are present."""
    present = convert.flags(stamps.notna())
    naive = stamps.dt.tz_convert("UTC").dt.tz_localize(None) if stamps.dt.tz is not None else stamps
    micros = naive.to_numpy(dtype="datetime64[us]").astype("int64")
    return np.where(present, micros, 0), present


def _calendar(micros: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each instant's month (datetime64[M]) and how far into that month it is (timedelta64[us])."""
    stamps = micros.astype("datetime64[us]")
    months = stamps.astype("datetime64[M]")
    return months, stamps - months.astype("datetime64[us]")


def _whole_months(end: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Complete calendar months from start to end, negative when end comes first."""
    end_month, end_into = _calendar(end)
    start_month, start_into = _calendar(start)
    months = (end_month - start_month).astype("int64")
    # A month is complete once the end's day and time reach the start's (31 Jan -> 29 Feb is 0).
    months -= (months > 0) & (end_into < start_into)
    months += (months < 0) & (end_into > start_into)
    return months


def _truncated(numbers: np.ndarray, divisor: int) -> np.ndarray:
    """Integer division rounding toward zero (-25 hours is -1 day, not -2)."""
    return np.sign(numbers) * (np.abs(numbers) // divisor)


@register(
    "date_diff",
    family="dates",
    signature="date_diff(end, start[, unit])",
    doc=(
        "Whole `unit`s from `start` to `end` ('days' by default; seconds, minutes, hours, weeks, "
        "months, years), negative when `end` is earlier; partial units are dropped."
    ),
    example="date_diff(last_order, first_order, 'days')",
    constants={"unit": UNIT},
)
def _date_diff(end: pd.Series, start: pd.Series, unit: str = "days") -> Evaluated:
    (end_stamps, end_why), (start_stamps, start_why) = _stamps(end, "date_diff"), _stamps(start, "date_diff")
    (end_us, end_present), (start_us, start_present) = _micros(end_stamps), _micros(start_stamps)
    unit = unit.lower()
    if unit in _UNIT_SECONDS:
        whole = _truncated(end_us - start_us, _UNIT_SECONDS[unit] * _MICROS)
    else:
        whole = _whole_months(end_us, start_us)
        whole = _truncated(whole, 12) if unit == "years" else whole
    missing = ~(end_present & start_present)
    result = pd.Series(pd.arrays.IntegerArray(whole.astype("int64"), missing), index=end.index)
    return Evaluated(result, convert.merge_reasons(end_why, start_why))


def _add_months(micros: np.ndarray, months: np.ndarray) -> np.ndarray:
    """Adds calendar months; a day past the new month's end becomes its last day (31 Jan + 1 = 29 Feb)."""
    month, into = _calendar(micros)
    day = into.astype("timedelta64[D]")  # whole days into the month
    time = into - day.astype("timedelta64[us]")
    target = month + months
    length = (target + 1).astype("datetime64[D]") - target.astype("datetime64[D]")
    day = np.minimum(day, length - np.timedelta64(1, "D"))
    moved = target.astype("datetime64[D]") + day
    return (moved.astype("datetime64[us]") + time).astype("int64")


@register(
    "date_add",
    family="dates",
    signature="date_add(value, amount, unit)",
    doc=(
        "Adds a whole `amount` (negative subtracts) of `unit` (seconds … weeks, months, years); "
        "months and years keep the day, or take the month's last day (31 Jan + 1 month = 29 Feb 2024)."
    ),
    example="date_add(to_date(signup), 30, 'days')",
    constants={"unit": UNIT},
)
def _date_add(value: pd.Series, amount: pd.Series, unit: str) -> Evaluated:
    is_date = convert.kind(value) == "datetime" and value.dt.tz is None
    stamps, why = (value, None) if is_date else _stamps(value, "date_add")
    counts = converted(convert.to_integer(amount), amount, "date_add", "integer")
    steps = counts.values.to_numpy(dtype="int64", na_value=0)
    micros, present = _micros(stamps)
    present = present & convert.flags(counts.values.notna())
    unit = unit.lower()
    # Amounts that could not stay within years 1-9999 are refused before they can overflow int64.
    if unit in _UNIT_SECONDS:
        step = _UNIT_SECONDS[unit] * _MICROS
        fits = np.abs(steps) <= (_LAST_US - _FIRST_US) // step
        moved = micros + np.where(fits, steps, 0) * step
    else:
        months = np.where(np.abs(steps) <= 12 * 10_000, steps, 0) * (12 if unit == "years" else 1)
        fits = np.abs(steps) <= 12 * 10_000
        moved = _add_months(micros, months)
    failed = present & (~fits | (moved < _FIRST_US) | (moved > _LAST_US))
    range_why = convert.reasons(amount, failed, "date_add: adding ", f" {unit} leaves the years 1 to 9999")
    result = pd.Series(moved.astype("datetime64[us]"), index=value.index).mask(~present | failed)
    result = result.astype(value.dtype) if is_date else result.dt.tz_localize("UTC")
    return Evaluated(result, convert.merge_reasons(why, counts.reasons, range_why))


@register(
    "extract",
    family="dates",
    signature="extract(value, part[, timezone])",
    doc=(
        "A part of a date or timestamp as a number: year, quarter, month, week (ISO), day, "
        "dayofweek (1 = Monday … 7 = Sunday), dayofyear, hour, minute or second; in `timezone` if given."
    ),
    example="extract(created, 'hour', 'Europe/Paris')",
    constants={"part": PART, "timezone": ZONE},
)
def _extract(value: pd.Series, part: str, timezone: str | None = None) -> Evaluated:
    if convert.kind(value) == "datetime" and value.dt.tz is None:
        stamps, why = value, None
    else:
        stamps, why = _stamps(value, "extract")
        if timezone is not None:
            stamps = stamps.dt.tz_convert(timezone)
    part = part.lower()
    if part == "week":
        numbers = stamps.dt.isocalendar().week
    elif part == "dayofweek":
        numbers = stamps.dt.day_of_week + 1
    else:
        numbers = getattr(stamps.dt, {"dayofyear": "day_of_year"}.get(part, part))
    return Evaluated(numbers.astype("Int64"), why)
