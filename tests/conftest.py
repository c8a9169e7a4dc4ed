"""Shared fixtures: an isolated workspace (store, key, data folder) per test."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from core.services import Workspace

# The dashboard starts a scheduler process when none is alive; tests that want one start it themselves.
os.environ.setdefault("TRIBUTARY_SCHEDULER", "0")
# The fake HTTP servers (APIs, token endpoints, webhooks) listen on 127.0.0.1, which the outbound
# network policy refuses by default: the suite allows that one address, here and nowhere else.
# tests/security/test_hostile_input.py proves the refusals with this allowance taken away.
os.environ["TRIBUTARY_ALLOWED_NETWORKS"] = "127.0.0.1/32"
from tests.services import POSTGRES, require_service


@pytest.fixture
def workspace_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh workspace folder, with the store and key inside it."""
    folder = tmp_path / "workspace"
    monkeypatch.setenv("TRIBUTARY_WORKSPACE", str(folder))
    monkeypatch.setenv("TRIBUTARY_DATABASE_URL", f"sqlite:///{folder / 'tributary.db'}")
    monkeypatch.delenv("TRIBUTARY_SECRET_KEY", raising=False)
    return folder


@pytest.fixture
def workspace(workspace_dir: Path) -> Workspace:
    """An open, empty workspace."""
    return Workspace.open()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, workspace_dir: Path, monkeypatch: pytest.MonkeyPatch):
    """The store on each supported database: SQLite, and a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield os.environ["TRIBUTARY_DATABASE_URL"]
        return
    require_service(*POSTGRES)
    import psycopg

    name = f"tributary_test_{uuid.uuid4().hex[:12]}"
    admin = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    monkeypatch.setenv("TRIBUTARY_DATABASE_URL", url)
    try:
        yield url
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def any_workspace(store_url: str) -> Workspace:
    """An open, empty workspace on each supported store database."""
    return Workspace.open()
