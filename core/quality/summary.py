"""A run's validation summary: each expectation's totals over all chunks, JSON-serialisable.

A run starts with :meth:`ValidationSummary.for_suite` and adds each chunk's
``QualitySuite.evaluate(chunk).results``. Summaries are immutable: ``add`` and ``merge`` return
a new one, so a run can store the summary in the same transaction as the chunk and keep the
previous one if that transaction fails; summaries of partitions run apart ``merge``.

How each expectation is judged over a run:

* Row-level: ``evaluated`` and ``unexpected`` are summed; it succeeds when no row failed.
  ``expect_column_values_to_be_unique`` counts the duplicates found within each chunk (what the
  run quarantined), not across chunks.
* Aggregate ones are judged once, on the run's totals, never per chunk: the row count on the sum
  of the chunks' rows, the mean on the mean of all values (each chunk's mean weighted by its
  number of values), a field's presence on every chunk having it. The verdict is the same as
  GX's on all the chunks' rows at once. A run with no chunks has 0 rows, no mean (which fails,
  as in GX) and has not shown a field (which fails too).
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib.metadata
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any

import numpy as np

from core.quality._text import show
from core.quality.results import FIELD_EXISTS, MAX_EXAMPLES, ROW_COUNT, ExpectationResult, within
from core.quality.suite import QualitySuite


@dataclass(frozen=True)
class ExpectationSummary:
    """One expectation's totals over a run.

    Attributes:
        expectation: the GX expectation type.
        column: the field checked, or None for the row count.
        kwargs: its arguments (dates as ISO strings).
        row_level: True when failing rows were quarantined.
        evaluated: rows checked (for the mean: values averaged).
        unexpected: rows that failed (row-level only).
        observed_value: aggregate ones: the run's row count, mean or the field's presence.
        examples: up to five failing values, as displayed in reasons.
        error: the first reason an evaluation failed, or None.
    """

    expectation: str
    column: str | None
    kwargs: Mapping[str, Any]
    row_level: bool
    evaluated: int = 0
    unexpected: int = 0
    observed_value: Any = None
    examples: tuple[str, ...] = ()
    error: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "kwargs", MappingProxyType(_jsonable(dict(self.kwargs))))

    @property
    def success(self) -> bool:
        """Whether the run's data met this expectation."""
        if self.error is not None:
            return False
        if self.row_level:
            return self.unexpected == 0
        if self.expectation == FIELD_EXISTS:
            return self.observed_value is True
        return within(self.observed_value, self.kwargs)

    @property
    def unexpected_percent(self) -> float:
        """Failing rows as a percentage of the rows checked (0.0 when none were)."""
        return 100.0 * self.unexpected / self.evaluated if self.evaluated else 0.0

    @classmethod
    def of(cls, result: ExpectationResult) -> ExpectationSummary:
        """The summary of a single chunk's result."""
        observed = result.observed_value
        if result.expectation == ROW_COUNT:
            observed = result.evaluated
        return cls(
            expectation=result.expectation,
            column=result.column,
            kwargs=result.kwargs,
            row_level=result.row_level,
            evaluated=result.evaluated,
            unexpected=result.unexpected,
            observed_value=_jsonable(observed),
            examples=tuple(show(example.value) for example in result.examples),
            error=result.error,
        )

    def merge(self, other: ExpectationSummary) -> ExpectationSummary:
        """Totals over both; ``other`` must summarise the same expectation."""
        if (other.expectation, other.column) != (self.expectation, self.column):
            raise ValueError(
                f"cannot merge {other.expectation} on {other.column!r} into "
                f"{self.expectation} on {self.column!r}: the summaries come from different suites"
            )
        return replace(
            self,
            evaluated=self.evaluated + other.evaluated,
            unexpected=self.unexpected + other.unexpected,
            observed_value=self._merged_observation(other),
            examples=(self.examples + other.examples)[:MAX_EXAMPLES],
            error=self.error or other.error,
        )

    def _merged_observation(self, other: ExpectationSummary) -> Any:
        if self.row_level:
            return None
        if self.expectation == ROW_COUNT:
            return self.evaluated + other.evaluated
        if self.expectation == FIELD_EXISTS:
            if self.observed_value is None or other.observed_value is None:
                return other.observed_value if self.observed_value is None else self.observed_value
            return bool(self.observed_value and other.observed_value)
        # the mean, weighted by each side's number of values; a side without values has no mean
        sides = [
            (s.observed_value, s.evaluated)
            for s in (self, other)
            if s.evaluated and s.observed_value is not None
        ]
        count = sum(n for _, n in sides)
        return sum(mean * n for mean, n in sides) / count if count else None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict; ``success`` and ``unexpected_percent`` are included for readers."""
        return {
            "expectation": self.expectation,
            "column": self.column,
            "kwargs": dict(self.kwargs),
            "row_level": self.row_level,
            "success": self.success,
            "evaluated": self.evaluated,
            "unexpected": self.unexpected,
            "unexpected_percent": self.unexpected_percent,
            "observed_value": self.observed_value,
            "examples": list(self.examples),
            "error": self.error,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ExpectationSummary:
        """The inverse of :meth:`to_json` (derived fields are recomputed, not read)."""
        return cls(
            expectation=str(data["expectation"]),
            column=None if data.get("column") is None else str(data["column"]),
            kwargs=dict(data.get("kwargs") or {}),
            row_level=bool(data["row_level"]),
            evaluated=int(data.get("evaluated", 0)),
            unexpected=int(data.get("unexpected", 0)),
            observed_value=data.get("observed_value"),
            examples=tuple(str(example) for example in data.get("examples", ())),
            error=data.get("error"),
        )


@dataclass(frozen=True)
class ValidationSummary:
    """A run's validation summary: one :class:`ExpectationSummary` per expectation of its suite.

    Attributes:
        expectations: the per-expectation totals, in the suite's order.
        chunks: how many chunks were added.
        gx_version: the Great Expectations version that validated them.
    """

    expectations: tuple[ExpectationSummary, ...] = ()
    chunks: int = 0
    gx_version: str = ""

    @classmethod
    def for_suite(cls, suite: QualitySuite) -> ValidationSummary:
        """An empty summary of ``suite``, before the first chunk (does not import GX)."""
        entries = tuple(
            ExpectationSummary(
                e.type, e.column, e.kwargs, e.row_level, observed_value=0 if e.type == ROW_COUNT else None
            )
            for e in suite.expectations
        )
        return cls(entries, 0, _gx_version())

    @property
    def success(self) -> bool:
        """True when every expectation was met."""
        return all(entry.success for entry in self.expectations)

    def add(self, results: Sequence[ExpectationResult]) -> ValidationSummary:
        """A new summary with one more chunk's results (from ``QualitySuite.evaluate``) added."""
        chunk = ValidationSummary(tuple(ExpectationSummary.of(result) for result in results), 1)
        return self.merge(chunk)

    def merge(self, other: ValidationSummary) -> ValidationSummary:
        """A new summary totalling both (e.g. partitions of one run validated apart)."""
        if len(other.expectations) != len(self.expectations):
            raise ValueError(
                f"cannot merge a summary of {len(other.expectations)} expectations into one of "
                f"{len(self.expectations)}: the summaries come from different suites"
            )
        merged = tuple(
            mine.merge(theirs) for mine, theirs in zip(self.expectations, other.expectations, strict=True)
        )
        return ValidationSummary(merged, self.chunks + other.chunks, self.gx_version or other.gx_version)

    def to_json(self) -> dict[str, Any]:
        """A dict of JSON types only, for a JSON column or ``json.dumps``."""
        return {
            "success": self.success,
            "chunks": self.chunks,
            "gx_version": self.gx_version,
            "expectations": [entry.to_json() for entry in self.expectations],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | str) -> ValidationSummary:
        """Read back what :meth:`to_json` wrote (a dict, or its ``json.dumps`` text)."""
        parsed = json.loads(data) if isinstance(data, str) else data
        return cls(
            tuple(ExpectationSummary.from_json(entry) for entry in parsed.get("expectations", ())),
            int(parsed.get("chunks", 0)),
            str(parsed.get("gx_version", "")),
        )


@functools.cache
def _gx_version() -> str:
    """The installed GX version, read from its metadata (importing GX takes seconds)."""
    try:
        return importlib.metadata.version("great_expectations")
    except importlib.metadata.PackageNotFoundError:
        return ""


def _jsonable(value: Any) -> Any:
    """``value`` with dates as ISO strings, numpy scalars as Python ones and NaN as None."""
    if isinstance(value, Mapping):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    return value
