"""Database values to pandas, column by column: SQL types to value kinds, kinds to dtypes.

A *value kind* is finer than a Tributary field type: it says how a column's
driver values become one typed pandas column. Conversions go through pyarrow
on a whole column at once; only JSON values that a driver parsed into Python
objects and binary values (base64) take a per-value encoding call.

=============  ===================================  ==========================
kind           SQL types                            pandas dtype
=============  ===================================  ==========================
integer        smallint, integer, bigint            Int64
float          real, double, float                  Float64
decimal        numeric, decimal, money-like         string: the exact decimal
boolean        boolean, MySQL tinyint(1)            boolean (MySQL: non-zero is true)
timestamp_tz   timestamptz, MySQL TIMESTAMP,        datetime64[us, UTC]
               datetimeoffset
timestamp      timestamp, datetime, datetime2       datetime64[us] (naive)
date           date                                 datetime64[s] at midnight
json           json, jsonb, Postgres arrays         string: the JSON text
binary         bytea, blob, (var)binary             string: base64
string         text, varchar, uuid, enum, time...   string
unknown        a custom query's columns             kind of the first non-null value
=============  ===================================  ==========================
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import types as sqltypes
from sqlalchemy.dialects import mssql, mysql

from connectors.base import ORIGIN_COLUMN, RAW_COLUMN, ROW_ERROR_COLUMN, ConnectorError

#: pandas' "string" dtype with NA as the missing value, as ``core.mapping`` uses.
STRING = pd.StringDtype("pyarrow")

#: The Tributary field type of each value kind.
FIELD_TYPE_OF_KIND = {
    "integer": "integer",
    "float": "number",
    "decimal": "number",
    "boolean": "boolean",
    "timestamp_tz": "timestamp",
    "timestamp": "timestamp",
    "date": "date",
    "json": "json",
    "binary": "binary",
    "string": "string",
    "unknown": "string",
}

_ARROW_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError)


def value_kind(sql_type: sqltypes.TypeEngine[Any]) -> str:
    """The value kind of a reflected SQL type (see the module's table)."""
    if isinstance(sql_type, sqltypes.Boolean):
        return "boolean"
    if isinstance(sql_type, mysql.TINYINT) and getattr(sql_type, "display_width", None) == 1:
        return "boolean"  # MySQL's BOOLEAN is tinyint(1)
    if isinstance(sql_type, sqltypes.Integer):
        return "integer"
    if isinstance(sql_type, sqltypes.Float):  # before Numeric: Float is a Numeric
        return "float"
    if isinstance(sql_type, sqltypes.Numeric):
        return "decimal"
    if isinstance(sql_type, mysql.TIMESTAMP | mssql.DATETIMEOFFSET):
        return "timestamp_tz"  # MySQL TIMESTAMP is an instant, read in the session's UTC
    if isinstance(sql_type, sqltypes.DateTime):
        return "timestamp_tz" if sql_type.timezone else "timestamp"
    if isinstance(sql_type, sqltypes.Date):
        return "date"
    if isinstance(sql_type, sqltypes.JSON | sqltypes.ARRAY):
        return "json"
    if isinstance(sql_type, sqltypes._Binary):
        return "binary"
    if isinstance(sql_type, sqltypes.NullType):
        return "unknown"  # a type SQLAlchemy does not know: typed by its values
    return "string"


def frame_from_rows(
    rows: Sequence[Sequence[Any]], names: Sequence[str], kinds: Sequence[str]
) -> tuple[pd.DataFrame, list[str]]:
    """A DataFrame built column by column, and the kinds with "unknown" ones resolved from the values."""
    columns: list[Sequence[Any]] = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    resolved = [
        _kind_of_values(values) if kind == "unknown" else kind
        for kind, values in zip(kinds, columns, strict=True)
    ]
    data = {name: _convert(values, kind) for name, values, kind in zip(names, columns, resolved, strict=True)}
    return pd.DataFrame(data, index=pd.RangeIndex(len(rows))), resolved


def unique_names(names: Sequence[str], stream: str) -> list[str]:
    """The result's column names; a clear error when a query returns two columns of one name."""
    duplicates = sorted({n for n in names if list(names).count(n) > 1})
    if duplicates:
        raise ConnectorError(
            f"Stream {stream!r} has several columns named {', '.join(map(repr, duplicates))}: "
            "give them distinct aliases in the query."
        )
    return list(names)


def with_bookkeeping(frame: pd.DataFrame, stream: str, key: Sequence[str], first_row: int) -> pd.DataFrame:
    """Adds ORIGIN_COLUMN (``stream#key values`` or ``stream#row number``) and empty error columns."""
    if key:
        parts = [frame[name].astype(STRING).fillna("") for name in key]
        origin = parts[0]
        for part in parts[1:]:
            origin = origin + "," + part
    else:
        numbers = np.arange(first_row + 1, first_row + len(frame) + 1, dtype=np.int64)
        origin = pd.Series(numbers, index=frame.index).astype(STRING)
    empty = pd.Series(pd.NA, index=frame.index, dtype=STRING)
    return frame.assign(
        **{ORIGIN_COLUMN: (stream + "#") + origin, ROW_ERROR_COLUMN: empty, RAW_COLUMN: empty}
    )


def _kind_of_values(values: Sequence[Any]) -> str:
    """The kind of a custom query's column, from its first non-null value."""
    first = next((v for v in values if v is not None), None)
    if first is None:
        return "unknown"
    for python_type, kind in _KIND_OF_PYTHON_TYPE:
        if isinstance(first, python_type):
            return kind
    return "string"


_KIND_OF_PYTHON_TYPE: tuple[tuple[type | tuple[type, ...], str], ...] = (
    (bool, "boolean"),  # before int: a bool is an int
    (int, "integer"),
    (float, "float"),
    (Decimal, "decimal"),
    (datetime, "timestamp"),  # before date: a datetime is a date; aware values become UTC
    (date, "date"),
    ((dict, list, tuple), "json"),
    ((bytes, bytearray, memoryview), "binary"),
)


def _convert(values: Sequence[Any], kind: str) -> pd.Series:
    """One column of driver values as the kind's dtype."""
    return _CONVERTERS.get(kind, _strings)(values)


def _integers(values: Sequence[Any]) -> pd.Series:
    try:
        return pd.Series(pd.Int64Dtype().__from_arrow__(pa.array(values, type=pa.int64())))
    except _ARROW_ERRORS:
        return _strings(values)  # beyond int64 (unsigned bigint): exact text rather than a wrong number


def _floats(values: Sequence[Any]) -> pd.Series:
    try:
        return pd.Series(pd.Float64Dtype().__from_arrow__(pa.array(values, type=pa.float64())))
    except _ARROW_ERRORS:
        return pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").astype("Float64")


def _decimals(values: Sequence[Any]) -> pd.Series:
    # Exact: the decimal's text (psycopg sends the server's text; Decimals are cast by pyarrow).
    try:
        return _from_arrow(pa.array(values).cast(pa.string()))
    except _ARROW_ERRORS:
        return _strings(values)  # NaN, or more than 76 digits


def _booleans(values: Sequence[Any]) -> pd.Series:
    try:
        array = pa.array(values, type=pa.bool_())
    except _ARROW_ERRORS:
        try:
            array = pc.not_equal(pa.array(values, type=pa.int64()), 0)  # tinyint(1) and SQLite 0/1
        except _ARROW_ERRORS:
            return _strings(values)
    return pd.Series(pd.BooleanDtype().__from_arrow__(array))


def _timestamps(values: Sequence[Any], aware: bool = False) -> pd.Series:
    first = next((v for v in values if v is not None), None)
    aware = aware or getattr(first, "tzinfo", None) is not None
    series = pd.Series(values, dtype=object)
    # pandas converts datetime objects about twice as fast as pyarrow; ISO 8601 covers SQLite's text
    try:
        stamps = pd.to_datetime(series, utc=aware, format="ISO8601")
    except (ValueError, TypeError, OverflowError):
        # MySQL's zero dates ('0000-00-00 00:00:00') have no instant: they become null
        stamps = pd.to_datetime(series, utc=aware, format="ISO8601", errors="coerce")
    return stamps.astype("datetime64[us, UTC]" if aware else "datetime64[us]")


def _dates(values: Sequence[Any]) -> pd.Series:
    try:
        array = pa.array(values, type=pa.date32()).cast(pa.timestamp("s"))
        return pd.Series(array.to_pandas(), copy=False).reset_index(drop=True)
    except _ARROW_ERRORS:
        stamps = pd.to_datetime(pd.Series(values, dtype=object), errors="coerce", format="ISO8601")
        return stamps.dt.normalize().astype("datetime64[s]")


def _json(values: Sequence[Any]) -> pd.Series:
    try:
        return _from_arrow(pa.array(values, type=pa.string()))  # already JSON text
    except _ARROW_ERRORS:
        texts = [
            v if v is None or isinstance(v, str) else json.dumps(v, default=_json_default, ensure_ascii=False)
            for v in values
        ]
        return _from_arrow(pa.array(texts, type=pa.string()))


def _binary(values: Sequence[Any]) -> pd.Series:
    texts = [None if v is None else base64.b64encode(_as_bytes(v)).decode("ascii") for v in values]
    return _from_arrow(pa.array(texts, type=pa.string()))


def _strings(values: Sequence[Any]) -> pd.Series:
    try:
        return _from_arrow(pa.array(values, type=pa.string()))
    except _ARROW_ERRORS:
        # UUIDs, times, intervals, network addresses...: their text
        return pd.Series(values, dtype=object).astype(STRING)


_CONVERTERS = {
    "integer": _integers,
    "float": _floats,
    "decimal": _decimals,
    "boolean": _booleans,
    "timestamp_tz": lambda values: _timestamps(values, aware=True),
    "timestamp": _timestamps,
    "date": _dates,
    "json": _json,
    "binary": _binary,
    "string": _strings,
}


def _from_arrow(array: pa.Array) -> pd.Series:
    return pd.Series(STRING.__from_arrow__(array))


def _as_bytes(value: Any) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


def _json_default(value: Any) -> Any:
    """JSON for what drivers put in arrays: exact decimals as text, dates in ISO 8601, bytes in base64."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    return str(value)
