"""The database connectors without a server: settings, URLs, secrets, SQL per dialect, query vetting, SQLite.

SQL Server and BigQuery have no server here: their tests check the URL and
dialect the settings build, and that the statements of sample, read and
incremental read compile for that dialect with its quoting and LIMIT/TOP.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pandas as pd
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import ValidationError
from sqlalchemy import TIMESTAMP, Column, DateTime, Integer, MetaData, String, Table

import connectors
from connectors._sql_query import (
    QuerySyntax,
    cursor_start,
    query_source,
    read_statement,
    sample_statement,
    table_source,
    vet_query,
)
from connectors._sql_types import frame_from_rows
from connectors.base import ConnectorError, CursorRequest
from connectors.sql import (
    BigQueryConnector,
    MySqlConnector,
    PostgresConnector,
    RedshiftConnector,
    SqlConnector,
    SqliteConnector,
    SqlServerConnector,
)

#: A password no message may ever show, with characters a URL must escape.
PASSWORD = "Tr1but@ry:S3cr3t/x9"
SQL_CONNECTORS = [
    PostgresConnector,
    MySqlConnector,
    SqlServerConnector,
    RedshiftConnector,
    SqliteConnector,
    BigQueryConnector,
]
SERVER = {"host": "db.example.com", "database": "crm", "username": "reader", "password": PASSWORD}


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        for form in (PASSWORD, quote(PASSWORD, safe=""), quote_plus(PASSWORD)):
            assert form not in text, f"secret leaked in: {text}"


def error_texts(error: BaseException) -> list[str]:
    """str and repr of an exception and of every exception chained to it."""
    texts: list[str] = []
    current: BaseException | None = error
    while current is not None:
        texts += [str(current), repr(current)]
        current = current.__cause__ or current.__context__
    return texts


# -- registry and settings -----------------------------------------------------------------------------------
@pytest.mark.parametrize("cls", SQL_CONNECTORS, ids=lambda c: c.name)
def test_registered_in_the_catalog_databases(cls: type[SqlConnector]) -> None:
    assert connectors.REGISTRY[cls.name] is cls
    assert cls.name in dict(connectors.CATALOG["Databases"])
    assert cls.category == "Databases" and cls.pushes_down_cursor


@pytest.mark.parametrize(
    ("cls", "port", "schema", "ssl_mode"),
    [
        (PostgresConnector, 5432, "public", "prefer"),
        (RedshiftConnector, 5439, "public", "require"),
        (MySqlConnector, 3306, None, "preferred"),
        (SqlServerConnector, 1433, None, "request"),
    ],
)
def test_server_defaults_per_engine(
    cls: type[SqlConnector], port: int, schema: str | None, ssl_mode: str
) -> None:
    config: Any = cls(SERVER).config
    assert (config.port, config.schema, config.ssl_mode, config.connect_timeout_s) == (
        port,
        schema,
        ssl_mode,
        10,
    )
    with pytest.raises(ValidationError):
        cls({**SERVER, "ssl_mode": "sometimes"})


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"host": "h", "password": PASSWORD}, "host and database are required"),
        ({**SERVER, "url": f"postgresql://u:{quote(PASSWORD, safe='')}@h/db"}, "not both"),
        ({"url": f"mysql://u:{quote(PASSWORD, safe='')}@h/db"}, "url must start with postgresql://"),
        ({"url": f"not a url {PASSWORD}"}, "not a SQLAlchemy URL"),
        ({**SERVER, "port": 0}, "greater than or equal to 1"),
    ],
)
def test_invalid_settings_are_explained_without_echoing_the_password(
    settings: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        PostgresConnector(settings)
    assert problem in str(caught.value)
    assert_no_secret(str(caught.value), repr(caught.value))


def test_the_password_stays_hidden_in_config_url_and_engine() -> None:
    connector = PostgresConnector(SERVER)
    url = connector.connection_url()
    assert url.password == PASSWORD  # passed as a value, escaped by SQLAlchemy, never formatted
    assert url.render_as_string(hide_password=False).startswith(
        f"postgresql+psycopg://reader:{quote(PASSWORD, safe='')}"
    )
    assert_no_secret(
        repr(connector.config), str(connector.config), str(url), repr(url), repr(connector.engine)
    )
    assert connector.config.model_dump()["password"].get_secret_value() == PASSWORD


def test_a_url_setting_gets_the_shipped_driver_and_keeps_its_options() -> None:
    connector = PostgresConnector(
        {"url": f"postgresql://u:{quote(PASSWORD, safe='')}@h:6543/db?sslmode=verify-full"}
    )
    url = connector.connection_url()
    assert (url.drivername, url.host, url.port, url.database, url.password) == (
        "postgresql+psycopg",
        "h",
        6543,
        "db",
        PASSWORD,
    )
    assert connector.engine.dialect.name == "postgresql" and connector.engine.dialect.driver == "psycopg"
    assert_no_secret(repr(connector.config))


def test_driver_arguments_per_engine() -> None:
    postgres = PostgresConnector({**SERVER, "ssl_mode": "verify-full", "connect_timeout_s": 1})
    args = postgres.backend.connect_args(postgres.config, False)
    assert args == {"connect_timeout": 2, "application_name": "tributary", "sslmode": "verify-full"}
    mysql = MySqlConnector({**SERVER, "ssl_mode": "disabled"})
    assert mysql.backend.connect_args(mysql.config, False)["ssl_disabled"] is True
    assert mysql.backend.connect_args(mysql.config, True)["read_timeout"] == 10  # check() never hangs
    sqlserver = SqlServerConnector({**SERVER, "ssl_mode": "require"})
    assert sqlserver.backend.connect_args(sqlserver.config, False)["encryption"] == "require"


# -- SQL Server, Redshift, BigQuery: the SQL they would run --------------------------------------------------
def hostile_table(schema: str | None = "sales") -> Table:
    return Table(
        'we"ird',
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("select", String(10)),
        Column("it's", String(10)),
        Column("updated_at", DateTime(timezone=True)),
        schema=schema,
    )


def compiled(connector: SqlConnector, statement: Any) -> tuple[str, dict[str, Any]]:
    result = statement.compile(dialect=connector.engine.dialect)
    return str(result), dict(result.params)


def test_sql_server_url_and_statements() -> None:
    connector = SqlServerConnector(SERVER)
    url = connector.connection_url()
    assert (url.drivername, url.port) == ("mssql+pymssql", 1433)
    assert connector.engine.dialect.name == "mssql"
    source = table_source('sales.we"ird', hostile_table())
    sample, params = compiled(connector, sample_statement(source, 25))
    assert sample.startswith("SELECT TOP ")
    assert params["param_1"] == 25
    assert 'FROM sales.[we"ird]' in sample and '[we"ird].[select] AS [select]' in sample
    assert "[it's] AS [it's]" in sample and sample.endswith('ORDER BY sales.[we"ird].id')
    request = CursorRequest("updated_at", pd.Timestamp("2024-05-01 12:00", tz="UTC"), ("id",))
    start = cursor_start(source.kind("updated_at"), request.start)
    read, params = compiled(connector, read_statement(source, request, start, ("id",)))
    assert 'WHERE sales.[we"ird].updated_at >= %(cursor_start)s' in read
    assert read.endswith('ORDER BY sales.[we"ird].updated_at, sales.[we"ird].id')
    assert params["cursor_start"] == dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC)


def test_sql_server_check_reports_a_refused_port() -> None:
    connector = SqlServerConnector({**SERVER, "host": "127.0.0.1", "port": 1, "connect_timeout_s": 2})
    result = connector.check()
    assert not result.ok and "Connection refused by 127.0.0.1:1" in result.message
    assert_no_secret(result.message)


def test_redshift_is_postgres_on_port_5439_with_tls() -> None:
    connector = RedshiftConnector(
        {**SERVER, "host": "cluster.abc.eu-west-1.redshift.amazonaws.com", "database": "dev"}
    )
    url = connector.connection_url()
    assert (url.drivername, url.port) == ("postgresql+psycopg", 5439)
    assert connector.backend.connect_args(connector.config, False)["sslmode"] == "require"
    assert connector.backend.read_only_sql is None  # Redshift has no SET TRANSACTION READ ONLY
    sample, _ = compiled(connector, sample_statement(table_source("s", hostile_table("public")), 10, False))
    assert 'FROM public."we""ird"' in sample and "LIMIT" in sample and "ORDER BY" not in sample


def service_account_key() -> str:
    """A well-formed (and useless) service account key: the client is built offline from it."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return json.dumps(
        {
            "type": "service_account",
            "project_id": "acme-analytics",
            "private_key_id": PASSWORD,
            "private_key": pem,
            "client_email": "reader@acme-analytics.iam.gserviceaccount.com",
            "token_uri": "https://oauth2.googleapis.com/token",
        }
    )


