"""The functions an expression may call, kept in a registry the docs are generated from.

Each function receives whole columns (pandas Series; literals arrive already
broadcast) and returns a Series, or an :class:`Evaluated` when some rows can
fail. Parameters listed in ``constants`` must be literals: they arrive as
Python values and are checked when the expression is compiled.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from core.mapping import convert


@dataclass(frozen=True)
class Evaluated:
    """Values of an expression, with the reason each failed row failed (NA where it did not)."""

    values: pd.Series
    reasons: pd.Series | None = None

    @property
    def failed(self) -> np.ndarray:
        """Boolean mask of the rows that failed."""
        if self.reasons is None:
            return np.zeros(len(self.values), dtype=bool)
        return convert.flags(self.reasons.notna())


@dataclass(frozen=True)
class Constant:
    """A parameter that must be a literal: what it must be, and a test of a value."""

    description: str
    accepts: Callable[[object], bool]


@dataclass(frozen=True)
class FunctionSpec:
    """A registered function: its implementation, arity and documentation."""

    name: str
    impl: Callable[..., pd.Series | Evaluated]
    min_args: int
    #: None means any number of arguments.
    max_args: int | None
    signature: str
    doc: str
    example: str
    #: Argument position -> what the literal there must be.
    constants: Mapping[int, Constant] = field(default_factory=dict)


#: Every function an expression may call, by lower-case name.
FUNCTIONS: dict[str, FunctionSpec] = {}

F = TypeVar("F", bound=Callable[..., Any])


def register(
    name: str, *, signature: str, doc: str, example: str, constants: Mapping[str, Constant] | None = None
) -> Callable[[F], F]:
    """Registers a function; its arity comes from the Python signature (``*args`` = any number)."""

    def decorate(impl: F) -> F:
        params = list(inspect.signature(impl).parameters.values())
        positional = [p for p in params if p.kind is p.POSITIONAL_OR_KEYWORD]
        variadic = any(p.kind is p.VAR_POSITIONAL for p in params)
        names = [p.name for p in positional]
        FUNCTIONS[name] = FunctionSpec(
            name=name,
            impl=impl,
            min_args=max(1, len(names)) if variadic else sum(p.default is p.empty for p in positional),
            max_args=None if variadic else len(names),
            signature=signature,
            doc=doc,
            example=example,
            constants={names.index(param): rule for param, rule in (constants or {}).items()},
        )
        return impl

    return decorate


FORMAT = Constant(
    "a date format in quotes such as '%d/%m/%Y', or 'unix' / 'unix_ms'",
    lambda v: isinstance(v, str) and (v in convert.EPOCH_FORMATS or _valid_date_format(v)),
)
POSITION = Constant("a whole number of at least 1", lambda v: type(v) is int and v >= 1)
LENGTH = Constant("a whole number of at least 0", lambda v: type(v) is int and v >= 0)
TEXT = Constant("a string in quotes", lambda v: isinstance(v, str))
NON_EMPTY_TEXT = Constant("a non-empty string in quotes", lambda v: isinstance(v, str) and v != "")


def _valid_date_format(fmt: str) -> bool:
    """Tells whether pandas accepts ``fmt`` as a strftime format."""
    if "%" not in fmt:
        return False
    try:
        pd.to_datetime(pd.Series(["x"]), format=fmt, errors="coerce")
    except ValueError:
        return False
    return True


def _converted(result: convert.Converted, source: pd.Series, function: str, type_: str) -> Evaluated:
    """Wraps a conversion, with reasons such as "to_int: 'abc' is not an integer"."""
    why = convert.reasons(source, result.failed, f"{function}: ", " " + convert.PROBLEMS[type_])
    return Evaluated(result.values, why)


# --- text ---------------------------------------------------------------------------------------


@register("lower", signature="lower(text)", doc="Lower-cases text.", example="lower(email)")
def _lower(text: pd.Series) -> pd.Series:
    return convert.as_string(text).str.lower()


@register("upper", signature="upper(text)", doc="Upper-cases text.", example="upper(country)")
def _upper(text: pd.Series) -> pd.Series:
    return convert.as_string(text).str.upper()


@register(
    "trim", signature="trim(text)", doc="Removes leading and trailing whitespace.", example="trim(first_name)"
)
def _trim(text: pd.Series) -> pd.Series:
    return convert.as_string(text).str.strip()


@register(
    "concat",
    signature="concat(value, ...)",
    doc="Joins values as text, skipping nulls; null only when every value is null.",
    example="concat(first_name, ' ', last_name)",
)
def _concat(*values: pd.Series) -> pd.Series:
    texts = [convert.as_string(v) for v in values]
    all_null = np.logical_and.reduce([convert.flags(t.isna()) for t in texts])
    joined = texts[0].fillna("")
    for text in texts[1:]:
        joined = joined + text.fillna("")
    return joined.mask(all_null)


@register(
    "substr",
    signature="substr(text, start[, length])",
    doc="Part of the text from character `start` (1 = first), `length` characters long or to the end.",
    example="substr(postcode, 1, 4)",
    constants={"start": POSITION, "length": LENGTH},
)
def _substr(text: pd.Series, start: int, length: int | None = None) -> pd.Series:
    stop = None if length is None else start - 1 + length
    return convert.as_string(text).str.slice(start - 1, stop)


@register(
    "replace",
    signature="replace(text, old, new)",
    doc="Replaces every occurrence of the text `old` (not a pattern) with `new`.",
    example="replace(phone, ' ', '')",
    constants={"old": NON_EMPTY_TEXT, "new": TEXT},
)
def _replace(text: pd.Series, old: str, new: str) -> pd.Series:
    return convert.as_string(text).str.replace(old, new, regex=False)


# --- conversions --------------------------------------------------------------------------------


@register(
    "to_int",
    signature="to_int(value)",
    doc="Converts to a whole number; rows that are not one fail.",
    example="to_int(points)",
)
def _to_int(value: pd.Series) -> Evaluated:
    return _converted(convert.to_integer(value), value, "to_int", "integer")


@register(
    "to_float",
    signature="to_float(value)",
    doc="Converts to a decimal number; rows that are not one fail.",
    example="to_float(total)",
)
def _to_float(value: pd.Series) -> Evaluated:
    return _converted(convert.to_number(value), value, "to_float", "number")


@register(
    "to_date",
    signature="to_date(value[, format])",
    doc="Converts to a date; without a format ISO 8601 and common forms are read (01/02/2024 = 2 Jan).",
    example="to_date(dob, '%d/%m/%Y')",
    constants={"format": FORMAT},
)
def _to_date(value: pd.Series, format: str | None = None) -> Evaluated:
    return _converted(convert.to_date(value, format), value, "to_date", "date")


@register(
    "to_timestamp",
    signature="to_timestamp(value[, format])",
    doc="Converts to a UTC timestamp; values without a time zone are taken as UTC.",
    example="to_timestamp(created, 'unix_ms')",
    constants={"format": FORMAT},
)
def _to_timestamp(value: pd.Series, format: str | None = None) -> Evaluated:
    return _converted(convert.to_timestamp(value, format), value, "to_timestamp", "timestamp")


# --- nulls and conditions -----------------------------------------------------------------------


@register(
    "coalesce",
    signature="coalesce(value, ...)",
    doc="The first value that is not null.",
    example="coalesce(mobile, home_phone)",
)
def _coalesce(*values: pd.Series) -> pd.Series:
    unified = convert.unify(values)
    result = unified[0]
    for other in unified[1:]:
        result = result.where(convert.flags(result.notna()), other.array)
    return result


@register(
    "if",
    signature="if(condition, then, else)",
    doc="`then` where the condition is true, `else` where it is false or null.",
    example="if(country == 'UK', 'GB', country)",
)
def _if(condition: pd.Series, then: pd.Series, otherwise: pd.Series) -> Evaluated:
    truth = convert.to_boolean(condition)
    then, otherwise = convert.unify([then, otherwise])
    chosen = then.where(convert.flags(truth.values), otherwise.array)
    why = convert.reasons(condition, truth.failed, "if: condition ", " " + convert.PROBLEMS["boolean"])
    return Evaluated(chosen, why)


@register(
    "is_null",
    signature="is_null(value)",
    doc="True where the value is null or blank text, else false.",
    example="if(is_null(email), 'none', 'some')",
)
def _is_null(value: pd.Series) -> pd.Series:
    if convert.kind(value) == "string":
        value = convert.blank_to_na(value)
    return value.isna().astype("boolean")


def function_reference() -> str:
    """Returns a Markdown table of the registered functions, for the docs."""
    lines = ["| Function | Does | Example |", "|---|---|---|"]
    for spec in sorted(FUNCTIONS.values(), key=lambda s: s.name):
        lines.append(f"| `{spec.signature}` | {spec.doc} | `{spec.example}` |")
    return "\n".join(lines)


__all__ = ["FUNCTIONS", "Constant", "Evaluated", "FunctionSpec", "function_reference", "register"]
