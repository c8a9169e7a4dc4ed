"""What a database offers, read from its catalog: schemas, tables and views, their columns, keys and sizes.

Names only ever come back from SQLAlchemy's inspector (bound parameters in
the catalog queries); a stream name is resolved by matching them, never by
putting it into SQL. SQLAlchemy's MySQL reflection reads ``SHOW CREATE TABLE``,
which spells a backtick in a name twice: names are given back as the server
has them, and a column that reflection cannot read at all (a name holding a
line break) is an error rather than a column silently left out.
"""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Connection, MetaData, Table, bindparam, text
from sqlalchemy.engine import Inspector
from sqlalchemy.engine.reflection import ObjectKind
from sqlalchemy.exc import DBAPIError, SAWarning

from connectors._sql_backends import Backend
from connectors._sql_types import FIELD_TYPE_OF_KIND, value_kind
from connectors.base import ConnectorError, FieldInfo, StreamInfo

_UPDATED_WORDS = ("updated", "modified", "changed", "last_mod")
_TIME_SUFFIXES = ("_at", "_on", "_ts", "time")
_VERSION_NAMES = ("version", "row_version", "rowversion", "seq", "sequence")


@dataclass(frozen=True)
class Catalog:
    """The tables and views a connection sees, within the configured schema when there is one."""

    inspector: Inspector
    backend: Backend
    configured_schema: str | None = None

    def schemas(self) -> list[str | None]:
        """The configured schema, or every non-system one (None alone where tables have no schema)."""
        if not self.backend.has_schemas:
            return [None]
        if self.configured_schema:
            return [self.configured_schema]
        return [s for s in self.inspector.get_schema_names() if not self.backend.is_system_schema(s)]

    def stream_name(self, schema: str | None, table: str) -> str:
        """``schema.table``, or ``table`` where tables have no schema."""
        return f"{schema}.{table}" if schema is not None else table

    def candidates(self, stream: str) -> list[tuple[str | None, str]]:
        """(schema, table) readings of a stream name: each split at a dot, then the default schema."""
        if not self.backend.has_schemas:
            return [(None, stream)]
        splits = [(stream[:i], stream[i + 1 :]) for i, ch in enumerate(stream) if ch == "."]
        return [*splits, (self.configured_schema or self.inspector.default_schema_name, stream)]

    def close_matches(self, stream: str) -> list[str]:
        """Up to five stream names that look like ``stream``."""
        names = []
        for schema in self.schemas():
            tables = self.inspector.get_table_names(schema=schema) + self.inspector.get_view_names(
                schema=schema
            )
            names += [self.stream_name(schema, table) for table in tables]
        return difflib.get_close_matches(stream, sorted(names), n=5, cutoff=0.5)

    def missing_schema(self) -> str | None:
        """Why the configured schema is unusable, or None."""
        schema = self.configured_schema
        if not schema or not self.backend.has_schemas or self.inspector.has_schema(schema):
            return None
        known = [s for s in self.inspector.get_schema_names() if not self.backend.is_system_schema(s)]
        return f"schema {schema!r} does not exist; schemas: {', '.join(map(repr, known)) or 'none'}."

    def describe(self, schema: str | None) -> list[StreamInfo]:
        """The tables and views of one schema, reflected in bulk (a query per kind where the dialect can)."""
        views = set(self.inspector.get_view_names(schema=schema))
        with suppress(NotImplementedError):
            views |= set(self.inspector.get_materialized_view_names(schema=schema))
        columns = self.inspector.get_multi_columns(schema=schema, kind=ObjectKind.ANY)
        with warnings.catch_warnings():
            # SQLAlchemy 2.1's own PostgreSQL key query warns about its "unnest": not ours to fix
            warnings.filterwarnings("ignore", message="Class unnest will not make use", category=SAWarning)
            keys = self.inspector.get_multi_pk_constraint(schema=schema, kind=ObjectKind.ANY)
        json_columns = self._json_columns(schema)
        named = _server_names(self.inspector.dialect.name)
        streams = []
        for (_, table), table_columns in sorted(columns.items(), key=lambda item: item[0][1]):
            kinds = {named(c["name"]): value_kind(c["type"]) for c in table_columns}
            kinds |= {c: "json" for t, c in json_columns if t == table and kinds.get(c) == "string"}
            is_view = table in views
            constraint = None if is_view else keys.get((schema, table))
            streams.append(
                StreamInfo(
                    name=self.stream_name(schema, table),
                    fields=tuple(FieldInfo(name, FIELD_TYPE_OF_KIND[kind]) for name, kind in kinds.items()),
                    primary_key_candidates=tuple(map(named, constraint["constrained_columns"] or ()))
                    if constraint
                    else (),
                    cursor_candidates=cursor_candidates(kinds),
                    metadata={"kind": "view" if is_view else "table", "schema": schema, "table": table},
                )
            )
        return streams

    def _json_columns(self, schema: str | None) -> set[tuple[str, str]]:
        """(table, column) pairs holding JSON in a text type, where the engine says so in a check."""
        if not self.backend.json_columns_sql or schema is None:
            return set()
        connection = self.inspector.bind
        assert isinstance(connection, Connection)  # a Catalog inspects one connection
        try:
            with connection.begin_nested():  # MySQL before 8.0.16 has no check_constraints table
                rows = connection.execute(text(self.backend.json_columns_sql), {"schema": schema}).all()
        except DBAPIError:
            return set()
        return {(table, column) for table, column in rows}


