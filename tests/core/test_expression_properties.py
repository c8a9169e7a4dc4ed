"""Property tests of the expression parser and evaluator (hypothesis).

- any syntax tree, written out by ``render``, parses back to the same tree;
- no text makes ``compile_expression`` raise anything but ExpressionError;
- integer arithmetic, comparisons and Kleene logic evaluate as a small
  reference interpreter written here says (Python's ints, None for null).
"""

from __future__ import annotations

import dataclasses

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.mapping import ExpressionError, compile_expression, parse, render
from core.mapping.syntax import (
    COMPARISONS,
    Binary,
    Call,
    Column,
    In,
    Literal,
    Negate,
    Node,
    Not,
    children,
)
from core.mapping.tokens import WORD_OPERATORS

INT_MIN, INT_MAX = -(2**63), 2**63 - 1
# Every test sets database=None: no .hypothesis folder is left in the work tree.


def without_positions(node: Node) -> Node:
    """The same tree with every position 0, to compare trees parsed from different texts."""
    if isinstance(node, Call):
        return dataclasses.replace(node, args=tuple(map(without_positions, node.args)), pos=0)
    if isinstance(node, Negate | Not):
        return dataclasses.replace(node, operand=without_positions(node.operand), pos=0)
    if isinstance(node, Binary):
        return dataclasses.replace(
            node, left=without_positions(node.left), right=without_positions(node.right), pos=0
        )
    if isinstance(node, In):
        options = tuple(map(without_positions, node.options))
        return dataclasses.replace(node, value=without_positions(node.value), options=options, pos=0)
    return dataclasses.replace(node, pos=0)


# --- random syntax trees --------------------------------------------------------------------------

names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,6}(\.[A-Za-z_][A-Za-z0-9_]{0,4})?", fullmatch=True).filter(
    lambda name: name.lower() not in WORD_OPERATORS
)
literals = st.one_of(
    st.integers(INT_MIN, INT_MAX),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
    st.sampled_from([True, False, None]),
).map(lambda value: Literal(value, 0))
columns = st.one_of(names, st.text(min_size=1, max_size=8)).map(lambda name: Column(name, 0))


def _numeric_literal(node: Node) -> bool:
    return isinstance(node, Literal) and type(node.value) in (int, float)


def _extend(inner: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
    operators = sorted(COMPARISONS | {"+", "-", "*", "/", "%", "and", "or"})
    return st.one_of(
        st.builds(lambda op, a, b: Binary(op, a, b, 0), st.sampled_from(operators), inner, inner),
        # The parser folds "-3" into a literal, so a minus over a number literal is never a tree it makes.
        inner.filter(lambda n: not _numeric_literal(n)).map(lambda n: Negate(n, 0)),
        inner.map(lambda n: Not(n, 0)),
        st.builds(lambda f, args: Call(f, tuple(args), 0), names, st.lists(inner, max_size=3)),
        st.builds(
            lambda v, opts, neg: In(v, tuple(opts), neg, 0),
            inner,
            st.lists(inner, min_size=1, max_size=3),
            st.booleans(),
        ),
    )


trees = st.recursive(st.one_of(literals, columns), _extend, max_leaves=12)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], database=None)
@given(trees)
def test_rendered_trees_parse_back_to_the_same_tree(tree: Node) -> None:
    text = render(tree)
    assert without_positions(parse(text)) == without_positions(tree), text
    assert render(parse(text)) == text


@settings(database=None)
@given(trees)
def test_positions_point_at_the_text_of_each_node(tree: Node) -> None:
    text = render(tree)
    stack = [parse(text)]
    while stack:
        node = stack.pop()
        assert 0 <= node.pos < len(text)
        if isinstance(node, Column) and text[node.pos] != "`":
            assert text.startswith(node.name, node.pos)
        if isinstance(node, Call):
            assert text.startswith(node.name + "(", node.pos)
        stack.extend(children(node))


# --- any text -------------------------------------------------------------------------------------

_pieces = st.sampled_from(
    [
        "a",
        "b",
        "1",
        "2.5",
        "'x'",
        '"y"',
        "`c d`",
        "(",
        ")",
        ",",
        "+",
        "-",
        "*",
        "/",
        "%",
        "==",
        "!=",
        "<",
        ">=",
        "and",
        "or",
        "not",
        "in",
        "true",
        "null",
        "lower",
        "if",
        "case",
        "substr",
        "to_int",
        "json_get",
        "pad",
        "\\",
        "'",
        "`",
        "=",
        "!",
        "#",
        "9223372036854775808",
        ".",
        "1.",
        "split",
        "date_add",
        "'days'",
        "-9223372036854775808",
    ]
)


