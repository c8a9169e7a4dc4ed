"""What differs between database engines: URL, driver arguments, session setup, catalogs, SQL syntax.

Each engine class of ``connectors.sql`` names one :class:`Backend`; the
connector's logic reads it instead of branching on the engine.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.engine import URL, make_url

from connectors._sql_config import BigQueryConfig, ServerConfig, SqliteConfig
from connectors._sql_errors import Target
from connectors._sql_query import QuerySyntax

#: Shown in the server's session lists (pg_stat_activity, processlist) so a DBA can tell who reads.
APPLICATION_NAME = "tributary"


@dataclass(frozen=True)
class Backend:
    """An engine's driver, session setup, catalog queries and SQL syntax.

    Attributes:
        drivername: the SQLAlchemy ``dialect+driver``; replaces the one of a ``url`` setting.
        package: the pip requirement that provides the driver, for error messages.
        connect_args: the driver's connect arguments for a config (``checking``: for ``check()``).
        syntax: how the engine spells comments and quotes, to vet custom queries.
        has_schemas: False when tables have no schema (SQLite): streams are then ``table``.
        system_schemas: schemas never listed by ``discover()``.
        read_only_sql: starts a read-only transaction, or None where the engine has none.
        session_sql: run on every new connection (time zone).
        label_sql: names the session after the stream it reads (bind ``:label``), for the DBA.
        row_estimate_sql: (schema, table, rows) for the tables of ``:schemas``, from statistics.
        json_columns_sql: (table, column) of ``:schema`` holding JSON in a text type (MariaDB).
        text_loaders: psycopg types to receive as their text (exact numerics, JSON as written).
        timestamps_as_text: whether timestamps are stored and compared as text (SQLite).
        sample_in_key_order: whether ``sample()`` orders by the primary key (an index walk),
            False where a key is not an index and ordering would scan (columnar warehouses).
    """

    drivername: str
    package: str
    connect_args: Callable[[Any, bool], dict[str, Any]]
    syntax: QuerySyntax
    has_schemas: bool = True
    system_schemas: frozenset[str] = frozenset()
    system_schema_prefixes: tuple[str, ...] = ()
    read_only_sql: str | None = None
    session_sql: tuple[str, ...] = ()
    label_sql: str | None = None
    row_estimate_sql: str | None = None
    json_columns_sql: str | None = None
    text_loaders: tuple[str, ...] = ()
    timestamps_as_text: bool = False
    sample_in_key_order: bool = True
    engine_options: Callable[[Any], dict[str, Any]] = field(default=lambda config: {})

    def url(self, config: Any) -> URL:
        """The SQLAlchemy URL of a config; the password goes in as a value, never formatted into text."""
        if isinstance(config, SqliteConfig):
            # mode=ro: a custom query cannot write, and a missing file is an error, not a new database.
            path = Path(config.path).expanduser().absolute()
            return URL.create(self.drivername, database=path.as_uri(), query={"uri": "true", "mode": "ro"})
        if isinstance(config, BigQueryConfig):
            return URL.create(self.drivername, host=config.project, database=config.dataset)
        assert isinstance(config, ServerConfig)
        if config.url is not None:
            given = make_url(config.url.get_secret_value())
            return given.set(drivername=self.drivername)
        return URL.create(
            self.drivername,
            username=config.username,
            password=config.password.get_secret_value() if config.password else None,
            host=config.host,
            port=config.port,
            database=config.database,
        )

    def target(self, config: Any, title: str) -> Target:
        """Where a config connects, for messages: host, port, database and user, never the password."""
        if isinstance(config, SqliteConfig):
            return Target(title, database=config.path)
        if isinstance(config, BigQueryConfig):
            key = (config.credentials_json.get_secret_value(),) if config.credentials_json else ()
            return Target(title, database=f"project {config.project}", secrets=key)
        assert isinstance(config, ServerConfig)
        secrets = tuple(s.get_secret_value() for s in (config.password, config.url) if s is not None)
        try:
            url = self.url(config)
        except Exception:  # a URL SQLAlchemy cannot read: say nothing of it
            return Target(title, timeout_s=config.connect_timeout_s, secrets=secrets)
        if isinstance(url.password, str):
            secrets += (url.password,)  # a URL's password, decoded from its %-escapes
        return Target(
            title, url.host, url.port, url.database, url.username, config.connect_timeout_s, secrets
        )

    def set_up_session(self, dbapi_connection: Any, _record: Any = None) -> None:
        """A ``connect`` listener: runs ``session_sql`` on a new connection, then commits."""
        cursor = dbapi_connection.cursor()
        try:
            for statement in self.session_sql:
                cursor.execute(statement)
        finally:
            cursor.close()
        dbapi_connection.commit()  # so that a verb's first statement opens its own transaction

    def begin_read(self, connection: Connection, stream: str) -> None:
        """Starts the read-only transaction of a read (where the engine has one), labelled with the stream."""
        if self.read_only_sql:
            connection.exec_driver_sql(self.read_only_sql)
        if self.label_sql:
            # application_name holds 63 bytes; the stream goes in as a bound value, never as SQL text
            label = f"{APPLICATION_NAME}: {stream}".encode()[:63].decode("utf-8", "ignore")
            connection.execute(text(self.label_sql), {"label": label})

    def prepare_driver(self, connection: Connection) -> None:
        """Asks psycopg for the text of numerics, JSON and UUIDs: exact, and no parse-then-dump.

        Only for the data query: SQLAlchemy's own catalog queries expect parsed JSON.
        """
        if not self.text_loaders:
            return
        from psycopg.types.string import TextLoader

        adapters = connection.connection.driver_connection.adapters  # type: ignore[union-attr]
        for name in self.text_loaders:
            adapters.register_loader(name, TextLoader)

    def is_system_schema(self, schema: str) -> bool:
        """Whether ``discover()`` leaves this schema out."""
        return schema.lower() in self.system_schemas or schema.lower().startswith(self.system_schema_prefixes)


def _postgres_args(config: ServerConfig, checking: bool) -> dict[str, Any]:
    # libpq rounds connect_timeout below 2 s up to 2 s
    return {
        "connect_timeout": max(2, config.connect_timeout_s),
        "application_name": APPLICATION_NAME,
        "sslmode": config.ssl_mode,
    }


def _mysql_args(config: ServerConfig, checking: bool) -> dict[str, Any]:
    args: dict[str, Any] = {
        "connect_timeout": config.connect_timeout_s,
        # TIMESTAMP columns hold instants: read them in UTC, as the engine compares them.
        "init_command": "SET time_zone = '+00:00'",
        "program_name": APPLICATION_NAME,
    }
    if checking:
        # PyMySQL's connect_timeout only covers the TCP connect: a server that accepts
        # and then says nothing would hang check() without a read timeout.
        args["read_timeout"] = config.connect_timeout_s
    if config.ssl_mode == "disabled":
        args["ssl_disabled"] = True
    elif config.ssl_mode == "required":
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # "required" encrypts; "verify-identity" also verifies
        args["ssl"] = context
    elif config.ssl_mode == "verify-identity":
        args["ssl_verify_identity"] = True
    return args  # "preferred": PyMySQL's default, TLS when the server offers it


def _sqlserver_args(config: ServerConfig, checking: bool) -> dict[str, Any]:
    return {
        "login_timeout": config.connect_timeout_s,
        "appname": APPLICATION_NAME,
        "encryption": config.ssl_mode,
    }


def _sqlite_args(config: SqliteConfig, checking: bool) -> dict[str, Any]:
    return {}


def _bigquery_args(config: BigQueryConfig, checking: bool) -> dict[str, Any]:
    return {}


def _bigquery_engine(config: BigQueryConfig) -> dict[str, Any]:
    if config.credentials_json is None:
        return {}
    return {"credentials_info": json.loads(config.credentials_json.get_secret_value())}


_POSTGRES_ESTIMATES = """
SELECT n.nspname, c.relname, CAST(c.reltuples AS BIGINT)
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'm') AND n.nspname IN :schemas
"""
# MariaDB's JSON is LONGTEXT with a json_valid() check named after its column.
_MARIADB_JSON_COLUMNS = """
SELECT table_name, constraint_name FROM information_schema.check_constraints
WHERE constraint_schema = :schema AND check_clause LIKE 'json\\_valid(%'
"""
_MYSQL_ESTIMATES = """
SELECT table_schema, table_name, table_rows FROM information_schema.tables
WHERE table_type = 'BASE TABLE' AND table_schema IN :schemas
"""

POSTGRES = Backend(
    drivername="postgresql+psycopg",
    package="psycopg[binary]",
    connect_args=_postgres_args,
    syntax=QuerySyntax(nested_block_comments=True, dollar_quotes=True, escape_string_prefix=True),
    system_schemas=frozenset({"information_schema"}),
    system_schema_prefixes=("pg_",),
    read_only_sql="SET TRANSACTION READ ONLY",
    # Naive timestamps then compare as UTC, which is how the engine reads them.
    session_sql=("SET TIME ZONE 'UTC'",),
    # true: for this transaction only; pg_stat_activity then shows "tributary: schema.table"
    label_sql="SELECT set_config('application_name', :label, true)",
    row_estimate_sql=_POSTGRES_ESTIMATES,
    text_loaders=("numeric", "json", "jsonb", "uuid"),
)

# Redshift speaks the PostgreSQL protocol but has no SET TRANSACTION READ ONLY, and
# a leader-node catalog whose statistics are not pg_class's.
REDSHIFT = Backend(
    drivername="postgresql+psycopg",
    package="psycopg[binary]",
    connect_args=_postgres_args,
    syntax=QuerySyntax(escape_string_prefix=True),
    system_schemas=frozenset({"information_schema", "catalog_history"}),
    system_schema_prefixes=("pg_",),
    session_sql=("SET TIME ZONE 'UTC'",),
    text_loaders=("numeric", "json", "jsonb", "uuid"),
    sample_in_key_order=False,
)

MYSQL = Backend(
    drivername="mysql+pymysql",
    package="PyMySQL",
    connect_args=_mysql_args,
    syntax=QuerySyntax(
        hash_comments=True,
        dash_comment_needs_space=True,
        backslash_escapes=True,
        double_quoted_strings=True,
        backticks=True,
        executable_comments=True,
    ),
    system_schemas=frozenset({"information_schema", "mysql", "performance_schema", "sys"}),
    read_only_sql="START TRANSACTION READ ONLY",
    row_estimate_sql=_MYSQL_ESTIMATES,
    json_columns_sql=_MARIADB_JSON_COLUMNS,
)

SQLSERVER = Backend(
    drivername="mssql+pymssql",
    package="pymssql",
    connect_args=_sqlserver_args,
    syntax=QuerySyntax(nested_block_comments=True, brackets=True),
    system_schemas=frozenset({"information_schema", "sys", "guest"}),
    system_schema_prefixes=("db_",),
)

SQLITE = Backend(
    drivername="sqlite+pysqlite",
    package="(built into Python)",
    connect_args=_sqlite_args,
    syntax=QuerySyntax(backticks=True, brackets=True),
    has_schemas=False,
    timestamps_as_text=True,
)

BIGQUERY = Backend(
    drivername="bigquery",
    package="sqlalchemy-bigquery",
    connect_args=_bigquery_args,
    syntax=QuerySyntax(
        hash_comments=True,
        backslash_escapes=True,
        double_quoted_strings=True,
        backticks=True,
        triple_quotes=True,
    ),
    system_schemas=frozenset({"information_schema"}),
    sample_in_key_order=False,
    engine_options=_bigquery_engine,
)
