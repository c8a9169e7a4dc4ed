"""The identity graph's reads and writes by lists of keys, one statement per list.

A chunk touches tens of thousands of records, so "these keys" must not cost
one bound parameter (and one SQLAlchemy compile step) per key: on SQLite a
list travels as one JSON text read by ``json_each`` (the index is still
used), on PostgreSQL as one array parameter (``= ANY(%s)``). Other dialects
get plain ``IN`` lists in batches. Statements are written once here with the
dialect's quoting; only values are bound.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Table

from core.profiles._clustering import DECISION, LINK, RECORD
from core.store import bulk
from core.store import tables as t
from core.store.repository import utcnow

_BATCH = 900


def _name(conn: Connection, table: Table) -> str:
    return conn.dialect.identifier_preparer.format_table(table)


def _mark(conn: Connection) -> str:
    return "?" if conn.dialect.paramstyle == "qmark" else "%s"


def _lists(conn: Connection, column: str, values: Sequence[Any]) -> Iterator[tuple[str, list[Any]]]:
    """(condition, parameters) pairs that together say ``column`` is one of ``values``."""
    if not values:
        return
    mark = _mark(conn)
    if conn.dialect.name == "sqlite":
        yield f"{column} IN (SELECT value FROM json_each({mark}))", [json.dumps(list(values))]
    elif conn.dialect.name == "postgresql":
        # JSON text is dumped in C on both sides; a Python list is adapted value by value
        yield (
            f"{column} = ANY(ARRAY(SELECT json_array_elements_text({mark}::json)))",
            [json.dumps(list(values))],
        )
    else:
        for start in range(0, len(values), _BATCH):
            batch = list(values[start : start + _BATCH])
            yield f"{column} IN ({', '.join([mark] * len(batch))})", batch


def select_where(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    column: str,
    values: Sequence[Any],
    where: str = "",
    params: Sequence[Any] = (),
) -> list[tuple[Any, ...]]:
    """Rows of ``columns`` whose ``column`` is one of ``values`` (and ``where``, a fixed condition)."""
    rows: list[tuple[Any, ...]] = []
    extra = f" AND {where}" if where else ""
    for condition, bound in _lists(conn, column, values):
        sql = f"SELECT {', '.join(columns)} FROM {_name(conn, table)} WHERE {condition}{extra}"
        rows.extend(_fetch(conn, sql, (*bound, *params)))
    return rows


def _fetch(conn: Connection, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Rows as the driver returns them (plain tuples): no Row objects for what becomes a frame."""
    cursor = conn.connection.cursor()  # the transaction's own DB-API connection
    try:
        cursor.execute(sql, tuple(params))
        return list(cursor.fetchall())
    finally:
        cursor.close()


def delete_where(
    conn: Connection,
    table: Table,
    column: str,
    values: Sequence[Any],
    where: str = "",
    params: Sequence[Any] = (),
) -> None:
    """Deletes the rows whose ``column`` is one of ``values`` (and ``where``)."""
    extra = f" AND {where}" if where else ""
    for condition, bound in _lists(conn, column, values):
        conn.exec_driver_sql(f"DELETE FROM {_name(conn, table)} WHERE {condition}{extra}", (*bound, *params))


def of_dataflow(conn: Connection, dataflow_id: int, rules: Sequence[str] = ()) -> tuple[str, list[Any]]:
    """The condition (and its parameters) "of this dataflow", optionally "with one of these rules"."""
    mark = _mark(conn)
    where, params = f"dataflow_id = {mark}", list[Any]([int(dataflow_id)])
    if rules:
        where += f" AND rule IN ({', '.join([mark] * len(rules))})"
        params += list(rules)
    return where, params


def records_rows(
    conn: Connection, table: Table, columns: Sequence[str], records: pd.DataFrame, rules: Sequence[str] = ()
) -> list[tuple[Any, ...]]:
    """Rows of a table keyed by record, for the given records (of any dataflows)."""
    rows: list[tuple[Any, ...]] = []
    for dataflow_id, group in records.groupby("dataflow_id"):
        where, params = of_dataflow(conn, int(dataflow_id), rules)
        rows.extend(
            select_where(conn, table, columns, "source_key", texts(group["source_key"]), where, params)
        )
    return rows


def links_of(conn: Connection, records: pd.DataFrame) -> pd.DataFrame:
    """The stored links of records."""
    return pd.DataFrame(records_rows(conn, t.identities, LINK, records), columns=LINK)


def holders(conn: Connection, values: pd.DataFrame) -> pd.DataFrame:
    """Every stored link with one of these (namespace, value) pairs."""
    rows: list[tuple[Any, ...]] = []
    for namespace, group in values.groupby("namespace"):
        rows.extend(
            select_where(
                conn,
                t.identities,
                LINK,
                "value",
                texts(group["value"]),
                f"namespace = {_mark(conn)}",
                [namespace],
            )
        )
    return pd.DataFrame(rows, columns=LINK)


