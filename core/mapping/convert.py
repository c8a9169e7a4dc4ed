"""Vectorised conversions to Tributary's six types, shared by expressions and the mapper.

Every converter takes a Series of any dtype and returns ``Converted(values,
failed)``: the values in the type's canonical nullable dtype (:data:`DTYPES`)
and a boolean array of the rows whose non-empty input could not be converted
(those rows are NA). Empty and whitespace-only strings count as null, never
as failures. Numbers are parsed with pyarrow because ``pd.to_numeric`` is an
order of magnitude slower on large string columns. Text becomes timestamps,
and local times UTC, in :mod:`core.mapping._datetimes`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from core.mapping._datetimes import TIMESTAMP, parse_timestamps
from core.mapping._datetimes import localize as localize  # re-exported: the date functions call it here

#: pandas' "string" dtype with NA (not NaN) as the missing value.
STRING: Final = pd.StringDtype("pyarrow")
DATE: Final = np.dtype("datetime64[s]")

#: The dtype each attribute type is stored in.
DTYPES: Final[dict[str, Any]] = {
    "string": STRING,
    "integer": pd.Int64Dtype(),
    "number": pd.Float64Dtype(),
    "boolean": pd.BooleanDtype(),
    "date": DATE,
    "timestamp": TIMESTAMP,
}

#: How a failed row's reason describes the value, per type.
PROBLEMS: Final[dict[str, str]] = {
    "integer": "is not an integer",
    "number": "is not a number",
    "boolean": "is not a boolean (expected true/false, yes/no, y/n or 1/0)",
    "date": "is not a date",
    "timestamp": "is not a timestamp",
}

#: Date formats that read numbers as seconds or milliseconds since 1970-01-01 UTC.
EPOCH_FORMATS: Final[dict[str, str]] = {"unix": "s", "unix_ms": "ms"}

TRUE_WORDS: Final = ("true", "yes", "y", "1")
FALSE_WORDS: Final = ("false", "no", "n", "0")

_NUMBER = r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$"
# Up to 18 digits always fits int64, so these are cast exactly rather than through float.
_SHORT_INTEGER = r"^[+-]?\d{1,18}$"
_INT_LIMIT = 2.0**63
INT64_MIN: Final = -(2**63)
INT64_MAX: Final = 2**63 - 1
_MAX_SHOWN = 60
# A time followed by a zone: "10:00Z", "10:00:00.5 +02:00", "10:00 UTC", "3:30pm GMT+1".
_ZONE_SUFFIX = (
    r"\d:\d\d(?::\d\d(?:\.\d+)?)?\s*(?:[ap]m)?\s*(?:z|utc|gmt|(?:utc|gmt)?\s*[+-]\d{1,2}(?::?\d\d)?)$"
)


class Converted(NamedTuple):
    """Converted values and the rows whose non-empty input could not be converted."""

    values: pd.Series
    failed: np.ndarray


def flags(mask: pd.Series | np.ndarray) -> np.ndarray:
    """Returns a boolean mask as a numpy bool array, NA counting as False."""
    if isinstance(mask, pd.Series):
        return mask.to_numpy(dtype=bool, na_value=False)
    return np.asarray(mask, dtype=bool)


def kind(values: pd.Series) -> str:
    """Returns the family of a Series: boolean, number, datetime, string, null or other."""
    dtype = values.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_numeric_dtype(dtype):
        return "number"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if isinstance(dtype, pd.StringDtype):
        return "string"
    if pd.api.types.is_object_dtype(dtype):
        inferred = pd.api.types.infer_dtype(values, skipna=True)
        return {"string": "string", "empty": "null"}.get(inferred, "other")
    return "other"


def as_string(values: pd.Series) -> pd.Series:
    """Returns the values as NA-backed strings.

    Booleans become 'true'/'false'; timestamps ISO 8601 in UTC
    ('2024-01-05T10:00:00Z'); naive date-times '2024-01-05T10:00:00', or
    '2024-01-05' when the whole column is at midnight (dates).
    """
    if values.dtype == STRING:
        return values
    family = kind(values)
    if family == "boolean":
        booleans = values.astype("boolean")
        words = np.where(booleans.to_numpy(dtype=bool, na_value=False), "true", "false")
        return pd.Series(words, index=values.index, dtype=STRING).mask(flags(booleans.isna()))
    if family == "datetime":
        return _iso_text(values)
    return values.astype(STRING)


def _iso_text(values: pd.Series) -> pd.Series:
    """Writes date-times as ISO 8601; fractions of a second only where there are some."""
    aware = values.dt.tz is not None
    stamps = values.dt.tz_convert("UTC") if aware else values
    if not aware and (flags(stamps.dt.normalize() == stamps) | flags(stamps.isna())).all():
        return stamps.dt.strftime("%Y-%m-%d").astype(STRING)
    text = stamps.dt.strftime("%Y-%m-%dT%H:%M:%S").astype(STRING)
    fraction = flags(stamps.dt.microsecond != 0)
    if fraction.any():
        micros = stamps.dt.strftime(".%f").astype(STRING).str.rstrip("0")
        text = text.where(~fraction, (text + micros).array)
    return text + "Z" if aware else text


def blank_to_na(values: pd.Series) -> pd.Series:
    """Returns the values as strings with empty and whitespace-only values replaced by NA."""
    text = as_string(values)
    arr = _arrow(text)
    blank = pc.or_(pc.utf8_is_space(arr), pc.equal(pc.binary_length(arr), 0))
    if not pc.any(blank).as_py():
        return text
    return _strings(pc.if_else(blank, pa.scalar(None, arr.type), arr), text.index)


def clean_text(values: pd.Series) -> pd.Series:
    """Returns the values as stripped strings, blanks as NA: the input every parser expects."""
    text = as_string(values)
    arr = pc.utf8_trim_whitespace(_arrow(text))
    blank = pc.equal(pc.binary_length(arr), 0)
    if pc.any(blank).as_py():
        arr = pc.if_else(blank, pa.scalar(None, arr.type), arr)
    return _strings(arr, text.index)


def _arrow(text: pd.Series) -> Any:
    """Returns the pyarrow array behind a STRING Series (no copy for one chunk)."""
    return pa.array(text.array)


def _strings(arr: Any, index: pd.Index) -> pd.Series:
    """Wraps a pyarrow string array as a STRING Series."""
    return pd.Series(STRING.__from_arrow__(arr), index=index)


def _cast_matching(text: pd.Series, pattern: str, arrow_type: Any) -> Any:
    """Casts the strings that fully match ``pattern`` to ``arrow_type``; the rest become null."""
    arr = _arrow(text)
    matches = pc.match_substring_regex(arr, pattern)
    return pc.cast(pc.if_else(matches, arr, pa.scalar(None, arr.type)), arrow_type)


def to_number(values: pd.Series) -> Converted:
    """Converts to Float64; text must be a plain decimal number (1, -2.5, 1e3); inf/nan fail."""
    if kind(values) in ("number", "boolean"):
        numbers = values.astype("Float64")
        present = flags(values.notna())
    else:
        text = clean_text(values)
        present = flags(text.notna())
        floats = _cast_matching(text, _NUMBER, pa.float64())
        numbers = pd.Series(pd.Float64Dtype().__from_arrow__(floats), index=values.index)
    finite = np.isfinite(numbers.to_numpy(dtype=float, na_value=np.nan))
    return Converted(numbers.mask(~finite), present & ~finite)


def to_integer(values: pd.Series) -> Converted:
    """Converts to Int64; whole numbers written as 3.0 or 1e3 are accepted, 2.5 fails."""
    source_kind = kind(values)
    if source_kind == "boolean" or pd.api.types.is_signed_integer_dtype(values.dtype):
        return Converted(values.astype("Int64"), np.zeros(len(values), dtype=bool))
    numbers, failed = to_number(values)
    floats = numbers.to_numpy(dtype=float, na_value=np.nan)
    whole = (floats == np.floor(floats)) & (np.abs(floats) < _INT_LIMIT)
    integers = numbers.where(whole).astype("Int64")
    if source_kind not in ("number", "boolean"):
        # Floats lose digits above 2**53; short integer text is cast exactly instead.
        exact = _cast_matching(clean_text(values), _SHORT_INTEGER, pa.int64())
        exact_series = pd.Series(pd.Int64Dtype().__from_arrow__(exact), index=values.index)
        integers = exact_series.where(flags(exact_series.notna()), integers.array)
    return Converted(integers, failed | (flags(numbers.notna()) & ~whole))


def to_boolean(values: pd.Series) -> Converted:
    """Converts to boolean from true/false, yes/no, y/n, 1/0 (any case) or numbers 1/0."""
    source_kind = kind(values)
    if source_kind == "boolean":
        return Converted(values.astype("boolean"), np.zeros(len(values), dtype=bool))
    if source_kind == "number":
        numbers = values.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
        present = ~np.isnan(numbers)
        is_true, is_false = numbers == 1, numbers == 0
    else:
        text = clean_text(values).str.lower()
        present = flags(text.notna())
        is_true, is_false = flags(text.isin(TRUE_WORDS)), flags(text.isin(FALSE_WORDS))
    known = is_true | is_false
    result = pd.Series(pd.arrays.BooleanArray(is_true, ~known), index=values.index)
    return Converted(result, present & ~known)


def naive_rows(values: pd.Series, fmt: str | None = None) -> np.ndarray:
    """Tells which values carry no time zone or offset (so they are local times somewhere).

    Text is naive unless it ends with a time followed by ``Z``, ``UTC``,
    ``GMT`` or an offset (``+02:00``, ``-0500``), or its format reads one
    (``%z``, ``%Z``). Numbers read as unix times are never naive.
    """
    source_kind = kind(values)
    if source_kind == "datetime":
        return np.full(len(values), values.dt.tz is None)
    if fmt in EPOCH_FORMATS or source_kind == "number":
        return np.zeros(len(values), dtype=bool)
    if fmt is not None:
        return np.full(len(values), "%z" not in fmt and "%Z" not in fmt)
    text = clean_text(values)
    return ~flags(text.str.contains(_ZONE_SUFFIX, case=False))


def to_timestamp(values: pd.Series, fmt: str | None = None) -> Converted:
    """Converts to UTC timestamps; naive values are taken as UTC.

    Without ``fmt`` text is read as ISO 8601, then common forms ("Jan 5 2024",
    "01/02/2024" = 2 January) are tried for the rest. ``fmt`` is a strftime
    format, or "unix" / "unix_ms" for numbers of seconds / milliseconds.
    """
    source_kind = kind(values)
    if source_kind == "datetime":
        utc = values.dt.tz_localize("UTC") if values.dt.tz is None else values.dt.tz_convert("UTC")
        return Converted(utc.dt.as_unit("us"), np.zeros(len(values), dtype=bool))
    if fmt in EPOCH_FORMATS:
        numbers, failed = to_number(values)
        stamps = pd.to_datetime(numbers, unit=EPOCH_FORMATS[fmt], utc=True, errors="coerce")
        failed = failed | (flags(numbers.notna()) & flags(stamps.isna()))
        return Converted(stamps.astype(TIMESTAMP), failed)
    if source_kind == "number":
        # A bare number could be seconds, milliseconds or a yyyymmdd date: refuse to guess.
        present = flags(values.notna())
        return Converted(pd.Series(pd.NaT, index=values.index, dtype=TIMESTAMP), present)
    text = clean_text(values)
    present = flags(text.notna())
    stamps = parse_timestamps(text, present, fmt)
    return Converted(stamps, present & flags(stamps.isna()))


def to_date(values: pd.Series, fmt: str | None = None) -> Converted:
    """Converts to dates (datetime64[s] at midnight); aware values are taken in UTC first."""
    if kind(values) == "datetime" and values.dt.tz is None:
        naive, failed = values, np.zeros(len(values), dtype=bool)
    else:
        stamps, failed = to_timestamp(values, fmt)
        naive = stamps.dt.tz_localize(None)
    return Converted(naive.dt.normalize().astype(DATE), failed)


def convert(values: pd.Series, type_: str) -> Converted:
    """Converts values to one of the attribute types (strings keep their text, blanks become NA)."""
    if type_ == "string":
        return Converted(blank_to_na(values), np.zeros(len(values), dtype=bool))
    converter = {
        "integer": to_integer,
        "number": to_number,
        "boolean": to_boolean,
        "date": to_date,
        "timestamp": to_timestamp,
    }[type_]
    return converter(values)


def describe(values: pd.Series) -> pd.Series:
    """Returns each value quoted for a message, cut to about 60 characters."""
    text = as_string(values)
    long = flags(text.str.len() > _MAX_SHOWN)
    text = text.where(~long, (text.str.slice(0, _MAX_SHOWN - 3) + "...").array)
    return "'" + text.fillna("null") + "'"


def reasons(values: pd.Series, failed: np.ndarray, prefix: str = "", suffix: str = "") -> pd.Series | None:
    """Returns ``prefix + 'value' + suffix`` on failed rows and NA elsewhere; None if none failed."""
    if not failed.any():
        return None
    text = prefix + describe(values[failed]) + suffix
    return _place(values.index, failed, text.to_numpy(dtype=object))


def constant_reasons(index: pd.Index, failed: np.ndarray, message: str) -> pd.Series | None:
    """Returns ``message`` on failed rows and NA elsewhere; None if none failed."""
    if not failed.any():
        return None
    return _place(index, failed, message)


def _place(index: pd.Index, failed: np.ndarray, text: Any) -> pd.Series:
    """Puts ``text`` (one value or one per failed row) on the failed rows of a NA Series."""
    out = np.full(len(index), None, dtype=object)
    out[failed] = text
    return pd.Series(out, index=index, dtype=STRING)


def merge_reasons(*reasons: pd.Series | None) -> pd.Series | None:
    """Combines failure reasons row by row; the first reason of a row wins."""
    present = [r for r in reasons if r is not None]
    if not present:
        return None
    merged = present[0]
    for other in present[1:]:
        merged = merged.where(flags(merged.notna()), other.array)
    return merged


def only_on(reasons: pd.Series | None, rows: np.ndarray) -> pd.Series | None:
    """Keeps the reasons of ``rows`` only; None when no reason is left."""
    if reasons is None:
        return None
    kept = reasons.where(rows)
    return kept if flags(kept.notna()).any() else None


def map_distinct(values: pd.Series, function: Callable[[str], Any], dtype: Any = STRING) -> Converted:
    """Applies a scalar ``function`` to each distinct non-null text once, then spreads the results.

    For work that only exists one value at a time (hashing, JSON, phone
    numbers): the Python call runs once per distinct value, never once per
    row. Values for which ``function`` raises ValueError are NA and failed;
    nulls stay null.
    """
    codes, uniques = pd.factorize(as_string(values), use_na_sentinel=True)
    results: list[Any] = []
    bad = np.zeros(len(uniques), dtype=bool)
    for position, value in enumerate(uniques):
        try:
            results.append(function(value))
        except ValueError:
            results.append(None)
            bad[position] = True
    mapped = pd.array(results, dtype=dtype).take(codes, allow_fill=True)
    failed = np.zeros(len(codes), dtype=bool)
    present = codes >= 0
    failed[present] = bad[codes[present]]
    return Converted(pd.Series(mapped, index=values.index), failed)


def unify(values: Sequence[pd.Series]) -> list[pd.Series]:
    """Casts Series to one common dtype so they can be combined row by row (coalesce, if)."""
    kinds = [kind(v) for v in values]
    typed = [v for v, k in zip(values, kinds, strict=True) if k != "null"]
    if not typed or (len(typed) == len(values) and len({v.dtype for v in typed}) == 1):
        return list(values)
    families = set(kinds) - {"null"}
    if families == {"datetime"}:
        pairs = zip(values, kinds, strict=True)
        return [v.astype(TIMESTAMP) if k == "null" else to_timestamp(v).values for v, k in pairs]
    target: Any = object
    if families == {"number"}:
        integer = all(pd.api.types.is_integer_dtype(v.dtype) for v in typed)
        target = pd.Int64Dtype() if integer else pd.Float64Dtype()
    elif families == {"boolean"}:
        target = pd.BooleanDtype()
    elif families == {"string"}:
        target = STRING
    return [v.astype(target) for v in values]
