"""Type fidelity on real servers: each SQL type arrives in pandas with the documented dtype and exact value.

Each case makes a one-column table holding one value and one NULL, reads it
back, and checks the dtype, the value, that the NULL stayed missing, and the
field type ``discover()`` reports.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from tests.connectors.conftest import Scratch

UTC_TS = "datetime64[us, UTC]"
NAIVE_TS = "datetime64[us]"
DATE = "datetime64[s]"

# (SQL type, SQL literal, pandas dtype, expected value, discovered field type)
POSTGRES_CASES: list[tuple[str, str, str, Any, str]] = [
    ("integer", "42", "Int64", 42, "integer"),
    ("bigint", "9007199254740993", "Int64", 9007199254740993, "integer"),  # 2**53 + 1: no float on the way
    ("smallint", "-7", "Int64", -7, "integer"),
    ("numeric(12,2)", "1234567890.10", "string", "1234567890.10", "number"),
    ("numeric", "12345678901234567890.123456789", "string", "12345678901234567890.123456789", "number"),
    ("double precision", "1.5", "Float64", 1.5, "number"),
    ("real", "0.25", "Float64", 0.25, "number"),
    ("boolean", "true", "boolean", True, "boolean"),
    (
        "timestamptz",
        "'2024-03-01 12:34:56.789012+02'",
        UTC_TS,
        pd.Timestamp("2024-03-01 10:34:56.789012Z"),
        "timestamp",
    ),
    (
        "timestamp",
        "'2024-03-01 12:34:56.789012'",
        NAIVE_TS,
        pd.Timestamp("2024-03-01 12:34:56.789012"),
        "timestamp",
    ),
    ("date", "'9999-12-31'", DATE, pd.Timestamp("9999-12-31"), "date"),
    ("json", """'{"b": 1, "a": [1, 2]}'""", "string", '{"b": 1, "a": [1, 2]}', "json"),  # the text as written
    ("jsonb", """'{"b": 1, "a": [1, 2]}'""", "string", '{"a": [1, 2], "b": 1}', "json"),  # jsonb's own order
    ("integer[]", "'{1,2,3}'", "string", "[1, 2, 3]", "json"),
    ("text[]", """'{"a","b c"}'""", "string", '["a", "b c"]', "json"),
    (
        "uuid",
        "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'",
        "string",
        "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
        "string",
    ),
    ("bytea", "'\\x00ff10'", "string", "AP8Q", "binary"),  # base64
    ("text", "'héllo, wörld'", "string", "héllo, wörld", "string"),
    ("varchar(20)", "'  padded '", "string", "  padded ", "string"),
    ("time", "'10:30:00'", "string", "10:30:00", "string"),
]

MARIADB_CASES: list[tuple[str, str, str, Any, str]] = [
    ("int", "42", "Int64", 42, "integer"),
    ("bigint", "9007199254740993", "Int64", 9007199254740993, "integer"),
    ("bigint unsigned", "18446744073709551615", "string", "18446744073709551615", "integer"),  # beyond Int64
    ("decimal(12,2)", "1234567890.10", "string", "1234567890.10", "number"),
    (
        "decimal(38,10)",
        "12345678901234567890.0123456789",
        "string",
        "12345678901234567890.0123456789",
        "number",
    ),
    ("double", "1.5", "Float64", 1.5, "number"),
    ("float", "0.25", "Float64", 0.25, "number"),
    ("boolean", "true", "boolean", True, "boolean"),  # tinyint(1)
    ("tinyint(1)", "7", "boolean", True, "boolean"),  # non-zero is true
    (
        "timestamp(6) NULL",
        "'2024-03-01 10:34:56.789012'",
        UTC_TS,
        pd.Timestamp("2024-03-01 10:34:56.789012Z"),
        "timestamp",
    ),
    (
        "datetime(6)",
        "'2024-03-01 12:34:56.789012'",
        NAIVE_TS,
        pd.Timestamp("2024-03-01 12:34:56.789012"),
        "timestamp",
    ),
    ("date", "'9999-12-31'", DATE, pd.Timestamp("9999-12-31"), "date"),
    # MariaDB's JSON is LONGTEXT with a json_valid() check: discovered as json all the same
    ("json", """'{"b": 1, "a": [1, 2]}'""", "string", '{"b": 1, "a": [1, 2]}', "json"),
    ("blob", "x'00ff10'", "string", "AP8Q", "binary"),
    ("varbinary(8)", "x'00ff10'", "string", "AP8Q", "binary"),
    (
        "uuid",
        "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'",
        "string",
        "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
        "string",
    ),
    ("text", "'héllo, wörld'", "string", "héllo, wörld", "string"),
    ("varchar(20)", "'  padded '", "string", "  padded ", "string"),
]


def check_case(
    db: Scratch, sql_type: str, literal: str, dtype: str, expected: Any, field_type: str, *session: str
) -> None:
    db.run(
        *session,
        f"CREATE TABLE typed (id int PRIMARY KEY, v {sql_type})",
        f"INSERT INTO typed (id, v) VALUES (1, {literal}), (2, NULL)",
    )
    connector = db.connector()
    frame = pd.concat(list(connector.read(db.stream("typed"))), ignore_index=True)
    assert str(frame["v"].dtype) == dtype
    assert frame["v"].iloc[0] == expected
    assert pd.isna(frame["v"].iloc[1])
    (info,) = connector.discover()
    assert dict((f.name, f.type) for f in info.fields)["v"] == field_type
    sample = connector.sample(db.stream("typed"), 5)
    assert str(sample["v"].dtype) == dtype  # sample and read agree


@pytest.mark.parametrize(("sql_type", "literal", "dtype", "expected", "field_type"), POSTGRES_CASES)
def test_postgres_types(
    postgres: Scratch, sql_type: str, literal: str, dtype: str, expected: Any, field_type: str
) -> None:
    check_case(postgres, sql_type, literal, dtype, expected, field_type)


@pytest.mark.parametrize(("sql_type", "literal", "dtype", "expected", "field_type"), MARIADB_CASES)
def test_mariadb_types(
    mariadb: Scratch, sql_type: str, literal: str, dtype: str, expected: Any, field_type: str
) -> None:
    # the inserting session in UTC too, so that the TIMESTAMP stored is 10:34:56 UTC
    check_case(mariadb, sql_type, literal, dtype, expected, field_type, "SET time_zone = '+00:00'")
