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


def _conflict_clause(conn: Connection, columns: Sequence[str], key: Sequence[str]) -> str:
    quote = conn.dialect.identifier_preparer.quote
    updates = ", ".join(f"{quote(c)} = excluded.{quote(c)}" for c in columns if c not in key)
    action = f"DO UPDATE SET {updates}" if updates else "DO NOTHING"
    return f"ON CONFLICT ({', '.join(quote(c) for c in key)}) {action}"


def upsert(conn: Connection, table: Table, frame: pd.DataFrame, key: Sequence[str]) -> None:
    """Inserts the frame's rows, replacing those whose ``key`` exists (SQLite, PostgreSQL).

    On PostgreSQL the rows are COPied into a temporary staging table and
    merged with one set-based statement; elsewhere one prepared statement is
    executed for all rows.
    """
    if frame.empty:
        return
    if conn.dialect.name == "postgresql" and _has_copy(conn):
        _copy_merge(conn, table, frame, key)
        return
    quote = conn.dialect.identifier_preparer.quote
    columns = [c.name for c in table.columns]
    mark = _placeholder(conn)
    sql = (
        f"INSERT INTO {conn.dialect.identifier_preparer.format_table(table)} "
        f"({', '.join(quote(c) for c in columns)}) VALUES ({', '.join([mark] * len(columns))}) "
        f"{_conflict_clause(conn, columns, key)}"
    )
    conn.exec_driver_sql(sql, rows(conn, table, frame, columns))


def _has_copy(conn: Connection) -> bool:
    return hasattr(conn.connection.driver_connection, "cursor") and conn.dialect.driver == "psycopg"


def _csv_payload(table: Table, frame: pd.DataFrame, columns: Sequence[str]) -> str:
    """The rows as CSV text for COPY: missing values (and blank strings) are empty, hence NULL."""
    out = pd.DataFrame(index=frame.index)
    for name in columns:
        if name not in frame:
            out[name] = pd.NA
            continue
        series = frame[name]
        if pd.api.types.is_datetime64_any_dtype(series) and isinstance(table.c[name].type, Date):
            series = series.dt.strftime("%Y-%m-%d")
        out[name] = series
    return out.to_csv(index=False, header=False, na_rep="", date_format="%Y-%m-%d %H:%M:%S.%f%z")


def _copy_merge(conn: Connection, table: Table, frame: pd.DataFrame, key: Sequence[str]) -> None:
    preparer = conn.dialect.identifier_preparer
    quote = preparer.quote
    columns = [c.name for c in table.columns]
    names = ", ".join(quote(c) for c in columns)
    staging = quote(f"_stage_{table.name}"[:60])
    # a fresh staging table per chunk: it always has the target's current columns
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {staging}")
    conn.exec_driver_sql(
        f"CREATE TEMPORARY TABLE {staging} (LIKE {preparer.format_table(table)} INCLUDING DEFAULTS) "
        "ON COMMIT DROP"
    )
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f"COPY {staging} ({names}) FROM STDIN WITH (FORMAT csv)") as copy:
        copy.write(_csv_payload(table, frame, columns))
    conn.exec_driver_sql(
        f"INSERT INTO {preparer.format_table(table)} ({names}) SELECT {names} FROM {staging} "
        f"{_conflict_clause(conn, columns, key)}"
    )


def delete_where(conn: Connection, table: Table, frame: pd.DataFrame, columns: Sequence[str]) -> None:
    """Deletes the rows whose ``columns`` equal those of any row of the frame."""
    if frame.empty:
        return
    quote = conn.dialect.identifier_preparer.quote
    mark = _placeholder(conn)
    condition = " AND ".join(f"{quote(c)} = {mark}" for c in columns)
    sql = f"DELETE FROM {conn.dialect.identifier_preparer.format_table(table)} WHERE {condition}"
    conn.exec_driver_sql(sql, rows(conn, table, frame.drop_duplicates(list(columns)), columns))