def test_bigquery_url_credentials_and_statements() -> None:
    key = service_account_key()
    connector = BigQueryConnector({"project": "acme-analytics", "dataset": "crm", "credentials_json": key})
    assert connector.connection_url().render_as_string() == "bigquery://acme-analytics/crm"
    assert connector.engine.dialect.name == "bigquery"
    assert connector.engine.dialect.credentials_info["private_key_id"] == PASSWORD
    assert_no_secret(repr(connector.config), str(connector.config))
    # BigQuery names allow spaces, dashes and letters beyond ASCII (not quotes); reserved words need quoting
    table = Table(
        "clients été-2024",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("select", String),
        Column("updated_at", TIMESTAMP),
        schema="crm",
    )
    source = table_source("crm.clients été-2024", table)
    sample, _ = compiled(connector, sample_statement(source, 10, connector.backend.sample_in_key_order))
    assert "FROM `crm`.`clients été-2024`" in sample and "`select` AS `select`" in sample
    assert "LIMIT %(param_1:INT64)s" in sample
    assert "ORDER BY" not in sample  # ordering a BigQuery table would scan it
    request = CursorRequest("updated_at", pd.Timestamp("2024-05-01", tz="UTC"), ("id",))
    start = cursor_start(source.kind("updated_at"), request.start)
    read, params = compiled(connector, read_statement(source, request, start, ["id"]))
    assert "WHERE `clients été-2024`.`updated_at` >= %(cursor_start:TIMESTAMP)s" in read
    assert read.endswith("ORDER BY `clients été-2024`.`updated_at`, `clients été-2024`.`id`")
    assert params["cursor_start"] == dt.datetime(2024, 5, 1)  # naive UTC, as BigQuery reads it


