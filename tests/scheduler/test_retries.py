"""Retries with backoff for a source that is down, none for settings errors; stuck runs given up."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from core.scheduler import state
from core.store import tables as t
from tests.scheduler.conftest import run_rows, save_files_dataflow, scheduler, tick
from tests.services import POSTGRES, require_service

HOURLY = {"every": "1 hour"}


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def save_postgres_dataflow(workspace, name: str, config: dict, stream: str, schedule: dict) -> None:
    workspace.save_connection(f"{name}_db", "postgres", config)
    workspace.save_dataflow(
        name,
        {
            "source": {"connection": f"{name}_db", "stream": stream},
            "sync": {"mode": "full_refresh", "primary_key": ["id"]},
            "mapping": {"crmId": "id", "personalEmail.address": "email"},
            "schedule": schedule,
        },
    )


def state_of(workspace, name: str) -> state.ScheduleState:
    found = state.read_state(workspace.engine, workspace.store.dataflow_row(name)["id"])
    assert found is not None
    return found


def test_a_source_that_is_down_is_retried_with_backoff_until_attempts_run_out(workspace, clock):
    down = {"host": "127.0.0.1", "port": closed_port(), "database": "shop", "username": "shop"}
    save_postgres_dataflow(workspace, "shop", down, "public.customers", HOURLY)
    running = scheduler(workspace, clock, retry_attempts=2, retry_backoff_s=60)
    tick(running)
    clock.set(2026, 3, 2, 10, 0)
    assert tick(running) == ["shop"]
    assert (state_of(workspace, "shop").attempts, state_of(workspace, "shop").retry_at) == (
        1,
        datetime(2026, 3, 2, 10, 1, tzinfo=UTC),
    )
    clock.advance(seconds=59)
    assert tick(running) == []  # not before the backoff
    clock.advance(seconds=1)
    assert tick(running) == ["shop"]
    assert state_of(workspace, "shop").retry_at == datetime(2026, 3, 2, 10, 3, tzinfo=UTC)  # doubled
    clock.set(2026, 3, 2, 10, 3)
    assert tick(running) == ["shop"]
    exhausted = state_of(workspace, "shop")
    assert (exhausted.attempts, exhausted.retry_at) == (2, None)
    clock.set(2026, 3, 2, 10, 59)
    assert tick(running) == []
    # the next slot starts afresh
    clock.set(2026, 3, 2, 11, 0)
    assert tick(running) == ["shop"]
    assert state_of(workspace, "shop").attempts == 1
    runs = run_rows(workspace, "shop")
    assert list(runs["trigger"]) == ["schedule", "retry", "retry", "schedule"]
    assert set(runs["error_code"]) == {"source_unavailable"}
    assert state_of(workspace, "shop").last_success_at is None
    running.shutdown()


def test_a_retry_that_succeeds_clears_the_retries(workspace, source, clock):
    save_files_dataflow(workspace, "late", source, HOURLY, stream="late.csv")
    running = scheduler(workspace, clock, retry_backoff_s=30)
    tick(running)
    clock.set(2026, 3, 2, 10, 0)
    assert tick(running) == ["late"]
    # a missing file is a settings problem (stream not found): no retry
    failed = state_of(workspace, "late")
    assert (failed.attempts, failed.retry_at) == (0, None)
    assert run_rows(workspace, "late")["error_code"].iloc[-1] == "streamnotfound"
    # a retriable failure, then the retry succeeds
    with workspace.engine.begin() as c:
        c.execute(
            sa.update(t.schedule_state).values(attempts=1, retry_at=datetime(2026, 3, 2, 10, 5, tzinfo=UTC))
        )
    (source / "late.csv").write_bytes((source / "customers.csv").read_bytes())
    clock.set(2026, 3, 2, 10, 5)
    assert tick(running) == ["late"]
    done = state_of(workspace, "late")
    assert (done.attempts, done.retry_at, done.last_success_at) == (0, None, clock.now)
    assert list(run_rows(workspace, "late")["trigger"]) == ["schedule", "retry"]
    running.shutdown()


@pytest.fixture
def postgres_source() -> Iterator[tuple[dict, sa.Engine]]:
    """A schema with a customers table in the server's postgres database."""
    require_service(*POSTGRES)
    schema = f"trib_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    with engine.begin() as c:
        c.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        c.exec_driver_sql(f'CREATE TABLE "{schema}".customers (id INTEGER PRIMARY KEY, email TEXT)')
        c.exec_driver_sql(
            f"INSERT INTO \"{schema}\".customers SELECT i, i || '@example.com' FROM generate_series(1, 50) i"
        )
    config = {"host": "127.0.0.1", "port": 5432, "database": "postgres", "username": "postgres"}
    yield {**config, "schema": schema}, engine
    with engine.begin() as c:
        c.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
    engine.dispose()


def test_a_run_stuck_past_its_timeout_is_abandoned_fenced_off_and_retried(
    any_workspace, postgres_source, clock
):
    config, source_engine = postgres_source
    save_postgres_dataflow(any_workspace, "stuck", config, f"{config['schema']}.customers", HOURLY)
    running = scheduler(any_workspace, clock, run_timeout_s=1.0, retry_backoff_s=60)
    tick(running)
    clock.set(2026, 3, 2, 10, 0)
    # someone holds an exclusive lock on the source table: the run's read waits for it
    locker = source_engine.connect()
    locker.exec_driver_sql(f'LOCK TABLE "{config["schema"]}".customers IN ACCESS EXCLUSIVE MODE')
    try:
        assert [c.name for c in running.tick()] == ["stuck"]
        deadline = time.monotonic() + 30
        while not running.abandon_overdue():
            assert time.monotonic() < deadline, "the stuck run was never given up"
            time.sleep(0.2)
        stuck_run = run_rows(any_workspace, "stuck").iloc[-1]
        assert (stuck_run["status"], stuck_run["error_code"]) == ("abandoned", "timeout")
        with any_workspace.engine.connect() as c:
            lease = c.execute(sa.select(t.leases)).mappings().one()
        assert lease["owner"] is None  # revoked: its token moved on
        retry = state_of(any_workspace, "stuck")
        assert (retry.attempts, retry.retry_at) == (1, clock.now + timedelta(seconds=60))
        assert running.running() == []  # the dataflow may be submitted again
        assert running.abandoned() == ["stuck"]  # though its thread still holds a worker
    finally:
        locker.rollback()
        locker.close()
    # unblocked, the stuck thread cannot commit anything: its lease is gone
    wait_until = time.monotonic() + 30
    while running.abandoned():
        assert time.monotonic() < wait_until, "the stuck thread never returned"
        time.sleep(0.1)
    stuck_run = run_rows(any_workspace, "stuck").iloc[-1]
    assert (stuck_run["status"], stuck_run["error_code"]) == ("abandoned", "timeout")
    assert any_workspace.record_count("stuck") == 0
    clock.advance(seconds=60)
    assert tick(running) == ["stuck"]
    assert run_rows(any_workspace, "stuck")["status"].iloc[-1] == "succeeded"
    assert any_workspace.record_count("stuck") == 50
    running.shutdown()
