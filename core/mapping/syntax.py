"""The syntax of mapping expressions: tokenizer, syntax tree, recursive-descent parser and renderer.

Grammar, lowest precedence first::

    expression  := disjunction
    disjunction := conjunction ("or" conjunction)*
    conjunction := negation ("and" negation)*
    negation    := "not" negation | comparison
    comparison  := sum [("==" | "!=" | "<" | "<=" | ">" | ">=") sum
                        | ["not"] "in" "(" expression ("," expression)* ")"]
    sum         := product (("+" | "-") product)*
    product     := unary (("*" | "/" | "%") unary)*
    unary       := "-" unary | primary
    primary     := number | string | true | false | null | "(" expression ")"
                 | name "(" [expression ("," expression)*] ")"
                 | name | `any column name`

A name is letters, digits and underscores, dot-separated (``address.city``);
any other column name goes in backticks. Strings take single or double quotes
and the escapes ``\\\\ \\' \\" \\` \\n \\t \\r``. Numbers are whole (64-bit:
-9223372036854775808 to 9223372036854775807) or decimal (``2.5``; no exponent). Keywords
ignore case: the literals true, false and null, and the operators and, or,
not and in (write a column of that name in backticks). ``and``, ``or`` and
``not`` follow three-valued (Kleene) logic: ``null and false`` is false,
``null or true`` is true, anything else with null is null. Comparisons do not
chain (``a < b < c`` is an error); ``x in (a, b)`` is ``x == a or x == b``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeAlias

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


#: How deeply an expression may nest (brackets, calls, operators); deeper ones are refused
#: so that parsing and evaluation never run out of stack.
MAX_DEPTH = 100
INT_MIN, INT_MAX = -(2**63), 2**63 - 1

# --- tokens -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    """A lexical unit: kind, source text, parsed value and 0-based offset."""

    kind: str  # number, string, name, quoted, op, punct, end
    text: str
    value: Any
    pos: int


_NAME = re.compile(r"[^\W\d]\w*(?:\.[^\W\d]\w*)*")
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_QUOTED = {q: re.compile(q + r"(?:[^" + q + r"\\]|\\.)*" + q, re.DOTALL) for q in "'\"`"}
_ESCAPES = {"\\": "\\", "'": "'", '"': '"', "`": "`", "n": "\n", "t": "\t", "r": "\r"}
_OPERATORS = ("==", "!=", "<=", ">=", "<", ">", "+", "-", "*", "/", "%")
COMPARISONS = frozenset({"==", "!=", "<", "<=", ">", ">="})
ARITHMETIC = frozenset({"+", "-", "*", "/", "%"})
LOGICAL = frozenset({"and", "or"})
#: Names that are operators, in any case; a column with such a name goes in backticks.
WORD_OPERATORS = frozenset({"and", "or", "not", "in"})
_KEYWORDS: dict[str, Any] = {"true": True, "false": False, "null": None}

# Binding strength of each infix operator (higher binds tighter); "not" sits at 3, unary minus at 7.
_LEVELS = {
    "or": 1,
    "and": 2,
    "in": 4,
    **dict.fromkeys(COMPARISONS, 4),
    "+": 5,
    "-": 5,
    "*": 6,
    "/": 6,
    "%": 6,
}
_NOT_LEVEL, _COMPARISON_LEVEL, _SUM_LEVEL, _NEGATE_LEVEL, _ATOM_LEVEL = 3, 4, 5, 7, 8


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
        elif name := _NAME.match(text, i):
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


# --- syntax tree --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Literal:
    """A constant: text, a number, a boolean or null."""

    value: str | int | float | bool | None
    pos: int


@dataclass(frozen=True)
class Column:
    """A reference to a source column."""

    name: str
    pos: int


@dataclass(frozen=True)
class Call:
    """A function call."""

    name: str
    args: tuple[Node, ...]
    pos: int


@dataclass(frozen=True)
class Negate:
    """Unary minus."""

    operand: Node
    pos: int


@dataclass(frozen=True)
class Not:
    """Logical negation (``not x``)."""

    operand: Node
    pos: int


@dataclass(frozen=True)
class Binary:
    """An arithmetic operator, a comparison, or ``and`` / ``or``."""

    op: str
    left: Node
    right: Node
    pos: int


@dataclass(frozen=True)
class In:
    """Membership: ``value in (options...)``, or ``not in`` when ``negated``."""

    value: Node
    options: tuple[Node, ...]
    negated: bool
    pos: int


Node: TypeAlias = Literal | Column | Call | Negate | Not | Binary | In


def children(node: Node) -> tuple[Node, ...]:
    """The nodes directly below a node, left to right."""
    if isinstance(node, Call):
        return node.args
    if isinstance(node, Negate | Not):
        return (node.operand,)
    if isinstance(node, Binary):
        return (node.left, node.right)
    if isinstance(node, In):
        return (node.value, *node.options)
    return ()


# --- parser -------------------------------------------------------------------------------------


class _Parser:
    """Precedence-climbing parser over the token list (see the grammar in the module docstring)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.depth = 0

    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def advance(self) -> Token:
        token = self.tokens[self.i]
        self.i = min(self.i + 1, len(self.tokens) - 1)
        return token

    def expected(self, what: str, token: Token) -> ExpressionError:
        found = "" if token.kind == "end" else f", found {token.text!r}"
        return ExpressionError(self.text, f"expected {what}{found}", token.pos)

    def is_op(self, token: Token, *values: str) -> bool:
        return token.kind == "op" and token.value in values

    def is_punct(self, token: Token, text: str) -> bool:
        return token.kind == "punct" and token.text == text

    def parse(self) -> Node:
        if self.peek().kind == "end":
            raise ExpressionError(self.text, "empty expression", 0)
        node = self.expression()
        token = self.peek()
        if token.kind != "end":
            raise self.expected("an operator or the end of the expression", token)
        return node

    def nest(self, token: Token) -> None:
        """Counts one level of nesting; refuses expressions nested deeper than MAX_DEPTH."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExpressionError(
                self.text, f"expression nested too deeply (at most {MAX_DEPTH} levels)", token.pos
            )

    def expression(self, level: int = 1) -> Node:
        """Parses operators binding at least as tightly as ``level``."""
        node = self.prefix(level)
        compared = False  # a comparison was made at this level: another one would chain
        while True:
            token = self.peek()
            negated_in = self.is_op(token, "not") and self.is_op(self.peek(1), "in")
            op_level = _LEVELS.get(token.value) if token.kind == "op" else None
            if negated_in:
                op_level = _LEVELS["in"]
            if op_level is None or op_level < level:
                return node
            if op_level == _COMPARISON_LEVEL and compared:
                raise ExpressionError(self.text, "comparisons cannot be chained; add parentheses", token.pos)
            self.advance()
            if negated_in:
                self.advance()
            if token.value in ("in", "not"):
                node = In(node, self.options(), negated_in, token.pos)
            else:
                node = Binary(token.value, node, self.expression(op_level + 1), token.pos)
            compared = op_level == _COMPARISON_LEVEL

    def prefix(self, level: int) -> Node:
        token = self.peek()
        if self.is_op(token, "not"):
            if level > _NOT_LEVEL:
                raise self.expected("a value (put 'not ...' in parentheses here)", token)
            self.advance()
            self.nest(token)
            node: Node = Not(self.expression(_NOT_LEVEL), token.pos)
            self.depth -= 1
            return node
        if self.is_op(token, "-"):
            self.advance()
            self.nest(token)
            operand = self.prefix(_NEGATE_LEVEL)
            self.depth -= 1
            # Fold "-3" into a literal so it can be a constant argument (substr(x, -1) is then checked).
            if isinstance(operand, Literal) and type(operand.value) in (int, float):
                return Literal(-operand.value, token.pos)  # type: ignore[operator]
            return Negate(operand, token.pos)
        return self.primary()

    def primary(self) -> Node:
        token = self.peek()
        if token.kind in ("number", "string"):
            self.advance()
            return Literal(token.value, token.pos)
        if token.kind == "quoted":
            self.advance()
            return Column(token.value, token.pos)
        if token.kind == "name":
            self.advance()
            if self.is_punct(self.peek(), "("):
                return self.call(token)
            if token.text.lower() in _KEYWORDS:
                return Literal(_KEYWORDS[token.text.lower()], token.pos)
            return Column(token.value, token.pos)
        if self.is_punct(token, "("):
            self.advance()
            self.nest(token)
            node = self.expression()
            self.depth -= 1
            self.closing(")", "an operator or ')'")
            return node
        raise self.expected("a value (a column, a literal or a function call)", token)

    def arguments(self, opening: Token) -> tuple[Node, ...]:
        """Parses ``expression ("," expression)* ")"`` after an opening bracket."""
        self.nest(opening)
        args: list[Node] = []
        while True:
            args.append(self.expression())
            if self.is_punct(self.peek(), ","):
                self.advance()
                continue
            self.closing(")", "',' or ')'")
            self.depth -= 1
            return tuple(args)

    def call(self, name: Token) -> Node:
        opening = self.advance()  # "("
        if self.is_punct(self.peek(), ")"):
            self.advance()
            return Call(name.text, (), name.pos)
        if self.peek().kind == "end":
            raise self.expected("an argument or ')'", self.peek())
        return Call(name.text, self.arguments(opening), name.pos)

    def options(self) -> tuple[Node, ...]:
        """Parses the bracketed list after ``in``."""
        opening = self.peek()
        if not self.is_punct(opening, "("):
            raise self.expected("'(' and a list of values after 'in'", opening)
        self.advance()
        if self.is_punct(self.peek(), ")"):
            raise self.expected("at least one value", self.peek())
        return self.arguments(opening)

    def closing(self, text: str, what: str | None = None) -> None:
        token = self.peek()
        if self.is_punct(token, text):
            self.advance()
            return
        # At the end of the input the closing bracket is what is really missing.
        raise self.expected(f"'{text}'" if token.kind == "end" or what is None else what, token)


def parse(text: str) -> Node:
    """Parses an expression into its syntax tree; raises ExpressionError."""
    node = _Parser(text).parse()
    _check_limits(text, node)
    return node


def _check_limits(text: str, root: Node) -> None:
    """Refuses trees deeper than MAX_DEPTH (long operator chains) and whole numbers beyond 64 bits."""
    stack = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            detail = f"expression nested too deeply (at most {MAX_DEPTH} levels of operators and calls)"
            raise ExpressionError(text, detail, node.pos)
        if isinstance(node, Literal) and type(node.value) is int and not INT_MIN <= node.value <= INT_MAX:
            raise ExpressionError(text, f"whole number too large (at most {INT_MAX})", node.pos)
        stack.extend((child, depth + 1) for child in children(node))


def walk(node: Node) -> Iterator[Node]:
    """Yields a node and all nodes below it, depth first, left to right."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(children(current)))


