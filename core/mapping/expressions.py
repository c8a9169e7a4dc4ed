"""Mapping expressions: compiled from text, checked, and evaluated on whole columns.

See :mod:`core.mapping.syntax` for the grammar. Function names ignore case.
Arithmetic is numeric (text is read as numbers; rows that are not numbers
fail); whole numbers stay whole except through ``/``, and a result beyond 64
bits, like a division by zero, fails its row. Comparisons compare as numbers,
timestamps, booleans or text, depending on the operands, and return booleans;
``and``, ``or`` and ``not`` read their operands as booleans (true/false,
yes/no, 1/0) with Kleene logic for nulls. Evaluation never raises for a bad
value: the row fails, with a reason, and its value is NA.
"""

from __future__ import annotations

import difflib
import operator
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from core.errors import ConfigurationError
from core.mapping import convert
from core.mapping.functions import FUNCTIONS, Evaluated, FunctionSpec
from core.mapping.syntax import (
    COMPARISONS,
    LOGICAL,
    Binary,
    Call,
    Column,
    ExpressionError,
    In,
    Literal,
    Negate,
    Node,
    Not,
    parse,
    walk,
)

# --- checks -------------------------------------------------------------------------------------


def _arity(spec: FunctionSpec) -> str:
    """Describes how many arguments a function takes."""
    low, high = spec.min_args, spec.max_args
    count = f"at least {low}" if high is None else str(low) if low == high else f"{low} to {high}"
    return f"{count} argument{'' if (high or low) == 1 else 's'}"


def _check_calls(text: str, node: Node) -> None:
    """Raises ExpressionError for unknown functions, wrong arity or non-literal constants."""
    for call in (n for n in walk(node) if isinstance(n, Call)):
        spec = FUNCTIONS.get(call.name.lower())
        if spec is None:
            close = difflib.get_close_matches(call.name.lower(), FUNCTIONS, n=3, cutoff=0.7)
            hint = (
                "did you mean " + " or ".join(map(repr, close)) + "?"
                if close
                else "available functions: " + ", ".join(sorted(FUNCTIONS))
            )
            raise ExpressionError(text, f"unknown function {call.name!r}; {hint}", call.pos)
        count = len(call.args)
        if count < spec.min_args or (spec.max_args is not None and count > spec.max_args):
            detail = f"{spec.name} takes {_arity(spec)}, got {count}; usage: {spec.signature}"
            raise ExpressionError(text, detail, call.pos)
        for index, rule in spec.constants.items():
            if index < count:
                arg = call.args[index]
                if not (isinstance(arg, Literal) and rule.accepts(arg.value)):
                    raise _argument_error(text, spec, call, index, rule.description)
        if spec.check is not None:
            given = {spec.params[i]: call.args[i] for i in spec.constants if i < count}
            problem = spec.check({name: arg.value for name, arg in given.items() if isinstance(arg, Literal)})
            if problem is not None:
                raise _argument_error(text, spec, call, spec.params.index(problem[0]), problem[1])


def _argument_error(text: str, spec: FunctionSpec, call: Call, index: int, expected: str) -> ExpressionError:
    """Says which argument of a call is wrong, what it must be, and how the function is called."""
    detail = f"argument {index + 1} of {spec.name} must be {expected}; usage: {spec.signature}"
    return ExpressionError(text, detail, call.args[index].pos)


def unknown_column_message(name: str, available: Collection[str]) -> str:
    """Says a column is unknown, with close matches and the columns there are."""
    names = [str(c) for c in available]
    message = f"unknown column {name!r}"
    close = difflib.get_close_matches(name, names, n=3)
    if close:
        message += " (did you mean " + " or ".join(map(repr, close)) + "?)"
    if not names:
        return message + "; the source has no columns"
    more = f" (and {len(names) - 20} more)" if len(names) > 20 else ""
    return f"{message}; available columns: {', '.join(names[:20])}{more}"


def _check_columns(text: str, node: Node, available: Collection[str]) -> None:
    """Raises ExpressionError for the first column that is not in ``available``."""
    known = set(available)
    for column in (n for n in walk(node) if isinstance(n, Column)):
        if column.name not in known:
            raise ExpressionError(text, unknown_column_message(column.name, available), column.pos)


# --- compiled expressions -----------------------------------------------------------------------


