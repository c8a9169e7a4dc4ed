"""Number and type-conversion functions of the expression language.

Whole-number results are Int64; a value too large for 64 bits fails its row
rather than wrapping around.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from core.mapping import convert
from core.mapping.functions import Constant, Evaluated, converted, register

DIGITS = Constant("a whole number from -15 to 15", lambda v: type(v) is int and -15 <= v <= 15)
_INT_LIMIT = 2.0**63


# --- conversions --------------------------------------------------------------------------------


@register(
    "to_int",
    family="conversion",
    signature="to_int(value)",
    doc="Converts to a whole number; rows that are not one fail.",
    example="to_int(points)",
)
def _to_int(value: pd.Series) -> Evaluated:
    return converted(convert.to_integer(value), value, "to_int", "integer")


@register(
    "to_float",
    family="conversion",
    signature="to_float(value)",
    doc="Converts to a decimal number; rows that are not one fail.",
    example="to_float(total)",
)
def _to_float(value: pd.Series) -> Evaluated:
    return converted(convert.to_number(value), value, "to_float", "number")


@register(
    "to_bool",
    family="conversion",
    signature="to_bool(value)",
    doc="Converts to true/false from true/false, yes/no, y/n or 1/0 in any case; other values fail.",
    example="to_bool(opt_in)",
)
def _to_bool(value: pd.Series) -> Evaluated:
    return converted(convert.to_boolean(value), value, "to_bool", "boolean")


@register(
    "to_string",
    family="conversion",
    signature="to_string(value)",
    doc="Converts to text: numbers as written, true/false, timestamps as ISO 8601 in UTC ('…T10:00:00Z').",
    example="to_string(points)",
)
def _to_string(value: pd.Series) -> pd.Series:
    return convert.as_string(value)


# --- rounding -----------------------------------------------------------------------------------


def _numbers(value: pd.Series, function: str) -> tuple[pd.Series, pd.Series | None]:
    """Reads numbers (integers stay Int64, text becomes Float64), with reasons for the rest."""
    if convert.kind(value) in ("number", "boolean"):
        integer = pd.api.types.is_integer_dtype(value.dtype) or convert.kind(value) == "boolean"
        return value.astype("Int64" if integer else "Float64"), None
    result = convert.to_number(value)
    return result.values, convert.reasons(value, result.failed, f"{function}: ", " is not a number")


def _whole(floats: pd.Series, source: pd.Series, function: str) -> tuple[pd.Series, pd.Series | None]:
    """Turns whole-valued floats into Int64; the ones beyond 64 bits fail."""
    numbers = floats.to_numpy(dtype=float, na_value=np.nan)
    too_large = np.abs(numbers) >= _INT_LIMIT
    why = convert.reasons(source, too_large, f"{function}: ", " is too large for a whole number")
    return floats.mask(too_large).astype("Int64"), why


def _rounded(value: pd.Series, function: str, rounding: Callable[[np.ndarray], np.ndarray]) -> Evaluated:
    numbers, why = _numbers(value, function)
    if numbers.dtype == "Int64":
        return Evaluated(numbers, why)
    floats = numbers.to_numpy(dtype=float, na_value=np.nan)
    result = pd.Series(rounding(floats), index=value.index, dtype="Float64")
    whole, too_large = _whole(result, value, function)
    return Evaluated(whole, convert.merge_reasons(why, too_large))


def _half_away_from_zero(numbers: np.ndarray) -> np.ndarray:
    """Rounds to whole numbers, halves away from zero (2.5 -> 3, -2.5 -> -3)."""
    truncated = np.trunc(numbers)
    half = np.abs(numbers - truncated) >= 0.5
    return truncated + np.where(half, np.sign(numbers), 0.0)


@register(
    "round",
    family="numbers",
    signature="round(value[, digits])",
    doc=(
        "Rounds to `digits` decimals (default 0: a whole number; negative: tens, hundreds…), "
        "halves away from zero."
    ),
    example="round(total, 2)",
    constants={"digits": DIGITS},
)
def _round(value: pd.Series, digits: int = 0) -> Evaluated:
    if digits > 0:
        numbers, why = _numbers(value, "round")
        if numbers.dtype == "Int64":
            return Evaluated(numbers, why)
        scale = 10.0**digits
        floats = numbers.to_numpy(dtype=float, na_value=np.nan)
        scaled = _half_away_from_zero(floats * scale) / scale
        # Where scaling overflows the value is already far beyond `digits` decimals: keep it.
        kept = np.where(np.isfinite(scaled), scaled, floats)
        return Evaluated(pd.Series(kept, index=value.index, dtype="Float64"), why)
    if digits == 0:
        return _rounded(value, "round", _half_away_from_zero)
    numbers, why = _numbers(value, "round")
    scale = 10.0 ** (-digits)
    floats = numbers.to_numpy(dtype=float, na_value=np.nan)
    result = pd.Series(_half_away_from_zero(floats / scale) * scale, index=value.index, dtype="Float64")
    whole, too_large = _whole(result, value, "round")
    return Evaluated(whole, convert.merge_reasons(why, too_large))


@register(
    "floor",
    family="numbers",
    signature="floor(value)",
    doc="The largest whole number not above the value (floor(-2.5) = -3).",
    example="floor(total)",
)
def _floor(value: pd.Series) -> Evaluated:
    return _rounded(value, "floor", np.floor)


@register(
    "ceil",
    family="numbers",
    signature="ceil(value)",
    doc="The smallest whole number not below the value (ceil(2.1) = 3).",
    example="ceil(total)",
)
def _ceil(value: pd.Series) -> Evaluated:
    return _rounded(value, "ceil", np.ceil)


@register(
    "abs",
    family="numbers",
    signature="abs(value)",
    doc="The value without its sign.",
    example="abs(balance)",
)
def _abs(value: pd.Series) -> Evaluated:
    numbers, why = _numbers(value, "abs")
    if numbers.dtype == "Int64":
        # -9223372036854775808 has no positive counterpart in 64 bits.
        overflow = convert.flags(numbers == convert.INT64_MIN)
        too_large = convert.reasons(value, overflow, "abs: ", " is too large for a whole number")
        return Evaluated(numbers.mask(overflow).abs(), convert.merge_reasons(why, too_large))
    return Evaluated(numbers.abs(), why)
