"""Writes the syntax tree of a mapping expression back as text, for instance after renaming a column.

The text parses back to the same tree (positions aside), with brackets only where precedence needs them.
"""

from __future__ import annotations

from decimal import Decimal

from core.mapping.syntax import (
    ATOM_LEVEL,
    COMPARISON_LEVEL,
    COMPARISONS,
    LEVELS,
    NEGATE_LEVEL,
    NOT_LEVEL,
    SUM_LEVEL,
    Binary,
    Call,
    Column,
    In,
    Literal,
    Negate,
    Node,
    Not,
)
from core.mapping.tokens import KEYWORDS, NAME, WORD_OPERATORS

_STRING_ESCAPES = {"\\": "\\\\", "'": "\\'", "\n": "\\n", "\t": "\\t", "\r": "\\r"}
_NAME_ESCAPES = {"\\": "\\\\", "`": "\\`", "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def render(node: Node) -> str:
    """Writes a syntax tree back as expression text that parses to the same tree (positions aside)."""
    return _render(node, 0)


def _level(node: Node) -> int:
    """How tightly a node's text binds, on the scale of ``LEVELS``."""
    if isinstance(node, Binary):
        return LEVELS[node.op]
    if isinstance(node, In):
        return COMPARISON_LEVEL
    if isinstance(node, Not):
        return NOT_LEVEL
    if isinstance(node, Negate) or (isinstance(node, Literal) and _is_negative(node.value)):
        return NEGATE_LEVEL
    return ATOM_LEVEL


def _is_negative(value: object) -> bool:
    return type(value) in (int, float) and str(value).startswith("-")


def _render(node: Node, level: int) -> str:
    text = _render_bare(node)
    return f"({text})" if _level(node) < level else text


def _render_bare(node: Node) -> str:
    if isinstance(node, Literal):
        return _render_literal(node.value)
    if isinstance(node, Column):
        bare = NAME.fullmatch(node.name) and node.name.lower() not in WORD_OPERATORS | set(KEYWORDS)
        return node.name if bare else "`" + "".join(_NAME_ESCAPES.get(c, c) for c in node.name) + "`"
    if isinstance(node, Call):
        return f"{node.name}({', '.join(_render(arg, 0) for arg in node.args)})"
    if isinstance(node, Negate):
        return "-" + _render(node.operand, NEGATE_LEVEL)
    if isinstance(node, Not):
        return "not " + _render(node.operand, NOT_LEVEL)
    if isinstance(node, In):
        options = ", ".join(_render(option, 0) for option in node.options)
        return f"{_render(node.value, SUM_LEVEL)} {'not in' if node.negated else 'in'} ({options})"
    level = LEVELS[node.op]
    if node.op in COMPARISONS:  # comparisons do not chain: both sides are sums
        return f"{_render(node.left, SUM_LEVEL)} {node.op} {_render(node.right, SUM_LEVEL)}"
    return f"{_render(node.left, level)} {node.op} {_render(node.right, level + 1)}"


def _render_literal(value: object) -> str:
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = format(Decimal(repr(value)), "f")  # never an exponent: the grammar has none
        return text if "." in text else text + ".0"
    assert isinstance(value, str)
    return "'" + "".join(_STRING_ESCAPES.get(c, c) for c in value) + "'"
