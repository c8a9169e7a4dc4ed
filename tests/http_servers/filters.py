"""Filter and sort expressions the vendor fakes evaluate over in-memory rows.

Dataverse's OData ``$filter`` (``modifiedon ge 2026-11-01T10:00:00Z and
statecode eq 0``) and Marketing Cloud's rowset ``$filter`` (``ModifiedDate gte
'2026-11-01'``) share a grammar: comparisons ``<field> <operator> <literal>``
joined by ``and``/``or`` (``and`` binds tighter), with parentheses. A fake
says which operator words it knows, how a field name resolves (unknown fields
are its error) and how a literal reads for a field (a type mismatch is its
error); this module parses and evaluates. Nulls compare as SQL does: only
``eq``/``ne`` match them.
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

Row = Mapping[str, Any]
Predicate = Callable[[Row], bool]
#: Resolves a field name to (the name rows use, a function giving a row's comparable value).
FieldResolver = Callable[[str], tuple[str, Callable[[Row], Any]]]
#: Reads a literal token for a resolved field (quotes, dates, numbers), raising FilterError when it cannot.
LiteralReader = Callable[[str, str], Any]


def _like(value: Any, pattern: Any) -> bool:
    """SQL ``LIKE``: ``%`` any run, ``_`` one character, case-insensitive."""
    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in str(pattern))
    return re.fullmatch(regex, str(value), re.IGNORECASE | re.DOTALL) is not None


COMPARISONS: Mapping[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "gt": operator.gt,
    "ge": operator.ge,
    "lt": operator.lt,
    "le": operator.le,
    "like": _like,
}
_TOKEN = re.compile(r"\s*(\(|\)|'(?:[^']|'')*'|[^\s()]+)")


class FilterError(ValueError):
    """The expression cannot be parsed or does not fit the fields; the fake answers it with a 400."""


def parse_filter(
    text: str, *, operators: Mapping[str, str], field: FieldResolver, literal: LiteralReader
) -> Predicate:
    """A predicate over rows from ``text``.

    Args:
        operators: the fake's operator words -> a key of :data:`COMPARISONS` (``{"gte": "ge"}``).
        field: resolves a field name; raises FilterError for an unknown one.
        literal: reads a literal for a field; raises FilterError for one that does not fit.
    """
    tokens = _TOKEN.findall(text)
    position = 0

    def peek() -> str | None:
        return tokens[position] if position < len(tokens) else None

    def take() -> str:
        nonlocal position
        if position >= len(tokens):
            raise FilterError(f"the filter {text!r} ends too early")
        position += 1
        return tokens[position - 1]

    def joined(word: str, operand: Callable[[], Predicate], combine: Callable[[Any], bool]) -> Predicate:
        """Operands joined by ``word`` (``or`` of ``and`` terms: ``and`` binds tighter)."""
        parts = [operand()]
        while (peek() or "").lower() == word:
            take()
            parts.append(operand())
        return parts[0] if len(parts) == 1 else lambda row: combine(part(row) for part in parts)

    def either() -> Predicate:
        return joined("or", lambda: joined("and", atom, all), any)

    def atom() -> Predicate:
        if peek() == "(":
            take()
            inner = either()
            if take() != ")":
                raise FilterError(f"unbalanced parentheses in {text!r}")
            return inner
        name, word, raw = take(), take(), take()
        if word.lower() not in operators:
            raise FilterError(f"unknown operator {word!r} in {text!r}; known: {', '.join(operators)}")
        resolved, value_of = field(name)
        compare = COMPARISONS[operators[word.lower()]]
        wanted = literal(resolved, raw)
        return lambda row: _compare(compare, value_of(row), wanted)

    predicate = either()
    if position != len(tokens):
        raise FilterError(f"unexpected {tokens[position]!r} in the filter {text!r}")
    return predicate


def _compare(compare: Callable[[Any, Any], bool], value: Any, wanted: Any) -> bool:
    if value is None or wanted is None:
        if compare is operator.eq:
            return value is None and wanted is None
        if compare is operator.ne:
            return (value is None) != (wanted is None)
        return False
    return compare(value, wanted)


def sort_key(order: Sequence[tuple[Callable[[Row], Any], bool]]) -> Callable[[Row], Any]:
    """A sort key over rows for (value of, descending) pairs; nulls first ascending, as SQL Server sorts."""

    def compare(left: Row, right: Row) -> int:
        for value_of, descending in order:
            a, b = value_of(left), value_of(right)
            if a == b:
                continue
            before = a is None if (a is None or b is None) else a < b
            return (1 if before else -1) if descending else (-1 if before else 1)
        return 0

    return functools.cmp_to_key(compare)


def unquote(raw: str) -> str | None:
    """The text of a single-quoted literal (quotes doubled inside), or None when ``raw`` is not quoted."""
    if len(raw) >= 2 and raw[0] == raw[-1] == "'":
        return raw[1:-1].replace("''", "'")
    return None
