"""Tests for a run's validation summary: chunk by chunk it totals what the whole data would give."""

from __future__ import annotations

import datetime as dt
import itertools
import json

import numpy as np
import pandas as pd
import pytest

from core.quality import QualitySuite, ValidationSummary

ROWS = 1000
SUITE = QualitySuite.parse(
    [
        {"expect_column_values_to_not_be_null": {"column": "crmId"}},
        {"expect_column_values_to_be_unique": {"column": "crmId"}},
        {"expect_column_values_to_match_regex": {"column": "email", "regex": r"^[^@\s]+@[^@\s]+$"}},
        {"expect_column_values_to_be_in_set": {"column": "tier", "value_set": ["bronze", "gold"]}},
        {"expect_column_values_to_be_between": {"column": "points", "min_value": 0, "max_value": 900}},
        {"expect_column_value_lengths_to_be_between": {"column": "email", "max_value": 25}},
        {"expect_table_row_count_to_be_between": {"min_value": 900, "max_value": 1100}},
        {"expect_column_mean_to_be_between": {"column": "points", "min_value": 400, "max_value": 600}},
        {"expect_column_to_exist": {"column": "tier"}},
    ]
)
CHUNKS = (0, 250, 250, 600, 601, 1000)  # boundaries: one empty chunk, one of a single row


def run_data() -> pd.DataFrame:
    """A run's mapped records; duplicated ids stay within one chunk, as per-chunk uniqueness sees them."""
    rng = np.random.default_rng(7)
    ids = np.array([f"C{i:05d}" for i in range(ROWS)], dtype=object)
    ids[[10, 11]] = "C-dup"  # both in the first chunk
    ids[rng.choice(ROWS, 15, replace=False)] = None
    emails = np.array([f"person{i}@example.com" for i in range(ROWS)], dtype=object)
    emails[rng.choice(ROWS, 40, replace=False)] = "not-an-email"
    points = pd.array(
        np.where(np.arange(ROWS) < 400, rng.integers(0, 300, ROWS), rng.integers(300, 1000, ROWS))
    )
    return pd.DataFrame(
        {
            "crmId": ids,
            "email": emails,
            "tier": rng.choice(np.array(["bronze", "gold", "tin"], dtype=object), ROWS, p=[0.5, 0.45, 0.05]),
            "points": points.astype("Int64"),
        }
    )


def chunked(data: pd.DataFrame) -> list[pd.DataFrame]:
    return [data.iloc[start:end] for start, end in itertools.pairwise(CHUNKS)]


def accumulate(suite: QualitySuite, chunks: list[pd.DataFrame]) -> ValidationSummary:
    summary = ValidationSummary.for_suite(suite)
    for chunk in chunks:
        summary = summary.add(suite.evaluate(chunk).results)
    return summary


def test_summary_over_chunks_equals_the_results_on_all_the_data_at_once() -> None:
    data = run_data()
    summary = accumulate(SUITE, chunked(data))
    whole = SUITE.results(data)
    assert summary.chunks == len(CHUNKS) - 1
    for entry, result in zip(summary.expectations, whole, strict=True):
        assert (entry.expectation, entry.column) == (result.expectation, result.column)
        assert (entry.evaluated, entry.unexpected) == (result.evaluated, result.unexpected), entry.expectation
        assert entry.success == result.success, entry.expectation
        assert entry.observed_value == pytest.approx(result.observed_value), entry.expectation
        assert entry.unexpected_percent == pytest.approx(result.unexpected_percent)
    assert summary.success is False
    assert [e.success for e in summary.expectations] == [
        False,
        False,
        False,
        False,
        False,
        True,
        True,
        True,
        True,
    ]


def test_aggregates_are_judged_on_the_run_not_on_any_chunk() -> None:
    data = run_data()
    per_chunk = [SUITE.evaluate(chunk).results for chunk in chunked(data) if len(chunk)]
    count_and_mean = [(r[6].success, r[7].success) for r in per_chunk]
    assert not any(count for count, _ in count_and_mean)  # no chunk has 900 rows
    assert not all(mean for _, mean in count_and_mean)  # the first chunk's mean is low
    summary = accumulate(SUITE, chunked(data))
    assert summary.expectations[6].observed_value == ROWS and summary.expectations[6].success
    assert summary.expectations[7].success


