"""Logic and null-handling functions of the expression language.

``if``, ``iif`` and ``case`` are registered with ``branches=True``: they see
their arguments' failure reasons and keep only those of the rows where the
argument matters, so ``if(kind == 'n', to_int(v), 0)`` does not fail the rows
whose ``v`` was never going to be used.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from core.mapping import convert
from core.mapping.functions import Evaluated, register


@register(
    "coalesce",
    family="logic",
    signature="coalesce(value, ...)",
    doc="The first value that is not null.",
    example="coalesce(mobile, home_phone)",
)
def _coalesce(value: pd.Series, *values: pd.Series) -> pd.Series:
    unified = convert.unify([value, *values])
    result = unified[0]
    for other in unified[1:]:
        result = result.where(convert.flags(result.notna()), other.array)
    return result


def _condition(condition: Evaluated, function: str, number: str) -> tuple[np.ndarray, Evaluated]:
    """Reads a condition as true/false (null is false); non-booleans fail with a reason."""
    truth = convert.to_boolean(condition.values)
    problem = " " + convert.PROBLEMS["boolean"]
    why = convert.reasons(condition.values, truth.failed, f"{function}: condition {number}", problem)
    return convert.flags(truth.values), Evaluated(truth.values, convert.merge_reasons(condition.reasons, why))


def _choose(
    function: str,
    pairs: list[tuple[Evaluated, Evaluated]],
    default: Evaluated | None,
    index: pd.Index,
) -> Evaluated:
    """The value of the first true condition of each row, else the default (or null).

    A row fails when a condition it reached fails, or when the value it chose does.
    """
    values = [value.values for _, value in pairs]
    if default is not None:
        values.append(default.values)
    unified = convert.unify(values)
    result = unified[-1] if default is not None else unified[0].mask(np.ones(len(index), dtype=bool))
    decided = np.zeros(len(index), dtype=bool)
    reasons: list[pd.Series | None] = []
    numbered = len(pairs) > 1
    for number, ((condition, value), typed) in enumerate(zip(pairs, unified, strict=False), start=1):
        truth, read = _condition(condition, function, f"{number} " if numbered else "")
        undecided = ~decided
        chosen = truth & undecided
        reasons += [convert.only_on(read.reasons, undecided), convert.only_on(value.reasons, chosen)]
        result = result.where(~chosen, typed.array)
        decided |= chosen | (undecided & read.failed)
    if default is not None:
        reasons.append(convert.only_on(default.reasons, ~decided))
    return Evaluated(result, convert.merge_reasons(*reasons))


def _if_named(function: str) -> Callable[[Evaluated, Evaluated, Evaluated], Evaluated]:
    def choose(condition: Evaluated, then: Evaluated, otherwise: Evaluated) -> Evaluated:
        return _choose(function, [(condition, then)], otherwise, condition.values.index)

    return choose


_CONDITIONAL_DOC = "`then` where the condition is true, `else` where it is false or null."
register(
    "if",
    family="logic",
    signature="if(condition, then, else)",
    doc=_CONDITIONAL_DOC,
    example="if(country == 'UK', 'GB', country)",
    branches=True,
)(_if_named("if"))
register(
    "iif",
    family="logic",
    signature="iif(condition, then, else)",
    doc="The same as `if`: " + _CONDITIONAL_DOC,
    example="iif(points > 100, 'gold', 'standard')",
    branches=True,
)(_if_named("iif"))


@register(
    "case",
    family="logic",
    signature="case(condition1, value1, condition2, value2, ...[, default])",
    doc=(
        "The value after the first true condition; with an odd number of arguments the last is the "
        "default, else rows with no true condition are null."
    ),
    example="case(points >= 1000, 'gold', points >= 100, 'silver', 'bronze')",
    branches=True,
)
def _case(condition: Evaluated, value: Evaluated, *rest: Evaluated) -> Evaluated:
    arguments = [condition, value, *rest]
    default = arguments.pop() if len(arguments) % 2 else None
    pairs = list(zip(arguments[::2], arguments[1::2], strict=True))
    return _choose("case", pairs, default, condition.values.index)


@register(
    "is_null",
    family="logic",
    signature="is_null(value)",
    doc="True where the value is null or blank text, else false.",
    example="if(is_null(email), 'none', 'some')",
)
def _is_null(value: pd.Series) -> pd.Series:
    if convert.kind(value) == "string":
        value = convert.blank_to_na(value)
    return value.isna().astype("boolean")
