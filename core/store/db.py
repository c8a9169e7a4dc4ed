"""The store's engine: one SQLAlchemy URL, SQLite under ./workspace by default.

``TRIBUTARY_DATABASE_URL`` selects the database. SQLite runs in WAL mode with a
busy timeout so that the dashboard, the CLI and runs can share it.
"""

from __future__ import annotations

import os
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, inspect

MIGRATIONS = Path(__file__).with_name("migrations")


def workspace_dir() -> Path:
    """The folder holding the default database, the secret key and demo data."""
    return Path(os.environ.get("TRIBUTARY_WORKSPACE", "workspace")).resolve()


def database_url() -> str:
    """The configured store URL, or SQLite in the workspace folder."""
    url = os.environ.get("TRIBUTARY_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{workspace_dir() / 'tributary.db'}"


def create_store_engine(url: str | None = None) -> Engine:
    """Creates an engine for the store; SQLite gets WAL, foreign keys and a busy timeout."""
    url = url or database_url()
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False})
        event.listen(engine, "connect", _configure_sqlite)
        return engine
    return create_engine(url, pool_pre_ping=True)


def _configure_sqlite(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=60000")
    cursor.close()


def alembic_config() -> Config:
    """An Alembic config pointing at Tributary's migrations."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def migrate(engine: Engine) -> None:
    """Upgrades the store to the latest schema (idempotent)."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def has_tables(engine: Engine) -> bool:
    """Whether the store has been created already."""
    return inspect(engine).has_table("connections")
