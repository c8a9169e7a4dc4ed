"""The database connectors: PostgreSQL, MySQL/MariaDB, SQL Server, SQLite, Redshift and BigQuery.

One :class:`SqlConnector` holds the logic over SQLAlchemy dialects; each
engine class only declares its name, form (config model) and
:class:`~connectors._sql_backends.Backend` (driver, session setup, catalog).

Streams are tables and views, named ``schema.table`` (``table`` in SQLite),
resolved only by reflection; a stream may instead carry a read-only custom
``query`` (:class:`SqlOptions`), then its name is only a label. Reads use
server-side cursors, so memory stays bounded by the chunk size; full reads
are ordered by primary key, incremental reads (a ``CursorRequest``) filter
``cursor >= start`` in the database and order by (cursor, key).

What arrives in pandas (details in ``_sql_types``): integers as Int64, floats
as Float64, numeric/decimal as strings holding the exact decimal (money is
never rounded through a float), booleans as "boolean", timestamps with a
time zone as datetime64[us, UTC] and without as naive datetime64[us], dates as
datetime64[s] at midnight, JSON/JSONB and Postgres arrays as JSON text, UUIDs
as strings, binary values as base64 strings, text as "string". Nulls stay
nulls. Sessions run in UTC.

Every chunk carries ORIGIN_COLUMN ``<stream>#<key values joined by ','>``, or
``<stream>#<row number in this read>`` without a key. Messages never contain
the password or a URL with it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import replace
from typing import Any, ClassVar

import pandas as pd
from pydantic import Field
from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, NoSuchTableError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from connectors._sql_backends import (
    BIGQUERY,
    MYSQL,
    POSTGRES,
    REDSHIFT,
    SQLITE,
    SQLSERVER,
    Backend,
)
from connectors._sql_catalog import Catalog, reflect_table, row_estimates
from connectors._sql_config import (
    BigQueryConfig,
    MySqlConfig,
    PostgresConfig,
    RedshiftConfig,
    ServerConfig,
    SqliteConfig,
    SqlServerConfig,
)
from connectors._sql_errors import connect_failure, credential_failure, hides_cause, read_failure
from connectors._sql_query import (
    Source,
    cursor_start,
    probe_statement,
    query_source,
    read_statement,
    sample_statement,
    table_source,
    vet_query,
)
from connectors._sql_types import frame_from_rows, unique_names, with_bookkeeping
from connectors.base import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_SAMPLE_SIZE,
    CheckResult,
    Connector,
    ConnectorConfig,
    ConnectorError,
    CursorRequest,
    StreamInfo,
    StreamNotFoundError,
    StreamOptions,
)

__all__ = [
    "BigQueryConfig",
    "BigQueryConnector",
    "MySqlConfig",
    "MySqlConnector",
    "PostgresConfig",
    "PostgresConnector",
    "RedshiftConfig",
    "RedshiftConnector",
    "ServerConfig",
    "SqlConnector",
    "SqlOptions",
    "SqlServerConfig",
    "SqlServerConnector",
    "SqliteConfig",
    "SqliteConnector",
]


class SqlOptions(StreamOptions):
    """Per-stream options of the database connectors."""

    query: str | None = Field(
        None,
        description="A SELECT (or WITH ... SELECT) to read instead of a table; the stream name is then "
        "only its label. It runs read-only.",
    )


class SqlConnector(Connector):
    """Tables, views and read-only queries of a SQL database, through a SQLAlchemy dialect."""

    category: ClassVar[str] = "Databases"
    options_model: ClassVar[type[StreamOptions]] = SqlOptions
    pushes_down_cursor: ClassVar[bool] = True
    #: The engine's driver, session setup, catalog queries and SQL syntax.
    backend: ClassVar[Backend]

    def __init__(self, config: ConnectorConfig | Mapping[str, Any]) -> None:
        super().__init__(config)
        self._engine: Engine | None = None

    # -- the four verbs --------------------------------------------------------
    def check(self) -> CheckResult:
        """Connects and runs ``SELECT 1``; says what failed (host, port, login, database) if it cannot."""
        target = self.backend.target(self.config, self.title)
        engine: Engine | None = None
        try:
            engine = self._create_engine(checking=True)
            with engine.connect() as connection:
                connection.execute(text("SELECT 1")).scalar()
                version = ".".join(map(str, connection.dialect.server_version_info or ()))
                missing = self._catalog(connection).missing_schema()
        except Exception as error:  # check() reports every failure instead of raising
            return CheckResult(False, connect_failure(error, target).user_message)
        finally:
            if engine is not None:
                engine.dispose()
        where = f"{self.title}{' ' + version if version else ''} at {target.address}"
        if missing:
            return CheckResult(False, f"Connected to {where}, but {missing}")
        user = f" as {target.username}" if target.username else ""
        return CheckResult(True, f"Connected to {where}{user}.")

    def discover(self) -> list[StreamInfo]:
        """Tables and views of the configured schema (or of every non-system one), with types and keys."""
        with self._connection() as connection, self._read_errors(None):
            catalog = self._catalog(connection)
            streams = [info for schema in catalog.schemas() for info in catalog.describe(schema)]
            estimates = row_estimates(connection, self.backend, {s.metadata["schema"] for s in streams})
        return [
            replace(info, metadata={**info.metadata, "row_estimate": estimates.get(_table_of(info))})
            for info in streams
        ]

    def sample(
        self, stream: str, limit: int = DEFAULT_SAMPLE_SIZE, options: Mapping[str, Any] | None = None
    ) -> pd.DataFrame:
        """At most ``limit`` rows, by primary key where that is an index walk: a LIMIT, never a full scan."""
        query = self._query(stream, options)
        with self._connection() as connection, self._read_errors(stream):
            self.backend.begin_read(connection, stream)
            source = self._source(connection, stream, query, ())
            statement = sample_statement(source, limit, self.backend.sample_in_key_order)
            self.backend.prepare_driver(connection)
            result = connection.execute(statement)
            names = unique_names(list(result.keys()), stream)
            frame, _ = frame_from_rows(result.fetchall(), names, source.kinds or ["unknown"] * len(names))
        return with_bookkeeping(frame, stream, source.primary_key, 0)

    def read(
        self,
        stream: str,
        options: Mapping[str, Any] | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        cursor: CursorRequest | None = None,
    ) -> Iterator[pd.DataFrame]:
        """Yields chunks of at most ``chunk_size`` rows from a server-side cursor.

        Without ``cursor``: every row, by primary key. With it: rows whose cursor
        column is at least ``cursor.start`` (all rows when None), ordered by the
        cursor then ``cursor.primary_key`` (or the table's). An empty stream
        yields one empty chunk with its columns. A connection lost midway raises
        SourceUnreachableError naming the stream.
        """
        if chunk_size < 1:
            raise ValueError("chunk_size must be at least 1")
        return self._chunks(stream, self._query(stream, options), chunk_size, cursor)

    def fingerprint(self, stream: str, options: Mapping[str, Any] | None = None) -> str | None:
        """None: tables change in place, so an interrupted run never skips chunks on resume."""
        return None

    # -- public helpers --------------------------------------------------------
    def connection_url(self) -> URL:
        """The SQLAlchemy URL (its ``str`` masks the password)."""
        return self.backend.url(self.config)

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine, created on first use; no pool, so no connection outlives a verb."""
        if self._engine is None:
            self._engine = self._create_engine()
        return self._engine

    # -- helpers ---------------------------------------------------------------
    def _chunks(
        self, stream: str, query: str | None, chunk_size: int, cursor: CursorRequest | None
    ) -> Iterator[pd.DataFrame]:
        rows_read, finished = 0, False
        with self._connection() as connection:
            try:
                with self._read_errors(stream, lambda: rows_read):
                    self.backend.begin_read(connection, stream)
                    key = tuple(cursor.primary_key) if cursor else ()
                    source = self._source(connection, stream, query, (cursor.column, *key) if cursor else ())
                    start = None
                    if cursor:
                        kind = source.kind(cursor.column)
                        start = cursor_start(kind, cursor.start, self.backend.timestamps_as_text)
                    statement = read_statement(source, cursor, start, key or source.primary_key)
                    self.backend.prepare_driver(connection)
                    result = connection.execution_options(yield_per=chunk_size).execute(statement)
                    names = unique_names(list(result.keys()), stream)
                    kinds = list(source.kinds) or ["unknown"] * len(names)
                    origin_key = source.primary_key or key
                    for rows in result.partitions():
                        frame, kinds = frame_from_rows(rows, names, kinds)
                        yield with_bookkeeping(frame, stream, origin_key, rows_read)
                        rows_read += len(rows)
                    if rows_read == 0:
                        frame, _ = frame_from_rows([], names, kinds)
                        yield with_bookkeeping(frame, stream, origin_key, 0)
                finished = True
            finally:
                if not finished:
                    # Stopped early or failed: drop the connection rather than drain an
                    # unbuffered result (MySQL reads every remaining row on close).
                    with suppress(Exception):
                        connection.invalidate()

    def _create_engine(self, checking: bool = False) -> Engine:
        url = self.connection_url()
        connect_args = self.backend.connect_args(self.config, checking)
        # a setting spelled in the URL's query wins over the form's
        connect_args = {k: v for k, v in connect_args.items() if k not in url.query}
        options = self.backend.engine_options(self.config)
        engine = create_engine(url, poolclass=NullPool, connect_args=connect_args, **options)
        if self.backend.session_sql:
            event.listen(engine, "connect", self.backend.set_up_session)
        return engine

    @contextmanager
    def _connection(self) -> Iterator[Connection]:
        """A connection; connecting errors become connector errors that say what to fix."""
        try:
            connection = self.engine.connect()
        except Exception as error:
            failure = connect_failure(error, self.backend.target(self.config, self.title))
            raise failure from (None if hides_cause(error) else error)
        with connection:
            yield connection

    @contextmanager
    def _read_errors(self, stream: str | None, rows: Callable[[], int] | None = None) -> Iterator[None]:
        """Turns driver errors raised once connected into connector errors naming the stream."""
        try:
            yield
        except DBAPIError as error:
            target = self.backend.target(self.config, self.title)
            failure = read_failure(error, target, stream, rows() if rows else 0)
            raise failure from (None if hides_cause(error) else error)
        except SQLAlchemyError as error:
            detail = self.backend.target(self.config, self.title).redact(str(error).splitlines()[0])
            raise ConnectorError(
                f"{self.title} could not read {stream or 'the catalog'}: {detail}"
            ) from error
        except Exception as error:  # a warehouse's sign-in (BigQuery's token) fails at the first query
            refused = credential_failure(error, self.backend.target(self.config, self.title))
            if refused is None:
                raise
            raise refused from None

    def _query(self, stream: str, options: Mapping[str, Any] | StreamOptions | None) -> str | None:
        """The stream's vetted custom query, or None for a table."""
        parsed = self.parse_options(options)
        assert isinstance(parsed, SqlOptions)
        if parsed.query is None or not parsed.query.strip():
            return None
        try:
            return vet_query(parsed.query, self.backend.syntax)
        except ValueError as error:
            raise ConnectorError(f"The query of stream {stream!r} {error}.") from None

    def _source(
        self, connection: Connection, stream: str, query: str | None, referenced: Sequence[str]
    ) -> Source:
        """The stream's table, found by reflection only, or its query as a subquery.

        Column names a read refers to (cursor, key) must be the table's, or the
        query's: a query is first run for no rows, to learn its columns.
        """
        if query is not None:
            source = query_source(stream, query, referenced)
            if referenced:
                columns = list(connection.execute(probe_statement(source)).keys())
                missing = [name for name in referenced if name not in columns]
                if missing:
                    raise ConnectorError(
                        f"The query of stream {stream!r} has no column {missing[0]!r}; "
                        f"its columns: {', '.join(map(repr, columns))}."
                    )
            return source
        catalog = self._catalog(connection)
        longest = connection.dialect.max_identifier_length  # a longer name is no table: not asked
        for schema, name in catalog.candidates(stream):
            if len(name) <= longest and catalog.inspector.has_table(name, schema=schema):
                with suppress(NoSuchTableError):
                    return table_source(stream, reflect_table(connection, name, schema))
        close = catalog.close_matches(stream)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        schema = catalog.configured_schema
        where = f"schema {schema!r}" if schema else self.backend.target(self.config, self.title).address
        raise StreamNotFoundError(f"No table or view {stream!r} in {where}.{hint}")

    def _catalog(self, connection: Connection) -> Catalog:
        schema = None
        if isinstance(self.config, ServerConfig):
            schema = self.config.schema
        elif isinstance(self.config, BigQueryConfig):
            schema = self.config.dataset
        return Catalog(inspect(connection), self.backend, schema)


def _table_of(info: StreamInfo) -> tuple[Any, str]:
    return info.metadata["schema"], info.metadata["table"]


# -- the engines ------------------------------------------------------------------------------------------
class PostgresConnector(SqlConnector):
    """PostgreSQL over psycopg 3."""

    name: ClassVar[str] = "postgres"
    title: ClassVar[str] = "PostgreSQL"
    description: ClassVar[str] = "Tables, views and read-only queries of a PostgreSQL database."
    config_model: ClassVar[type[ConnectorConfig]] = PostgresConfig
    backend: ClassVar[Backend] = POSTGRES


class MySqlConnector(SqlConnector):
    """MySQL and MariaDB over PyMySQL; a schema is a database there."""

    name: ClassVar[str] = "mysql"
    title: ClassVar[str] = "MySQL / MariaDB"
    description: ClassVar[str] = "Tables, views and read-only queries of a MySQL or MariaDB database."
    config_model: ClassVar[type[ConnectorConfig]] = MySqlConfig
    backend: ClassVar[Backend] = MYSQL


class SqlServerConnector(SqlConnector):
    """Microsoft SQL Server over pymssql (``mssql+pymssql``).

    SQL Server has no read-only transaction: custom queries are vetted and wrapped
    as a subquery, and the login should only have SELECT rights.
    """

    name: ClassVar[str] = "sqlserver"
    title: ClassVar[str] = "Microsoft SQL Server"
    description: ClassVar[str] = "Tables, views and read-only queries of a SQL Server or Azure SQL database."
    config_model: ClassVar[type[ConnectorConfig]] = SqlServerConfig
    backend: ClassVar[Backend] = SQLSERVER


class RedshiftConnector(SqlConnector):
    """Amazon Redshift through SQLAlchemy's PostgreSQL dialect over psycopg.

    Redshift speaks the PostgreSQL wire protocol (default port 5439). It has no
    ``SET TRANSACTION READ ONLY``, so custom queries are vetted but not run in a
    read-only transaction: connect as a user with only SELECT rights.
    """

    name: ClassVar[str] = "redshift"
    title: ClassVar[str] = "Amazon Redshift"
    description: ClassVar[str] = "Tables, views and read-only queries of a Redshift cluster or workgroup."
    config_model: ClassVar[type[ConnectorConfig]] = RedshiftConfig
    backend: ClassVar[Backend] = REDSHIFT


class SqliteConnector(SqlConnector):
    """A SQLite file, opened read-only; streams are table names without a schema."""

    name: ClassVar[str] = "sqlite"
    title: ClassVar[str] = "SQLite"
    description: ClassVar[str] = "Tables, views and read-only queries of a SQLite database file."
    config_model: ClassVar[type[ConnectorConfig]] = SqliteConfig
    backend: ClassVar[Backend] = SQLITE


class BigQueryConnector(SqlConnector):
    """Google BigQuery over sqlalchemy-bigquery; streams are ``dataset.table``.

    BigQuery has no read-only transaction and bills a LIMIT query for the
    columns it scans: give the service account read-only roles.
    """

    name: ClassVar[str] = "bigquery"
    title: ClassVar[str] = "Google BigQuery"
    description: ClassVar[str] = "Tables, views and read-only queries of BigQuery datasets."
    config_model: ClassVar[type[ConnectorConfig]] = BigQueryConfig
    backend: ClassVar[Backend] = BIGQUERY
