"""Tests for per-expectation results on a sample: counts, failing examples, observed values, errors."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from core.errors import ConfigurationError
from core.quality import ExpectationResult, FailingExample, QualitySuite, _gx

EMAIL_REGEX = r"^[^@\s]+@[^@\s]+$"
SUITE = QualitySuite.parse(
    [
        {"expect_column_values_to_not_be_null": {"column": "crmId"}},
        {"expect_column_values_to_match_regex": {"column": "personalEmail.address", "regex": EMAIL_REGEX}},
        {"expect_column_values_to_be_in_set": {"column": "loyalty.tier", "value_set": ["bronze", "gold"]}},
        {"expect_table_row_count_to_be_between": {"min_value": 1, "max_value": 100}},
        {"expect_column_mean_to_be_between": {"column": "loyalty.points", "min_value": 0, "max_value": 40}},
        {"expect_column_to_exist": {"column": "loyalty.points"}},
    ]
)


def sample() -> pd.DataFrame:
    """Ten mapped rows labelled r0..r9: one null id, seven bad emails, one unknown tier."""
    emails = ["a@b.c", "x", "y", None, "z", "w", "v", "u", "t", "ok@d.e"]
    return pd.DataFrame(
        {
            "crmId": ["c0", "c1", None, "c3", "c4", "c5", "c6", "c7", "c8", "c9"],
            "personalEmail.address": emails,
            "loyalty.tier": ["gold", "bronze", "tin", None, "gold", "gold", "gold", "gold", "gold", "gold"],
            "loyalty.points": pd.array([10, 20, None, 30, 40, 50, 60, 70, 80, 90], dtype="Int64"),
        },
        index=[f"r{i}" for i in range(10)],
    )


def by_type(results: list[ExpectationResult]) -> dict[str, ExpectationResult]:
    return {result.expectation: result for result in results}


def test_results_give_counts_and_up_to_five_failing_examples_in_row_order() -> None:
    results = by_type(SUITE.results(sample()))
    assert len(results) == len(SUITE.expectations)
    not_null = results["expect_column_values_to_not_be_null"]
    assert (not_null.success, not_null.evaluated, not_null.unexpected) == (False, 10, 1)
    assert not_null.examples == (FailingExample("r2", None),)
    assert not_null.unexpected_percent == 10.0
    regex = results["expect_column_values_to_match_regex"]
    assert (regex.unexpected, regex.column, regex.row_level) == (7, "personalEmail.address", True)
    assert regex.examples == tuple(
        FailingExample(row, value)
        for row, value in [("r1", "x"), ("r2", "y"), ("r4", "z"), ("r5", "w"), ("r6", "v")]
    )
    tier = results["expect_column_values_to_be_in_set"]
    assert tier.examples == (FailingExample("r2", "tin"),) and tier.kwargs["value_set"] == ["bronze", "gold"]


def test_aggregate_results_carry_the_observed_value() -> None:
    results = by_type(SUITE.results(sample()))
    count = results["expect_table_row_count_to_be_between"]
    assert (count.success, count.observed_value, count.column, count.row_level) == (True, 10, None, False)
    mean = results["expect_column_mean_to_be_between"]
    assert (mean.success, mean.observed_value, mean.evaluated) == (False, 50.0, 9)
    assert type(mean.observed_value) is float  # not a numpy scalar: results render and serialise
    exists = results["expect_column_to_exist"]
    assert (exists.success, exists.observed_value, exists.unexpected, exists.examples) == (True, True, 0, ())


def test_passing_expectation_has_no_examples() -> None:
    suite = QualitySuite.parse([{"expect_column_values_to_not_be_null": {"column": "a"}}])
    (result,) = suite.results(pd.DataFrame({"a": [1, 2]}))
    assert (result.success, result.unexpected, result.examples, result.error) == (True, 0, (), None)


def test_results_report_what_cannot_be_evaluated_instead_of_raising() -> None:
    suite = QualitySuite.parse(
        [
            {"expect_column_values_to_be_between": {"column": "crmId", "min_value": 0}},
            {"expect_column_values_to_not_be_null": {"column": "missing.field"}},
            {"expect_column_to_exist": {"column": "missing.field"}},
            {"expect_column_values_to_not_be_null": {"column": "crmId"}},
        ]
    )
    between, missing, exists, not_null = suite.results(sample())
    assert not between.success and between.error and between.evaluated == 0
    assert missing.error == "the records have no field 'missing.field'" and not missing.success
    assert (exists.success, exists.observed_value, exists.error) == (False, False, None)
    assert not_null.unexpected == 1 and not_null.error is None
    with pytest.raises(ConfigurationError, match=r"do not have: missing\.field"):
        suite.evaluate(sample())
    with pytest.raises(ConfigurationError, match="could not be evaluated"):
        QualitySuite(suite.expectations[:1]).evaluate(sample())


def test_evaluate_gives_validate_failures_and_the_results_in_one_pass(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[int] = []
    real_run = _gx.run

    def counting_run(frame: pd.DataFrame, specs: Any) -> Any:
        calls.append(len(specs))
        return real_run(frame, specs)

    monkeypatch.setattr(_gx, "run", counting_run)
    evaluation = SUITE.evaluate(sample())
    assert calls == [len(SUITE.expectations)]
    pd.testing.assert_frame_equal(evaluation.failures, SUITE.validate(sample()))
    assert list(evaluation.results) == SUITE.results(sample())
    assert calls[1] == 3  # validate evaluates the row-level expectations only


def test_results_on_an_empty_frame_need_no_gx(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_: Any) -> None:
        raise AssertionError("GX must not run")

    monkeypatch.setattr(_gx, "run", boom)
    results = by_type(SUITE.results(sample().iloc[:0]))
    assert all(r.success and r.evaluated == 0 for r in results.values() if r.row_level)
    assert results["expect_table_row_count_to_be_between"].observed_value == 0
    assert not results["expect_table_row_count_to_be_between"].success
    assert results["expect_column_mean_to_be_between"].observed_value is None
    assert results["expect_column_to_exist"].success


def test_results_on_the_row_count_alone_and_an_absent_field() -> None:
    suite = QualitySuite.parse(
        [
            {"expect_table_row_count_to_be_between": {"max_value": 5}},
            {"expect_column_to_exist": {"column": "nowhere"}},
        ]
    )
    count, exists = suite.results(sample())
    assert (count.success, count.observed_value) == (False, 10)
    assert (exists.success, exists.observed_value) == (False, False)
    assert suite.validate(sample()).empty
