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


def test_migrations_create_every_table_and_are_idempotent(store_url):
    engine = db.create_store_engine(store_url)
    db.migrate(engine)
    db.migrate(engine)
    names = set(inspect(engine).get_table_names())
    assert set(t.metadata.tables) <= names
    assert "alembic_version" in names
    if engine.dialect.name == "sqlite":
        with engine.connect() as c:
            assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_migrations_downgrade_and_upgrade_again(store_url):
    from alembic import command

    engine = db.create_store_engine(store_url)
    db.migrate(engine)
    config = db.alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    assert not db.has_tables(engine)
    db.migrate(engine)
    assert db.has_tables(engine)


def test_secrets_are_stored_encrypted_and_never_in_config(any_workspace):
    # the files connector has no secret; store a secret through the vault directly
    with any_workspace.engine.begin() as c:
        cid = any_workspace.store.upsert_connection(
            c, "x", "files", {"url": "/tmp"}, {"password": any_workspace.vault.encrypt("pa55word!")}, {}
        )
    with any_workspace.engine.connect() as c:
        token = c.execute(select(t.secrets.c.ciphertext).where(t.secrets.c.connection_id == cid)).scalar()
        config = c.execute(select(t.connections.c.config).where(t.connections.c.id == cid)).scalar()
    assert b"pa55word!" not in bytes(token)
    assert "pa55word!" not in str(config)
    assert any_workspace.vault.decrypt(bytes(token)).get_secret_value() == "pa55word!"


def test_lease_excludes_a_second_holder_and_fences_a_stale_one(any_workspace):
    first = Lease(any_workspace.engine, 1, ttl_s=60)
    first.acquire()
    second = Lease(any_workspace.engine, 1, ttl_s=60)
    with pytest.raises(LeaseLostError, match="already running"):
        second.acquire()
    # expire the first lease: the second takes over and the first can no longer write
    with any_workspace.engine.begin() as c:
        c.execute(t.leases.update().values(expires_at=t.leases.c.acquired_at))
    second.acquire()
    assert second.token == first.token + 1
    with pytest.raises(LeaseLostError, match="lost its lease"), any_workspace.engine.begin() as c:
        first.renew(c)
    with any_workspace.engine.begin() as c:
        second.renew(c)
    second.release()
    Lease(any_workspace.engine, 1).acquire()


def test_lease_of_a_dead_process_on_this_host_is_taken_over(any_workspace):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    pid = int(dead.stdout)
    lease = Lease(any_workspace.engine, 7, ttl_s=3600)
    lease.acquire()
    host = lease.owner.split(":")[0]
    with any_workspace.engine.begin() as c:
        c.execute(t.leases.update().values(owner=f"{host}:{pid}:dead"))
    successor = Lease(any_workspace.engine, 7)
    assert successor.acquire() == lease.token + 1


def test_migrations_match_the_table_definitions(store_url):
    """A change to core/store/tables.py without a migration (or the reverse) fails here."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = db.create_store_engine(store_url)
    db.migrate(engine)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), t.metadata)
    assert diff == []


def test_a_store_from_before_versions_is_upgraded_with_its_dataflows_kept(store_url):
    from alembic import command

    engine = db.create_store_engine(store_url)
    config = db.alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
    with engine.begin() as c:
        c.exec_driver_sql(
            "INSERT INTO connections"
            " (id, name, connector, config, secret_refs, description, created_at, updated_at)"
            " VALUES (1, 'src', 'files', '{}', '{}', '', '2026-01-01', '2026-01-01')"
        )
        c.exec_driver_sql(
            "INSERT INTO dataflows (id, name, connection_id, spec, version, enabled, created_at, updated_at)"
            " VALUES (1, 'people', 1, '{\"mapping\": {\"crmId\": \"id\"}}', 4, 1, '2026-01-01', '2026-01-02')"
        )
    db.migrate(engine)
    with engine.connect() as c:
        rows = c.execute(select(t.dataflow_versions)).mappings().all()
    kept = [(r["dataflow_id"], r["version"], r["spec"]) for r in rows]
    assert kept == [(1, 4, {"mapping": {"crmId": "id"}})]
