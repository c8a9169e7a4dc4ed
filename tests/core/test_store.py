"""The store: migrations, connections with encrypted secrets, leases."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy import inspect, select

from core.errors import LeaseLostError
from core.store import db
from core.store import tables as t
from core.store.leases import Lease


def test_migrations_create_every_table_and_are_idempotent(tmp_path):
    engine = db.create_store_engine(f"sqlite:///{tmp_path / 's.db'}")
    db.migrate(engine)
    db.migrate(engine)
    names = set(inspect(engine).get_table_names())
    assert set(t.metadata.tables) <= names
    assert "alembic_version" in names
    with engine.connect() as c:
        assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_secrets_are_stored_encrypted_and_never_in_config(workspace):
    # the files connector has no secret; store a secret through the vault directly
    with workspace.engine.begin() as c:
        cid = workspace.store.upsert_connection(
            c, "x", "files", {"url": "/tmp"}, {"password": workspace.vault.encrypt("pa55word!")}, {}
        )
    with workspace.engine.connect() as c:
        token = c.execute(select(t.secrets.c.ciphertext).where(t.secrets.c.connection_id == cid)).scalar()
        config = c.execute(select(t.connections.c.config).where(t.connections.c.id == cid)).scalar()
    assert b"pa55word!" not in bytes(token)
    assert "pa55word!" not in str(config)
    assert workspace.vault.decrypt(bytes(token)).get_secret_value() == "pa55word!"


def test_lease_excludes_a_second_holder_and_fences_a_stale_one(workspace):
    first = Lease(workspace.engine, 1, ttl_s=60)
    first.acquire()
    second = Lease(workspace.engine, 1, ttl_s=60)
    with pytest.raises(LeaseLostError, match="already running"):
        second.acquire()
    # expire the first lease: the second takes over and the first can no longer write
    with workspace.engine.begin() as c:
        c.execute(t.leases.update().values(expires_at=t.leases.c.acquired_at))
    second.acquire()
    assert second.token == first.token + 1
    with pytest.raises(LeaseLostError, match="lost its lease"), workspace.engine.begin() as c:
        first.renew(c)
    with workspace.engine.begin() as c:
        second.renew(c)
    second.release()
    Lease(workspace.engine, 1).acquire()


def test_lease_of_a_dead_process_on_this_host_is_taken_over(workspace):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    pid = int(dead.stdout)
    lease = Lease(workspace.engine, 7, ttl_s=3600)
    lease.acquire()
    host = lease.owner.split(":")[0]
    with workspace.engine.begin() as c:
        c.execute(t.leases.update().values(owner=f"{host}:{pid}:dead"))
    successor = Lease(workspace.engine, 7)
    assert successor.acquire() == lease.token + 1