def test_uniqueness_counts_duplicates_within_chunks_as_the_run_quarantines_them() -> None:
    data = run_data()
    data.loc[900, "crmId"] = "C00000"  # the same id as row 0, in another chunk
    suite = QualitySuite(SUITE.expectations[1:2])
    summary = accumulate(suite, chunked(data))
    assert summary.expectations[0].unexpected == 2  # C-dup twice; C00000 is once per chunk
    assert suite.results(data)[0].unexpected == 4


def test_examples_are_kept_from_the_first_chunks_up_to_five() -> None:
    summary = accumulate(SUITE, chunked(run_data()))
    regex = summary.expectations[2]
    assert regex.examples == ("'not-an-email'",) * 5
    assert summary.expectations[0].examples == ("None",) * 5
    assert summary.expectations[6].examples == ()


def test_json_round_trip_through_text_and_dict() -> None:
    summary = accumulate(SUITE, chunked(run_data()))
    text = json.dumps(summary.to_json())
    assert ValidationSummary.from_json(text) == summary
    assert ValidationSummary.from_json(json.loads(text)) == summary
    payload = json.loads(text)
    assert payload["success"] is False and payload["chunks"] == 5
    assert payload["gx_version"] == __import__("great_expectations").__version__
    first = payload["expectations"][0]
    assert first["expectation"] == "expect_column_values_to_not_be_null" and first["unexpected"] == 15
    assert first["unexpected_percent"] == pytest.approx(1.5)


def test_add_and_merge_return_new_summaries_and_partitions_merge_to_the_whole() -> None:
    chunks = chunked(run_data())
    empty = ValidationSummary.for_suite(SUITE)
    once = empty.add(SUITE.evaluate(chunks[0]).results)
    assert empty.chunks == 0 and once.chunks == 1
    merged = accumulate(SUITE, chunks[:2]).merge(accumulate(SUITE, chunks[2:]))
    whole = accumulate(SUITE, chunks)
    assert merged.chunks == whole.chunks and merged.success == whole.success
    for mine, theirs in zip(merged.expectations, whole.expectations, strict=True):
        assert (mine.evaluated, mine.unexpected, mine.success) == (
            theirs.evaluated,
            theirs.unexpected,
            theirs.success,
        )
        assert mine.observed_value == pytest.approx(theirs.observed_value)


def test_summary_of_no_chunks() -> None:
    summary = ValidationSummary.for_suite(SUITE)
    row_level = [e.success for e in summary.expectations if e.row_level]
    assert all(row_level) and summary.expectations[6].observed_value == 0
    assert not summary.expectations[6].success  # 0 rows is below min_value 900
    assert not summary.expectations[7].success  # no values, no mean
    assert ValidationSummary.for_suite(QualitySuite()).to_json() == {
        "success": True,
        "chunks": 0,
        "gx_version": summary.gx_version,
        "expectations": [],
    }


def test_results_of_another_suite_are_refused() -> None:
    summary = ValidationSummary.for_suite(SUITE)
    other = QualitySuite(SUITE.expectations[:2])
    with pytest.raises(ValueError, match="different suites"):
        summary.add(other.evaluate(run_data()).results)
    swapped = QualitySuite((SUITE.expectations[1], SUITE.expectations[0], *SUITE.expectations[2:]))
    with pytest.raises(ValueError, match="different suites"):
        summary.add(swapped.evaluate(run_data()).results)


def test_date_bounds_and_errors_serialise() -> None:
    suite = QualitySuite.parse(
        [
            {
                "expect_column_values_to_be_between": {
                    "column": "joined",
                    "min_value": dt.date(2020, 1, 1),
                    "max_value": dt.date(2030, 1, 1),
                }
            },
            {"expect_column_mean_to_be_between": {"column": "name", "min_value": 0}},
        ]
    )
    data = pd.DataFrame({"joined": pd.to_datetime(["2019-06-01", "2024-01-01"]), "name": ["a", "b"]})
    summary = ValidationSummary.for_suite(suite).add(suite.results(data))
    payload = json.loads(json.dumps(summary.to_json()))
    assert payload["expectations"][0]["kwargs"]["min_value"] == "2020-01-01"
    assert payload["expectations"][0]["examples"] == ["2019-06-01 00:00:00"]
    assert payload["expectations"][1]["error"] and payload["expectations"][1]["success"] is False
    assert ValidationSummary.from_json(payload) == summary
