"""Tests for core.quality: parsing GX expectation suites and finding the exact failing rows."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from core.errors import ConfigurationError
from core.quality import FAILURE_COLUMNS, Expectation, QualitySuite, _gx, supported_expectations

REPO = Path(__file__).resolve().parents[2]
COL = "person.value"  # every case uses a dotted column name, as mappings produce
EMAIL_REGEX = r"^[^@\s]+@[^@\s]+$"


def frame(values: list[Any], *, dtype: Any = None, column: str = COL) -> pd.DataFrame:
    """One column whose index starts at 1000, so row labels differ from positions."""
    return pd.DataFrame({column: pd.Series(values, dtype=dtype)}).set_axis(
        pd.RangeIndex(1000, 1000 + len(values))
    )


def one(name: str, **kwargs: Any) -> QualitySuite:
    """A suite of one expectation on COL."""
    return QualitySuite.parse([{name: {"column": COL, **kwargs}}])


def config_error(items: Any) -> str:
    """Parse ``items`` expecting a ConfigurationError; return its message."""
    with pytest.raises(ConfigurationError) as caught:
        QualitySuite.parse(items)
    return caught.value.user_message


# --- parsing -------------------------------------------------------------------------------------


def test_supported_list_comes_from_gx_and_has_the_row_level_basics() -> None:
    supported = supported_expectations()
    for name in (
        "expect_column_values_to_not_be_null",
        "expect_column_values_to_be_null",
        "expect_column_values_to_match_regex",
        "expect_column_values_to_not_match_regex",
        "expect_column_values_to_be_in_set",
        "expect_column_values_to_not_be_in_set",
        "expect_column_values_to_be_between",
        "expect_column_values_to_be_unique",
        "expect_column_value_lengths_to_be_between",
        "expect_column_values_to_match_regex_list",
    ):
        assert name in supported
    assert "expect_column_mean_to_be_between" not in supported  # aggregate: no failing rows
    assert "expect_column_values_to_match_like_pattern" not in supported  # SQL only


def test_parse_the_documented_example() -> None:
    items = [
        {"expect_column_values_to_not_be_null": {"column": "crmId"}},
        {"expect_column_values_to_match_regex": {"column": "personalEmail.address", "regex": EMAIL_REGEX}},
        {"expect_column_values_to_be_in_set": {"column": "loyalty.tier", "value_set": ["bronze", "gold"]}},
        {"expect_column_values_to_be_between": {"column": "loyalty.points", "min_value": 0, "max_value": 10}},
        {"expect_column_values_to_be_unique": {"column": "crmId"}},
    ]
    suite = QualitySuite.parse(items)
    assert [e.type for e in suite.expectations] == [next(iter(item)) for item in items]
    assert suite.columns == {"crmId", "personalEmail.address", "loyalty.tier", "loyalty.points"}
    assert suite.to_list() == items
    assert QualitySuite.parse(suite.to_list()) == suite


def test_expectation_is_immutable_and_exports_a_copy() -> None:
    source = {"column": "a", "value_set": ["x"]}
    expectation = Expectation("expect_column_values_to_be_in_set", source)
    source["value_set"].append("y")
    exported = expectation.to_dict()
    exported["expect_column_values_to_be_in_set"]["value_set"].append("z")
    assert expectation.to_dict() == {"expect_column_values_to_be_in_set": {"column": "a", "value_set": ["x"]}}
    with pytest.raises(TypeError):
        expectation.kwargs["column"] = "b"  # type: ignore[index]


@pytest.mark.parametrize("items", [None, []])
def test_parse_nothing_gives_an_empty_suite(items: Any) -> None:
    assert QualitySuite.parse(items).expectations == ()


def test_unknown_name_suggests_the_close_match_and_lists_supported() -> None:
    message = config_error([{"expect_column_values_to_not_be_nul": {"column": "a"}}])
    assert "unknown expectation 'expect_column_values_to_not_be_nul'" in message
    assert "did you mean 'expect_column_values_to_not_be_null'" in message
    assert "Supported: " in message and "expect_column_values_to_be_between" in message


def test_short_name_suggests_the_full_gx_name() -> None:
    assert "did you mean 'expect_column_values_to_not_be_null'" in config_error(
        [{"not_be_null": {"column": "a"}}]
    )


def test_gx_aggregate_expectation_is_refused_as_not_row_level() -> None:
    message = config_error([{"expect_column_mean_to_be_between": {"column": "a", "min_value": 1}}])
    assert "not a row-level one" in message


def test_bad_kwarg_names_expectation_key_and_allowed_keys() -> None:
    message = config_error([{"expect_column_values_to_be_between": {"column": "a", "minimum": 0}}])
    assert "expect_column_values_to_be_between" in message
    assert "unknown key 'minimum'" in message
    assert "Allowed keys: column, min_value, max_value, strict_min, strict_max" in message


def test_mostly_is_refused_with_the_reason() -> None:
    message = config_error([{"expect_column_values_to_not_be_null": {"column": "a", "mostly": 0.9}}])
    assert "unknown key 'mostly'" in message and "quarantined" in message


@pytest.mark.parametrize("kwargs", [{}, None, {"regex": "x"}])
def test_missing_column_is_refused(kwargs: Any) -> None:
    name = "expect_column_values_to_match_regex" if kwargs else "expect_column_values_to_not_be_null"
    message = config_error([{name: kwargs}])
    assert name in message and "missing key 'column'" in message


@pytest.mark.parametrize(
    ("name", "kwargs", "expected"),
    [
        ("expect_column_values_to_be_between", {"min_value": "x"}, "'min_value' is invalid"),
        ("expect_column_values_to_be_between", {}, "min_value and max_value cannot both be None"),
        ("expect_column_values_to_be_between", {"min_value": 5, "max_value": 1}, "is above 'max_value'"),
        ("expect_column_values_to_be_in_set", {"value_set": "gold"}, "'value_set' is invalid"),
        ("expect_column_values_to_be_in_set", {}, "missing key 'value_set'"),
        ("expect_column_values_to_match_regex", {}, "missing key 'regex'"),
        ("expect_column_values_to_match_regex", {"regex": "("}, "is not a valid regex"),
        ("expect_column_values_to_match_regex_list", {"regex_list": ["ok", "["]}, "is not a valid regex"),
        (
            "expect_column_values_to_match_regex_list",
            {"regex_list": ["a"], "match_on": "some"},
            "'any' or 'all'",
        ),
        ("expect_column_values_to_be_between", {"min_value": {"$PARAMETER": "low"}}, "not a mapping"),
    ],
)
def test_bad_values_are_refused_naming_expectation_and_key(name: str, kwargs: dict, expected: str) -> None:
    message = config_error([{name: {"column": "a", **kwargs}}])
    assert name in message and expected in message


@pytest.mark.parametrize("column", [3, ""])
def test_column_must_be_a_non_empty_string(column: Any) -> None:
    assert "'column' must be" in config_error([{"expect_column_values_to_not_be_null": {"column": column}}])


@pytest.mark.parametrize(
    "items",
    ["expect_column_values_to_not_be_null", ["expect_column_values_to_not_be_null"], [{"a": {}, "b": {}}]],
)
def test_wrong_shapes_are_refused(items: Any) -> None:
    assert "such as `- expect_column_values_to_not_be_null: {column: crmId}`" in config_error(items)


def test_check_columns_names_the_unmapped_field_and_a_suggestion() -> None:
    suite = QualitySuite.parse(
        [
            {"expect_column_values_to_not_be_null": {"column": "crmId"}},
            {"expect_column_values_to_be_unique": {"column": "personalEmail.adress"}},
        ]
    )
    suite.check_columns(["crmId", "personalEmail.adress"])
    with pytest.raises(ConfigurationError) as caught:
        suite.check_columns(["crmId", "personalEmail.address"])
    message = caught.value.user_message
    assert "'personalEmail.adress'" in message and "did you mean 'personalEmail.address'" in message
    assert "'crmId'" not in message.split("Mapped fields")[0]


# --- validation: each supported expectation catches exactly the bad rows --------------------------

NAN = float("nan")
CASES: list[tuple[str, dict[str, Any], list[Any], list[int]]] = [
    ("expect_column_values_to_not_be_null", {}, ["a", None, "b", NAN], [1001, 1003]),
    ("expect_column_values_to_be_null", {}, [None, "x", None], [1001]),
    (
        "expect_column_values_to_match_regex",
        {"regex": EMAIL_REGEX},
        ["a@b", "bob@", None, "c@d", "x y@z"],
        [1001, 1004],
    ),
    ("expect_column_values_to_not_match_regex", {"regex": "^test"}, ["test1", "prod", None, "atest"], [1000]),
    (
        "expect_column_values_to_match_regex_list",
        {"regex_list": ["^a", "^b"]},
        ["a1", "b2", "c3", None],
        [1002],
    ),
    (
        "expect_column_values_to_match_regex_list",
        {"regex_list": ["^a", "z$"], "match_on": "all"},
        ["az", "a", "z", None],
        [1001, 1002],
    ),
    (
        "expect_column_values_to_not_match_regex_list",
        {"regex_list": ["^a", "^b"]},
        ["a1", "c", "b", None],
        [1000, 1002],
    ),
    (
        "expect_column_values_to_be_in_set",
        {"value_set": ["bronze", "gold"]},
        ["bronze", "tin", None, "gold"],
        [1001],
    ),
    ("expect_column_values_to_not_be_in_set", {"value_set": ["banned"]}, ["ok", "banned", None], [1001]),
    (
        "expect_column_values_to_be_between",
        {"min_value": 0, "max_value": 100},
        [0, -1, 100, 101, None],
        [1001, 1003],
    ),
    (
        "expect_column_values_to_be_between",
        {"min_value": 0, "strict_min": True},
        [0, 1, -1, 10**9],
        [1000, 1002],
    ),
    ("expect_column_values_to_be_unique", {}, ["a", "b", "a", None, None, "c"], [1000, 1002]),
    (
        "expect_column_value_lengths_to_be_between",
        {"min_value": 2, "max_value": 3},
        ["a", "ab", "abcd", None, "abc"],
        [1000, 1002],
    ),
    ("expect_column_value_lengths_to_equal", {"value": 2}, ["ab", "a", "abc", None], [1001, 1002]),
    (
        "expect_column_values_to_match_strftime_format",
        {"strftime_format": "%Y-%m-%d"},
        ["2024-01-31", "2024-02-30", "31/01/2024", None],
        [1001, 1002],
    ),
    ("expect_column_values_to_be_dateutil_parseable", {}, ["2024-01-31", "not a date", None], [1001]),
    ("expect_column_values_to_be_json_parseable", {}, ['{"a": 1}', "{bad", "[1]", None], [1001]),
]


@pytest.mark.parametrize(("name", "kwargs", "values", "bad_rows"), CASES, ids=[c[0][14:] for c in CASES])
def test_each_expectation_flags_exactly_the_bad_rows(
    name: str, kwargs: dict, values: list[Any], bad_rows: list[int]
) -> None:
    failures = one(name, **kwargs).validate(frame(values))
    assert list(failures.columns) == list(FAILURE_COLUMNS)
    assert failures["row"].tolist() == bad_rows
    assert set(failures["expectation"]) == {name}
    assert set(failures["field"]) == {COL}
    assert set(failures["code"]) == {"quality"}
    assert failures["reason"].str.endswith(f"({name})").all()


def test_every_supported_expectation_has_a_case() -> None:
    assert {case[0] for case in CASES} == set(supported_expectations())


@pytest.mark.parametrize("dtype", ["Int64", "Float64", "float64", "int64[pyarrow]", object])
def test_between_on_numeric_dtypes_ignores_nulls(dtype: Any) -> None:
    suite = one("expect_column_values_to_be_between", min_value=0, max_value=10)
    assert suite.validate(frame([1, None, 20, -1, 10], dtype=dtype))["row"].tolist() == [1002, 1003]


@pytest.mark.parametrize("tz", [None, "UTC"])
def test_between_with_date_bounds_on_a_datetime_column(tz: str | None) -> None:
    suite = QualitySuite.parse(
        [
            {
                "expect_column_values_to_be_between": {
                    "column": "d",
                    "min_value": "2020-01-01",
                    "max_value": "2025-01-01",
                }
            }
        ]
    )
    stamps = pd.to_datetime(["2024-05-01", None, "2030-01-01", "2019-12-31"]).tz_localize(tz)
    failures = suite.validate(frame(list(stamps), dtype=stamps.dtype, column="d"))
    assert failures["row"].tolist() == [1002, 1003]


def test_reason_matches_the_documented_shape() -> None:
    failures = one("expect_column_values_to_match_regex", regex=EMAIL_REGEX).validate(frame(["a@b", "bob@"]))
    assert failures["reason"].tolist() == [
        rf"{COL}: 'bob@' does not match {EMAIL_REGEX} (expect_column_values_to_match_regex)"
    ]


def test_reason_truncates_long_values_and_shows_whole_floats_plainly() -> None:
    long_value = "x" * 200 + "@"
    reason = one("expect_column_values_to_match_regex", regex=EMAIL_REGEX).validate(frame([long_value]))
    text = reason["reason"].iloc[0]
    assert "'" + "x" * 56 + "..." in text and "x" * 100 not in text
    between = one("expect_column_values_to_be_between", min_value=0, max_value=10).validate(
        frame([2e6, None])
    )
    assert between["reason"].tolist() == [
        f"{COL}: 2000000 is not between 0 and 10 (expect_column_values_to_be_between)"
    ]
    assert one("expect_column_values_to_not_be_null").validate(frame([None]))["reason"].tolist() == [
        f"{COL}: value is missing (expect_column_values_to_not_be_null)"
    ]


def test_several_expectations_failing_on_one_row_give_one_failure_each() -> None:
    suite = QualitySuite.parse(
        [
            {"expect_column_values_to_not_be_null": {"column": "crmId"}},
            {
                "expect_column_values_to_match_regex": {
                    "column": "personalEmail.address",
                    "regex": EMAIL_REGEX,
                }
            },
            {
                "expect_column_values_to_be_in_set": {
                    "column": "loyalty.tier",
                    "value_set": ["bronze", "gold"],
                }
            },
            {
                "expect_column_values_to_be_between": {
                    "column": "loyalty.points",
                    "min_value": 0,
                    "max_value": 100,
                }
            },
            {"expect_column_values_to_be_unique": {"column": "crmId"}},
            {
                "expect_column_value_lengths_to_be_between": {
                    "column": "personalEmail.address",
                    "min_value": 5,
                }
            },
        ]
    )
    data = pd.DataFrame(
        {
            "crmId": ["a", None, "c", "a"],
            "personalEmail.address": ["x@y.z", "bob@", None, "q@r.s"],
            "loyalty.tier": ["gold", "tin", None, "gold"],
            "loyalty.points": [1, -5, None, 200],
            "unchecked": [1, 2, 3, 4],
        },
        index=pd.Index(["r1", "r2", "r3", "r4"]),
    )
    failures = suite.validate(data)
    assert list(zip(failures["row"], failures["expectation"], failures["field"], strict=True)) == [
        ("r1", "expect_column_values_to_be_unique", "crmId"),
        ("r2", "expect_column_values_to_not_be_null", "crmId"),
        ("r2", "expect_column_values_to_match_regex", "personalEmail.address"),
        ("r2", "expect_column_values_to_be_in_set", "loyalty.tier"),
        ("r2", "expect_column_values_to_be_between", "loyalty.points"),
        ("r2", "expect_column_value_lengths_to_be_between", "personalEmail.address"),
        ("r4", "expect_column_values_to_be_between", "loyalty.points"),
        ("r4", "expect_column_values_to_be_unique", "crmId"),
    ]
    assert failures.index.equals(pd.RangeIndex(8))


def test_duplicate_index_labels_are_reported_by_position() -> None:
    data = frame(["ok", None, "ok", None]).set_axis(pd.Index([7, 7, 8, 8]))
    assert one("expect_column_values_to_not_be_null").validate(data)["row"].tolist() == [7, 8]


def test_passing_chunk_gives_empty_failures() -> None:
    failures = one("expect_column_values_to_not_be_null").validate(frame(["a", "b"]))
    assert failures.empty and list(failures.columns) == list(FAILURE_COLUMNS)


def test_column_missing_from_records_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match=re.escape(f"do not have: {COL}")):
        one("expect_column_values_to_not_be_null").validate(frame(["a"], column="other"))


def test_expectation_gx_cannot_evaluate_is_reported() -> None:
    suite = one("expect_column_values_to_be_between", min_value=0, max_value=10)
    with pytest.raises(ConfigurationError, match=re.escape(f"expect_column_values_to_be_between on '{COL}'")):
        suite.validate(frame(["abc", "x"]))


def test_threads_validating_at_once_get_their_own_rows() -> None:
    suite = one("expect_column_values_to_be_between", min_value=0, max_value=10)
    results: dict[int, list[int]] = {}

    def work(k: int) -> None:
        values = np.zeros(2000)
        values[k :: 100 + k] = -1
        results[k] = suite.validate(frame(list(values)))["row"].tolist()

    threads = [threading.Thread(target=work, args=(k,)) for k in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for k in range(6):
        assert results[k] == [1000 + p for p in range(k, 2000, 100 + k)]


# --- empty inputs and laziness -----------------------------------------------------------------


def test_empty_frame_or_suite_returns_typed_empty_failures_without_gx(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def boom(*_: Any) -> None:
        raise AssertionError("GX must not run")

    monkeypatch.setattr(_gx, "run", boom)
    monkeypatch.setattr(_gx, "state", boom)
    suite = QualitySuite((Expectation("expect_column_values_to_not_be_null", {"column": COL}),))
    for result in (suite.validate(frame([])), QualitySuite().validate(frame(["a", None]))):
        assert result.empty and list(result.columns) == list(FAILURE_COLUMNS)
    assert suite.validate(frame([]))["row"].dtype == np.int64
    assert QualitySuite.parse(None) == QualitySuite.parse([]) == QualitySuite()


def test_importing_core_quality_does_not_import_great_expectations() -> None:
    code = (
        "import sys, pandas as pd\n"
        "import core.quality as q\n"
        "q.QualitySuite.parse(None)\n"
        "q.QualitySuite.parse([]).validate(pd.DataFrame({'a': [1]}))\n"
        "print('great_expectations' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120, check=True
    )
    assert result.stdout.strip() == "False"
