"""Tests of logic (and/or/not/in, if/iif/case), numbers (round, %, overflow) and type conversions."""

from __future__ import annotations

import itertools

import pandas as pd
import pytest

from core.mapping import ExpressionError, compile_expression, parse
from core.mapping.syntax import Binary, Column, In, Literal, Not
from tests.core.test_expressions import compile_error, evaluate, values

# --- boolean operators ----------------------------------------------------------------------------

TRUTHS = [True, False, None]
PAIRS = pd.DataFrame(
    {
        "a": pd.array([a for a, _ in itertools.product(TRUTHS, TRUTHS)], dtype="boolean"),
        "b": pd.array([b for _, b in itertools.product(TRUTHS, TRUTHS)], dtype="boolean"),
    }
)


def kleene_and(a: bool | None, b: bool | None) -> bool | None:
    if a is False or b is False:
        return False
    return None if a is None or b is None else True


def kleene_or(a: bool | None, b: bool | None) -> bool | None:
    if a is True or b is True:
        return True
    return None if a is None or b is None else False


def test_and_or_not_follow_kleene_logic() -> None:
    pairs = list(itertools.product(TRUTHS, TRUTHS))
    assert values("a and b", PAIRS) == [kleene_and(a, b) for a, b in pairs]
    assert values("a or b", PAIRS) == [kleene_or(a, b) for a, b in pairs]
    assert values("not a", PAIRS) == [None if a is None else not a for a, _ in pairs]
    assert values("a AND NOT b Or false", PAIRS) == [
        kleene_or(kleene_and(a, None if b is None else not b), False) for a, b in pairs
    ]


def test_boolean_operator_precedence() -> None:
    node = parse("not a or b and c == 1")
    assert isinstance(node, Binary) and node.op == "or"
    assert node.left == Not(Column("a", 4), 0)
    assert isinstance(node.right, Binary) and node.right.op == "and"
    assert isinstance(node.right.right, Binary) and node.right.right.op == "=="
    assert parse("NOT a == b") == Not(Binary("==", Column("a", 4), Column("b", 9), 6), 0)


def test_boolean_operators_read_text_and_numbers_and_fail_the_rest() -> None:
    frame = pd.DataFrame({"t": ["yes", "N", "1", "maybe", None], "n": [1, 0, 1, 0, 1]})
    result = evaluate("t and n", frame)
    assert [None if pd.isna(v) else v for v in result.values] == [True, False, True, None, None]
    assert result.failed.tolist() == [False, False, False, True, False]
    assert result.reasons is not None
    assert result.reasons.iloc[3].startswith("'maybe' is not a boolean")


def test_columns_named_like_operators_go_in_backticks() -> None:
    frame = pd.DataFrame({"and": [True], "order": [False], "Not": [True]})
    assert values("`and` or order", frame) == [True]
    assert values("not `Not`", frame) == [False]
    error = compile_error("and or b")
    assert error.position == 1


@pytest.mark.parametrize(
    ("text", "position", "detail"),
    [
        ("a == not b", 6, "expected a value (put 'not ...' in parentheses here), found 'not'"),
        ("a and", 6, "expected a value"),
        ("a not b", 3, "expected an operator or the end of the expression, found 'not'"),
        ("a in b", 6, "expected '(' and a list of values after 'in', found 'b'"),
        ("a in ()", 7, "expected at least one value, found ')'"),
        ("a in (1, 2", 11, "expected ')'"),
        ("a in (1) in (2)", 10, "comparisons cannot be chained"),
        ("a == b in (1)", 8, "comparisons cannot be chained"),
        ("-not a", 2, "expected a value (put 'not ...' in parentheses here)"),
    ],
)
def test_boolean_and_membership_syntax_errors(text: str, position: int, detail: str) -> None:
    error = compile_error(text)
    assert error.position == position
    assert detail in error.detail


# --- in -------------------------------------------------------------------------------------------


def test_in_and_not_in_compare_like_equality_with_null_semantics() -> None:
    frame = pd.DataFrame({"c": ["UK", "FR", None, "DE"], "n": ["1", "2", "3", "x"]})
    assert values("c in ('UK', 'GB')", frame) == [True, False, None, False]
    assert values("c not in ('UK', 'GB')", frame) == [False, True, None, True]
    assert values("c in ('UK', null)", frame) == [True, None, None, None]  # like c == 'UK' or c == null
    assert values("lower(c) in (lower('uk'), 'fr')", frame) == [True, True, None, False]
    result = evaluate("n in (1, 3)", frame)  # numbers compare as numbers
    assert [None if pd.isna(v) else v for v in result.values] == [True, False, True, None]
    assert result.failed.tolist() == [False, False, False, True]
    assert parse("c not in (1)") == In(Column("c", 0), (Literal(1, 10),), True, 2)


