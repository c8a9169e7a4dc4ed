"""The PostgreSQL connector on a real server: check(), a big sample, read-only queries, lost connections."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import closing
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import event

from connectors._sql_backends import APPLICATION_NAME
from connectors.base import ConnectorError, CursorRequest, SourceUnreachableError
from tests.connectors.conftest import Scratch
from tests.connectors.test_sql import PASSWORD, assert_no_secret, error_texts

SERVER = {"host": "127.0.0.1", "port": 5432, "database": "test", "username": "postgres"}


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts TCP connections and then never says a word."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()


def test_check_connects_and_names_the_server(postgres: Scratch) -> None:
    result = postgres.connector(password=PASSWORD).check()
    assert result.ok, result.message
    assert (
        "PostgreSQL 1" in result.message
        and "127.0.0.1:5432" in result.message
        and "postgres" in result.message
    )
    assert_no_secret(result.message)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"port": 1}, "Connection refused by 127.0.0.1:1: is PostgreSQL running on 127.0.0.1:1"),
        ({"host": "no-such-host.invalid"}, "Unknown host 'no-such-host.invalid'"),
        ({"database": "no_such_database_x"}, "Database 'no_such_database_x' does not exist"),
        ({"username": "no_such_role_x"}, "Authentication failed for user 'no_such_role_x'"),
        ({"ssl_mode": "require"}, "TLS (SSL) handshake"),  # this server has no TLS
        ({"schema": "no_such_schema_x"}, "schema 'no_such_schema_x' does not exist"),
    ],
)
def test_check_says_what_failed_without_the_password(
    postgres: Scratch, overrides: dict[str, Any], expected: str
) -> None:
    connector = postgres.connector(password=PASSWORD, **overrides)
    result = connector.check()
    assert not result.ok
    assert expected in result.message
    assert_no_secret(result.message, repr(connector.config), str(connector.connection_url()))


def test_check_times_out_on_a_silent_server(silent_port: int) -> None:
    from connectors.sql import PostgresConnector

    connector = PostgresConnector(
        {**SERVER, "port": silent_port, "password": PASSWORD, "connect_timeout_s": 2}
    )
    started = time.perf_counter()
    result = connector.check()
    assert (
        not result.ok
        and f"Timed out after 2 s connecting to PostgreSQL at 127.0.0.1:{silent_port}" in result.message
    )
    assert time.perf_counter() - started < 8


def test_a_url_with_a_password_never_shows_it(postgres: Scratch) -> None:
    from connectors.sql import PostgresConnector

    url = f"postgresql://postgres:{PASSWORD.replace('@', '%40').replace('/', '%2F')}@127.0.0.1:1/test"
    connector = PostgresConnector({"url": url})
    result = connector.check()
    assert not result.ok and "Connection refused by 127.0.0.1:1" in result.message
    with pytest.raises(SourceUnreachableError) as caught:
        list(connector.read("public.anything"))
    assert_no_secret(result.message, repr(connector.config), *error_texts(caught.value))


def test_discover_estimates_rows_from_statistics(postgres: Scratch) -> None:
    postgres.run(
        "CREATE TABLE people (id int PRIMARY KEY, updated_at timestamptz, version bigint, tenant_id int)",
        "INSERT INTO people SELECT g, now(), 1, 1 FROM generate_series(1, 500) g",
        "ANALYZE people",
    )
    (people,) = postgres.connector().discover()
    assert people.name == postgres.stream("people")
    assert people.metadata == {
        "kind": "table",
        "schema": postgres.schema,
        "table": "people",
        "row_estimate": 500,
    }
    assert people.cursor_candidates == ("updated_at", "version", "id", "tenant_id")


def test_every_schema_when_none_is_configured(postgres: Scratch) -> None:
    postgres.run("CREATE TABLE people (id int PRIMARY KEY)")
    names = {s.name for s in postgres.connector(schema=None).discover()}
    assert postgres.stream("people") in names
    assert not any(n.startswith(("pg_catalog.", "information_schema.")) for n in names)


@pytest.mark.slow
def test_sample_of_a_million_rows_sends_a_limit(postgres: Scratch) -> None:
    postgres.run(
        "CREATE TABLE big (id bigint PRIMARY KEY, email text, updated_at timestamptz)",
        "INSERT INTO big SELECT g, 'user' || g || '@example.com', "
        "timestamptz '2024-01-01' + g * interval '1 s' FROM generate_series(1, 1000000) g",
        "ANALYZE big",
    )
    connector = postgres.connector()
    sent: list[str] = []
    event.listen(connector.engine, "before_cursor_execute", lambda *args: sent.append(args[2]))
    started = time.perf_counter()
    frame = connector.sample(postgres.stream("big"), 1000)
    elapsed = time.perf_counter() - started
    print(f"\nsample of 1,000 rows from a 1,000,000-row PostgreSQL table: {elapsed * 1000:.0f} ms")
    reads = [s for s in sent if f"{postgres.schema}.big" in s]
    assert len(reads) == 1 and "LIMIT" in reads[0]
    assert frame["id"].tolist() == list(range(1, 1001))


def test_full_read_streams_from_a_server_side_cursor(postgres: Scratch) -> None:
    postgres.run(
        "CREATE TABLE big (id bigint PRIMARY KEY, amount numeric(12, 2))",
        "INSERT INTO big SELECT g, g / 100.0 FROM generate_series(1, 30000) g",
    )
    with closing(postgres.connector().read(postgres.stream("big"), chunk_size=7000)) as chunks:
        sizes = [len(next(chunks))]
        # a named cursor: between chunks the session waits after a FETCH FORWARD, the table stays there
        last = postgres.scalar(
            "SELECT query FROM pg_stat_activity WHERE application_name = :name",
            name=f"{APPLICATION_NAME}: {postgres.stream('big')}",
        )
        assert last.startswith("FETCH FORWARD ")
        sizes += [len(chunk) for chunk in chunks]
    assert sizes == [7000] * 4 + [2000]


def test_read_only_transaction_stops_queries_that_write(postgres: Scratch) -> None:
    schema = postgres.schema
    postgres.run(
        "CREATE TABLE customers (id int PRIMARY KEY)",
        "INSERT INTO customers VALUES (1), (2)",
        "CREATE SEQUENCE counter",
        f"CREATE FUNCTION add_customer() RETURNS int LANGUAGE sql AS "
        f"'INSERT INTO {schema}.customers VALUES (99) RETURNING id'",
    )
    connector = postgres.connector()
    for query in (f"SELECT nextval('{schema}.counter') AS n", f"SELECT {schema}.add_customer() AS id"):
        with pytest.raises(ConnectorError) as caught:
            list(connector.read("writer", {"query": query}))
        assert "read-only transaction" in caught.value.user_message
        assert "'writer'" in caught.value.user_message
    assert postgres.scalar("SELECT count(*) FROM customers") == 2
    assert postgres.scalar("SELECT last_value FROM counter") == 1 and not postgres.scalar(
        "SELECT is_called FROM counter"
    )


def test_a_data_modifying_cte_is_rejected_and_deletes_nothing(postgres: Scratch) -> None:
    postgres.run("CREATE TABLE customers (id int PRIMARY KEY)", "INSERT INTO customers VALUES (1), (2)")
    query = f"WITH gone AS (DELETE FROM {postgres.schema}.customers RETURNING *) SELECT * FROM gone"
    connector = postgres.connector()
    with pytest.raises(ConnectorError) as caught:
        list(connector.read("purge", {"query": query}))
    assert "tried to change data" in caught.value.user_message
    with pytest.raises(ConnectorError):
        connector.sample("purge", 10, {"query": query})
    assert postgres.scalar("SELECT count(*) FROM customers") == 2


def test_a_connection_lost_mid_read_is_a_retriable_error_naming_the_stream(postgres: Scratch) -> None:
    postgres.run(
        "CREATE TABLE big (id int PRIMARY KEY)", "INSERT INTO big SELECT g FROM generate_series(1, 5000) g"
    )
    with closing(postgres.connector().read(postgres.stream("big"), chunk_size=100)) as chunks:
        assert len(next(chunks)) == 100
        terminated = postgres.scalar(  # the reader's session is named after the stream it reads
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = :name",
            name=f"{APPLICATION_NAME}: {postgres.stream('big')}",
        )
        assert terminated == 1
        with pytest.raises(SourceUnreachableError) as caught:
            for _ in chunks:
                pass
    message = caught.value.user_message
    assert f"while reading stream '{postgres.stream('big')}' after 100 rows" in message
    assert "terminating connection" in message and caught.value.retriable


def test_stopping_a_read_early_releases_the_connection(postgres: Scratch) -> None:
    postgres.run(
        "CREATE TABLE big (id int PRIMARY KEY)", "INSERT INTO big SELECT g FROM generate_series(1, 5000) g"
    )
    label = f"{APPLICATION_NAME}: {postgres.stream('big')}"
    sessions = "SELECT count(*) FROM pg_stat_activity WHERE application_name = :name"
    with closing(postgres.connector().read(postgres.stream("big"), chunk_size=100)) as chunks:
        next(chunks)
        assert postgres.scalar(sessions, name=label) == 1
    assert postgres.scalar(sessions, name=label) == 0


def test_incremental_on_naive_timestamp_date_and_integer_cursors(postgres: Scratch) -> None:
    postgres.run(
        "CREATE TABLE events (id int PRIMARY KEY, seen timestamp, day date, version bigint, "
        "score numeric(6,2))",
        "INSERT INTO events VALUES (1, '2024-01-01 10:00', '2024-01-01', 1, 1.25), "
        "(2, '2024-01-01 11:00', '2024-01-02', 2, 2.50), (3, '2024-01-01 11:00:00.5', '2024-01-03', 3, 3.75)",
    )
    connector = postgres.connector()

    def ids(column: str, start: Any) -> list[int]:
        chunks = connector.read(postgres.stream("events"), cursor=CursorRequest(column, start, ("id",)))
        return pd.concat(list(chunks))["id"].tolist()

    assert ids("seen", pd.Timestamp("2024-01-01 11:00", tz="UTC")) == [2, 3]  # naive column read as UTC
    assert ids("day", pd.Timestamp("2024-01-02 15:30", tz="UTC")) == [2, 3]  # the start's date, inclusive
    assert ids("version", 2.0) == [2, 3]
    assert ids("version", 1.5) == [1, 2, 3]  # rounded down: a start never skips a row
    assert ids("score", 2.5) == [2, 3]
