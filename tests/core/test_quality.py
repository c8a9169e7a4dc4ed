"""Tests for core.quality's suite: parsing the quality list and finding the exact failing rows.

The catalog's types one by one are in test_quality_catalog.py; results, summaries and
suggestions in their own files.
"""

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
from core.quality import FAILURE_COLUMNS, Expectation, QualitySuite, _gx

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


# --- aggregate expectations on the hot path ------------------------------------------------------


def test_validate_skips_aggregate_expectations_and_row_count_names_no_field() -> None:
    suite = QualitySuite.parse(
        [
            {"expect_table_row_count_to_be_between": {"min_value": 100}},
            {"expect_column_mean_to_be_between": {"column": "points", "max_value": 0}},
            {"expect_column_to_exist": {"column": "points"}},
            {"expect_column_values_to_not_be_null": {"column": "crmId"}},
        ]
    )
    assert suite.columns == {"points", "crmId"}
    suite.check_columns(["points", "crmId"])
    data = pd.DataFrame({"crmId": ["a", None], "points": [5, 6]})
    assert suite.validate(data)["expectation"].tolist() == ["expect_column_values_to_not_be_null"]
    with pytest.raises(ConfigurationError, match="do not have: crmId"):
        suite.validate(data[["points"]])
    assert suite.validate(data[["crmId"]])["row"].tolist() == [1]  # aggregates are not evaluated


def test_gx_does_not_fingerprint_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    from great_expectations.execution_engine import pandas_execution_engine

    def no_hashing(_: Any) -> str:
        raise AssertionError("GX hashed the chunk")

    monkeypatch.setattr(pandas_execution_engine, "hash_pandas_dataframe", no_hashing)
    suite = one("expect_column_values_to_not_be_null")
    assert suite.validate(frame(["a", None]))["row"].tolist() == [1001]


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
        "assert q.supported_expectations() and q.EXPECTATION_TYPES\n"
        "q.ValidationSummary.for_suite(q.QualitySuite()).to_json()\n"
        "q.suggest_expectations(pd.DataFrame({'a': [1, 2]}), {'a': 'crm_id'}, {'a': 'integer'})\n"
        "print('great_expectations' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120, check=True
    )
    assert result.stdout.strip() == "False"