# --- if / iif / case ------------------------------------------------------------------------------

KINDS = pd.DataFrame({"kind": ["n", "t", "n", None, "t"], "v": ["5", "abc", "x", "7", "def"]})


@pytest.mark.parametrize("function", ["if", "iif"])
def test_if_only_fails_a_row_for_the_branch_it_chooses(function: str) -> None:
    result = evaluate(f"{function}(kind == 'n', to_int(v), 0)", KINDS)
    assert [None if pd.isna(v) else v for v in result.values] == [5, 0, None, 0, 0]
    assert result.failed.tolist() == [False, False, True, False, False]
    assert result.reasons is not None and result.reasons.iloc[2] == "to_int: 'x' is not an integer"


def test_if_fails_rows_whose_condition_is_not_a_boolean() -> None:
    result = evaluate("iif(v, 'yes', 'no')", pd.DataFrame({"v": ["true", "hmm", None]}))
    assert [None if pd.isna(v) else v for v in result.values] == ["yes", None, "no"]
    assert result.reasons is not None
    assert result.reasons.iloc[1] == (
        "iif: condition 'hmm' is not a boolean (expected true/false, yes/no, y/n or 1/0)"
    )


def test_case_takes_the_first_true_condition_or_the_default() -> None:
    frame = pd.DataFrame({"p": [1500, 200, 5, None]}, dtype="Int64")
    assert values("case(p >= 1000, 'gold', p >= 100, 'silver', 'bronze')", frame) == [
        "gold",
        "silver",
        "bronze",
        "bronze",
    ]
    assert values("case(p >= 1000, 'gold', p >= 100, 'silver')", frame) == ["gold", "silver", None, None]
    assert values("case(p > 0, p * 2, 0.5)", frame) == [3000.0, 400.0, 10.0, 0.5]


def test_case_judges_failures_branch_by_branch() -> None:
    result = evaluate("case(kind == 'n', to_int(v), to_int(v) > 6, 'big', 'other')", KINDS)
    # Row 1: first condition false, second fails on 'abc'; row 3: kind null, '7' > 6 -> 'big'.
    assert [None if pd.isna(v) else v for v in result.values] == [5, None, None, "big", None]
    assert result.failed.tolist() == [False, True, True, False, True]
    condition = evaluate("case(v, 'yes', 'no')", pd.DataFrame({"v": ["y", "?"]}))
    assert condition.reasons is not None
    assert condition.reasons.iloc[1].startswith("case: condition '?' is not a boolean")
    numbered = evaluate("case(false, 1, v, 2)", pd.DataFrame({"v": ["y", "?"]}))
    assert numbered.reasons is not None and numbered.reasons.iloc[1].startswith("case: condition 2 '?'")


def test_case_needs_a_condition_and_a_value() -> None:
    error = compile_error("case(a)")
    assert "case takes at least 2 arguments, got 1" in error.detail


# --- numbers --------------------------------------------------------------------------------------

FIGURES = pd.DataFrame({"x": ["2.5", "-2.5", "1.005", "0.49999999999999994", "-0.5", "abc", None, "1e300"]})


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("round(x)", [3, -3, 1, 0, -1, None, None, None]),
        ("round(x, 1)", [2.5, -2.5, 1.0, 0.5, -0.5, None, None, 1e300]),
        ("round(x, 2)", [2.5, -2.5, 1.0, 0.5, -0.5, None, None, 1e300]),  # 1.005 is 1.00499999... as a float
        ("floor(x)", [2, -3, 1, 0, -1, None, None, None]),
        ("ceil(x)", [3, -2, 2, 1, 0, None, None, None]),
        ("abs(x)", [2.5, 2.5, 1.005, 0.49999999999999994, 0.5, None, None, 1e300]),
    ],
)
def test_rounding_functions(expression: str, expected: list) -> None:
    result = evaluate(expression, FIGURES)
    assert [None if pd.isna(v) else v for v in result.values] == expected
    name = expression.split("(")[0]
    assert result.reasons is not None and result.reasons.iloc[5] == f"{name}: 'abc' is not a number"
    whole = name in ("floor", "ceil") or expression == "round(x)"
    assert result.failed[7] == whole  # 1e300 has no 64-bit whole number
    if whole:
        assert result.reasons.iloc[7] == f"{name}: '1e300' is too large for a whole number"


def test_rounding_to_tens_and_integers_stay_integers() -> None:
    frame = pd.DataFrame({"n": pd.array([1234, -1250, 15, None], dtype="Int64")})
    assert values("round(n, -2)", frame) == [1200, -1300, 0, None]
    assert values("round(n, -1)", frame) == [1230, -1250, 20, None]
    assert str(evaluate("round(n)", frame).values.dtype) == "Int64"
    assert values("abs(n)", frame) == [1234, 1250, 15, None]
    with pytest.raises(ExpressionError, match="argument 2 of round must be a whole number from -15 to 15"):
        compile_expression("round(n, 16)")


