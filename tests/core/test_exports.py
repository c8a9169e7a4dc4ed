"""Downloads neutralised against formula injection: every risky prefix, and nothing else touched."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pandas as pd
import pytest

from core.exports import FORMULA_PREFIXES, neutralise, to_csv_bytes, to_json_bytes


@pytest.mark.parametrize("prefix", FORMULA_PREFIXES)
def test_every_risky_prefix_gets_a_quote_in_csv_and_json(prefix: str) -> None:
    frame = pd.DataFrame({"value": [f"{prefix}SUM(A1)", "plain"]})
    cells = [row["value"] for row in csv.DictReader(io.StringIO(to_csv_bytes(frame).decode("utf-8")))]
    assert cells == [f"'{prefix}SUM(A1)", "plain"]
    assert [row["value"] for row in json.loads(to_json_bytes(frame))] == [f"'{prefix}SUM(A1)", "plain"]


def test_the_prefixes_are_the_owasp_six() -> None:
    assert set(FORMULA_PREFIXES) == {"=", "+", "-", "@", "\t", "\r"}


def test_numbers_missing_values_and_numeric_text_stay_as_they_are() -> None:
    frame = pd.DataFrame(
        {
            "integer": [-1, 2, -3],
            "real": [-1.5, np.nan, 2.0],
            "text": ["-12", "+3.5", None],
            "mixed": [-7, "=1+1", np.nan],
            "when": pd.to_datetime(["2026-01-01", None, "2026-01-03"]),
        }
    )
    out = neutralise(frame)
    pd.testing.assert_frame_equal(out[["integer", "real", "when"]], frame[["integer", "real", "when"]])
    assert out["text"].tolist()[:2] == ["-12", "+3.5"] and pd.isna(out["text"].iloc[2])
    assert out["mixed"].iloc[0] == -7 and out["mixed"].iloc[1] == "'=1+1" and pd.isna(out["mixed"].iloc[2])
    lines = to_csv_bytes(frame).decode("utf-8").splitlines()
    assert lines[1] == "-1,-1.5,-12,-7,2026-01-01"
    assert json.loads(to_json_bytes(frame))[1]["real"] is None


def test_a_carriage_return_inside_a_cell_never_starts_a_new_row() -> None:
    frame = pd.DataFrame({"a": ["\r=cmd", "x\r=cmd", "x\n@cmd"], "b": [1, 2, 3]})
    rows = list(csv.reader(io.StringIO(to_csv_bytes(frame).decode("utf-8"), newline="")))
    assert rows == [["a", "b"], ["'\r=cmd", "1"], ["x\r=cmd", "2"], ["x\n@cmd", "3"]]


def test_headers_are_neutralised_and_the_input_is_left_alone() -> None:
    frame = pd.DataFrame({"=cmd": ["@x"], "ok": ["fine"]})
    out = neutralise(frame)
    assert list(out.columns) == ["'=cmd", "ok"] and out.iloc[0, 0] == "'@x"
    assert list(frame.columns) == ["=cmd", "ok"] and frame.iloc[0, 0] == "@x"


def test_raw_exports_are_possible_for_programs() -> None:
    frame = pd.DataFrame({"a": ["=1"]})
    assert to_csv_bytes(frame, neutralised=False) == b"a\r\n=1\r\n"
    assert json.loads(to_json_bytes(frame, neutralised=False)) == [{"a": "=1"}]


def test_a_large_frame_is_neutralised_quickly() -> None:
    import time

    frame = pd.DataFrame({"a": ["=x", "ok", "-5", None] * 50_000, "b": range(200_000)})
    started = time.perf_counter()
    out = neutralise(frame)
    assert time.perf_counter() - started < 2.0
    assert (out["a"] == "'=x").sum() == 50_000


def test_columns_of_dates_and_timestamps_are_left_as_they_are():
    frame = pd.DataFrame(
        {
            "day": pd.to_datetime(["2024-01-02", None]).date,
            "at": pd.to_datetime(["2024-01-02T03:04:05Z", None]),
            "text": ["=1+1", "ok"],
        }
    )
    out = neutralise(frame)
    assert out["day"].tolist() == frame["day"].tolist()
    assert out["at"].equals(frame["at"])
    assert out["text"].tolist() == ["'=1+1", "ok"]
