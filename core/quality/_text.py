"""The words of data quality: short value displays, "did you mean", and why a value failed."""

from __future__ import annotations

import difflib
from collections.abc import Collection, Mapping
from typing import Any

import numpy as np
import pandas as pd

_MAX_SHOWN = 60


def show(value: Any) -> str:
    """A short display of a value: strings quoted, numbers plain, cut to ~60 characters."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


def did_you_mean(word: str, choices: Collection[str]) -> str:
    """`` (did you mean 'x'?)`` for close matches, or ""."""
    matches = difflib.get_close_matches(word, list(choices), n=3, cutoff=0.6)
    matches += [c for c in choices if word and c.endswith(word) and c not in matches][: 3 - len(matches)]
    return f" (did you mean {' or '.join(repr(m) for m in matches)}?)" if matches else ""


def bounds(kwargs: Mapping[str, Any]) -> str:
    """Describe ``min_value``/``max_value``/``strict_*`` as "between 0 and 10" or ">= 0 and < 10"."""
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    strict_low, strict_high = bool(kwargs.get("strict_min")), bool(kwargs.get("strict_max"))
    if low is not None and high is not None and not strict_low and not strict_high:
        return f"between {show(low)} and {show(high)}"
    parts = []
    if low is not None:
        parts.append(f"{'>' if strict_low else '>='} {show(low)}")
    if high is not None:
        parts.append(f"{'<' if strict_high else '<='} {show(high)}")
    return " and ".join(parts)


def problem(name: str, kwargs: Mapping[str, Any]) -> str:
    """What is wrong with a value that fails expectation ``name``, as a phrase after the value."""
    kind = name.removeprefix("expect_column_")
    if kind == "values_to_not_be_null":
        return "is missing"
    if kind in ("values_to_match_regex_list", "values_to_not_match_regex_list"):
        patterns = show(list(kwargs["regex_list"]))
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
        "values_to_be_in_set": f"is not in {show(kwargs.get('value_set'))}",
        "values_to_not_be_in_set": f"is in {show(kwargs.get('value_set'))}",
        "values_to_be_between": f"is not {bounds(kwargs)}",
        "values_to_be_unique": "is duplicated in this chunk",
        "value_lengths_to_be_between": f"has a length not {bounds(kwargs)}",
        "value_lengths_to_equal": f"does not have length {show(kwargs.get('value'))}",
        "values_to_match_strftime_format": f"does not match the date format {kwargs.get('strftime_format')}",
        "values_to_be_dateutil_parseable": "is not a date",
        "values_to_be_json_parseable": "is not valid JSON",
    }
    return phrases.get(kind, "fails the expectation")


def reasons(name: str, column: str, kwargs: Mapping[str, Any], values: np.ndarray) -> np.ndarray:
    """Reason strings for failing ``values``, like "f: 'bob@' does not match ^.+@.+$ (expect_...)"."""
    head = f"{column}: "
    tail = f" {problem(name, kwargs)} ({name})"
    if name == "expect_column_values_to_not_be_null":
        return np.full(values.size, f"{head}value{tail}", dtype=object)
    shown = pd.Series(values, dtype=object).map(show).to_numpy(dtype=object)
    return head + shown + tail