def test_bigquery_credentials_must_be_a_key() -> None:
    with pytest.raises(ValidationError) as caught:
        BigQueryConnector({"project": "p", "credentials_json": "{" + PASSWORD})
    assert "is not JSON" in str(caught.value)
    assert_no_secret(str(caught.value))
    incomplete = json.dumps({"type": "service_account", "private_key": PASSWORD})
    result = BigQueryConnector({"project": "p", "credentials_json": incomplete}).check()
    assert not result.ok and "Could not connect to Google BigQuery" in result.message
    assert_no_secret(result.message)


def test_custom_query_wraps_as_a_subquery_for_every_dialect() -> None:
    source = query_source("q", "SELECT id, updated_at FROM t WHERE note = 'a :b'", ["updated_at", "id"])
    request = CursorRequest("updated_at", pd.Timestamp("2024-05-01", tz="UTC"), ("id",))
    for connector in (SqlServerConnector(SERVER), PostgresConnector(SERVER)):
        read, _ = compiled(
            connector, read_statement(source, request, cursor_start("unknown", request.start), ["id"])
        )
        assert "FROM (SELECT id, updated_at FROM t WHERE note = 'a :b') AS q" in read
        assert "WHERE q.updated_at >= " in read and read.endswith("ORDER BY q.updated_at, q.id")


