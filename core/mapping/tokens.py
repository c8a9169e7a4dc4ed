"""The tokens of mapping expressions: names, backtick column names, strings, numbers, operators.

The lexical rules are in the grammar of :mod:`core.mapping.syntax`. :class:`ExpressionError`
lives here because the tokenizer is the first to raise it; the parser raises it too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from core.errors import ConfigurationError


class ExpressionError(ConfigurationError):
    """An expression is malformed, or names an unknown function or column.

    Attributes:
        expression: the expression's text.
        position: 1-based character where the problem is, if it has one.
        detail: what is wrong, without the expression.
    """

    code = "expression"

    def __init__(self, expression: str, detail: str, offset: int | None = None) -> None:
        """Builds the message; ``offset`` is the 0-based index of the problem in ``expression``."""
        where = "" if offset is None else f" at character {offset + 1}"
        super().__init__(f"{expression}{where}: {detail}")
        self.expression = expression
        self.position = None if offset is None else offset + 1
        self.detail = detail


#: The whole numbers an expression may hold (64-bit).
INT_MIN, INT_MAX = -(2**63), 2**63 - 1


@dataclass(frozen=True)
class Token:
    """A lexical unit: kind, source text, parsed value and 0-based offset."""

    kind: str  # number, string, name, quoted, op, punct, end
    text: str
    value: Any
    pos: int


NAME = re.compile(r"[^\W\d]\w*(?:\.[^\W\d]\w*)*")
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_QUOTED = {q: re.compile(q + r"(?:[^" + q + r"\\]|\\.)*" + q, re.DOTALL) for q in "'\"`"}
_ESCAPES = {"\\": "\\", "'": "'", '"': '"', "`": "`", "n": "\n", "t": "\t", "r": "\r"}
_OPERATORS = ("==", "!=", "<=", ">=", "<", ">", "+", "-", "*", "/", "%")
#: Names that are operators, in any case; a column with such a name goes in backticks.
WORD_OPERATORS = frozenset({"and", "or", "not", "in"})
#: Names that are literals, in any case, unless called as functions; the parser reads them.
KEYWORDS: dict[str, Any] = {"true": True, "false": False, "null": None}


def tokenize(text: str) -> list[Token]:
    """Splits an expression into tokens, ending with an ``end`` token."""
    tokens: list[Token] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if ch in _QUOTED:
            token = _quoted(text, i)
        elif "0" <= ch <= "9":
            token = _number(text, i)
        elif name := NAME.match(text, i):
            word = name.group()
            # and/or/not/in are operators; their value is the lower-case word.
            kind = "op" if word.lower() in WORD_OPERATORS else "name"
            token = Token(kind, word, word.lower() if kind == "op" else word, i)
        elif op := next((o for o in _OPERATORS if text.startswith(o, i)), None):
            token = Token("op", op, op, i)
        elif ch in "(),":
            token = Token("punct", ch, ch, i)
        elif ch in "=!":
            raise ExpressionError(text, f"expected '{ch}=' (a single '{ch}' is not an operator)", i)
        else:
            raise ExpressionError(text, f"unexpected character {ch!r}", i)
        tokens.append(token)
        i = token.pos + len(token.text)
    tokens.append(Token("end", "", None, len(text)))
    return tokens


def _number(text: str, start: int) -> Token:
    """Reads a number literal starting at ``start``."""
    match = _NUMBER.match(text, start)
    assert match is not None  # a digit always matches
    end = match.end()
    if end < len(text) and text[end] == "." and not text[end + 1 : end + 2].isdigit():
        raise ExpressionError(text, "expected a digit after '.'", end + 1)
    raw = match.group()
    if "." not in raw:
        # 2**63 passes here: "-9223372036854775808" folds into a valid literal (checked after parsing).
        if len(raw.lstrip("0")) > 19 or int(raw) > INT_MAX + 1:
            raise ExpressionError(text, f"whole number too large (at most {INT_MAX})", start)
        return Token("number", raw, int(raw), start)
    value = float(raw)
    if value == float("inf"):
        raise ExpressionError(text, "number too large", start)
    return Token("number", raw, value, start)


def _quoted(text: str, start: int) -> Token:
    """Reads a quoted string or a backtick column name starting at ``start``."""
    quote = text[start]
    match = _QUOTED[quote].match(text, start)
    what = "column name" if quote == "`" else "string"
    if match is None:
        raise ExpressionError(text, f"unterminated {what} (no closing {quote})", start)
    raw = match.group()

    def unescape(escape: re.Match[str]) -> str:
        char = escape.group(1)
        if char not in _ESCAPES:
            position = start + 1 + escape.start()
            raise ExpressionError(text, f"unknown escape '\\{char}' (write '\\\\' for a backslash)", position)
        return _ESCAPES[char]

    value = re.sub(r"\\(.)", unescape, raw[1:-1], flags=re.DOTALL)
    if quote == "`":
        if not value:
            raise ExpressionError(text, "empty column name", start)
        return Token("quoted", raw, value, start)
    return Token("string", raw, value, start)
