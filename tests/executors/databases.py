"""Throwaway PostgreSQL databases on the local server (the tests' and the Dask benchmark's)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"


@contextlib.contextmanager
def fresh_database(prefix: str = "tributary_test") -> Iterator[str]:
    """An empty PostgreSQL database, dropped afterwards (with its connections); yields its URL."""
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