# -- query vetting ----------------------------------------------------------------------------------------
POSTGRES_SYNTAX = PostgresConnector.backend.syntax
MYSQL_SYNTAX = MySqlConnector.backend.syntax
SQLSERVER_SYNTAX = SqlServerConnector.backend.syntax


@pytest.mark.parametrize(
    ("syntax", "query", "kept"),
    [
        (POSTGRES_SYNTAX, "select 1;", "select 1"),
        (POSTGRES_SYNTAX, "  (SELECT 1) ; -- done", "  (SELECT 1)"),
        (POSTGRES_SYNTAX, "WITH a AS (SELECT ';' AS s) SELECT * FROM a", None),
        (POSTGRES_SYNTAX, "SELECT $$;$$, $tag$ it's ; $tag$, E'\\';'", None),
        (
            POSTGRES_SYNTAX,
            'SELECT "a;b", "into" FROM t /* ; /* nested ; */ */',
            'SELECT "a;b", "into" FROM t',
        ),
        (
            MYSQL_SYNTAX,
            "SELECT 'it\\'s;', \"x;\", `a;b` FROM t # ;",
            "SELECT 'it\\'s;', \"x;\", `a;b` FROM t",
        ),
        (SQLSERVER_SYNTAX, "SELECT [a;b], [x]]y;] FROM t", None),
    ],
)
def test_vetting_accepts_one_select(syntax: QuerySyntax, query: str, kept: str | None) -> None:
    assert vet_query(query, syntax) == (kept if kept is not None else query)


@pytest.mark.parametrize(
    ("syntax", "query", "reason"),
    [
        (POSTGRES_SYNTAX, "DELETE FROM t", "not DELETE"),
        (POSTGRES_SYNTAX, " -- only a comment", "is empty"),
        (POSTGRES_SYNTAX, '"t".* FROM t', "must be a SELECT or WITH query"),
        (POSTGRES_SYNTAX, "SELECT 1; DROP TABLE t", "more than one statement"),
        (POSTGRES_SYNTAX, "SELECT 1 --x'\n; DROP TABLE t; --'", "more than one statement"),
        (POSTGRES_SYNTAX, "SELECT 'unterminated", "unterminated"),
        (POSTGRES_SYNTAX, "SELECT * INTO t2 FROM t", "INTO"),
        (POSTGRES_SYNTAX, "SELECT $a$ ; $b$; DROP TABLE t", "unterminated $-quoted"),
        (MYSQL_SYNTAX, "SELECT 1 --1; DROP TABLE t", "more than one statement"),  # "--1" is not a comment
        (MYSQL_SYNTAX, "SELECT 1 /*!; DROP TABLE t */", "MySQL runs as code"),
        (MYSQL_SYNTAX, "SELECT 1 INTO OUTFILE '/tmp/x'", "INTO"),
        (SQLSERVER_SYNTAX, "EXEC sp_who", "not EXEC"),
    ],
)
def test_vetting_rejects_anything_else(syntax: QuerySyntax, query: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason.replace("$", r"\$")):
        vet_query(query, syntax)


# -- values ---------------------------------------------------------------------------------------------
def test_cursor_start_per_column_kind() -> None:
    start = pd.Timestamp("2024-05-01 23:30:00.1234567", tz="Europe/Paris")
    assert cursor_start("timestamp_tz", start) == dt.datetime(2024, 5, 1, 21, 30, 0, 123456, tzinfo=dt.UTC)
    assert cursor_start("timestamp", start) == dt.datetime(2024, 5, 1, 21, 30, 0, 123456)
    assert cursor_start("date", start) == dt.date(2024, 5, 1)
    assert cursor_start("timestamp", start, text_timestamps=True) == "2024-05-01 21:30:00"
    assert cursor_start("integer", 7.9) == 7 and cursor_start("decimal", 2.5) == Decimal("2.5")
    assert cursor_start("string", "abc") == "abc" and cursor_start("integer", None) is None
    assert cursor_start("string", start) == "2024-05-01 21:30:00"  # ISO text in a varchar column
    with pytest.raises(ConnectorError, match="not a valid timestamp"):
        cursor_start("timestamp", "yesterday-ish")


