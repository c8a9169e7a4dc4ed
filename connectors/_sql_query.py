"""The SELECT statements of the database connectors, and the vetting of custom queries.

Table and column names reach SQL only through SQLAlchemy objects (a reflected
``Table``, ``table.c[name]``), so the dialect quotes them. The one piece of
SQL text taken from the user is a custom query, which must be a single
SELECT or WITH statement: :func:`vet_query` finds its statement boundaries
with a small lexer that knows each engine's comments and quotes, and the
connector also runs it in a read-only transaction where the engine has one.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import pandas as pd
from sqlalchemy import (
    ColumnElement,
    FromClause,
    Select,
    Table,
    bindparam,
    column,
    literal_column,
    select,
    text,
)
from sqlalchemy import type_coerce as coerce_type
from sqlalchemy.sql.elements import ColumnClause
from sqlalchemy.types import NullType

from connectors._sql_types import value_kind
from connectors.base import ConnectorError, CursorRequest

#: A SELECT of any number of columns.
AnySelect = Select[*tuple[Any, ...]]


@dataclass(frozen=True)
class QuerySyntax:
    """How an engine spells comments, string literals and quoted names (enough to find a statement's end)."""

    hash_comments: bool = False
    dash_comment_needs_space: bool = False
    nested_block_comments: bool = False
    executable_comments: bool = False
    backslash_escapes: bool = False
    escape_string_prefix: bool = False
    double_quoted_strings: bool = False
    triple_quotes: bool = False
    dollar_quotes: bool = False
    backticks: bool = False
    brackets: bool = False


@dataclass(frozen=True)
class Source:
    """A stream made selectable: a reflected table, or a custom query wrapped as a subquery.

    Attributes:
        name: the stream's name, as the caller gave it.
        selectable: the table, or the query as ``(query) AS q``.
        columns: the table's columns; empty for a query (selected with ``*``).
        kinds: each column's value kind (see ``_sql_types``); empty for a query.
        primary_key: the table's primary key columns.
    """

    name: str
    selectable: FromClause
    columns: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    primary_key: tuple[str, ...] = ()

    def column(self, name: str) -> ColumnElement[Any]:
        """The column ``name``; a clear error when the stream has none."""
        try:
            return self.selectable.c[name]
        except KeyError:
            known = f"; its columns: {', '.join(map(repr, self.columns))}" if self.columns else ""
            raise ConnectorError(f"Stream {self.name!r} has no column {name!r}{known}.") from None

    def kind(self, name: str) -> str:
        """The value kind of column ``name`` ("unknown" for a query's columns)."""
        return dict(zip(self.columns, self.kinds, strict=True)).get(name, "unknown")


def table_source(name: str, table: Table) -> Source:
    """A reflected table or view as a stream."""
    return Source(
        name=name,
        selectable=table,
        columns=tuple(c.name for c in table.columns),
        kinds=tuple(value_kind(c.type) for c in table.columns),
        primary_key=tuple(c.name for c in table.primary_key.columns),
    )


def query_source(name: str, query: str, referenced: Sequence[str]) -> Source:
    """A vetted custom query as a stream; ``referenced``: the columns a statement filters or orders by."""
    declared: list[ColumnClause[Any]] = [column(n) for n in dict.fromkeys(referenced)]
    return Source(name=name, selectable=text(_escape_binds(query)).columns(*declared).subquery("q"))


def probe_statement(source: Source) -> AnySelect:
    """No rows of the stream, only its columns: checks a custom query's columns before they are used."""
    return select(literal_column("*")).select_from(source.selectable).limit(0)


def sample_statement(source: Source, limit: int, key_order: bool = True) -> AnySelect:
    """The first ``limit`` rows (by primary key when ``key_order``): a LIMIT or TOP, never a full scan."""
    statement = _projection(source)
    if key_order and source.primary_key:
        statement = statement.order_by(*(source.column(k) for k in source.primary_key))
    return statement.limit(max(0, limit))


def read_statement(
    source: Source, cursor: CursorRequest | None = None, start: Any = None, key: Sequence[str] = ()
) -> AnySelect:
    """All rows ordered by primary key; with a cursor, rows from ``start`` on, ordered by (cursor, key)."""
    statement = _projection(source)
    if cursor is None:
        return statement.order_by(*(source.column(k) for k in source.primary_key))
    cursor_column = source.column(cursor.column)
    if start is not None:
        # a start given as text (SQLite timestamps) or for a query's column is typed by its value
        bind_type = (
            None if isinstance(cursor_column.type, NullType) or isinstance(start, str) else cursor_column.type
        )
        statement = statement.where(cursor_column >= bindparam("cursor_start", start, type_=bind_type))
    ties = [source.column(k) for k in key if k != cursor.column]
    return statement.order_by(cursor_column, *ties)


def _projection(source: Source) -> AnySelect:
    """SELECT of every column, SQLAlchemy's result processing off: values come as the driver gives them."""
    if not source.columns:
        return select(literal_column("*")).select_from(source.selectable)
    # type_coerce to NullType renders the bare column; it only stops SQLAlchemy from
    # converting values (JSON parsing, Decimal), which _sql_types does column-wise.
    return select(*(coerce_type(source.selectable.c[n], NullType()).label(n) for n in source.columns))


def cursor_start(kind: str, start: Any, text_timestamps: bool = False) -> Any:
    """The engine's cursor start as a value of the cursor column's type (inclusive, never later).

    Timestamps come as UTC: a column without time zone gets naive UTC (sessions
    run in UTC), a date column the UTC date. Numbers are rounded down, so a
    start never skips a row. With ``text_timestamps`` (SQLite, which compares
    timestamps as text), or for a text column the engine found timestamps in,
    a timestamp becomes ``YYYY-MM-DD HH:MM:SS``, rounded down to the second:
    that sorts before every spelling of the same instant (with a fraction, a
    ``T``), where SQLAlchemy's ``.000000`` would not.
    """
    if start is None:
        return None
    try:
        if kind in ("timestamp_tz", "timestamp", "date") or isinstance(start, datetime):
            stamp = pd.Timestamp(start)
            utc = (stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")).floor("us")
            if kind == "date":
                return utc.date()
            if text_timestamps or kind == "string":  # timestamps kept as text compare as text
                return utc.strftime("%Y-%m-%d %H:%M:%S")
            if kind == "timestamp_tz":
                return utc.to_pydatetime()
            return utc.tz_localize(None).to_pydatetime()
        if kind == "integer":
            return math.floor(Decimal(str(start)))
        if kind == "decimal":
            return Decimal(str(start))
        if kind == "float":
            return float(start)
        if kind == "string":
            return str(start)
    except (ValueError, TypeError, ArithmeticError):
        raise ConnectorError(f"The cursor start {start!r} is not a valid {kind} value.") from None
    return start


# -- custom queries ----------------------------------------------------------------------------------------
_DOLLAR_TAG = re.compile(r"\$([A-Za-z_][A-Za-z_0-9]*)?\$")
_FIRST_WORD = re.compile(r"[\s(]*([A-Za-z_]\w*)?")
_INTO = re.compile(r"(?<![\w$])into(?![\w$])", re.IGNORECASE)
# SQLAlchemy's own pattern for :name binds in text(); such colons are escaped so they stay text.
_BIND = re.compile(r"(?<![:\w\\]):(\w+)(?!:)")


def vet_query(query: str, syntax: QuerySyntax) -> str:
    """The query without trailing semicolons and comments; ValueError unless it is one SELECT or WITH.

    Literals, quoted names and comments are blanked out first, so a ``;`` or a
    keyword inside them does not count, and one hidden in a construct this
    engine does not treat as a comment still does.
    """
    skeleton = _skeleton(query, syntax)
    end = len(skeleton.rstrip())
    while end and skeleton[end - 1] == ";":
        end = len(skeleton[: end - 1].rstrip())
    body = skeleton[:end]
    if ";" in body:
        raise ValueError("holds more than one statement; a query is one SELECT (a ';' may only end it)")
    if not body.strip():
        raise ValueError("is empty: write a SELECT or WITH query")
    first = _FIRST_WORD.match(body)
    word = (first.group(1) or "") if first else ""
    if word.upper() not in ("SELECT", "WITH"):
        raise ValueError(f"must be a SELECT or WITH query{', not ' + word.upper() if word else ''}")
    if _INTO.search(body):
        raise ValueError("must only read: SELECT ... INTO writes a table or a file")
    return query[:end]


def _skeleton(query: str, syntax: QuerySyntax) -> str:
    """The query at the same length, comments blanked to spaces, literals and quoted names to zeros."""
    out = list(query)
    i = 0
    while i < len(query):
        end = _construct_end(query, i, syntax)
        if end is None:
            i += 1
        else:
            # zeros, not spaces: a literal ending the query is part of it; and no keyword is made of zeros
            out[i:end] = (" " if _is_comment(query, i, syntax) else "0") * (end - i)
            i = end
    return "".join(out)


def _is_comment(query: str, i: int, syntax: QuerySyntax) -> bool:
    return query.startswith(("--", "/*"), i) or (syntax.hash_comments and query[i] == "#")


def _construct_end(query: str, i: int, syntax: QuerySyntax) -> int | None:
    """The end of the comment, literal or quoted name that opens at ``i``; None if none does."""
    ch, pair = query[i], query[i : i + 2]
    # MySQL only reads "-- " as a comment when a space follows: "1--1" is 1 - -1 there.
    after = query[i + 2 : i + 3]
    if pair == "--" and (not syntax.dash_comment_needs_space or after == "" or after.isspace()):
        return _line_end(query, i)
    if ch == "#" and syntax.hash_comments:
        return _line_end(query, i)
    if pair == "/*":
        if syntax.executable_comments and (query[i + 2 : i + 3] == "!" or query[i + 2 : i + 4] == "M!"):
            raise ValueError("holds a /*! ... */ comment, which MySQL runs as code")
        return _block_end(query, i, syntax.nested_block_comments)
    if ch == "'" or (ch == '"' and syntax.double_quoted_strings):
        escapes = syntax.backslash_escapes or (
            syntax.escape_string_prefix and query[i - 1 : i] in ("e", "E") and not _word_before(query, i - 1)
        )
        if syntax.triple_quotes and query.startswith(ch * 3, i):
            return _quote_end(query, i, ch * 3, escapes, doubled=False)
        return _quote_end(query, i, ch, escapes, doubled=True)
    if ch == '"' or (ch == "`" and syntax.backticks) or (ch == "[" and syntax.brackets):
        return _quote_end(query, i, "]" if ch == "[" else ch, escapes=False, doubled=True, opening=1)
    if ch == "$" and syntax.dollar_quotes and not _word_before(query, i):
        tag = _DOLLAR_TAG.match(query, i)
        if tag:
            close = query.find(tag.group(0), tag.end())
            if close < 0:
                raise ValueError("has an unterminated $-quoted string")
            return close + len(tag.group(0))
    return None


def _word_before(query: str, i: int) -> bool:
    return i > 0 and (query[i - 1].isalnum() or query[i - 1] in "_$")


def _line_end(query: str, i: int) -> int:
    end = query.find("\n", i)
    return len(query) if end < 0 else end


def _block_end(query: str, i: int, nested: bool) -> int:
    depth, i = 1, i + 2
    while i < len(query):
        if query.startswith("*/", i):
            depth, i = depth - 1, i + 2
            if depth == 0:
                return i
        elif nested and query.startswith("/*", i):
            depth, i = depth + 1, i + 2
        else:
            i += 1
    raise ValueError("has an unterminated /* comment")


def _quote_end(query: str, i: int, quote: str, escapes: bool, doubled: bool, opening: int = 0) -> int:
    """The index just past the literal or quoted name that opens at ``i`` (``opening`` chars long)."""
    i += opening or len(quote)
    while i < len(query):
        if escapes and query[i] == "\\":
            i += 2
        elif query.startswith(quote, i):
            if doubled and query.startswith(quote, i + len(quote)):
                i += 2 * len(quote)
            else:
                return i + len(quote)
        else:
            i += 1
    raise ValueError("has an unterminated quoted string or name")


def _escape_binds(query: str) -> str:
    return _BIND.sub(r"\\:\1", query)
