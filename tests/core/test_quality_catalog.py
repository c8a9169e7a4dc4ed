"""Tests for the expectation catalog: it matches GX, every type parses and catches its bad rows."""

from __future__ import annotations

from typing import Any

import pytest

from core.quality import (
    EXPECTATION_TYPES,
    FAILURE_COLUMNS,
    Parameter,
    QualitySuite,
    _gx,
    supported_expectations,
)
from tests.core.test_quality import COL, EMAIL_REGEX, config_error, frame, one

PARAMETER_TYPES = {"column", "str", "number", "integer", "bool", "regex", "list", "choice"}
AGGREGATES = {
    "expect_column_to_exist",
    "expect_table_row_count_to_be_between",
    "expect_column_mean_to_be_between",
}


def form_value(parameter: Parameter) -> Any:
    """What a form would submit for ``parameter``, filled in with a valid value of its type."""
    if parameter.type == "list":
        return ["^a", "^b"] if parameter.items == "regex" else ["a", "b"]
    return {
        "column": COL,
        "str": "%Y-%m-%d",
        "number": 0,
        "integer": 1 if parameter.name != "max_value" else 5,
        "bool": False,
        "regex": "^a",
        "choice": parameter.choices[0] if parameter.choices else None,
    }[parameter.type]


# --- the catalog ---------------------------------------------------------------------------------


def test_catalog_has_the_common_types_and_the_supported_list_is_the_catalog() -> None:
    for name in (
        "expect_column_values_to_not_be_null",
        "expect_column_values_to_be_unique",
        "expect_column_values_to_match_regex",
        "expect_column_values_to_not_match_regex",
        "expect_column_values_to_be_in_set",
        "expect_column_values_to_not_be_in_set",
        "expect_column_values_to_be_between",
        "expect_column_value_lengths_to_be_between",
        "expect_column_values_to_match_strftime_format",
        *AGGREGATES,
    ):
        assert name in EXPECTATION_TYPES
    assert supported_expectations() == tuple(EXPECTATION_TYPES)
    assert {n for n, t in EXPECTATION_TYPES.items() if not t.row_level} == AGGREGATES
    assert "expect_column_proportion_of_unique_values_to_be_between" not in EXPECTATION_TYPES


@pytest.mark.parametrize("name", list(EXPECTATION_TYPES))
def test_each_type_is_described_for_a_form(name: str) -> None:
    kind = EXPECTATION_TYPES[name]
    assert kind.name == name and kind.level in ("row", "aggregate")
    assert kind.title and kind.title[0].isupper() and len(kind.title) <= 40
    assert kind.description.endswith(".")
    for parameter in kind.parameters:
        assert parameter.type in PARAMETER_TYPES and parameter.help
        assert bool(parameter.choices) == (parameter.type == "choice")
        assert parameter.default is None or not parameter.required
    assert ("column" in kind.parameter_names) == (name != "expect_table_row_count_to_be_between")


@pytest.mark.parametrize("name", list(EXPECTATION_TYPES))
def test_each_type_matches_its_gx_class(name: str) -> None:
    from great_expectations.expectations.expectation import ColumnMapExpectation

    kind, cls = EXPECTATION_TYPES[name], _gx.state().classes[name]
    assert issubclass(cls, ColumnMapExpectation) == kind.row_level
    assert kind.parameter_names == _gx.allowed_keys(cls)
    assert set(_gx.required_keys(cls)) <= set(kind.required)
    for parameter in kind.parameters:
        if not parameter.required:  # Tributary requires a regex that GX defaults to "(?s).*"
            assert parameter.default == cls.__fields__[parameter.name].default


@pytest.mark.parametrize("name", list(EXPECTATION_TYPES))
def test_a_form_filled_from_the_catalog_parses(name: str) -> None:
    kind = EXPECTATION_TYPES[name]
    required = {p.name: form_value(p) for p in kind.parameters if p.required}
    everything = {p.name: form_value(p) for p in kind.parameters}
    if not any(p.name == "max_value" for p in kind.parameters):
        assert QualitySuite.parse([{name: required}]).to_list() == [{name: required}]
    assert QualitySuite.parse([{name: everything}]).expectations[0].row_level == kind.row_level


# --- parameter errors ----------------------------------------------------------------------------


def test_gx_expectation_not_in_the_catalog_is_refused_with_the_reason() -> None:
    message = config_error(
        [{"expect_column_proportion_of_unique_values_to_be_between": {"column": "a", "min_value": 1}}]
    )
    assert "is a Great Expectations expectation, but not one Tributary offers" in message
    assert "Supported: " in message and "expect_column_mean_to_be_between" in message


