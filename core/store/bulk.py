"""Fast bulk writes: one prepared statement, column-wise conversion, DB-API executemany.

SQLAlchemy's ORM-free ``execute(stmt, list_of_dicts)`` still builds a dict
and processes bind parameters per row, which costs more than the database's
own work. Here each column is converted once, vectorised, to what the driver
binds natively, and the statement text (identifiers quoted by the dialect) is
sent once with a list of tuples.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from sqlalchemy import Connection, Date, Table


def _placeholder(conn: Connection) -> str:
    style = conn.dialect.paramstyle
    if style == "qmark":
        return "?"
    if style in ("format", "pyformat"):
        return "%s"
    raise NotImplementedError(f"bulk writes do not support the {style!r} parameter style")


def _column_values(series: pd.Series, is_date: bool, sqlite: bool) -> list[object]:
    """One column as a list of driver-native values, None for missing."""
    missing = series.isna()
    if pd.api.types.is_datetime64_any_dtype(series):
        if isinstance(series.dtype, pd.DatetimeTZDtype):
            series = series.dt.tz_convert("UTC").dt.tz_localize(None)
        if sqlite:
            # the text form SQLAlchemy's SQLite Date/DateTime types write and read back
            text = series.dt.strftime("%Y-%m-%d" if is_date else "%Y-%m-%d %H:%M:%S.%f")
            values = text.astype(object)
        else:
            values = pd.Series(
                series.dt.date if is_date else series.dt.to_pydatetime(), index=series.index, dtype=object
            )
    else:
        values = series.astype(object)
    return values.where(~missing, None).tolist()


def rows(conn: Connection, table: Table, frame: pd.DataFrame, columns: Sequence[str]) -> list[tuple]:
    """The frame's ``columns`` as a list of tuples ready for executemany."""
    sqlite = conn.dialect.name == "sqlite"
    lists = [
        _column_values(frame[name], isinstance(table.c[name].type, Date), sqlite)
        if name in frame
        else [None] * len(frame)
        for name in columns
    ]
    return list(zip(*lists, strict=True))


def upsert(conn: Connection, table: Table, frame: pd.DataFrame, key: Sequence[str]) -> None:
    """Inserts the frame's rows, replacing those whose ``key`` exists (SQLite, PostgreSQL)."""
    if frame.empty:
        return
    quote = conn.dialect.identifier_preparer.quote
    columns = [c.name for c in table.columns]
    mark = _placeholder(conn)
    updates = ", ".join(f"{quote(c)} = excluded.{quote(c)}" for c in columns if c not in key)
    action = f"DO UPDATE SET {updates}" if updates else "DO NOTHING"
    sql = (
        f"INSERT INTO {conn.dialect.identifier_preparer.format_table(table)} "
        f"({', '.join(quote(c) for c in columns)}) VALUES ({', '.join([mark] * len(columns))}) "
        f"ON CONFLICT ({', '.join(quote(c) for c in key)}) {action}"
    )
    conn.exec_driver_sql(sql, rows(conn, table, frame, columns))


def delete_where(conn: Connection, table: Table, frame: pd.DataFrame, columns: Sequence[str]) -> None:
    """Deletes the rows whose ``columns`` equal those of any row of the frame."""
    if frame.empty:
        return
    quote = conn.dialect.identifier_preparer.quote
    mark = _placeholder(conn)
    condition = " AND ".join(f"{quote(c)} = {mark}" for c in columns)
    sql = f"DELETE FROM {conn.dialect.identifier_preparer.format_table(table)} WHERE {condition}"
    conn.exec_driver_sql(sql, rows(conn, table, frame.drop_duplicates(list(columns)), columns))
