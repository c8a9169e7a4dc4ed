"""Dataflows from real database servers: full, incremental with updates and ties, connection loss."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import sqlalchemy as sa

from tests.services import MARIADB, POSTGRES, require_service


@dataclass
class Server:
    connector: str
    config: dict
    stream: str
    engine: sa.Engine


@pytest.fixture(params=["postgres", "mysql"])
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    name = f"trib_{uuid.uuid4().hex[:10]}"
    if request.param == "postgres":
        require_service(*POSTGRES)
        admin = sa.create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/test")
        with admin.begin() as c:
            c.exec_driver_sql(f'CREATE SCHEMA "{name}"')
        engine = sa.create_engine(
            "postgresql+psycopg://postgres@127.0.0.1:5432/test",
            connect_args={"options": f"-csearch_path={name}"},
        )
        config = {
            "host": "127.0.0.1",
            "port": 5432,
            "database": "test",
            "username": "postgres",
            "schema": name,
        }
        yield Server("postgres", config, f"{name}.customers", engine)
        engine.dispose()
        with admin.begin() as c:
            c.exec_driver_sql(f'DROP SCHEMA "{name}" CASCADE')
        admin.dispose()
    else:
        require_service(*MARIADB)
        admin = sa.create_engine("mysql+pymysql://root@127.0.0.1:3306/test")
        with admin.begin() as c:
            c.exec_driver_sql(f"CREATE DATABASE `{name}`")
        engine = sa.create_engine(f"mysql+pymysql://root@127.0.0.1:3306/{name}")
        config = {"host": "127.0.0.1", "port": 3306, "database": name, "username": "root"}
        yield Server("mysql", config, f"{name}.customers", engine)
        engine.dispose()
        with admin.begin() as c:
            c.exec_driver_sql(f"DROP DATABASE `{name}`")
        admin.dispose()


def create_customers(server: Server, rows: int) -> None:
    timestamp = "TIMESTAMP(6)" if server.connector == "mysql" else "TIMESTAMPTZ"
    with server.engine.begin() as c:
        c.exec_driver_sql(
            f"CREATE TABLE customers (id INTEGER PRIMARY KEY, email VARCHAR(200), points INTEGER, "
            f"updated_at {timestamp} NOT NULL)"
        )
        insert_customers(c, range(1, rows + 1), "2026-11-01 10:00:00")


def insert_customers(conn: sa.Connection, ids: range, at: str) -> None:
    conn.execute(
        sa.text("INSERT INTO customers (id, email, points, updated_at) VALUES (:id, :email, :points, :at)"),
        [{"id": i, "email": f"User{i}@Example.com", "points": i % 500, "at": at} for i in ids],
    )


def save(workspace, server: Server, mode: str = "incremental", chunk_size: int = 50_000) -> None:
    workspace.save_connection("db", server.connector, server.config)
    sync = {"mode": mode, "primary_key": ["id"], "chunk_size": chunk_size}
    if mode == "incremental":
        sync["cursor"] = "updated_at"
    workspace.save_dataflow(
        "customers",
        {
            "source": {"connection": "db", "stream": server.stream},
            "sync": sync,
            "mapping": {
                "crmId": "id",
                "personalEmail.address": "lower(email)",
                "loyalty.points": "points",
                "commerce.lastPurchaseAt": "updated_at",
            },
            "identities": {"email": "personalEmail.address"},
            "quality": [{"expect_column_values_to_not_be_null": {"column": "crmId"}}],
        },
    )


def test_connection_check_and_discovery(workspace, server):
    create_customers(server, 3)
    workspace.save_connection("db", server.connector, server.config)
    assert workspace.test_connection("db").ok
    streams = {s.name: s for s in workspace.streams("db")}
    assert server.stream in streams
    assert "updated_at" in streams[server.stream].cursor_candidates
    preview = workspace.preview("db", server.stream, limit=2)
    assert len(preview.frame) == 2


def test_full_then_incremental_with_updates_and_ties(workspace, server):
    create_customers(server, 1000)
    save(workspace, server, chunk_size=300)
    first = workspace.run("customers")
    assert (first.status, first.received, first.ingested, first.failed) == ("succeeded", 1000, 1000, 0)
    assert workspace.record_count("customers") == 1000

    assert workspace.run("customers").received == 0  # nothing new

    with server.engine.begin() as c:
        c.exec_driver_sql(
            "UPDATE customers SET points = 9999, updated_at = '2026-11-02 09:00:00' WHERE id <= 10"
        )
        insert_customers(c, range(1001, 1006), "2026-11-02 09:00:00")
    second = workspace.run("customers")
    assert (second.received, second.ingested) == (15, 15)
    # a late row with exactly the last cursor value is still picked up, once
    with server.engine.begin() as c:
        insert_customers(c, range(2000, 2001), "2026-11-02 09:00:00")
    third = workspace.run("customers")
    assert (third.received, third.ingested) == (1, 1)
    records = workspace.records("customers", limit=None).set_index("crmId")
    assert len(records) == 1006
    assert int(records.loc["5", "loyalty.points"]) == 9999
    assert records.loc["2000", "personalEmail.address"] == "user2000@example.com"


def test_full_refresh_reflects_deletes(workspace, server):
    create_customers(server, 50)
    save(workspace, server, mode="full_refresh")
    assert workspace.run("customers").ingested == 50
    with server.engine.begin() as c:
        c.exec_driver_sql("DELETE FROM customers WHERE id > 40")
    again = workspace.run("customers")
    assert (again.received, again.deleted) == (40, 10)
    assert workspace.record_count("customers") == 40


@pytest.mark.parametrize("server", ["postgres"], indirect=True)
def test_connection_lost_mid_read_then_a_clean_rerun(workspace, server):
    create_customers(server, 3000)
    save(workspace, server, chunk_size=500)
    killed = []

    def terminate_source_after_first_chunk(summary) -> None:
        if summary.chunks == 1 and not killed:
            with server.engine.begin() as c:
                killed.append(
                    c.execute(
                        sa.text(
                            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                            "WHERE application_name = :reader"
                        ),
                        {"reader": f"tributary: {server.stream}"},
                    ).scalar()
                )

    broken = workspace.run("customers", progress=terminate_source_after_first_chunk)
    assert killed and killed[0] >= 1
    assert broken.status == "failed"
    assert broken.error_code == "source_unavailable", broken.error_message
    assert "password" not in (broken.error_message or "").lower()
    assert 500 <= workspace.record_count("customers") < 3000

    rerun = workspace.run("customers")
    assert rerun.status == "succeeded", rerun.error_message
    records = workspace.records("customers", limit=None)
    assert len(records) == 3000 and records["_source_key"].is_unique
    # the rerun continued after what the broken run committed
    assert rerun.received <= 3000 - 500


@pytest.mark.parametrize("server", ["postgres"], indirect=True)
def test_yaml_and_cli_with_a_secret_from_the_environment(
    workspace, workspace_dir, server, tmp_path, monkeypatch, capsys
):
    import json

    import yaml

    from core import config
    from core.__main__ import main

    create_customers(server, 20)
    monkeypatch.setenv("SHOP_DB_PASSWORD", "Unguessable-Pa55")
    spec = {
        "connections": {
            "shop_db": {
                "connector": "postgres",
                "config": {**server.config, "password": "${SHOP_DB_PASSWORD}"},
            }
        },
        "dataflows": {
            "customers": {
                "source": {"connection": "shop_db", "stream": server.stream},
                "sync": {"mode": "incremental", "cursor": "updated_at", "primary_key": ["id"]},
                "mapping": {"crmId": "id", "personalEmail.address": "lower(email)"},
            }
        },
    }
    path = tmp_path / "shop.yml"
    path.write_text(yaml.safe_dump(spec))
    assert main(["apply", str(path)]) == 0
    assert main(["run", "customers", "--json"]) == 0
    out = capsys.readouterr().out.strip().splitlines()[-1]
    assert json.loads(out)["ingested"] == 20

    exported = config.export(workspace)
    assert "${SHOP_DB_PASSWORD}" in exported and "Unguessable-Pa55" not in exported
    for stored in workspace_dir.glob("tributary.db*"):
        assert b"Unguessable-Pa55" not in stored.read_bytes()
    assert "Unguessable-Pa55" not in str(workspace.connection_spec("shop_db"))