MOD = pd.DataFrame({"a": [7, -7, 7, -7, 5], "b": [3, 3, -3, -3, 0]})


def test_modulo_follows_python_and_fails_on_zero() -> None:
    result = evaluate("a % b", MOD)
    assert [None if pd.isna(v) else v for v in result.values] == [7 % 3, -7 % 3, 7 % -3, -7 % -3, None]
    assert str(result.values.dtype) == "Int64"
    assert result.failed.tolist() == [False, False, False, False, True]
    assert result.reasons is not None and result.reasons.iloc[4] == "division by zero"
    floats = values("a % 2.5", MOD)
    assert floats == [7 % 2.5, -7 % 2.5, 7 % 2.5, -7 % 2.5, 5 % 2.5]
    assert parse("a + b % c") == Binary(
        "+", Column("a", 0), Binary("%", Column("b", 4), Column("c", 8), 6), 2
    )


LIMITS = pd.DataFrame({"big": pd.array([2**63 - 1, -(2**63), 2**62, 3, None], dtype="Int64")})


@pytest.mark.parametrize(
    ("expression", "failed"),
    [
        ("big + 1", [True, False, False, False, False]),
        ("big - 1", [False, True, False, False, False]),
        ("big * 2", [True, True, True, False, False]),
        ("big * -1", [False, True, False, False, False]),
        ("-big", [False, True, False, False, False]),
        ("abs(big)", [False, True, False, False, False]),
        ("big + big", [True, True, True, False, False]),
    ],
)
def test_integer_overflow_fails_the_row_instead_of_wrapping(expression: str, failed: list) -> None:
    result = evaluate(expression, LIMITS)
    assert result.failed.tolist() == failed
    python = compile_expression(expression)
    assert python.columns == frozenset({"big"})
    for row, value in enumerate(result.values):
        if not failed[row] and not pd.isna(value):
            assert -(2**63) <= value < 2**63


def test_decimal_overflow_and_division_by_zero_fail_rows() -> None:
    frame = pd.DataFrame({"x": [1e308, 1.0, 0.0]})
    result = evaluate("x * 10", frame)
    assert result.failed.tolist() == [True, False, False]
    assert result.reasons is not None and result.reasons.iloc[0] == "overflow: the result is too large"
    division = evaluate("1 / x", frame)
    assert division.failed.tolist() == [False, False, True]


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        ("9223372036854775808", "whole number too large (at most 9223372036854775807)"),
        ("99999999999999999999999", "whole number too large"),
        ("1" * 5000, "whole number too large"),
        ("1" * 400 + ".0", "number too large"),
        ("--9223372036854775808", "whole number too large"),
    ],
)
def test_number_literals_must_fit(text: str, detail: str) -> None:
    error = compile_error(text)
    assert detail in error.detail


def test_the_smallest_integer_literal_is_allowed() -> None:
    assert parse("-9223372036854775808") == Literal(-(2**63), 0)


# --- conversions ----------------------------------------------------------------------------------


def test_to_bool_reads_words_in_any_case_and_fails_the_rest() -> None:
    frame = pd.DataFrame({"v": ["TRUE", "no", "Y", "n", "1", "0", "Yes", "maybe", "2", None, " false "]})
    result = evaluate("to_bool(v)", frame)
    assert [None if pd.isna(v) else v for v in result.values] == [
        True,
        False,
        True,
        False,
        True,
        False,
        True,
        None,
        None,
        None,
        False,
    ]
    assert result.failed.tolist() == [False] * 7 + [True, True, False, False]
    assert result.reasons is not None
    assert (
        result.reasons.iloc[7]
        == "to_bool: 'maybe' is not a boolean (expected true/false, yes/no, y/n or 1/0)"
    )


def test_to_string_writes_each_type_plainly() -> None:
    frame = pd.DataFrame(
        {
            "i": pd.array([42, None], dtype="Int64"),
            "f": [2.5, None],
            "b": pd.array([True, None], dtype="boolean"),
            "t": pd.to_datetime(["2024-01-05T10:00:00.250Z", None], utc=True),
            "d": pd.to_datetime(["2024-01-05", None]),
        }
    )
    assert values("to_string(i)", frame) == ["42", None]
    assert values("to_string(f)", frame) == ["2.5", None]
    assert values("to_string(b)", frame) == ["true", None]
    assert values("to_string(t)", frame) == ["2024-01-05T10:00:00.25Z", None]
    assert values("to_string(d)", frame) == ["2024-01-05", None]
    assert values("to_string(to_timestamp('2024-01-05 10:00', null, 'Europe/Paris'))", frame)[0] == (
        "2024-01-05T09:00:00Z"
    )