def test_values_become_typed_columns_with_nulls_kept() -> None:
    paris = dt.timezone(dt.timedelta(hours=2))
    rows = [
        (
            1,
            Decimal("12.50"),
            dt.datetime(2024, 5, 1, 12, tzinfo=paris),
            "0000-00-00",
            {"a": [1, 2]},
            b"\x00\xff",
            1,
        ),
        (None, None, None, None, None, None, None),
    ]
    names = ["i", "d", "ts", "day", "j", "b", "flag"]
    kinds = ["integer", "decimal", "timestamp", "date", "json", "binary", "boolean"]
    frame, resolved = frame_from_rows(rows, names, kinds)
    assert [str(t) for t in frame.dtypes] == [
        "Int64",
        "string",
        "datetime64[us, UTC]",
        "datetime64[s]",
        "string",
        "string",
        "boolean",
    ]
    assert frame.iloc[0].tolist()[:2] == [1, "12.50"]
    assert frame["ts"].iloc[0] == pd.Timestamp("2024-05-01 10:00", tz="UTC")  # aware values are instants
    assert pd.isna(frame["day"].iloc[0])  # MySQL's zero date has no calendar day
    assert frame["j"].iloc[0] == '{"a": [1, 2]}' and frame["b"].iloc[0] == "AP8="
    assert frame.iloc[1].isna().all() and resolved == kinds


def test_a_query_column_is_typed_by_its_first_value() -> None:
    frame, kinds = frame_from_rows([(None, "x"), (3, None)], ["n", "s"], ["unknown", "unknown"])
    assert kinds == ["integer", "string"] and str(frame["n"].dtype) == "Int64"
    empty, still = frame_from_rows([(None,)], ["n"], ["unknown"])
    assert still == ["unknown"] and empty["n"].isna().all()


# -- SQLite ---------------------------------------------------------------------------------------------
def test_sqlite_missing_file_is_explained(tmp_path: Path) -> None:
    result = SqliteConnector({"path": str(tmp_path / "nope.db")}).check()
    assert not result.ok and "does not exist or is not readable" in result.message
    assert not (tmp_path / "nope.db").exists()  # read-only: no empty database created


def test_sqlite_is_opened_read_only(tmp_path: Path) -> None:
    path = tmp_path / "shop.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
        db.execute("INSERT INTO t VALUES (1)")
    connector = SqliteConnector({"path": str(path)})
    assert connector.check().ok
    with pytest.raises(ConnectorError):
        list(connector.read("w", {"query": "WITH x AS (SELECT 2) INSERT INTO t SELECT * FROM x"}))
    with connector.engine.connect() as connection, pytest.raises(Exception, match="readonly"):
        connection.exec_driver_sql("INSERT INTO t VALUES (3)")
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM t").fetchone() == (1,)


def test_sqlite_text_timestamps_keep_ties_at_the_start(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    with sqlite3.connect(path) as db:  # written by another app, in CURRENT_TIMESTAMP's format
        db.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, updated_at DATETIME)")
        db.executemany(
            "INSERT INTO events VALUES (?, ?)",
            [
                (1, "2024-01-01 10:00:00"),
                (2, "2024-01-01 11:00:00"),
                (3, "2024-01-01 11:00:00"),
                (4, "2024-01-01 11:30:00.250000"),
            ],
        )
    request = CursorRequest("updated_at", pd.Timestamp("2024-01-01 11:00", tz="UTC"), ("id",))
    frame = pd.concat(list(SqliteConnector({"path": str(path)}).read("events", cursor=request)))
    assert frame["id"].tolist() == [2, 3, 4]
    assert frame["updated_at"].iloc[2] == pd.Timestamp("2024-01-01 11:30:00.25")


def test_sqlite_read_of_a_missing_file_is_a_connector_error(tmp_path: Path) -> None:
    with pytest.raises(ConnectorError) as caught:
        list(SqliteConnector({"path": str(tmp_path / "gone.db")}).read("t"))
    assert "gone.db" in caught.value.user_message