# --- renderer -----------------------------------------------------------------------------------

_STRING_ESCAPES = {"\\": "\\\\", "'": "\\'", "\n": "\\n", "\t": "\\t", "\r": "\\r"}
_NAME_ESCAPES = {"\\": "\\\\", "`": "\\`", "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def render(node: Node) -> str:
    """Writes a syntax tree back as expression text that parses to the same tree (positions aside)."""
    return _render(node, 0)


def _level(node: Node) -> int:
    """How tightly a node's text binds, on the scale of ``_LEVELS``."""
    if isinstance(node, Binary):
        return _LEVELS[node.op]
    if isinstance(node, In):
        return _COMPARISON_LEVEL
    if isinstance(node, Not):
        return _NOT_LEVEL
    if isinstance(node, Negate) or (isinstance(node, Literal) and _is_negative(node.value)):
        return _NEGATE_LEVEL
    return _ATOM_LEVEL


def _is_negative(value: object) -> bool:
    return type(value) in (int, float) and str(value).startswith("-")


def _render(node: Node, level: int) -> str:
    text = _render_bare(node)
    return f"({text})" if _level(node) < level else text


def _render_bare(node: Node) -> str:
    if isinstance(node, Literal):
        return _render_literal(node.value)
    if isinstance(node, Column):
        bare = _NAME.fullmatch(node.name) and node.name.lower() not in WORD_OPERATORS | set(_KEYWORDS)
        return node.name if bare else "`" + "".join(_NAME_ESCAPES.get(c, c) for c in node.name) + "`"
    if isinstance(node, Call):
        return f"{node.name}({', '.join(_render(arg, 0) for arg in node.args)})"
    if isinstance(node, Negate):
        return "-" + _render(node.operand, _NEGATE_LEVEL)
    if isinstance(node, Not):
        return "not " + _render(node.operand, _NOT_LEVEL)
    if isinstance(node, In):
        options = ", ".join(_render(option, 0) for option in node.options)
        return f"{_render(node.value, _SUM_LEVEL)} {'not in' if node.negated else 'in'} ({options})"
    level = _LEVELS[node.op]
    if node.op in COMPARISONS:  # comparisons do not chain: both sides are sums
        return f"{_render(node.left, _SUM_LEVEL)} {node.op} {_render(node.right, _SUM_LEVEL)}"
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
