"""A dataflow's quality rules: Great Expectations expectations, parsed from YAML, run on each chunk.

The user writes GX's own vocabulary as a list of single-key mappings::

    quality:
      - expect_column_values_to_not_be_null: {column: crmId}
      - expect_column_values_to_be_between: {column: loyalty.points, min_value: 0}

Only row-level (column-map) expectations are offered, so every failure names the rows to
quarantine. Semantics follow GX's:

* Nulls (None, NaN, NA) pass every expectation except ``expect_column_values_to_not_be_null``
  (which fails them) and ``expect_column_values_to_be_null`` (which fails the others): add
  ``not_be_null`` when a field is required.
* ``expect_column_values_to_be_unique`` flags every row of a duplicated value, and only sees
  one chunk at a time.
* ``mostly`` is not offered: each failing row is quarantined, and the dataflow's error
  threshold decides when too many failed.

Parsing and validating import Great Expectations on first use (several seconds, once per
process); importing this module does not.
"""

from __future__ import annotations

import copy
import difflib
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from core.errors import ConfigurationError, RunFailedError
from core.quality import _gx

FAILURE_COLUMNS = ("row", "expectation", "field", "code", "reason")
FAILURE_CODE = "quality"
_MAX_SHOWN = 60
_EXAMPLE = "- expect_column_values_to_not_be_null: {column: crmId}"

# What each key accepts, for error messages.
_HINTS = {
    "column": "the name of a mapped field, such as personalEmail.address",
    "min_value": "a number or a date, or null for no lower bound",
    "max_value": "a number or a date, or null for no upper bound",
    "strict_min": "true or false",
    "strict_max": "true or false",
    "value_set": "a list of values, such as [bronze, silver, gold]",
    "regex": "a regular expression, such as '^[^@]+@[^@]+$'",
    "regex_list": "a list of regular expressions",
    "match_on": "'any' or 'all'",
    "value": "a whole number",
    "strftime_format": "a strftime format, such as '%Y-%m-%d'",
}
_REQUIRED = {"expect_column_values_to_match_regex": ("regex",)}
_BETWEEN = ("expect_column_values_to_be_between", "expect_column_value_lengths_to_be_between")


def supported_expectations() -> tuple[str, ...]:
    """Names of the GX expectations a quality list may use (imports GX on first call)."""
    return tuple(_gx.state().classes)


