"""The MySQL/MariaDB connector on a real MariaDB: check(), logins, read-only queries, catalogs."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest

from connectors.base import AuthenticationError, ConnectorError, CursorRequest
from connectors.sql import MySqlConnector
from tests.connectors.conftest import Scratch
from tests.connectors.test_sql import PASSWORD, assert_no_secret, error_texts


@pytest.fixture
def login(mariadb: Scratch) -> Iterator[str]:
    """A user whose password is PASSWORD, allowed to read the scratch database."""
    user = f"reader_{uuid.uuid4().hex[:8]}"
    mariadb.run(
        f"CREATE USER '{user}'@'%' IDENTIFIED BY :password",
        f"GRANT SELECT ON `{mariadb.schema}`.* TO '{user}'@'%'",
        password=PASSWORD,
    )
    try:
        yield user
    finally:
        mariadb.run(f"DROP USER '{user}'@'%'")


def test_check_connects_as_a_user_with_a_password(mariadb: Scratch, login: str) -> None:
    result = mariadb.connector(username=login, password=PASSWORD).check()
    assert result.ok, result.message
    assert "MySQL / MariaDB 10." in result.message and f"as {login}" in result.message
    assert_no_secret(result.message)


def test_a_wrong_password_is_an_authentication_failure_without_the_password(
    mariadb: Scratch, login: str
) -> None:
    wrong = PASSWORD[::-1]
    connector = mariadb.connector(username=login, password=wrong)
    result = connector.check()
    assert not result.ok
    assert result.message.startswith(
        f"Authentication failed for user '{login}' on MySQL / MariaDB at 127.0.0.1:3306"
    )
    with pytest.raises(AuthenticationError) as caught:
        connector.discover()
    texts = [result.message, repr(connector.config), *error_texts(caught.value)]
    assert all(wrong not in text for text in texts)
    assert_no_secret(*texts)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"port": 1}, "Connection refused by 127.0.0.1:1: is MySQL / MariaDB running on 127.0.0.1:1"),
        ({"host": "no-such-host.invalid"}, "Unknown host 'no-such-host.invalid'"),
        ({"database": "no_such_database_x"}, "Database 'no_such_database_x' does not exist"),
        ({"ssl_mode": "required"}, "TLS (SSL) handshake"),  # this server has no TLS
    ],
)
def test_check_says_what_failed(
    mariadb: Scratch, login: str, overrides: dict[str, Any], expected: str
) -> None:
    result = mariadb.connector(username=login, password=PASSWORD, **overrides).check()
    assert not result.ok and expected in result.message
    assert_no_secret(result.message)


def test_check_times_out_on_a_silent_server() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        connector = MySqlConnector(
            {
                "host": "127.0.0.1",
                "port": port,
                "database": "test",
                "password": PASSWORD,
                "connect_timeout_s": 2,
            }
        )
        started = time.perf_counter()
        result = connector.check()
    assert not result.ok and "Timed out after 2 s" in result.message
    assert time.perf_counter() - started < 8


def test_discover_every_database_but_the_system_ones(mariadb: Scratch) -> None:
    mariadb.run(
        "CREATE TABLE people (id int PRIMARY KEY, updated_at datetime)",
        "INSERT INTO people VALUES (1, NOW())",
    )
    streams = {s.name: s for s in mariadb.connector(schema=None).discover()}
    people = streams[mariadb.stream("people")]
    assert people.metadata["row_estimate"] == 1  # information_schema.tables.table_rows
    assert not any(
        n.split(".")[0] in ("mysql", "information_schema", "performance_schema", "sys") for n in streams
    )


def test_read_only_transaction_stops_a_function_that_writes(mariadb: Scratch) -> None:
    db = mariadb.schema
    mariadb.run(
        "CREATE TABLE customers (id int PRIMARY KEY)",
        "INSERT INTO customers VALUES (1), (2)",
        f"CREATE FUNCTION `{db}`.add_customer() RETURNS int MODIFIES SQL DATA "
        f"BEGIN INSERT INTO `{db}`.customers VALUES (99); RETURN 99; END",
    )
    with pytest.raises(ConnectorError) as caught:
        list(mariadb.connector().read("writer", {"query": f"SELECT `{db}`.add_customer() AS id"}))
    assert "read-only transaction" in caught.value.user_message or "READ ONLY" in caught.value.user_message
    assert mariadb.scalar("SELECT count(*) FROM customers") == 2


def test_timestamp_cursor_compares_in_utc(mariadb: Scratch) -> None:
    mariadb.run(
        "SET time_zone = '+00:00'",
        "CREATE TABLE events (id int PRIMARY KEY, changed timestamp(6) NOT NULL, seen datetime NOT NULL)",
        "INSERT INTO events VALUES (1, '2024-01-01 10:00', '2024-01-01 10:00'), "
        "(2, '2024-01-01 11:00', '2024-01-01 11:00'), (3, '2024-01-01 12:00', '2024-01-01 12:00')",
    )
    connector = mariadb.connector()
    for column in ("changed", "seen"):
        request = CursorRequest(
            column, pd.Timestamp("2024-01-01 12:00", tz="Europe/Paris"), ("id",)
        )  # 11:00 UTC
        frame = pd.concat(list(connector.read(mariadb.stream("events"), cursor=request)))
        assert frame["id"].tolist() == [2, 3], column
    assert (
        str(frame["changed"].dtype) == "datetime64[us, UTC]" and str(frame["seen"].dtype) == "datetime64[us]"
    )
