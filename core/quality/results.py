"""Per-expectation results of a suite on one frame: counts, failing examples, observed values."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

MAX_EXAMPLES = 5
FIELD_EXISTS = "expect_column_to_exist"
ROW_COUNT = "expect_table_row_count_to_be_between"


@dataclass(frozen=True)
class FailingExample:
    """A value that failed a row-level expectation, and the label of its row in the frame given."""

    row: Any
    value: Any


@dataclass(frozen=True)
class ExpectationResult:
    """How one expectation fared on one frame (a sample or a run's chunk).

    Attributes:
        expectation: the GX expectation type.
        column: the field checked, or None for the row count.
        kwargs: the expectation's arguments, as written in the ``quality:`` list.
        row_level: True when failing rows are quarantined; False for aggregate expectations.
        success: GX's verdict on this frame (False when it could not be evaluated).
        evaluated: row-level and row count: the rows checked; mean: the non-empty values
            averaged; field exists: the rows of the frame.
        unexpected: the rows that failed (always 0 for aggregate expectations).
        observed_value: aggregate expectations: what GX measured (the row count, the mean
            (None without values), whether the field exists); None for row-level ones.
        examples: up to five failing values with their row labels, in row order.
        error: why the expectation could not be evaluated (a field missing, a type GX cannot
            compare), or None.
    """

    expectation: str
    column: str | None
    kwargs: Mapping[str, Any]
    row_level: bool
    success: bool
    evaluated: int
    unexpected: int = 0
    observed_value: Any = None
    examples: tuple[FailingExample, ...] = ()
    error: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "kwargs", MappingProxyType(dict(self.kwargs)))

    @property
    def unexpected_percent(self) -> float:
        """Failing rows as a percentage of the rows checked (0.0 when none were)."""
        return 100.0 * self.unexpected / self.evaluated if self.evaluated else 0.0


@dataclass(frozen=True)
class SuiteEvaluation:
    """A suite run on one frame: the rows to quarantine and each expectation's result.

    Attributes:
        failures: one row per (row, failed row-level expectation), as ``QualitySuite.validate``.
        results: one result per expectation of the suite, in the suite's order.
    """

    failures: pd.DataFrame
    results: tuple[ExpectationResult, ...]


def within(observed: Any, kwargs: Mapping[str, Any]) -> bool:
    """Whether an observed number satisfies ``min_value``/``max_value``/``strict_*`` as GX judges it.

    A missing observation (the mean of no values) fails, as it does in GX.
    """
    if observed is None or (isinstance(observed, float) and math.isnan(observed)):
        return False
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    if low is not None and (observed <= low if kwargs.get("strict_min") else observed < low):
        return False
    return not (high is not None and (observed >= high if kwargs.get("strict_max") else observed > high))


def aggregate_on_empty(name: str, kwargs: Mapping[str, Any], columns: pd.Index) -> tuple[bool, Any]:
    """``(success, observed)`` of an aggregate expectation on a frame without rows, without GX."""
    if name == FIELD_EXISTS:
        present = kwargs["column"] in columns
        return present, present
    if name == ROW_COUNT:
        return within(0, kwargs), 0
    return False, None  # the mean of no values


def examples(index: pd.Index, positions: np.ndarray, values: pd.Series) -> tuple[FailingExample, ...]:
    """The first failing values, in row order, with their row labels."""
    first = np.sort(positions)[:MAX_EXAMPLES]
    shown = values.iloc[first].to_numpy(dtype=object)
    return tuple(
        FailingExample(_plain(row), _plain(value))
        for row, value in zip(index.take(first), shown, strict=True)
    )


def _plain(value: Any) -> Any:
    """Numpy scalars as Python values and any missing value as None, to render and serialise plainly."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    return None if isinstance(value, float) and math.isnan(value) else value
