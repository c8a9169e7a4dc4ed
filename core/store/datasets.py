"""Dataset tables: one per dataflow, a column per mapped attribute, plus lineage.

Each record is keyed by ``_source_key`` (the primary key's values, or where
the row came from) and carries the run that last wrote it and the full-refresh
generation that last saw it. Names come from the dataflow and the profile
schema and always pass through the dialect's quoting, never into SQL text;
column names must also be attribute paths (letters, digits, ``_`` and dots),
not a lineage column's, and short enough for the database to keep whole. A
new dataflow's table name is made unique and short enough too (dataflows
``Crm`` and ``crm``, or two long names sharing their first 60 characters,
get two tables).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

import pandas as pd
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Date,
    DateTime,
    Engine,
    Float,
    Integer,
    MetaData,
    Table,
    Text,
    delete,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.schema import CreateColumn

from core.errors import ConfigurationError
from core.store import bulk
from core.store import tables as t
from core.store.repository import utcnow

KEY = "_source_key"
LINEAGE = ("_run_id", "_generation", "_origin", "_ingested_at")
_SQL_TYPES: dict[str, Any] = {
    "string": Text,
    "integer": BigInteger,
    "number": Float,
    "boolean": Boolean,
    "date": Date,
    "timestamp": lambda: DateTime(timezone=True),
    "json": Text,
    "binary": Text,
}


#: Keys per DELETE statement (SQLite binds at most 32,766 parameters).
_KEYS_PER_STATEMENT = 10_000
#: What a dataset column may be named: an attribute path (see ``core.mapping.schema``).
#: The longest name every supported store keeps whole (PostgreSQL's).
_PORTABLE_NAME_LENGTH = 63
_COLUMN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


def table_name(dataflow: str) -> str:
    """The dataset table of a dataflow: ``ds_`` and its name, made SQL-friendly."""
    return "ds_" + re.sub(r"[^A-Za-z0-9_]", "_", dataflow).lower()


def _define(name: str, columns: Mapping[str, str]) -> Table:
    cols = [
        Column(KEY, Text, primary_key=True),
        *(Column(attr, _SQL_TYPES.get(kind, Text)()) for attr, kind in columns.items()),
        Column("_run_id", Integer),
        Column("_generation", Integer, index=True),
        Column("_origin", Text),
        Column("_ingested_at", DateTime(timezone=True)),
    ]
    return Table(name, MetaData(), *cols)


def _new_table_name(conn: Connection, dataflow: str) -> str:
    """A new dataset's table: ``table_name``, or with a hash of the name when taken or too long."""
    name = table_name(dataflow)
    limit = _longest_name(conn)
    taken = set(conn.execute(select(t.datasets.c.table_name)).scalars())
    if len(name) <= limit and name not in taken:
        return name
    suffix = "_" + hashlib.sha256(dataflow.encode()).hexdigest()[:10]
    return name[: limit - len(suffix)] + suffix


def _longest_name(conn: Connection) -> int:
    """The longest table or column name: the database's, at most PostgreSQL's 63 (a store may move there)."""
    return min(conn.dialect.max_identifier_length or _PORTABLE_NAME_LENGTH, _PORTABLE_NAME_LENGTH)


def _check_columns(conn: Connection, columns: Mapping[str, str]) -> None:
    """Raises ConfigurationError for a column name that is not an attribute path, or would not fit."""
    limit = _longest_name(conn)
    for name in columns:
        if not isinstance(name, str) or not _COLUMN_NAME.fullmatch(name):
            raise ConfigurationError(
                f"{name!r} cannot name a dataset column: use an attribute path of letters, digits, "
                "'_' and dots, such as homeAddress.city"
            )
        if name == KEY or name in LINEAGE:
            raise ConfigurationError(
                f"attribute {name!r} has the name of a column every dataset keeps for itself "
                f"({', '.join((KEY, *LINEAGE))}): map to another attribute"
            )
        if len(name) > limit:
            raise ConfigurationError(
                f"attribute {name[:40]!r}... is {len(name)} characters long; dataset columns are named "
                f"with at most {limit} (what every supported database keeps): use a shorter attribute path"
            )


