"""Tests of the date and time functions: time zones (with DST), differences, additions, parts."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.core.test_expressions import compile_error, evaluate, values


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


# --- to_timestamp with a time zone ----------------------------------------------------------------


def test_naive_times_are_read_in_the_zone_and_offsets_are_kept() -> None:
    frame = pd.DataFrame(
        {
            "t": [
                "2024-01-15 10:00",  # winter: Paris is UTC+1
                "2024-07-15T10:00:00",  # summer: UTC+2
                "2024-07-15T10:00:00Z",  # an explicit zone wins
                "2024-07-15 10:00:00+05:30",
                "2024-07-15 10:00 UTC",
                None,
                "",
            ]
        }
    )
    assert values("to_timestamp(t, null, 'Europe/Paris')", frame) == [
        utc("2024-01-15 09:00"),
        utc("2024-07-15 08:00"),
        utc("2024-07-15 10:00"),
        utc("2024-07-15 04:30"),
        utc("2024-07-15 10:00"),
        None,
        None,
    ]
    # Without a zone naive values are UTC, as before.
    assert values("to_timestamp(t)", frame)[:2] == [utc("2024-01-15 10:00"), utc("2024-07-15 10:00")]


def test_a_time_skipped_by_the_spring_clock_change_fails_the_row() -> None:
    frame = pd.DataFrame({"t": ["2024-03-31 01:59", "2024-03-31 02:30", "2024-03-31 03:00"]})
    result = evaluate("to_timestamp(t, null, 'Europe/Paris')", frame)
    assert result.failed.tolist() == [False, True, False]
    assert result.reasons is not None
    assert result.reasons.iloc[1] == (
        "to_timestamp: '2024-03-31 02:30' does not exist in Europe/Paris (clocks go forward)"
    )
    assert result.values.iloc[0] == utc("2024-03-31 00:59")
    assert result.values.iloc[2] == utc("2024-03-31 01:00")


def test_a_time_repeated_by_the_autumn_clock_change_is_its_first_occurrence() -> None:
    frame = pd.DataFrame({"t": ["2024-10-27 02:30", "2024-10-27 03:30", "2024-11-03 01:30"]})
    assert values("to_timestamp(t, null, 'Europe/Paris')", frame)[:2] == [
        utc("2024-10-27 00:30"),  # 02:30 CEST, not the later 02:30 CET
        utc("2024-10-27 02:30"),
    ]
    assert values("to_timestamp(t, null, 'America/New_York')", frame)[2] == utc("2024-11-03 05:30")


def test_formats_and_zones_combine() -> None:
    frame = pd.DataFrame(
        {"t": ["15/07/2024 10:00", "nope", None], "z": ["15/07/2024 10:00 +0000", None, None]}
    )
    result = evaluate("to_timestamp(t, '%d/%m/%Y %H:%M', 'Asia/Tokyo')", frame)
    assert result.values.iloc[0] == utc("2024-07-15 01:00")
    assert result.reasons is not None
    assert result.reasons.iloc[1] == "to_timestamp: 'nope' is not a timestamp"
    # A format that reads an offset makes values aware: the zone does not move them.
    assert values("to_timestamp(z, '%d/%m/%Y %H:%M %z', 'Asia/Tokyo')", frame)[0] == utc("2024-07-15 10:00")


def test_unix_times_are_instants_whatever_the_zone() -> None:
    frame = pd.DataFrame({"t": [0, 86400]})
    assert values("to_timestamp(t, 'unix', 'Europe/Paris')", frame) == [utc("1970-01-01"), utc("1970-01-02")]


def test_naive_datetime_columns_are_localised_and_aware_ones_kept() -> None:
    naive = pd.Series(pd.to_datetime(["2024-07-15 10:00", None]))
    frame = pd.DataFrame({"naive": naive, "aware": naive.dt.tz_localize("Asia/Tokyo")})
    assert values("to_timestamp(naive, null, 'Europe/Paris')", frame) == [utc("2024-07-15 08:00"), None]
    assert values("to_timestamp(aware, null, 'Europe/Paris')", frame) == [utc("2024-07-15 01:00"), None]


def test_to_date_takes_the_date_of_an_instant_in_the_zone() -> None:
    frame = pd.DataFrame(
        {"t": ["2024-01-07T23:30:00-02:00", "2024-01-07 23:30", "2024-01-07T22:30:00Z", None]}
    )
    day = pd.Timestamp
    assert values("to_date(t)", frame) == [day("2024-01-08"), day("2024-01-07"), day("2024-01-07"), None]
    assert values("to_date(t, null, 'Europe/Paris')", frame) == [
        day("2024-01-08"),  # 01:30 UTC = 02:30 in Paris
        day("2024-01-07"),  # a naive value keeps its own date
        day("2024-01-07"),  # 23:30 in Paris
        None,
    ]
    assert values("to_date(t, null, 'America/Sao_Paulo')", frame)[0] == day("2024-01-07")  # 22:30 there
    assert str(evaluate("to_date(t, null, 'Europe/Paris')", frame).values.dtype) == "datetime64[s]"


@pytest.mark.parametrize(
    ("text", "position", "detail"),
    [
        ("to_timestamp(t, null, 'Mars/Olympus')", 23, "argument 3 of to_timestamp must be an IANA time zone"),
        ("to_timestamp(t, null, 'europe/paris')", 23, "must be an IANA time zone"),
        ("to_timestamp(t, 'Europe/Paris')", 17, "argument 2 of to_timestamp must be a date format"),
        ("to_date(t, '%Y', z)", 18, "argument 3 of to_date must be an IANA time zone"),
        ("extract(t, 'fortnight')", 12, "argument 2 of extract must be one of 'year', 'quarter'"),
        ("date_diff(a, b, 'decades')", 17, "argument 3 of date_diff must be one of 'seconds'"),
        ("date_add(a, 1)", 1, "date_add takes 3 arguments, got 2"),
    ],
)
def test_date_arguments_are_checked_at_compile_time(text: str, position: int, detail: str) -> None:
    error = compile_error(text)
    assert error.position == position
    assert detail in error.detail


# --- now ------------------------------------------------------------------------------------------


def test_now_is_one_utc_instant_for_the_whole_chunk() -> None:
    before = pd.Timestamp.now(tz="UTC")
    result = evaluate("now()", pd.DataFrame({"a": range(5)}, index=list("vwxyz"))).values
    after = pd.Timestamp.now(tz="UTC")
    assert str(result.dtype) == "datetime64[us, UTC]"
    assert list(result.index) == list("vwxyz")
    assert result.nunique() == 1
    assert before.floor("us") <= result.iloc[0] <= after


# --- date_diff ------------------------------------------------------------------------------------

SPANS = pd.DataFrame(
    {
        "end": [
            "2024-03-01 00:00",
            "2024-02-29",
            "2024-01-01 00:00",
            "2025-01-31",
            "bad",
            None,
            "2024-03-31 12:00",
        ],
        "start": [
            "2024-02-28 01:00",
            "2024-01-31",
            "2024-01-02 01:00",
            "2024-01-31",
            "2024-01-01",
            "2024-01-01",
            "2024-03-31 11:00",
        ],
    }
)


@pytest.mark.parametrize(
    ("unit", "expected"),
    [
        ("days", [1, 29, -1, 366, None, None, 0]),
        ("hours", [47, 696, -25, 8784, None, None, 1]),
        ("minutes", [2820, 41760, -1500, 527040, None, None, 60]),
        ("seconds", [169200, 2505600, -90000, 31622400, None, None, 3600]),
        ("weeks", [0, 4, 0, 52, None, None, 0]),
        ("months", [0, 0, 0, 12, None, None, 0]),
        ("years", [0, 0, 0, 1, None, None, 0]),
    ],
)
def test_date_diff_counts_whole_units_toward_zero(unit: str, expected: list) -> None:
    result = evaluate(f"date_diff(end, start, '{unit}')", SPANS)
    assert [None if pd.isna(v) else v for v in result.values] == expected
    assert result.failed.tolist() == [False, False, False, False, True, False, False]
    assert result.reasons is not None and result.reasons.iloc[4] == "date_diff: 'bad' is not a timestamp"


@pytest.mark.parametrize(
    ("end", "start", "months"),
    [
        ("2024-02-29", "2024-01-29", 1),
        ("2024-02-28", "2024-01-29", 0),
        ("2024-03-29", "2024-01-31", 1),
        ("2024-01-31", "2024-03-29", -1),
        ("2024-01-29", "2024-02-29", -1),
        ("2024-01-30", "2024-02-29", 0),
        ("2024-05-15 10:00", "2024-04-15 10:00", 1),
        ("2024-05-15 09:59", "2024-04-15 10:00", 0),
        ("2000-01-01", "2024-06-30", -293),
    ],
)
def test_months_are_complete_calendar_months(end: str, start: str, months: int) -> None:
    frame = pd.DataFrame({"end": [end], "start": [start]})
    assert values("date_diff(end, start, 'months')", frame) == [months]


def test_date_diff_defaults_to_days_and_accepts_dates_and_timestamps() -> None:
    frame = pd.DataFrame({"a": ["2024-01-10"], "b": ["2024-01-01T12:00:00+02:00"]})
    assert values("date_diff(to_date(a), b)", frame) == [8]  # 10 Jan 00:00 - 1 Jan 10:00 UTC
    assert values("date_diff(a, b, 'DAYS')", frame) == [8]


# --- date_add -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "amount", "unit", "expected"),
    [
        ("2024-01-31", 1, "months", "2024-02-29"),
        ("2023-01-31", 1, "months", "2023-02-28"),
        ("2024-03-31", -1, "months", "2024-02-29"),
        ("2024-02-29", 1, "years", "2025-02-28"),
        ("2024-02-29", 4, "years", "2028-02-29"),
        ("2024-01-15 10:30", 25, "hours", "2024-01-16 11:30"),
        ("2024-01-15 10:30", -90, "minutes", "2024-01-15 09:00"),
        ("2024-01-15", 2, "weeks", "2024-01-29"),
        ("2024-12-31 23:59:59", 1, "seconds", "2025-01-01"),
        ("2024-11-30 08:00", 13, "months", "2025-12-30 08:00"),
    ],
)
def test_date_add_moves_by_elapsed_time_or_calendar(
    value: str, amount: int, unit: str, expected: str
) -> None:
    frame = pd.DataFrame({"v": [value], "n": [amount]})
    assert values(f"date_add(v, n, '{unit}')", frame) == [utc(expected)]


def test_date_add_keeps_dates_as_dates() -> None:
    frame = pd.DataFrame({"d": ["2024-01-31", None]})
    result = evaluate("date_add(to_date(d), 1, 'months')", frame).values
    assert str(result.dtype) == "datetime64[s]"
    assert [None if pd.isna(v) else v for v in result] == [pd.Timestamp("2024-02-29"), None]


def test_date_add_fails_rows_with_bad_amounts_or_results_out_of_range() -> None:
    frame = pd.DataFrame(
        {
            "v": ["2024-01-01", "2024-01-01", "9999-12-01", "2024-01-01", "0001-01-01", "x"],
            "n": ["1", "1.5", "1", "99999999", "-1", "1"],
        }
    )
    result = evaluate("date_add(v, n, 'months')", frame)
    assert result.failed.tolist() == [False, True, True, True, True, True]
    assert result.reasons is not None
    assert result.reasons.tolist()[1:] == [
        "date_add: '1.5' is not an integer",
        "date_add: adding '1' months leaves the years 1 to 9999",
        "date_add: adding '99999999' months leaves the years 1 to 9999",
        "date_add: adding '-1' months leaves the years 1 to 9999",
        "date_add: 'x' is not a timestamp",
    ]
    assert result.values.iloc[0] == utc("2024-02-01")
    seconds = evaluate("date_add(v, n, 'seconds')", frame)
    assert seconds.failed.tolist() == [False, True, False, False, True, True]


# --- extract --------------------------------------------------------------------------------------

MOMENTS = pd.DataFrame(
    {"t": ["2024-12-30T23:30:00Z", "2021-01-03 05:06:07", "2024-07-04T22:15:00-04:00", None]}
)


@pytest.mark.parametrize(
    ("part", "expected"),
    [
        ("year", [2024, 2021, 2024, None]),
        ("quarter", [4, 1, 3, None]),
        ("month", [12, 1, 7, None]),
        (
            "week",
            [1, 53, 27, None],
        ),  # ISO weeks: 30 Dec 2024 is in 2025's week 1, 3 Jan 2021 in 2020's week 53
        ("day", [30, 3, 5, None]),
        ("dayofweek", [1, 7, 5, None]),  # Monday, Sunday, Friday (5 July 02:15 UTC)
        ("dayofyear", [365, 3, 187, None]),
        ("hour", [23, 5, 2, None]),
        ("minute", [30, 6, 15, None]),
        ("second", [0, 7, 0, None]),
    ],
)
def test_extract_parts_in_utc(part: str, expected: list) -> None:
    result = evaluate(f"extract(t, '{part}')", MOMENTS).values
    assert str(result.dtype) == "Int64"
    assert [None if pd.isna(v) else v for v in result] == expected


def test_extract_in_a_time_zone_follows_its_clock_changes() -> None:
    frame = pd.DataFrame({"t": ["2024-01-15T12:00:00Z", "2024-07-15T12:00:00Z", "2024-12-31T23:30:00Z"]})
    assert values("extract(t, 'hour', 'Europe/Paris')", frame) == [13, 14, 0]
    assert values("extract(t, 'year', 'Europe/Paris')", frame) == [2024, 2024, 2025]
    assert values("extract(t, 'day', 'America/Los_Angeles')", frame) == [15, 15, 31]


def test_extract_of_dates_and_bad_values() -> None:
    frame = pd.DataFrame({"d": ["2024-02-29", "not a date"]})
    result = evaluate("extract(to_date(d), 'dayofyear')", frame)
    assert result.values.iloc[0] == 60
    assert result.reasons is not None and result.reasons.iloc[1] == "to_date: 'not a date' is not a date"
    direct = evaluate("extract(d, 'month')", frame)
    assert direct.reasons is not None and direct.reasons.iloc[1] == "extract: 'not a date' is not a timestamp"