@dataclass(frozen=True)
class Expectation:
    """One GX expectation: its name (``type``) and its arguments."""

    type: str
    kwargs: Mapping[str, Any]

    def __post_init__(self) -> None:
        object.__setattr__(self, "kwargs", MappingProxyType(copy.deepcopy(dict(self.kwargs))))

    @property
    def column(self) -> str:
        """The field this expectation checks."""
        return str(self.kwargs["column"])

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """Export as the YAML shape ``{type: kwargs}``."""
        return {self.type: copy.deepcopy(dict(self.kwargs))}


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
                f"quality must be a list of expectations such as `{_EXAMPLE}`, got {_show(items)}"
            )
        if not items:
            return cls()
        return cls(tuple(_parse_item(position, item) for position, item in enumerate(items, 1)))

    @property
    def columns(self) -> frozenset[str]:
        """The fields the expectations refer to."""
        return frozenset(expectation.column for expectation in self.expectations)

    def to_list(self) -> list[dict[str, dict[str, Any]]]:
        """Export as the YAML ``quality:`` list."""
        return [expectation.to_dict() for expectation in self.expectations]

    def check_columns(self, available: Collection[str]) -> None:
        """Raise ConfigurationError if an expectation names a field the mapping does not produce."""
        known = set(available)
        problems = [
            f"{e.type} names '{e.column}'{_did_you_mean(e.column, known)}"
            for e in self.expectations
            if e.column not in known
        ]
        if problems:
            shown = ", ".join(sorted(known)[:20]) + (", ..." if len(known) > 20 else "")
            raise ConfigurationError(
                "Quality expectations name fields the mapping does not produce: "
                + "; ".join(problems)
                + f". Mapped fields: {shown or '(none)'}."
            )

    def validate(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Run the suite on a chunk; return one row per (row, failed expectation) in FAILURE_COLUMNS."""
        if not self.expectations or len(frame) == 0:
            return _failures(frame.index[:0], self.expectations, [])
        missing = sorted(self.columns - set(frame.columns))
        if missing:
            raise ConfigurationError(
                f"Quality expectations name fields the records do not have: {', '.join(missing)}"
            )
        data = frame[sorted(self.columns)].set_axis(pd.RangeIndex(len(frame)), axis=0)
        outcomes = _gx.run(data, [(e.type, _runtime_kwargs(e, data[e.column])) for e in self.expectations])
        broken = [
            f"{e.type} on '{e.column}': {o.error}"
            for e, o in zip(self.expectations, outcomes, strict=True)
            if o.error
        ]
        if broken:
            raise ConfigurationError(
                "Quality expectations could not be evaluated on the mapped records (does the field's "
                "type suit the expectation?): " + "; ".join(broken)
            )
        pieces: list[tuple[np.ndarray, int, np.ndarray]] = []
        for number, (expectation, outcome) in enumerate(zip(self.expectations, outcomes, strict=True)):
            if outcome.positions.size == 0:
                continue
            if outcome.positions.min() < 0 or outcome.positions.max() >= len(frame):
                raise RunFailedError(f"Great Expectations reported an unknown row for {expectation.type}")
            values = data[expectation.column].iloc[outcome.positions].to_numpy(dtype=object)
            pieces.append((outcome.positions, number, _reasons(expectation, values)))
        return _failures(frame.index, self.expectations, pieces)


def _failures(
    index: pd.Index, expectations: tuple[Expectation, ...], pieces: list[tuple[np.ndarray, int, np.ndarray]]
) -> pd.DataFrame:
    """Assemble the failures frame, sorted by row then expectation; row labels come from ``index``."""
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


def _runtime_kwargs(expectation: Expectation, column: pd.Series) -> Mapping[str, Any]:
    """Kwargs for GX, with date bounds made Timestamps (in the column's zone) for datetime columns."""
    kwargs = expectation.kwargs
    if expectation.type != _BETWEEN[0] or not pd.api.types.is_datetime64_any_dtype(column.dtype):
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


def _parse_item(position: int, item: Any) -> Expectation:
    """Validate one ``{name: {kwargs}}`` entry of the quality list against GX."""
    if not isinstance(item, Mapping) or len(item) != 1:
        raise ConfigurationError(
            f"quality item {position} must be a single-key mapping such as `{_EXAMPLE}`, got {_show(item)}"
        )
    name, kwargs = next(iter(item.items()))
    gx_state = _gx.state()
    if not isinstance(name, str) or name not in gx_state.classes:
        raise ConfigurationError(_unknown_name(position, name, gx_state))
    label = f"quality item {position} ({name})"
    if kwargs is None:
        kwargs = {}
    if not isinstance(kwargs, Mapping):
        raise ConfigurationError(
            f"{label}: its value must be a mapping of arguments such as {{column: crmId}}"
        )
    cls = gx_state.classes[name]
    allowed = _gx.allowed_keys(cls)
    for key in kwargs:
        if key not in allowed:
            why = " (each failing row is quarantined; the error threshold bounds how many)"
            raise ConfigurationError(
                f"{label}: unknown key {_show(key)}{_did_you_mean(str(key), allowed)}"
                + (why if key == "mostly" else "")
                + f". Allowed keys: {', '.join(allowed)}"
            )
    for key in dict.fromkeys(("column", *_gx.required_keys(cls), *_REQUIRED.get(name, ()))):
        if key not in kwargs:
            raise ConfigurationError(f"{label}: missing key '{key}': {_HINTS.get(key, 'see the GX docs')}")
    for key, value in kwargs.items():
        if isinstance(value, Mapping):
            raise ConfigurationError(
                f"{label}: '{key}' must be {_HINTS.get(key, 'a plain value')}, not a mapping"
            )
    _check_values(label, name, kwargs)
    try:
        _gx.build(cls, kwargs)
    except Exception as exc:  # pydantic's ValidationError (GX's own pydantic copy)
        key, message = _gx.model_errors(exc)[0]
        if key:
            raise ConfigurationError(
                f"{label}: '{key}' is invalid ({message}, got {_show(kwargs.get(key))}); "
                f"it must be {_HINTS.get(key, 'a value GX accepts')}"
            ) from None
        raise ConfigurationError(f"{label}: {message}. Allowed keys: {', '.join(allowed)}") from None
    return Expectation(name, kwargs)


def _check_values(label: str, name: str, kwargs: Mapping[str, Any]) -> None:
    """Checks GX's models leave to validation time: column and regex types, bound order."""
    column = kwargs["column"]
    if not isinstance(column, str) or not column:
        raise ConfigurationError(f"{label}: 'column' must be {_HINTS['column']}, got {_show(column)}")
    patterns = [("regex", kwargs["regex"])] if "regex" in kwargs else []
    if "regex_list" in kwargs:
        if not isinstance(kwargs["regex_list"], list | tuple) or not kwargs["regex_list"]:
            raise ConfigurationError(f"{label}: 'regex_list' must be {_HINTS['regex_list']}")
        patterns += [("regex_list", pattern) for pattern in kwargs["regex_list"]]
    for key, pattern in patterns:
        if not isinstance(pattern, str):
            raise ConfigurationError(f"{label}: '{key}' must be {_HINTS['regex']}, got {_show(pattern)}")
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ConfigurationError(
                f"{label}: '{key}' {_show(pattern)} is not a valid regex: {exc}"
            ) from None
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    if name in _BETWEEN and low is not None and high is not None:
        try:
            reversed_bounds = bool(low > high)
        except TypeError:
            raise ConfigurationError(f"{label}: 'min_value' and 'max_value' must be comparable") from None
        if reversed_bounds:
            raise ConfigurationError(f"{label}: 'min_value' {_show(low)} is above 'max_value' {_show(high)}")


def _unknown_name(position: int, name: Any, gx_state: _gx.GxState) -> str:
    """Explain an unsupported expectation name, with close matches and the supported list."""
    supported = tuple(gx_state.classes)
    text = str(name)
    if text in gx_state.registered:
        head = (
            f"quality item {position}: {text} is a Great Expectations expectation, but not a row-level "
            "one that Tributary can quarantine rows with."
        )
    else:
        head = f"quality item {position}: unknown expectation {_show(name)}{_did_you_mean(text, supported)}."
    return f"{head} Supported: {', '.join(supported)}"


def _did_you_mean(word: str, choices: Collection[str]) -> str:
    """`` (did you mean 'x'?)`` for close matches, or ""."""
    matches = difflib.get_close_matches(word, list(choices), n=3, cutoff=0.6)
    matches += [c for c in choices if word and c.endswith(word) and c not in matches][: 3 - len(matches)]
    return f" (did you mean {' or '.join(repr(m) for m in matches)}?)" if matches else ""


def _show(value: Any) -> str:
    """A short display of a value: strings quoted, numbers plain, cut to ~60 characters."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


def _bounds(kwargs: Mapping[str, Any]) -> str:
    """Describe ``min_value``/``max_value``/``strict_*`` as "between 0 and 10" or ">= 0 and < 10"."""
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    strict_low, strict_high = bool(kwargs.get("strict_min")), bool(kwargs.get("strict_max"))
    if low is not None and high is not None and not strict_low and not strict_high:
        return f"between {_show(low)} and {_show(high)}"
    parts = []
    if low is not None:
        parts.append(f"{'>' if strict_low else '>='} {_show(low)}")
    if high is not None:
        parts.append(f"{'<' if strict_high else '<='} {_show(high)}")
    return " and ".join(parts)


def _problem(expectation: Expectation) -> str:
    """What is wrong with a value that fails ``expectation``, as a phrase after the value."""
    kwargs, kind = expectation.kwargs, expectation.type.removeprefix("expect_column_")
    if kind == "values_to_not_be_null":
        return "is missing"
    if kind in ("values_to_match_regex_list", "values_to_not_match_regex_list"):
        patterns = _show(list(kwargs["regex_list"]))
        if kind.startswith("values_to_not"):
            return f"matches one of {patterns}"
        return (
            f"does not match all of {patterns}"
            if kwargs.get("match_on") == "all"
            else f"matches none of {patterns}"
        )
    phrases = {
        "values_to_be_null": "is not null",
        "values_to_match_regex": f"does not match {kwargs.get('regex')}",
        "values_to_not_match_regex": f"matches {kwargs.get('regex')}",
        "values_to_be_in_set": f"is not in {_show(kwargs.get('value_set'))}",
        "values_to_not_be_in_set": f"is in {_show(kwargs.get('value_set'))}",
        "values_to_be_between": f"is not {_bounds(kwargs)}",
        "values_to_be_unique": "is duplicated in this chunk",
        "value_lengths_to_be_between": f"has a length not {_bounds(kwargs)}",
        "value_lengths_to_equal": f"does not have length {_show(kwargs.get('value'))}",
        "values_to_match_strftime_format": f"does not match the date format {kwargs.get('strftime_format')}",
        "values_to_be_dateutil_parseable": "is not a date",
        "values_to_be_json_parseable": "is not valid JSON",
    }
    return phrases.get(kind, "fails the expectation")


def _reasons(expectation: Expectation, values: np.ndarray) -> np.ndarray:
    """Reason strings for failing ``values``, like "f: 'bob@' does not match ^.+@.+$ (expect_...)"."""
    head = f"{expectation.column}: "
    tail = f" {_problem(expectation)} ({expectation.type})"
    if expectation.type == "expect_column_values_to_not_be_null":
        return np.full(values.size, f"{head}value{tail}", dtype=object)
    shown = pd.Series(values, dtype=object).map(_show).to_numpy(dtype=object)
    return head + shown + tail
