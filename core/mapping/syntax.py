"""The syntax of mapping expressions: grammar, syntax tree and recursive-descent parser.

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

Tokens come from :mod:`core.mapping.tokens`; :mod:`core.mapping.render` writes a tree back as text.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TypeAlias

from core.mapping.tokens import INT_MAX, INT_MIN, KEYWORDS, ExpressionError, Token, tokenize

#: How deeply an expression may nest (brackets, calls, operators); deeper ones are refused
#: so that parsing and evaluation never run out of stack.
MAX_DEPTH = 100
COMPARISONS = frozenset({"==", "!=", "<", "<=", ">", ">="})
ARITHMETIC = frozenset({"+", "-", "*", "/", "%"})
LOGICAL = frozenset({"and", "or"})

#: Binding strength of each infix operator (higher binds tighter); "not" sits at 3, unary minus at 7.
LEVELS = {
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
#: The same scale for the parser and the renderer; an atom (name, literal, call, brackets) binds tightest.
NOT_LEVEL, COMPARISON_LEVEL, SUM_LEVEL, NEGATE_LEVEL, ATOM_LEVEL = 3, 4, 5, 7, 8


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
            op_level = LEVELS.get(token.value) if token.kind == "op" else None
            if negated_in:
                op_level = LEVELS["in"]
            if op_level is None or op_level < level:
                return node
            if op_level == COMPARISON_LEVEL and compared:
                raise ExpressionError(self.text, "comparisons cannot be chained; add parentheses", token.pos)
            self.advance()
            if negated_in:
                self.advance()
            if token.value in ("in", "not"):
                node = In(node, self.options(), negated_in, token.pos)
            else:
                node = Binary(token.value, node, self.expression(op_level + 1), token.pos)
            compared = op_level == COMPARISON_LEVEL

    def prefix(self, level: int) -> Node:
        token = self.peek()
        if self.is_op(token, "not"):
            if level > NOT_LEVEL:
                raise self.expected("a value (put 'not ...' in parentheses here)", token)
            self.advance()
            self.nest(token)
            node: Node = Not(self.expression(NOT_LEVEL), token.pos)
            self.depth -= 1
            return node
        if self.is_op(token, "-"):
            self.advance()
            self.nest(token)
            operand = self.prefix(NEGATE_LEVEL)
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
            if token.text.lower() in KEYWORDS:
                return Literal(KEYWORDS[token.text.lower()], token.pos)
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
