"""Expectations a mapped sample suggests, each with the reason a person reads before accepting it.

Rules, per field of the sample (columns are attribute paths such as ``personalEmail.address``):

* not null on identity attributes (a record without one cannot join the identity graph), and
  on fields that are never empty in the sample;
* unique on one primary-key-like field: named like an id or key, never empty and all distinct
  over at least 20 rows (an identity is preferred);
* a regex on email fields (an ``email`` identity or type, a path naming an email, or values
  that look like addresses);
* set membership on low-cardinality text (at most 10 distinct values over at least 50 rows);
* a range on numeric fields: the sample's min and max widened by 10% of their span, rounded
  outwards, and never below 0 when the sample is never negative.

Each suggestion's ``spec`` is a ready ``quality:`` item that ``QualitySuite.parse`` accepts.
The sample's own failures are given in the reason, so nothing is suggested blindly.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

EMAIL_REGEX = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
MAX_SET_SIZE = 10
MIN_ROWS_FOR_SET = 50
MIN_ROWS_FOR_UNIQUE = 20
RANGE_MARGIN = 0.1
# "id", "order.id", "crmId", "customer_key": the last part of the path names a key
_KEY_NAME = re.compile(r"(^|\.)(?i:id|key)$|[a-z0-9](Id|ID|Key)$|_(?i:id|key)$")
_LOOKS_LIKE_EMAIL = 0.9  # the share of values that must look like addresses


@dataclass(frozen=True)
class SuggestedExpectation:
    """A suggested ``quality:`` item and why it is suggested.

    Attributes:
        spec: ``{expectation: {kwargs}}``, ready for the dataflow's ``quality:`` list.
        reason: one or two sentences on what in the sample suggests it.
    """

    spec: Mapping[str, dict[str, Any]]
    reason: str

    @property
    def expectation(self) -> str:
        """The suggested expectation type."""
        return next(iter(self.spec))

    @property
    def column(self) -> str:
        """The field it checks."""
        return str(self.spec[self.expectation]["column"])


def suggest_expectations(
    frame: pd.DataFrame,
    identities: Mapping[str, str] | None = None,
    types: Mapping[str, str] | None = None,
) -> list[SuggestedExpectation]:
    """Suggest expectations from a mapped sample's profile, field by field, in column order.

    Args:
        frame: the mapped sample; columns are attribute paths.
        identities: attribute path -> identity namespace (``crm_id``, ``email``) for identity fields.
        types: attribute path -> attribute type (``string``, ``integer``, ``number``, ``date``...).
    """
    identities = dict(identities or {})
    types = dict(types or {})
    key = _primary_key_like(frame, identities)
    suggestions: list[SuggestedExpectation] = []
    for name in frame.columns:
        column, series = str(name), frame[name]
        suggestions += _not_null(column, series, identities.get(column))
        if column == key:
            suggestions.append(_unique(column, len(frame), identities.get(column)))
        if _is_email(column, series, identities.get(column), types.get(column)):
            suggestions += _email(column, series)
        elif column not in identities and column != key:
            suggestions += _value_set(column, series, types.get(column))
            suggestions += _value_range(column, series, types.get(column))
    return suggestions


def _spec(name: str, column: str, **kwargs: Any) -> dict[str, dict[str, Any]]:
    return {f"expect_column_{name}": {"column": column, **kwargs}}


def _not_null(column: str, series: pd.Series, namespace: str | None) -> list[SuggestedExpectation]:
    nulls, total = int(series.isna().sum()), len(series)
    spec = _spec("values_to_not_be_null", column)
    if namespace is not None:
        reason = f"{column} is an identity ({namespace}); a record without it cannot join the identity graph."
        if nulls:
            reason += (
                f" {nulls} of the sample's {total} rows ({_percent(nulls, total)}) have none"
                " and would be quarantined."
            )
        return [SuggestedExpectation(spec, reason)]
    if total and not nulls:
        return [
            SuggestedExpectation(spec, f"{column} has a value in every one of the sample's {total} rows.")
        ]
    return []


def _primary_key_like(frame: pd.DataFrame, identities: Mapping[str, str]) -> str | None:
    """The field most like a primary key: named like one, complete and distinct; identities first."""
    if len(frame) < MIN_ROWS_FOR_UNIQUE:
        return None
    ranked: list[tuple[bool, int, str]] = []
    for position, name in enumerate(frame.columns):
        column, series = str(name), frame[name]
        if pd.api.types.is_float_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype):
            continue  # measurements and flags are not keys, even when distinct
        if series.isna().any() or not series.is_unique:
            continue
        if _KEY_NAME.search(column):
            ranked.append((column not in identities, position, column))
    return min(ranked)[2] if ranked else None


def _unique(column: str, rows: int, namespace: str | None) -> SuggestedExpectation:
    why = f"an identity ({namespace}) named like a key" if namespace else "named like a key"
    return SuggestedExpectation(
        _spec("values_to_be_unique", column),
        f"{column} looks like a primary key: {why}, and all {rows} values in the sample are distinct. "
        "All the rows sharing a value within a chunk are quarantined.",
    )


def _is_email(column: str, series: pd.Series, namespace: str | None, kind: str | None) -> bool:
    """An email identity or type, or text that mostly reads as addresses (half will do if so named)."""
    if namespace == "email" or kind == "email":
        return True
    text = _text_values(series)
    if kind not in (None, "string") or text is None or text.empty:
        return False
    share = float(text.str.fullmatch(EMAIL_REGEX).mean())
    return share >= _LOOKS_LIKE_EMAIL or ("email" in column.lower() and share >= 0.5)


def _email(column: str, series: pd.Series) -> list[SuggestedExpectation]:
    text = _text_values(series)
    failing = 0 if text is None else int((~text.str.fullmatch(EMAIL_REGEX)).sum())
    verb = "does" if failing == 1 else "do"
    total = 0 if text is None else len(text)
    tail = (
        f" {failing} of the sample's {total} values {verb} not and would be quarantined." if failing else ""
    )
    return [
        SuggestedExpectation(
            _spec("values_to_match_regex", column, regex=EMAIL_REGEX),
            f"{column} holds email addresses; each should read as name@domain.tld.{tail}",
        )
    ]


def _value_set(column: str, series: pd.Series, kind: str | None) -> list[SuggestedExpectation]:
    text = _text_values(series)
    if text is None or (kind is not None and kind != "string") or len(text) < MIN_ROWS_FOR_SET:
        return []
    distinct = sorted(text.unique().tolist())
    if len(distinct) > MAX_SET_SIZE:
        return []
    return [
        SuggestedExpectation(
            _spec("values_to_be_in_set", column, value_set=distinct),
            f"{column} takes only {len(distinct)} distinct values over the sample's {len(text)} "
            "non-empty rows; other values are quarantined until added to the list.",
        )
    ]


def _value_range(column: str, series: pd.Series, kind: str | None) -> list[SuggestedExpectation]:
    if kind not in (None, "integer", "number") or not _is_numeric(series):
        return []
    values = series.dropna().astype(float)
    if values.empty:
        return []
    low, high = float(values.min()), float(values.max())
    span = high - low or abs(high) or 1.0
    step = 10.0 ** (math.floor(math.log10(span)) - 1)
    if kind == "integer" or pd.api.types.is_integer_dtype(series.dtype):
        step = max(step, 1.0)
    bottom = math.floor((low - RANGE_MARGIN * span) / step) * step
    top = math.ceil((high + RANGE_MARGIN * span) / step) * step
    floor = ""
    if low >= 0 and bottom < 0:
        bottom, floor = 0.0, ", and never below 0, like the sample"
    return [
        SuggestedExpectation(
            _spec(
                "values_to_be_between", column, min_value=_round(bottom, step), max_value=_round(top, step)
            ),
            f"{column} ranges from {_number(low)} to {_number(high)} in the sample; the bounds leave a "
            f"{RANGE_MARGIN:.0%} margin{floor}.",
        )
    ]


def _text_values(series: pd.Series) -> pd.Series | None:
    """The non-empty values of a text column as strings, or None for a non-text column."""
    if not (pd.api.types.is_string_dtype(series.dtype) or series.dtype == object):
        return None
    present = series.dropna()
    if pd.api.types.infer_dtype(present, skipna=True) not in ("string", "empty"):
        return None  # mixed, bytes, or Python objects
    return present.astype("string")


def _is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype)


def _round(value: float, step: float) -> int | float:
    """A bound as an int when the step is whole, else rounded to the step's decimals."""
    if step >= 1:
        return int(value)
    return round(value, max(0, -math.floor(math.log10(step))))


def _number(value: float) -> str:
    return str(int(value)) if value.is_integer() else f"{value:g}"


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "0%"