@settings(max_examples=500, database=None)
@given(st.one_of(st.text(max_size=40), st.lists(_pieces, max_size=25).map(" ".join)))
def test_any_text_compiles_or_raises_expression_error(text: str) -> None:
    try:
        expression = compile_expression(text)
    except ExpressionError as error:
        assert error.position is None or 1 <= error.position <= len(text) + 1
        return
    frame = pd.DataFrame({name: ["1", None] for name in expression.columns})
    if not expression.columns:
        frame = pd.DataFrame(index=range(2))
    expression.evaluate(frame)  # a compiled expression never raises on data


def test_deep_nesting_is_refused_not_a_crash() -> None:
    for text in ["(" * 5000 + "a" + ")" * 5000, "-" * 5000 + "a", "not " * 3000 + "a", "+".join(["a"] * 3000),
                 "lower(" * 2000 + "a" + ")" * 2000]:  # fmt: skip
        try:
            compile_expression(text)
        except ExpressionError as error:
            assert "nested too deeply" in error.detail
        else:
            raise AssertionError(f"accepted {text[:20]}...")


# --- integer arithmetic, comparisons and logic ----------------------------------------------------


class _Failed(Exception):
    """The reference interpreter's row failure (overflow, division by zero)."""


def reference(node: Node) -> object:
    """Evaluates an integer/boolean tree with Python's semantics; None is null."""
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, Negate):
        value = reference(node.operand)
        return None if value is None else _fit(-value)  # type: ignore[operator]
    if isinstance(node, Not):
        value = reference(node.operand)
        return None if value is None else not value
    assert isinstance(node, Binary)
    left, right = reference(node.left), reference(node.right)
    if node.op == "and":
        return False if False in (left, right) else None if None in (left, right) else True
    if node.op == "or":
        return True if True in (left, right) else None if None in (left, right) else False
    if left is None or right is None:
        if node.op in ("%",) and right == 0:
            raise _Failed
        return None
    if node.op in COMPARISONS:
        return {
            "==": left == right,
            "!=": left != right,
            "<": left < right,
            "<=": left <= right,  # type: ignore[operator]
            ">": left > right,
            ">=": left >= right,
        }[node.op]  # type: ignore[operator]
    if node.op == "%":
        if right == 0:
            raise _Failed
        return left % right  # type: ignore[operator]
    return _fit({"+": left + right, "-": left - right, "*": left * right}[node.op])  # type: ignore[operator]


def _fit(value: int) -> int:
    if not INT_MIN <= value <= INT_MAX:
        raise _Failed
    return value


small_ints = st.one_of(
    st.integers(-1000, 1000), st.sampled_from([0, 1, -1, INT_MAX, INT_MIN, 2**32, -(2**32)])
)
int_leaves = st.one_of(small_ints.map(lambda v: Literal(v, 0)), st.just(Literal(None, 0)))


def _int_tree(inner: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
    return st.one_of(
        st.builds(lambda op, a, b: Binary(op, a, b, 0), st.sampled_from(["+", "-", "*", "%"]), inner, inner),
        inner.filter(lambda n: not _numeric_literal(n)).map(lambda n: Negate(n, 0)),
    )


int_trees = st.recursive(int_leaves, _int_tree, max_leaves=8)


def _bool_tree(inner: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
    return st.one_of(
        st.builds(lambda op, a, b: Binary(op, a, b, 0), st.sampled_from(["and", "or"]), inner, inner),
        inner.map(lambda n: Not(n, 0)),
    )


comparisons = st.builds(
    lambda op, a, b: Binary(op, a, b, 0), st.sampled_from(sorted(COMPARISONS)), int_trees, int_trees
)
bool_trees = st.recursive(
    st.one_of(comparisons, st.sampled_from([True, False, None]).map(lambda v: Literal(v, 0))),
    _bool_tree,
    max_leaves=6,
)


def _evaluated_row(text: str) -> tuple[object, bool]:
    result = compile_expression(text).evaluate(pd.DataFrame(index=[0]))
    value = result.values.iloc[0]
    return (None if pd.isna(value) else value), bool(result.failed[0])


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], database=None)
@given(st.one_of(int_trees, bool_trees))
def test_integer_and_boolean_expressions_evaluate_like_python(tree: Node) -> None:
    text = render(tree)
    value, failed = _evaluated_row(text)
    try:
        expected = reference(tree)
    except _Failed:
        assert failed, text
        return
    assert not failed, text
    assert value == expected, text
    if isinstance(expected, int) and not isinstance(expected, bool):
        assert type(value) is not float, text