def members_of(conn: Connection, records: pd.DataFrame) -> pd.DataFrame:
    """The current profile of each record that has one."""
    columns = [*RECORD, "profile_id"]
    return pd.DataFrame(records_rows(conn, t.profile_members, columns, records), columns=columns)


def profile_values(conn: Connection, profile_ids: Sequence[str]) -> pd.DataFrame:
    """The (namespace, value) pairs that stored profiles hold."""
    pairs = [
        (namespace, value)
        for (document,) in select_where(conn, t.profiles, ["identities"], "profile_id", profile_ids)
        for namespace, values in _document(document).items()
        for value in values
    ]
    return pd.DataFrame(pairs, columns=["namespace", "value"]).drop_duplicates()


def created_at(conn: Connection, profile_ids: Sequence[str]) -> dict[str, Any]:
    """When each of these stored profiles was created."""
    return dict(select_where(conn, t.profiles, ["profile_id", "created_at"], "profile_id", profile_ids))  # type: ignore[arg-type]


def insert_rows(conn: Connection, table: Table, frame: pd.DataFrame) -> None:
    """Inserts the frame's rows (its columns; missing values, and empty text, as NULL).

    PostgreSQL gets one COPY (the columns left out take their defaults, such
    as a serial id); other stores one executemany.
    """
    if frame.empty:
        return
    columns = list(frame.columns)
    quote = conn.dialect.identifier_preparer.quote
    names = ", ".join(quote(c) for c in columns)
    if conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg":
        cursor = conn.connection.cursor()
        try:
            with cursor.copy(f"COPY {_name(conn, table)} ({names}) FROM STDIN WITH (FORMAT csv)") as copy:  # type: ignore[attr-defined]
                copy.write(frame.to_csv(index=False, header=False, na_rep=""))
        finally:
            cursor.close()
        return
    sql = f"INSERT INTO {_name(conn, table)} ({names}) VALUES ({', '.join([_mark(conn)] * len(columns))})"
    conn.exec_driver_sql(sql, bulk.rows(conn, table, frame, columns))


def point_refusals_at_profiles(conn: Connection, records: pd.DataFrame, rules: Sequence[str]) -> None:
    """Sets the profile of these records' decisions with ``rules`` to the record's current profile."""
    decisions, members = _name(conn, t.profile_decisions), _name(conn, t.profile_members)
    for dataflow_id, group in records.groupby("dataflow_id"):
        where, params = of_dataflow(conn, int(dataflow_id), rules)
        current = (
            f"(SELECT m.profile_id FROM {members} m WHERE m.dataflow_id = {decisions}.dataflow_id "
            f"AND m.source_key = {decisions}.source_key)"
        )
        for condition, bound in _lists(conn, "source_key", texts(group["source_key"])):
            conn.exec_driver_sql(
                f"UPDATE {decisions} SET profile_id = {current} WHERE {condition} AND {where}",
                (*bound, *params),
            )


def insert_decisions(conn: Connection, decisions: pd.DataFrame) -> None:
    """Inserts decisions (their ids from the database, created now)."""
    if decisions.empty:
        return
    frame = decisions.reindex(columns=DECISION).astype(object)
    frame["dataflow_id"] = frame["dataflow_id"].astype("Int64")
    insert_rows(conn, t.profile_decisions, frame.assign(created_at=stamp(conn, utcnow())))


def stamp(conn: Connection, moment: datetime) -> str:
    """A UTC time as the text the store's timestamp columns take (formatted once, not per row)."""
    text = moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return text if conn.dialect.name == "sqlite" else text + "+00:00"


def stamps(conn: Connection, moments: pd.Series) -> pd.Series:
    """UTC times as text for the store's timestamp columns, formatted column-wise."""
    utc = (
        pd.to_datetime(moments, utc=True, format="mixed")
        .dt.tz_localize(None)
        .to_numpy(dtype="datetime64[us]")
    )
    text = pd.Series(np.datetime_as_string(utc, unit="us"), index=moments.index).str.replace(
        "T", " ", regex=False
    )
    return text if conn.dialect.name == "sqlite" else text + "+00:00"


def texts(values: pd.Series) -> list[str]:
    """A column of text as a Python list, converted in one go (not value by value)."""
    return values.to_numpy(dtype=object).tolist()  # type: ignore[no-any-return]


def _document(document: Any) -> dict[str, list[str]]:
    """A JSON column's value as read back (SQLite may hand over the text)."""
    if isinstance(document, str):
        return dict(json.loads(document))
    return dict(document or {})
