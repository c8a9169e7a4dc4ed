"""The subset of SOQL the fake Salesforce answers, parsed and run over in-memory records.

Grammar (keywords in any case, as SOQL allows)::

    SELECT COUNT() | field [, field]...
    FROM object
    [WHERE field op literal [AND field op literal]...]      op: = != <> < <= > >=
    [ORDER BY field [ASC|DESC] [NULLS FIRST|LAST] [, ...]]
    [LIMIT n]

Literals are typed as SOQL types them (SOQL and SOSL Reference, "Date Formats
and Date Literals" and "Quoted String Escape Sequences"): a dateTime is
``2026-01-01T10:00:00Z`` (or with an offset, no quotes), a date ``2026-01-01``,
numbers bare, strings in single quotes with backslash escapes, and
``true``/``false``/``null``. Comparing a field with a literal of the wrong
type is an INVALID_FIELD error, as Salesforce answers it, so a connector that
quotes a dateTime or sends a bare string fails its tests. Fields and objects
are matched without regard to case, and results carry their canonical names.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

_TOKEN = re.compile(
    r"\s*(?:"
    r"(?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:\d{2}))"
    r"|(?P<date>\d{4}-\d{2}-\d{2})(?![\dT])"
    r"|(?P<number>-?\d+(?:\.\d+)?)"
    r"|(?P<string>'(?:[^'\\]|\\.)*')"
    r"|(?P<op>>=|<=|!=|<>|=|<|>)"
    r"|(?P<punct>[(),])"
    r"|(?P<word>[A-Za-z_][A-Za-z0-9_]*)"
    r")"
)
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\"}
_TEXT_TYPES = {
    "id", "reference", "string", "picklist", "multipicklist", "textarea", "phone", "email", "url",
    "combobox", "encryptedstring", "time",
}  # fmt: skip
_NUMBER_TYPES = {"int", "long", "double", "currency", "percent"}


class SoqlError(Exception):
    """A query Salesforce would refuse: its errorCode and message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message = code, message


@dataclass(frozen=True)
class Condition:
    """``field op value``, the value already typed for the field."""

    field: str
    op: str
    value: Any


@dataclass(frozen=True)
class Query:
    """A parsed query, with canonical object and field names."""

    object: str
    fields: tuple[str, ...]  # empty for COUNT()
    count: bool
    where: tuple[Condition, ...]
    order: tuple[tuple[str, bool, bool], ...]  # (field, descending, nulls_last)
    limit: int | None


def parse(soql: str, describe: Callable[[str], Mapping[str, Any] | None]) -> Query:
    """Parses ``soql``; ``describe(object)`` gives the object's describe (None: no such object).

    Raises:
        SoqlError: MALFORMED_QUERY, INVALID_TYPE or INVALID_FIELD, as Salesforce names them.
    """
    tokens = _tokens(soql)
    reader = _Reader(tokens, soql)
    reader.keyword("SELECT")
    count, selected = False, []
    if reader.peek_word("COUNT"):
        reader.take()
        reader.punct("(")
        reader.punct(")")
        count = True
    else:
        selected.append(reader.word())
        while reader.peek_punct(","):
            reader.take()
            selected.append(reader.word())
    reader.keyword("FROM")
    named = reader.word()
    described = describe(named)
    if described is None:
        raise SoqlError(
            "INVALID_TYPE",
            f"sObject type '{named}' is not supported. If you are attempting to use a custom object, "
            "be sure to append the '__c' after the entity name.",
        )
    types = {f["name"].lower(): (f["name"], f["type"]) for f in described["fields"]}
    obj = described["name"]

    def field_of(name: str) -> tuple[str, str]:
        found = types.get(name.lower())
        if found is None:
            raise SoqlError(
                "INVALID_FIELD",
                f"No such column '{name}' on entity '{obj}'. If you are attempting to use a custom "
                "field, be sure to append the '__c' after the custom field name.",
            )
        return found

    fields = tuple(field_of(name)[0] for name in selected)
    where: list[Condition] = []
    if reader.peek_word("WHERE"):
        reader.take()
        while True:
            name, kind = field_of(reader.word())
            op = reader.op()
            where.append(Condition(name, "!=" if op == "<>" else op, _typed(reader.literal(), kind, name)))
            if not reader.peek_word("AND"):
                break
            reader.take()
    order: list[tuple[str, bool, bool]] = []
    if reader.peek_word("ORDER"):
        reader.take()
        reader.keyword("BY")
        while True:
            name = field_of(reader.word())[0]
            descending = False
            if reader.peek_word("ASC") or reader.peek_word("DESC"):
                descending = reader.take()[1].upper() == "DESC"
            nulls_last = descending  # SOQL: nulls first ascending, last descending
            if reader.peek_word("NULLS"):
                reader.take()
                nulls_last = reader.word().upper() == "LAST"
            order.append((name, descending, nulls_last))
            if not reader.peek_punct(","):
                break
            reader.take()
    limit = None
    if reader.peek_word("LIMIT"):
        reader.take()
        limit = int(reader.expect("number"))
    reader.end()
    return Query(obj, fields, count, tuple(where), tuple(order), limit)