def test_row_count_refuses_a_column_and_lists_its_keys() -> None:
    message = config_error([{"expect_table_row_count_to_be_between": {"column": "a", "min_value": 1}}])
    assert "quality item 1 (expect_table_row_count_to_be_between): unknown key 'column'" in message
    assert "Allowed keys: min_value, max_value, strict_min, strict_max" in message
    assert "give at least one bound" in config_error([{"expect_table_row_count_to_be_between": {}}])


@pytest.mark.parametrize(
    ("name", "kwargs", "expected"),
    [
        (
            "expect_column_values_to_be_between",
            {"min_value": 0, "strict_min": "yes"},
            "'strict_min' is invalid",
        ),
        ("expect_column_value_lengths_to_be_between", {"min_value": 2.5}, "'min_value' is invalid"),
        ("expect_column_value_lengths_to_equal", {"value": True}, "it must be a whole number"),
        ("expect_column_values_to_match_strftime_format", {"strftime_format": 3}, "'%Y-%m-%d'"),
        ("expect_column_values_to_match_regex_list", {"regex_list": []}, "got an empty list"),
        ("expect_column_values_to_not_match_regex", {"regex": 5}, "'regex' must be a regular expression"),
        ("expect_column_mean_to_be_between", {"min_value": 10, "max_value": 1}, "is above 'max_value'"),
        ("expect_column_mean_to_be_between", {"mostly": 0.5, "min_value": 1}, "unknown key 'mostly'"),
        ("expect_column_to_exist", {"column_index": 0}, "unknown key 'column_index'"),
    ],
)
def test_catalog_parameter_types_are_enforced(name: str, kwargs: dict, expected: str) -> None:
    message = config_error([{name: {"column": "a", **kwargs}}])
    assert f"quality item 1 ({name})" in message and expected in message


def test_unknown_name_suggests_the_close_match_and_lists_supported() -> None:
    message = config_error([{"expect_column_values_to_not_be_nul": {"column": "a"}}])
    assert "unknown expectation 'expect_column_values_to_not_be_nul'" in message
    assert "did you mean 'expect_column_values_to_not_be_null'" in message
    assert "Supported: " in message and "expect_column_values_to_be_between" in message


def test_short_name_suggests_the_full_gx_name() -> None:
    assert "did you mean 'expect_column_values_to_not_be_null'" in config_error(
        [{"not_be_null": {"column": "a"}}]
    )


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
        ("expect_column_values_to_be_between", {}, "cannot both be empty: give at least one bound"),
        ("expect_column_mean_to_be_between", {"max_value": None}, "give at least one bound"),
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


def test_every_row_level_type_has_a_case() -> None:
    assert {case[0] for case in CASES} == {n for n, t in EXPECTATION_TYPES.items() if t.row_level}


# --- aggregate types: judged on the whole frame, never quarantining rows --------------------------

AGGREGATE_CASES: list[tuple[str, dict[str, Any], list[Any], bool, Any]] = [
    ("expect_column_to_exist", {"column": COL}, [1, 2], True, True),
    ("expect_column_to_exist", {"column": "other"}, [1, 2], False, False),
    ("expect_table_row_count_to_be_between", {"min_value": 2, "max_value": 3}, [1, None, 3], True, 3),
    (
        "expect_table_row_count_to_be_between",
        {"min_value": 1, "max_value": 3, "strict_max": True},
        [1, 2, 3],
        False,
        3,
    ),
    (
        "expect_column_mean_to_be_between",
        {"column": COL, "min_value": 1, "max_value": 3},
        [1, None, 3],
        True,
        2.0,
    ),
    (
        "expect_column_mean_to_be_between",
        {"column": COL, "min_value": 0, "max_value": 1},
        [1, 4, 4],
        False,
        3.0,
    ),
    ("expect_column_mean_to_be_between", {"column": COL, "min_value": 0}, [None, None], False, None),
]


@pytest.mark.parametrize(("name", "kwargs", "values", "success", "observed"), AGGREGATE_CASES)
def test_each_aggregate_type_passes_or_fails_the_frame_and_quarantines_nothing(
    name: str, kwargs: dict, values: list[Any], success: bool, observed: Any
) -> None:
    suite = QualitySuite.parse([{name: kwargs}])
    data = frame(values, dtype="Float64" if "mean" in name else None)
    (result,) = suite.results(data)
    assert (result.success, result.observed_value, result.error) == (success, observed, None)
    assert result.unexpected == 0 and result.examples == ()
    assert suite.validate(data).empty and suite.evaluate(data).failures.empty


def test_every_aggregate_type_has_a_passing_and_a_failing_case() -> None:
    assert {(case[0], case[3]) for case in AGGREGATE_CASES} == {
        (name, success) for name in AGGREGATES for success in (True, False)
    }
