"""Scratch areas on the real database servers: a fresh schema (PostgreSQL) or database (MariaDB) per test.

Each fixture skips its test when its server is not running ("PostgreSQL not
reachable on 127.0.0.1:5432"), or fails it when ``TRIBUTARY_REQUIRE_SERVICES=1``
(CI), through ``tests.services.require_service``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.pool import NullPool

from connectors.sql import MySqlConnector, PostgresConnector, SqlConnector, SqliteConnector
from tests.services import MARIADB, POSTGRES, require_service

_, POSTGRES_HOST, POSTGRES_PORT = POSTGRES
_, MARIADB_HOST, MARIADB_PORT = MARIADB


@dataclass
class Scratch:
    """A scratch schema on a real server: run SQL in it, and make connectors that read it."""

    engine: Engine
    schema: str
    connector_class: type[SqlConnector]
    config: dict[str, Any] = field(default_factory=dict)

    def run(self, *statements: str, **params: Any) -> None:
        """Runs statements in one transaction (names in them are the test's own, never input)."""
        with self.engine.begin() as connection:
            for statement in statements:
                connection.execute(text(statement), params)

    def scalar(self, statement: str, **params: Any) -> Any:
        with self.engine.connect() as connection:
            return connection.execute(text(statement), params).scalar()

    def connector(self, **overrides: Any) -> SqlConnector:
        return self.connector_class({**self.config, **overrides})

    def stream(self, table: str) -> str:
        """The stream name of a table of the scratch schema (``schema.table``, or ``table`` in SQLite)."""
        return f"{self.schema}.{table}" if self.schema else table


@pytest.fixture
def postgres() -> Iterator[Scratch]:
    """A fresh schema in PostgreSQL's ``test`` database, dropped afterwards."""
    require_service(*POSTGRES)
    engine = create_engine(
        f"postgresql+psycopg://postgres@{POSTGRES_HOST}:{POSTGRES_PORT}/test", poolclass=NullPool
    )
    schema = f"tributary_test_{uuid.uuid4().hex[:10]}"
    with engine.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    config = {
        "host": POSTGRES_HOST,
        "port": POSTGRES_PORT,
        "database": "test",
        "username": "postgres",
        "schema": schema,
    }
    # the test's own SQL finds its tables in the scratch schema without naming it
    scoped = create_engine(
        engine.url, poolclass=NullPool, connect_args={"options": f"-c search_path={schema}"}
    )
    try:
        yield Scratch(scoped, schema, PostgresConnector, config)
    finally:
        with engine.begin() as connection:
            # a reader a failed test left open would hold its locks and block the DROP
            connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE starts_with(application_name, :label)"
                ),
                {"label": f"tributary: {schema}."},
            )
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        engine.dispose()


@pytest.fixture
def mariadb() -> Iterator[Scratch]:
    """A fresh database on MariaDB (a schema, in MySQL's words), dropped afterwards."""
    require_service(*MARIADB)
    engine = create_engine(
        f"mysql+pymysql://root@{MARIADB_HOST}:{MARIADB_PORT}/test?charset=utf8mb4", poolclass=NullPool
    )
    database = f"tributary_test_{uuid.uuid4().hex[:10]}"
    with engine.begin() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
    config = {
        "host": MARIADB_HOST,
        "port": MARIADB_PORT,
        "database": database,
        "username": "root",
        "schema": database,
    }
    scoped = create_engine(engine.url.set(database=database), poolclass=NullPool)
    try:
        yield Scratch(scoped, database, MySqlConnector, config)
    finally:
        with engine.begin() as connection:
            connection.exec_driver_sql(f"DROP DATABASE `{database}`")
        engine.dispose()


@pytest.fixture
def sqlite(tmp_path: Path) -> Iterator[Scratch]:
    """A SQLite file in a temporary folder (written by the test, read read-only by the connector)."""
    path = tmp_path / "shop.db"
    engine = create_engine(f"sqlite:///{path}", poolclass=NullPool)
    try:
        yield Scratch(engine, "", SqliteConnector, {"path": str(path)})
    finally:
        engine.dispose()
