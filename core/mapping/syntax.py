"""The syntax of mapping expressions: tokenizer, syntax tree and recursive-descent parser.

Grammar, lowest precedence first::

    expression := sum [("==" | "!=" | "<" | "<=" | ">" | ">=") sum]
    sum        := product (("+" | "-") product)*
    product    := unary (("*" | "/") unary)*
    unary      := "-" unary | primary
    primary    := number | string | true | false | null | "(" expression ")"
                | name "(" [expression ("," expression)*] ")"
                | name | `any column name`

A name is letters, digits and underscores, dot-separated (``address.city``);
any other column name goes in backticks. Strings take single or double quotes
and the escapes ``\\\\ \\' \\" \\` \\n \\t \\r``. Keywords (true, false,
null) ignore case.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
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
_OPERATORS = ("==", "!=", "<=", ">=", "<", ">", "+", "-", "*", "/")
COMPARISONS = frozenset({"==", "!=", "<", "<=", ">", ">="})
_KEYWORDS: dict[str, Any] = {"true": True, "false": False, "null": None}


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
            match = _NUMBER.match(text, i)
            assert match is not None  # a digit always matches
            end = match.end()
            if end < len(text) and text[end] == "." and not text[end + 1 : end + 2].isdigit():
                raise ExpressionError(text, "expected a digit after '.'", end + 1)
            raw = match.group()
            token = Token("number", raw, float(raw) if "." in raw else int(raw), i)
        elif name := _NAME.match(text, i):
            token = Token("name", name.group(), name.group(), i)
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
class Binary:
    """An arithmetic operator or a comparison."""

    op: str
    left: Node
    right: Node
    pos: int


Node: TypeAlias = Literal | Column | Call | Negate | Binary


# --- parser -------------------------------------------------------------------------------------


class _Parser:
    """Recursive-descent parser over the token list; one method per grammar rule."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0

    def peek(self) -> Token:
        return self.tokens[self.i]

    def advance(self) -> Token:
        token = self.tokens[self.i]
        self.i = min(self.i + 1, len(self.tokens) - 1)
        return token

    def expected(self, what: str, token: Token) -> ExpressionError:
        found = "" if token.kind == "end" else f", found {token.text!r}"
        return ExpressionError(self.text, f"expected {what}{found}", token.pos)

    def parse(self) -> Node:
        if self.peek().kind == "end":
            raise ExpressionError(self.text, "empty expression", 0)
        node = self.expression()
        token = self.peek()
        if token.kind != "end":
            raise self.expected("an operator or the end of the expression", token)
        return node

    def expression(self) -> Node:
        node = self.sum()
        token = self.peek()
        if token.kind == "op" and token.text in COMPARISONS:
            self.advance()
            node = Binary(token.text, node, self.sum(), token.pos)
            following = self.peek()
            if following.kind == "op" and following.text in COMPARISONS:
                raise ExpressionError(
                    self.text, "comparisons cannot be chained; add parentheses", following.pos
                )
        return node

    def sum(self) -> Node:
        node = self.product()
        while (token := self.peek()).kind == "op" and token.text in "+-":
            self.advance()
            node = Binary(token.text, node, self.product(), token.pos)
        return node

    def product(self) -> Node:
        node = self.unary()
        while (token := self.peek()).kind == "op" and token.text in "*/":
            self.advance()
            node = Binary(token.text, node, self.unary(), token.pos)
        return node

    def unary(self) -> Node:
        token = self.peek()
        if token.kind == "op" and token.text == "-":
            self.advance()
            operand = self.unary()
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
            if self.peek().text == "(" and self.peek().kind == "punct":
                return self.call(token)
            if token.text.lower() in _KEYWORDS:
                return Literal(_KEYWORDS[token.text.lower()], token.pos)
            return Column(token.value, token.pos)
        if token.text == "(" and token.kind == "punct":
            self.advance()
            node = self.expression()
            self.closing(")", "an operator or ')'")
            return node
        raise self.expected("a value (a column, a literal or a function call)", token)

    def call(self, name: Token) -> Node:
        self.advance()  # "("
        args: list[Node] = []
        if self.peek().text == ")" and self.peek().kind == "punct":
            self.advance()
            return Call(name.text, (), name.pos)
        if self.peek().kind == "end":
            raise self.expected("an argument or ')'", self.peek())
        while True:
            args.append(self.expression())
            token = self.peek()
            if token.kind == "punct" and token.text == ",":
                self.advance()
                continue
            self.closing(")", "',' or ')'")
            return Call(name.text, tuple(args), name.pos)

    def closing(self, text: str, what: str | None = None) -> None:
        token = self.peek()
        if token.kind == "punct" and token.text == text:
            self.advance()
            return
        # At the end of the input the closing bracket is what is really missing.
        raise self.expected(f"'{text}'" if token.kind == "end" or what is None else what, token)


def parse(text: str) -> Node:
    """Parses an expression into its syntax tree; raises ExpressionError."""
    return _Parser(text).parse()


def walk(node: Node) -> Iterator[Node]:
    """Yields a node and all nodes below it, depth first."""
    yield node
    if isinstance(node, Call):
        for arg in node.args:
            yield from walk(arg)
    elif isinstance(node, Negate):
        yield from walk(node.operand)
    elif isinstance(node, Binary):
        yield from walk(node.left)
        yield from walk(node.right)
