"""Settings of the database connectors: one pydantic model per engine, which is also its form.

A server connection is host, port, database and login, or one SQLAlchemy URL
(``url``, secret because it may hold the password). Validation errors never
echo the input (``hide_input_in_errors``): it holds the password.
"""

from __future__ import annotations

import json
import warnings
from typing import ClassVar, Literal

from pydantic import ConfigDict, Field, SecretStr, field_validator, model_validator
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from connectors.base import ConnectorConfig

# pydantic warns that a field named "schema" shadows BaseModel.schema(), its deprecated
# v1 method; "schema" is the word database users know, so the field keeps it.
warnings.filterwarnings(
    "ignore", message=r'Field name "schema" in "\w*Config" shadows an attribute', category=UserWarning
)

PostgresSslMode = Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]
MySqlSslMode = Literal["disabled", "preferred", "required", "verify-identity"]
SqlServerEncryption = Literal["off", "request", "require"]

_SECRET_SAFE = ConfigDict(extra="forbid", hide_input_in_errors=True)


class ServerConfig(ConnectorConfig):
    """A database server: host, port, database and login, or a full SQLAlchemy URL."""

    model_config = _SECRET_SAFE
    #: The URL dialects (``postgresql://...``) this engine accepts in ``url``.
    url_dialects: ClassVar[tuple[str, ...]] = ()

    host: str | None = Field(None, description="Server name or IP address.")
    port: int = Field(5432, ge=1, le=65535)
    database: str | None = None
    schema: str | None = Field(  # type: ignore[assignment]  # shadows BaseModel.schema(), see above
        None, description="Only this schema's tables and views; empty: every schema."
    )
    username: str | None = None
    password: SecretStr | None = None
    ssl_mode: str = "prefer"
    connect_timeout_s: int = Field(10, ge=1, le=600, description="Seconds to wait for the server to answer.")
    url: SecretStr | None = Field(
        None,
        description="Instead of host, port, database, username and password: a SQLAlchemy URL "
        "such as postgresql://user:password@host:5432/database.",
    )

    @field_validator("host", "database", "schema", "username", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        if isinstance(value, str):
            return value.strip() or None
        return value

    @model_validator(mode="after")
    def _url_or_host(self) -> ServerConfig:
        if self.url is None:
            if not self.host or not self.database:
                raise ValueError("host and database are required (or give a url instead)")
            return self
        if self.host or self.database or self.username or self.password:
            raise ValueError("give either url, or host and database with username and password, not both")
        try:
            dialect = make_url(self.url.get_secret_value()).get_backend_name()
        except (ArgumentError, ValueError):
            # never quote the URL: it may hold the password
            raise ValueError("url is not a SQLAlchemy URL such as dialect://user:password@host/db") from None
        if dialect not in self.url_dialects:
            raise ValueError(f"url must start with {' or '.join(d + '://' for d in self.url_dialects)}")
        return self


class PostgresConfig(ServerConfig):
    """A PostgreSQL database."""

    url_dialects: ClassVar[tuple[str, ...]] = ("postgresql",)

    port: int = Field(5432, ge=1, le=65535)
    schema: str | None = Field(
        "public", description="Only this schema's tables and views; empty: every schema."
    )
    ssl_mode: PostgresSslMode = "prefer"


class RedshiftConfig(ServerConfig):
    """An Amazon Redshift database (PostgreSQL wire protocol, port 5439)."""

    url_dialects: ClassVar[tuple[str, ...]] = ("postgresql", "redshift")

    port: int = Field(5439, ge=1, le=65535)
    schema: str | None = Field(
        "public", description="Only this schema's tables and views; empty: every schema."
    )
    # A cluster is reached over a network: encrypted unless said otherwise.
    ssl_mode: PostgresSslMode = "require"


class MySqlConfig(ServerConfig):
    """A MySQL or MariaDB database; there a schema is a database."""

    url_dialects: ClassVar[tuple[str, ...]] = ("mysql", "mariadb")

    port: int = Field(3306, ge=1, le=65535)
    schema: str | None = Field(
        None, description="Only this database's tables and views; empty: every database the user sees."
    )
    ssl_mode: MySqlSslMode = "preferred"


class SqlServerConfig(ServerConfig):
    """A Microsoft SQL Server (or Azure SQL) database."""

    url_dialects: ClassVar[tuple[str, ...]] = ("mssql",)

    port: int = Field(1433, ge=1, le=65535)
    ssl_mode: SqlServerEncryption = Field("request", description="TLS encryption of the connection.")


class SqliteConfig(ConnectorConfig):
    """A SQLite database file, opened read-only."""

    path: str = Field(description="The database file, e.g. ./data/shop.db.")

    @field_validator("path")
    @classmethod
    def _non_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must name a database file, e.g. ./data/shop.db")
        return value.strip()


class BigQueryConfig(ConnectorConfig):
    """A Google BigQuery project; a schema is a dataset."""

    model_config = _SECRET_SAFE

    project: str = Field(description="The Google Cloud project id, e.g. acme-analytics.")
    dataset: str | None = Field(
        None, description="Only this dataset's tables and views; empty: every dataset."
    )
    credentials_json: SecretStr | None = Field(
        None,
        description="A service account key (the JSON file's content); "
        "empty: the machine's application default credentials.",
    )

    @field_validator("project")
    @classmethod
    def _project(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must name a Google Cloud project")
        return value.strip()

    @field_validator("credentials_json")
    @classmethod
    def _key_is_json(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        try:
            key = json.loads(value.get_secret_value())
        except json.JSONDecodeError:
            raise ValueError("is not JSON: paste the whole service account key file") from None
        if not isinstance(key, dict) or "type" not in key:
            raise ValueError("is not a service account key (a JSON object with a 'type')")
        return value