@dataclass(frozen=True)
class Expression:
    """A checked expression, ready to evaluate on DataFrame chunks."""

    text: str
    node: Node
    columns: frozenset[str]

    def evaluate(self, frame: pd.DataFrame) -> Evaluated:
        """Evaluates on every row of ``frame``; failed rows are NA with a reason."""
        _check_columns(self.text, self.node, frame.columns)
        result = _Evaluator(self.text, frame).eval(self.node)
        if result.reasons is None:
            return result
        return Evaluated(result.values.mask(result.failed), result.reasons)


def compile_expression(text: str, columns: Collection[str] | None = None) -> Expression:
    """Parses and checks an expression; ``columns``, when known, are the columns it may use."""
    if not isinstance(text, str):
        raise ConfigurationError(f"an expression must be text, got {type(text).__name__}")
    node = parse(text)
    _check_calls(text, node)
    if columns is not None:
        _check_columns(text, node, columns)
    names = frozenset(n.name for n in walk(node) if isinstance(n, Column))
    return Expression(text, node, names)


_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_ARITHMETIC: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "%": operator.mod,
}
_merge = convert.merge_reasons
_OVERFLOW = "overflow: the result is beyond 64-bit whole numbers"


def _integer_overflow(op: str, a: pd.Series, b: pd.Series) -> np.ndarray:
    """Rows where a whole-number ``a op b`` does not fit 64 bits (numpy would silently wrap)."""
    x = a.to_numpy(dtype="int64", na_value=0)
    y = b.to_numpy(dtype="int64", na_value=0)
    with np.errstate(all="ignore"):
        if op == "+":
            r = x + y
            return ((x ^ r) & (y ^ r)) < 0
        if op == "-":
            r = x - y
            return ((x ^ y) & (x ^ r)) < 0
        if op == "*":
            r = x * y
            divisor = np.where(x == 0, 1, x)
            return (x != 0) & ((r // divisor != y) | ((x == -1) & (y == convert.INT64_MIN)))
    return np.zeros(len(x), dtype=bool)


class _Evaluator:
    """Evaluates a syntax tree on one chunk, bottom-up, one whole column per node."""

    def __init__(self, text: str, frame: pd.DataFrame) -> None:
        self.text = text
        self.frame = frame
        self.columns: dict[str, pd.Series] = {}

    def eval(self, node: Node) -> Evaluated:
        if isinstance(node, Literal):
            return Evaluated(self.broadcast(node.value))
        if isinstance(node, Column):
            return Evaluated(self.column(node))
        if isinstance(node, Call):
            return self.call(node)
        if isinstance(node, Negate):
            operand = self.eval(node.operand)
            numbers, why = self.typed(operand.values, "number")
            overflow = None
            if numbers.dtype == "Int64":
                wraps = convert.flags(numbers == convert.INT64_MIN)
                overflow = convert.constant_reasons(numbers.index, wraps, _OVERFLOW)
                numbers = numbers.mask(wraps)
            return Evaluated(-numbers, _merge(operand.reasons, why, overflow))
        if isinstance(node, Not):
            operand = self.eval(node.operand)
            truth, why = self.typed(operand.values, "boolean")
            return Evaluated(~truth, _merge(operand.reasons, why))
        if isinstance(node, In):
            return self.membership(node)
        assert isinstance(node, Binary)
        left, right = self.eval(node.left), self.eval(node.right)
        if node.op in COMPARISONS:
            return self.compare(node.op, left, right)
        if node.op in LOGICAL:
            return self.logical(node.op, left, right)
        return self.arithmetic(node.op, left, right)

    def broadcast(self, value: object) -> pd.Series:
        """Repeats a literal on every row, in the dtype of its type."""
        dtype: Any = {str: convert.STRING, bool: "boolean", int: "Int64", float: "Float64"}.get(
            type(value), object
        )
        return pd.Series(pd.NA if value is None else value, index=self.frame.index, dtype=dtype)

    def column(self, node: Column) -> pd.Series:
        """Reads a column once, with blanks as NA and numpy dtypes made nullable."""
        if node.name not in self.columns:
            values = self.frame[node.name]
            if isinstance(values, pd.DataFrame):
                raise ExpressionError(self.text, f"column {node.name!r} appears more than once", node.pos)
            family = convert.kind(values)
            if family == "string":
                values = convert.blank_to_na(values)
            elif family == "boolean":
                values = values.astype("boolean")
            elif family == "number" and not isinstance(values.dtype, pd.api.extensions.ExtensionDtype):
                integer = pd.api.types.is_signed_integer_dtype(values.dtype)
                values = values.astype("Int64" if integer else "Float64")
            self.columns[node.name] = values
        return self.columns[node.name]

    def call(self, node: Call) -> Evaluated:
        spec = FUNCTIONS[node.name.lower()]
        args: list[Any] = []
        failures: list[pd.Series | None] = []
        for index, arg in enumerate(node.args):
            if index in spec.constants:
                assert isinstance(arg, Literal)  # checked at compile time
                args.append(arg.value)
            else:
                evaluated = self.eval(arg)
                # A function that chooses between branches judges its arguments' failures itself.
                args.append(evaluated if spec.branches else evaluated.values)
                failures.append(None if spec.branches else evaluated.reasons)
        extra = {"index": self.frame.index} if spec.takes_index else {}
        out = spec.impl(*args, **extra)
        result = out if isinstance(out, Evaluated) else Evaluated(out)
        return Evaluated(result.values, _merge(*failures, result.reasons))

    def typed(self, values: pd.Series, family: str) -> tuple[pd.Series, pd.Series | None]:
        """Converts an operand to a family (number keeps integers as Int64); reasons for failures."""
        if family == "number" and convert.kind(values) in ("number", "boolean"):
            integer = pd.api.types.is_integer_dtype(values.dtype) or convert.kind(values) == "boolean"
            return values.astype("Int64" if integer else "Float64"), None
        if family == "string":
            return convert.as_string(values), None
        type_ = {"datetime": "timestamp"}.get(family, family)
        converted, failed = convert.convert(values, type_)
        return converted, convert.reasons(values, failed, suffix=" " + convert.PROBLEMS[type_])

    def arithmetic(self, op: str, left: Evaluated, right: Evaluated) -> Evaluated:
        a, a_why = self.typed(left.values, "number")
        b, b_why = self.typed(right.values, "number")
        bad_why = None
        integers = a.dtype == "Int64" and b.dtype == "Int64"
        if op in ("/", "%"):
            zero = convert.flags(b == 0)
            bad_why = convert.constant_reasons(b.index, zero, "division by zero")
            b = b.mask(zero) if integers and op == "%" else b.astype("Float64").mask(zero)
        elif integers:
            wraps = _integer_overflow(op, a, b)
            bad_why = convert.constant_reasons(a.index, wraps, _OVERFLOW)
            a = a.mask(wraps)
        values = _ARITHMETIC[op](a, b)
        if not integers and op != "%":
            floats = values.to_numpy(dtype=float, na_value=0.0)
            infinite = ~np.isfinite(floats)
            bad_why = _merge(
                bad_why, convert.constant_reasons(a.index, infinite, "overflow: the result is too large")
            )
            values = values.mask(infinite)
        return Evaluated(values, _merge(left.reasons, right.reasons, a_why, b_why, bad_why))

    def logical(self, op: str, left: Evaluated, right: Evaluated) -> Evaluated:
        a, a_why = self.typed(left.values, "boolean")
        b, b_why = self.typed(right.values, "boolean")
        values = a & b if op == "and" else a | b  # pandas' boolean dtype follows Kleene logic
        return Evaluated(values, _merge(left.reasons, right.reasons, a_why, b_why))

    def membership(self, node: In) -> Evaluated:
        value = self.eval(node.value)
        found: Evaluated | None = None
        for option in node.options:
            equal = self.compare("==", value, self.eval(option))
            found = equal if found is None else self.logical("or", found, equal)
        assert found is not None  # the parser requires at least one option
        return Evaluated(~found.values, found.reasons) if node.negated else found

    def compare(self, op: str, left: Evaluated, right: Evaluated) -> Evaluated:
        families = {convert.kind(left.values), convert.kind(right.values)}
        # The most specific family wins: "10" < 9 compares numbers, not text.
        family = next((f for f in ("number", "datetime", "boolean") if f in families), "string")
        a, a_why = self.typed(left.values, family)
        b, b_why = self.typed(right.values, family)
        raw = _COMPARE[op](a, b)
        missing = convert.flags(a.isna()) | convert.flags(b.isna())
        result = pd.arrays.BooleanArray(convert.flags(raw) & ~missing, missing)
        values = pd.Series(result, index=self.frame.index)
        return Evaluated(values, _merge(left.reasons, right.reasons, a_why, b_why))
