"""Dataset tables: one per dataflow, a column per mapped attribute, plus lineage.

Each record is keyed by ``_source_key`` (the primary key's values, or where
the row came from) and carries the run that last wrote it and the full-refresh
generation that last saw it. Names come from the dataflow and the profile
schema and always pass through the dialect's quoting, never into SQL text.
"""

from __future__ import annotations

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


def ensure_dataset(conn: Connection, dataflow_id: int, dataflow: str, columns: Mapping[str, str]) -> Table:
    """Creates the dataflow's dataset table, or adds the columns a new mapping needs."""
    name = table_name(dataflow)
    row = conn.execute(select(t.datasets).where(t.datasets.c.dataflow_id == dataflow_id)).mappings().first()
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