def run(query: Query, records: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The records the query selects, filtered, ordered and limited (whole records)."""
    found = [r for r in records if all(_holds(r.get(c.field), c.op, c.value) for c in query.where)]
    for name, descending, nulls_last in reversed(query.order):  # stable sorts, last key first
        present = [r for r in found if r.get(name) is not None]
        missing = [r for r in found if r.get(name) is None]
        present.sort(key=lambda r, n=name: _sortable(r[n]), reverse=descending)
        found = present + missing if nulls_last else missing + present
    return found[: query.limit] if query.limit is not None else found


def parse_datetime(text: str) -> datetime:
    """A SOQL dateTime literal as an aware UTC datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


# -- helpers -----------------------------------------------------------------------------------------------
def _tokens(soql: str) -> list[tuple[str, str]]:
    found, position = [], 0
    text = soql.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{text[position:].split()[0]}'")
        kind = match.lastgroup
        assert kind is not None
        found.append((kind, match.group(kind)))
        position = match.end()
    return found


class _Reader:
    def __init__(self, tokens: list[tuple[str, str]], soql: str) -> None:
        self.tokens, self.position, self.soql = tokens, 0, soql

    def _fail(self, wanted: str) -> SoqlError:
        if self.position >= len(self.tokens):
            return SoqlError("MALFORMED_QUERY", f"unexpected end of query; expecting {wanted}")
        return SoqlError("MALFORMED_QUERY", f"unexpected token: '{self.tokens[self.position][1]}'")

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise self._fail("more")
        self.position += 1
        return token

    def peek_word(self, word: str) -> bool:
        token = self.peek()
        return token is not None and token[0] == "word" and token[1].upper() == word

    def peek_punct(self, punct: str) -> bool:
        return self.peek() == ("punct", punct)

    def keyword(self, word: str) -> None:
        if not self.peek_word(word):
            raise self._fail(word)
        self.take()

    def punct(self, punct: str) -> None:
        if not self.peek_punct(punct):
            raise self._fail(repr(punct))
        self.take()

    def expect(self, kind: str) -> str:
        token = self.peek()
        if token is None or token[0] != kind:
            raise self._fail(kind)
        return self.take()[1]

    def word(self) -> str:
        return self.expect("word")

    def op(self) -> str:
        return self.expect("op")

    def literal(self) -> tuple[str, str]:
        token = self.peek()
        if token is None or token[0] not in ("datetime", "date", "number", "string", "word"):
            raise self._fail("a value")
        return self.take()

    def end(self) -> None:
        if self.peek() is not None:
            raise self._fail("the end")


def _typed(literal: tuple[str, str], kind: str, field: str) -> Any:
    """The literal as a value comparable with the field's values; INVALID_FIELD when it cannot be."""
    form, text = literal
    if form == "word" and text.lower() == "null":
        return None
    expected = {
        "datetime": "dateTime",
        "date": "date",
        "boolean": "boolean",
    }.get(kind, "number" if kind in _NUMBER_TYPES else "string")
    fits = {
        "dateTime": form == "datetime",
        "date": form == "date",
        "boolean": form == "word" and text.lower() in ("true", "false"),
        "number": form == "number",
        "string": form == "string",
    }[expected]
    if not fits:
        quoting = "enclosed in quotes" if expected == "string" else "not be enclosed in quotes"
        raise SoqlError(
            "INVALID_FIELD",
            f"value of filter criterion for field '{field}' must be of type {expected} and should {quoting}",
        )
    if expected == "dateTime":
        return parse_datetime(text)
    if expected == "date":
        return date.fromisoformat(text)
    if expected == "boolean":
        return text.lower() == "true"
    if expected == "number":
        return float(text)
    body = text[1:-1]
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), body)


def _holds(value: Any, op: str, literal: Any) -> bool:
    if op == "=":
        return value == literal
    if op == "!=":
        return value != literal
    if value is None or literal is None:
        return False
    return {"<": value < literal, "<=": value <= literal, ">": value > literal, ">=": value >= literal}[op]


def _sortable(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value  # SOQL sorts text without regard to case