def ensure_dataset(conn: Connection, dataflow_id: int, dataflow: str, columns: Mapping[str, str]) -> Table:
    """Creates the dataflow's dataset table, or adds the columns a new mapping needs.

    Raises:
        ConfigurationError: a column name is not an attribute path, is a lineage column's, or is too long.
    """
    _check_columns(conn, columns)
    row = conn.execute(select(t.datasets).where(t.datasets.c.dataflow_id == dataflow_id)).mappings().first()
    name = row["table_name"] if row else _new_table_name(conn, dataflow)
    known: dict[str, str] = dict(row["columns"]) if row else {}
    wanted = {**known, **columns}
    table = _define(name, wanted)
    if not inspect(conn).has_table(name):
        table.create(conn)
    else:
        existing = {c["name"] for c in inspect(conn).get_columns(name)}
        preparer = conn.dialect.identifier_preparer
        for column in table.columns:
            if column.name not in existing:
                ddl = CreateColumn(column).compile(dialect=conn.dialect)
                # names are attribute paths (checked above): no quote, colon or percent sign in them
                conn.execute(text(f"ALTER TABLE {preparer.format_table(table)} ADD COLUMN {ddl}"))
    if row is None:
        conn.execute(
            insert(t.datasets).values(
                dataflow_id=dataflow_id, table_name=name, columns=wanted, updated_at=utcnow()
            )
        )
    elif wanted != known:
        conn.execute(
            t.datasets.update()
            .where(t.datasets.c.dataflow_id == dataflow_id)
            .values(columns=wanted, updated_at=utcnow())
        )
    return table


def dataset_table(engine: Engine | Connection, dataflow_id: int) -> Table | None:
    """The dataset table of a dataflow, or None before its first run."""
    with _connect(engine) as conn:
        row = (
            conn.execute(select(t.datasets).where(t.datasets.c.dataflow_id == dataflow_id)).mappings().first()
        )
    return None if row is None else _define(row["table_name"], row["columns"])


def upsert(conn: Connection, table: Table, frame: pd.DataFrame) -> None:
    """Inserts or replaces records by ``_source_key``."""
    bulk.upsert(conn, table, frame, [KEY])


def delete_stale(conn: Connection, table: Table, generation: int) -> int:
    """Deletes records a completed full refresh did not see; returns how many."""
    return conn.execute(delete(table).where(table.c._generation != generation)).rowcount or 0


def delete_keys(conn: Connection, table: Table, keys: pd.Series) -> int:
    """Deletes the records with these ``_source_key`` values; returns how many existed."""
    removed = 0
    values = keys.astype(str).tolist()
    for start in range(0, len(values), _KEYS_PER_STATEMENT):
        batch = values[start : start + _KEYS_PER_STATEMENT]
        removed += conn.execute(delete(table).where(table.c[KEY].in_(batch))).rowcount or 0
    return removed


def read_records(engine: Engine, table: Table, limit: int | None = 1000) -> pd.DataFrame:
    """The records of a dataset, in key order."""
    query = select(table).order_by(table.c[KEY])
    if limit is not None:
        query = query.limit(limit)
    with engine.connect() as conn:
        return pd.DataFrame(conn.execute(query).mappings().all(), columns=[c.name for c in table.columns])


def count_records(engine: Engine, table: Table) -> int:
    """How many records a dataset holds."""
    from sqlalchemy import func

    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


class _connect:
    def __init__(self, bind: Engine | Connection) -> None:
        self.bind = bind
        self.conn: Connection | None = None

    def __enter__(self) -> Connection:
        if isinstance(self.bind, Connection):
            return self.bind
        self.conn = self.bind.connect()
        return self.conn

    def __exit__(self, *_: object) -> None:
        if self.conn is not None:
            self.conn.close()
