"""Date-times for the converters: text read as UTC instants, and wall-clock times placed in a time zone.

:func:`core.mapping.convert.to_timestamp` hands its cleaned text to :func:`parse_timestamps`; the
date functions place naive times in a zone with :func:`localize`. Nothing here imports ``convert``,
so that ``convert`` can build on it.
"""

from __future__ import annotations

import warnings
from typing import Final

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from core.errors import ConfigurationError

#: The dtype of timestamps: microseconds, in UTC.
TIMESTAMP: Final = pd.DatetimeTZDtype("us", "UTC")

# A free-form date needs two digit groups and a year ("Jan 5 2024", "5/1/24"); without
# this, dateutil turns "5" or "10:30" into a day of the current month.
_TWO_NUMBERS = r"\d\D+\d"
_HAS_YEAR = r"\d{4}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2}"
_ISO = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?)?"
_ARROW_ISO = (
    (_ISO + r"(Z|[+-]\d{2}:?\d{2})$", pa.timestamp("us", "UTC")),
    (_ISO + "$", pa.timestamp("us")),
)


def localize(stamps: pd.Series, naive: np.ndarray, zone: str) -> tuple[pd.Series, np.ndarray]:
    """Reads the wall-clock time of the ``naive`` rows of UTC ``stamps`` as local time in ``zone``.

    Returns the UTC timestamps and the rows whose local time does not exist
    there (skipped when clocks go forward; those are NaT). A time that occurs
    twice (clocks go back) is taken at its first occurrence.
    """
    if not naive.any():
        return stamps, np.zeros(len(stamps), dtype=bool)
    wall = stamps[naive].dt.tz_localize(None)
    first = np.ones(len(wall), dtype=bool)  # "is daylight saving time": the earlier of two instants
    local = wall.dt.tz_localize(zone, ambiguous=first, nonexistent="NaT").dt.tz_convert("UTC")
    out = stamps.array.copy()
    out[naive] = local.astype(TIMESTAMP).array
    result = pd.Series(out, index=stamps.index)
    return result, naive & result.isna().to_numpy() & stamps.notna().to_numpy()


def parse_timestamps(text: pd.Series, present: np.ndarray, fmt: str | None) -> pd.Series:
    """Parses stripped text to UTC timestamps; unparseable values become NaT."""
    if not present.any():
        return pd.Series(pd.NaT, index=text.index, dtype=TIMESTAMP)
    if fmt is not None:
        try:
            parsed = pd.to_datetime(text, format=fmt, errors="coerce", utc=True)
        except ValueError as exc:
            raise ConfigurationError(f"invalid date format {fmt!r}: {exc}") from exc
        return parsed.astype(TIMESTAMP)
    parsed = _arrow_iso(text)
    if parsed is not None:
        return parsed
    parsed = pd.to_datetime(text, format="ISO8601", errors="coerce", utc=True).astype(TIMESTAMP)
    retry = present & parsed.isna().to_numpy()
    if retry.any():
        retry &= _matches(text, _TWO_NUMBERS) & _matches(text, _HAS_YEAR)
    if retry.any():
        with warnings.catch_warnings():
            # "mixed" warns about day-first guesses; the rule is documented instead.
            warnings.simplefilter("ignore", UserWarning)
            fallback = pd.to_datetime(text[retry], format="mixed", errors="coerce", utc=True)
        stamps = parsed.array.copy()
        stamps[retry] = fallback.astype(TIMESTAMP).array
        parsed = pd.Series(stamps, index=text.index)
    return parsed


def _arrow_iso(text: pd.Series) -> pd.Series | None:
    """Parses text that is all plain ISO 8601, all with or all without an offset; else None.

    pyarrow does this several times faster than pandas and clean columns are the
    common case. A failed pyarrow cast is slow, hence the regex gate first.
    """
    arr = pa.array(text.array)  # no copy for one chunk
    for pattern, arrow_type in _ARROW_ISO:
        if pc.all(pc.match_substring_regex(arr, pattern)).as_py() is not False:
            try:
                stamps = pc.cast(arr, arrow_type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                return None  # a well-formed but impossible date such as 2024-02-30
            series = pd.Series(stamps.to_pandas().array, index=text.index)
            return series.dt.tz_localize("UTC") if arrow_type.tz is None else series.astype(TIMESTAMP)
    return None


def _matches(text: pd.Series, pattern: str) -> np.ndarray:
    """Which values contain a match of ``pattern``; NA counts as no match."""
    return text.str.contains(pattern).to_numpy(dtype=bool, na_value=False)
