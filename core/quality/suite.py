"""A dataflow's quality rules: Great Expectations expectations, parsed from YAML, run on each chunk.

The user writes GX's own vocabulary as a list of single-key mappings::

    quality:
      - expect_column_values_to_not_be_null: {column: crmId}
      - expect_column_values_to_be_between: {column: loyalty.points, min_value: 0}

The types on offer are :data:`core.quality.catalog.EXPECTATION_TYPES`. Row-level ones name the
rows to quarantine; aggregate ones (row count, mean, a field's presence) pass or fail for the
data as a whole and quarantine nothing. Semantics follow GX's:

* Nulls (None, NaN, NA) pass every row-level expectation except
  ``expect_column_values_to_not_be_null`` (which fails them) and
  ``expect_column_values_to_be_null`` (which fails the others): add ``not_be_null`` when a
  field is required.
* ``expect_column_values_to_be_unique`` flags every row of a duplicated value, and only sees
  one chunk at a time.
* ``mostly`` is not offered: each failing row is quarantined, and the dataflow's error
  threshold decides when too many failed.

Parsing and validating import Great Expectations on first use (several seconds, once per
process); importing this module does not.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from core.errors import ConfigurationError, RunFailedError
from core.quality import _gx, _text
from core.quality._text import did_you_mean, show
from core.quality.catalog import EXPECTATION_TYPES
from core.quality.expectation import EXAMPLE, Expectation, parse_expectation
from core.quality.results import (
    FIELD_EXISTS,
    ExpectationResult,
    SuiteEvaluation,
    aggregate_on_empty,
    examples,
)

FAILURE_COLUMNS = ("row", "expectation", "field", "code", "reason")
FAILURE_CODE = "quality"


def supported_expectations() -> tuple[str, ...]:
    """Names of the GX expectations a quality list may use (the catalog's; does not import GX)."""
    return tuple(EXPECTATION_TYPES)


@dataclass(frozen=True)
class QualitySuite:
    """The ordered expectations of one dataflow."""

    expectations: tuple[Expectation, ...] = ()

    @classmethod
    def parse(cls, items: list[Any] | None) -> QualitySuite:
        """Build a suite from the YAML ``quality:`` list, raising ConfigurationError on any mistake."""
        if items is None:
            return cls()
        if not isinstance(items, list | tuple):
            raise ConfigurationError(
                f"quality must be a list of expectations such as `{EXAMPLE}`, got {show(items)}"
            )
        return cls(tuple(parse_expectation(position, item) for position, item in enumerate(items, 1)))

    @property
    def columns(self) -> frozenset[str]:
        """The fields the expectations refer to."""
        return frozenset(e.column for e in self.expectations if e.column is not None)

    def to_list(self) -> list[dict[str, dict[str, Any]]]:
        """Export as the YAML ``quality:`` list."""
        return [expectation.to_dict() for expectation in self.expectations]

    def check_columns(self, available: Collection[str]) -> None:
        """Raise ConfigurationError if an expectation names a field the mapping does not produce."""
        known = set(available)
        problems = [
            f"{e.type} names '{e.column}'{did_you_mean(e.column, known)}"
            for e in self.expectations
            if e.column is not None and e.column not in known
        ]
        if problems:
            shown = ", ".join(sorted(known)[:20]) + (", ..." if len(known) > 20 else "")
            raise ConfigurationError(
                "Quality expectations name fields the mapping does not produce: "
                + "; ".join(problems)
                + f". Mapped fields: {shown or '(none)'}."
            )

    def validate(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Run the row-level expectations on a chunk; one row per (row, failed expectation).

        The hot path of every run: aggregate expectations are skipped (see :meth:`evaluate`).
        Columns are FAILURE_COLUMNS; ``row`` holds ``frame``'s index labels.
        """
        chosen = [i for i, e in enumerate(self.expectations) if e.row_level]
        return self._evaluate(frame, chosen, strict=True, with_results=False).failures

    def evaluate(self, frame: pd.DataFrame) -> SuiteEvaluation:
        """Run every expectation on a chunk in one GX call: the failures and each one's result.

        What a run calls per chunk to both quarantine rows and feed its
        :class:`~core.quality.summary.ValidationSummary`. Raises ConfigurationError, as
        :meth:`validate` does, when an expectation cannot be evaluated.
        """
        return self._evaluate(frame, range(len(self.expectations)), strict=True, with_results=True)

    def results(self, frame: pd.DataFrame) -> list[ExpectationResult]:
        """Each expectation's result on a sample, with up to five failing examples.

        Never raises for an expectation that cannot be evaluated (a field the sample lacks, a
        type GX cannot compare): its result says why in ``error``.
        """
        chosen = range(len(self.expectations))
        return list(self._evaluate(frame, chosen, strict=False, with_results=True).results)

    def _evaluate(
        self, frame: pd.DataFrame, chosen: Sequence[int], *, strict: bool, with_results: bool
    ) -> SuiteEvaluation:
        """Evaluate the expectations at ``chosen`` positions on ``frame``."""
        expectations = [self.expectations[i] for i in chosen]
        errors = _missing_fields(frame, expectations)
        if strict and errors:
            missing = sorted({str(expectations[number].column) for number in errors})
            raise ConfigurationError(
                f"Quality expectations name fields the records do not have: {', '.join(missing)}"
            )
        present = set(frame.columns)
        data = frame[sorted({e.column for e in expectations if e.column is not None and e.column in present})]
        data = data.set_axis(pd.RangeIndex(len(frame)), axis=0)
        runnable = [number for number in range(len(expectations)) if number not in errors]
        outcomes = _outcomes(frame, data, expectations, runnable)
        broken = {number: str(outcome.error) for number, outcome in outcomes.items() if outcome.error}
        if strict and broken:
            raise ConfigurationError(
                "Quality expectations could not be evaluated on the mapped records (does the field's "
                "type suit the expectation?): "
                + "; ".join(
                    f"{expectations[n].type} on '{expectations[n].column}': {m}" for n, m in broken.items()
                )
            )
        failures = _failures(frame.index, expectations, data, outcomes)
        if not with_results:
            return SuiteEvaluation(failures, ())
        errors.update(broken)
        results = tuple(
            _result(e, frame, data, outcomes.get(number), errors.get(number))
            for number, e in enumerate(expectations)
        )
        return SuiteEvaluation(failures, results)


def _missing_fields(frame: pd.DataFrame, expectations: Sequence[Expectation]) -> dict[int, str]:
    """Expectations (by position) on fields a non-empty frame lacks; a field's presence is its own test."""
    if not len(frame):
        return {}
    present = set(frame.columns)
    return {
        number: f"the records have no field '{e.column}'"
        for number, e in enumerate(expectations)
        if e.column is not None and e.column not in present and e.type != FIELD_EXISTS
    }


def _outcomes(
    frame: pd.DataFrame, data: pd.DataFrame, expectations: Sequence[Expectation], runnable: Sequence[int]
) -> dict[int, _gx.Outcome]:
    """GX's outcome for each runnable expectation, in one suite call; none needed without rows."""
    if not runnable:
        return {}
    if len(frame):
        specs = [(expectations[n].type, _runtime_kwargs(expectations[n], data)) for n in runnable]
        return dict(zip(runnable, _gx.run(data, specs), strict=True))
    outcomes = {}
    for number in runnable:
        e = expectations[number]
        success, observed = (
            (True, None) if e.row_level else aggregate_on_empty(e.type, e.kwargs, frame.columns)
        )
        outcomes[number] = _gx.Outcome(success, observed=observed)
    return outcomes


def _result(
    expectation: Expectation,
    frame: pd.DataFrame,
    data: pd.DataFrame,
    outcome: _gx.Outcome | None,
    error: str | None,
) -> ExpectationResult:
    """One expectation's result from its GX outcome."""
    make = functools.partial(
        ExpectationResult, expectation.type, expectation.column, expectation.kwargs, expectation.row_level
    )
    if error is not None or outcome is None:
        return make(success=False, evaluated=0, error=error or "not evaluated")
    if expectation.row_level:
        positions = outcome.positions
        shown = examples(frame.index, positions, data[expectation.column]) if positions.size else ()
        return make(
            success=positions.size == 0,
            evaluated=len(frame),
            unexpected=int(positions.size),
            examples=shown,
        )
    observed, evaluated = outcome.observed, len(frame)
    if expectation.type == FIELD_EXISTS:
        observed = expectation.column in frame.columns
    elif expectation.column is not None:  # the mean: the summary weighs it by its value count
        evaluated = int(data[expectation.column].count()) if expectation.column in data else 0
    return make(success=outcome.success, evaluated=evaluated, observed_value=observed)


def _failures(
    index: pd.Index,
    expectations: Sequence[Expectation],
    data: pd.DataFrame,
    outcomes: Mapping[int, _gx.Outcome],
) -> pd.DataFrame:
    """The failures frame, sorted by row then expectation; row labels come from ``index``."""
    pieces: list[tuple[np.ndarray, int, np.ndarray]] = []
    for number, outcome in outcomes.items():
        expectation = expectations[number]
        if not expectation.row_level or outcome.positions.size == 0:
            continue
        positions = outcome.positions
        if positions.min() < 0 or positions.max() >= len(index):
            raise RunFailedError(f"Great Expectations reported an unknown row for {expectation.type}")
        column = str(expectation.column)
        values = data[column].iloc[positions].to_numpy(dtype=object)
        pieces.append(
            (positions, number, _text.reasons(expectation.type, column, expectation.kwargs, values))
        )
    if not pieces:
        return pd.DataFrame(
            {"row": index[:0], **{name: pd.Series([], dtype=str) for name in FAILURE_COLUMNS[1:]}}
        )
    pos = np.concatenate([positions for positions, _, _ in pieces])
    num = np.concatenate([np.full(positions.size, number) for positions, number, _ in pieces])
    ranked = np.lexsort((num, pos))
    num = num[ranked]
    types = np.array([e.type for e in expectations], dtype=object)
    fields = np.array([e.column for e in expectations], dtype=object)
    return pd.DataFrame(
        {
            "row": index.take(pos[ranked]),
            "expectation": pd.array(types[num], dtype=str),
            "field": pd.array(fields[num], dtype=str),
            "code": FAILURE_CODE,
            "reason": pd.array(np.concatenate([reasons for _, _, reasons in pieces])[ranked], dtype=str),
        }
    )


def _runtime_kwargs(expectation: Expectation, data: pd.DataFrame) -> Mapping[str, Any]:
    """Kwargs for GX, with date bounds made Timestamps (in the column's zone) for datetime columns."""
    kwargs = expectation.kwargs
    if expectation.type != "expect_column_values_to_be_between":
        return kwargs
    column = data[expectation.column]
    if not pd.api.types.is_datetime64_any_dtype(column.dtype):
        return kwargs
    zone = getattr(column.dtype, "tz", None)
    adapted = dict(kwargs)
    for key in ("min_value", "max_value"):
        bound = kwargs.get(key)
        if bound is not None and not isinstance(bound, int | float):
            stamp = pd.Timestamp(bound)
            if zone is not None and stamp.tzinfo is None:
                stamp = stamp.tz_localize(zone)
            adapted[key] = stamp
    return adapted