def reflect_table(connection: Connection, name: str, schema: str | None) -> Table:
    """A table or view found by reflection, its column names as the server spells them.

    Raises:
        ConnectorError: a column reflection could not read (MySQL: a name with a line break).
        NoSuchTableError: there is no such table.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SAWarning)
        table = Table(name, MetaData(), schema=schema, autoload_with=connection)
    if any(str(warning.message).startswith("Unknown column definition") for warning in caught):
        raise ConnectorError(
            f"Table {name!r} has a column whose name cannot be read back from the catalog (a name "
            "holding a line break, for one): rename that column, or read the table through a custom "
            "query that selects it under another name."
        )
    for warning in caught:
        warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    named = _server_names(connection.dialect.name)
    if all(named(column.name) == column.name for column in table.columns):
        return table
    columns = [Column(named(c.name), c.type, primary_key=c.primary_key) for c in table.columns]
    return Table(name, MetaData(), *columns, schema=schema)


def _server_names(dialect: str) -> Callable[[str], str]:
    """Turns a reflected name into the server's (MySQL's reflection doubles backticks)."""
    if dialect in ("mysql", "mariadb"):
        return lambda name: name.replace("``", "`")
    return lambda name: name


def row_estimates(
    connection: Connection, backend: Backend, schemas: set[str | None]
) -> dict[tuple[Any, str], int]:
    """Row counts from the engine's statistics, where they are cheap; none where they are not."""
    named = sorted(s for s in schemas if s is not None)
    if not backend.row_estimate_sql or not named:
        return {}
    statement = text(backend.row_estimate_sql).bindparams(bindparam("schemas", expanding=True))
    try:
        with connection.begin_nested():  # a failure must not abort the surrounding transaction
            rows = connection.execute(statement, {"schemas": named}).all()
    except DBAPIError:
        return {}
    # Postgres says -1 for a table never analysed: unknown, not empty.
    return {(s, t): int(n) for s, t, n in rows if n is not None and n >= 0}


def cursor_candidates(kinds: dict[str, str]) -> tuple[str, ...]:
    """Timestamps and dates (``updated``-like names first), then version/sequence and id-like integers."""
    ranked = []
    for name, kind in kinds.items():
        lowered = name.lower()
        if kind in ("timestamp_tz", "timestamp", "date"):
            updated = any(word in lowered for word in _UPDATED_WORDS)
            ranked.append((0 if updated else 1 if lowered.endswith(_TIME_SUFFIXES) else 2, name))
        elif kind == "integer":
            if lowered in _VERSION_NAMES or lowered.endswith(("_version", "_seq")):
                ranked.append((3, name))
            elif lowered == "id" or lowered.endswith("_id"):
                ranked.append((4 if lowered == "id" else 5, name))
    return tuple(name for _, name in sorted(ranked, key=lambda item: item[0]))
