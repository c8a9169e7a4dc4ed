"""Runs on a Dask cluster of two worker processes against PostgreSQL.

The same records, counts, quarantined rows and profiles as in one process; exact
counts when a worker is killed mid-run or the run is stopped and run again; one
run of a dataflow at a time, workers included; and no Dask with a SQLite store.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import text

from core.errors import ConfigurationError, LeaseLostError
from core.executors import EXECUTOR_ENV, from_setting
from core.executors.cluster import DaskExecutor
from core.executors.partition import PartitionTask
from core.executors.worker import read_partition_task
from core.services import Workspace
from core.store import leases
from core.store.leases import LeaseFence
from tests.executors.conftest import save_dataflow, write_files
from tests.executors.databases import fresh_database

POSTGRES_ONLY = pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
LINEAGE = ["_run_id", "_generation", "_ingested_at"]


def snapshot(workspace: Workspace) -> dict[str, object]:
    """What a run leaves: records, the last run's counts, quarantined rows, profiles and object versions."""
    records = workspace.records("customers", limit=None).drop(columns=LINEAGE)
    with workspace.engine.connect() as c:
        run = c.execute(
            text(
                "select status, received, ingested, failed, deleted, chunks "
                "from runs order by id desc limit 1"
            )
        ).one()
        errors = pd.read_sql(
            text("select source_key, origin, code, field, reason from run_errors order by 1, 2, 3, 4, 5"), c
        )
        profiles = pd.read_sql(
            text("select profile_id, members, identities::text, dataflows::text from profiles order by 1"), c
        )
        members = pd.read_sql(text("select source_key, profile_id from profile_members order by 1"), c)
    return {
        "records": records.sort_values("_source_key").reset_index(drop=True),
        "run": tuple(run),
        "errors": errors,
        "profiles": profiles,
        "members": members,
        "objects": workspace.store.cursor_state(1).get("objects"),
    }


def assert_same(left: dict[str, object], right: dict[str, object]) -> None:
    for name in left:
        if isinstance(left[name], pd.DataFrame):
            pd.testing.assert_frame_equal(left[name], right[name], obj=name)  # type: ignore[arg-type]
        else:
            assert left[name] == right[name], name


def totals(workspace: Workspace) -> tuple[int, ...]:
    with workspace.engine.connect() as c:
        return tuple(
            c.execute(
                text(
                    "select coalesce(sum(received), 0), coalesce(sum(ingested), 0), "
                    "coalesce(sum(failed), 0), coalesce(sum(chunks), 0), "
                    "(select count(*) from run_errors), (select count(*) from ds_customers) from runs"
                )
            ).one()
        )


@POSTGRES_ONLY
def test_a_run_on_two_workers_leaves_what_one_process_leaves(pg_workspace, cluster, tmp_path, monkeypatch):
    folder = tmp_path / "drop"
    write_files(folder, range(4), 120, bad_every=29, emails=150)

    dask_setting = os.environ[EXECUTOR_ENV]
    with fresh_database() as url:
        monkeypatch.delenv(EXECUTOR_ENV)
        alone = Workspace.open(url)
        save_dataflow(alone, folder, chunk_size=40, identities=True)
        first = alone.run("customers")
        monkeypatch.setenv(EXECUTOR_ENV, dask_setting)
        save_dataflow(pg_workspace, folder, chunk_size=40, identities=True)
        spread = pg_workspace.run("customers")
        assert spread.status == first.status == "partial", spread.error_message
        assert (spread.received, spread.ingested, spread.failed, spread.chunks) == (480, 463, 17, 12)
        assert_same(snapshot(alone), snapshot(pg_workspace))

        # an incremental run: one object changed, one new; the others are skipped on both
        write_files(folder, range(1, 2), 120, bad_every=31, emails=90)
        write_files(folder, range(4, 5), 120, emails=150)
        monkeypatch.delenv(EXECUTOR_ENV)
        again_alone = alone.run("customers")
        monkeypatch.setenv(EXECUTOR_ENV, dask_setting)
        again = pg_workspace.run("customers")
        assert again.received == again_alone.received == 240
        assert_same(snapshot(alone), snapshot(pg_workspace))
        alone.engine.dispose()


@POSTGRES_ONLY
def test_a_worker_killed_mid_run_leaves_exact_counts(pg_workspace, cluster, tmp_path, monkeypatch):
    folder = tmp_path / "drop"
    bad = write_files(folder, range(4), 3000, bad_every=50)
    save_dataflow(pg_workspace, folder, chunk_size=250)
    pids = cluster.run(os.getpid)  # type: ignore[attr-defined]
    victim = next(iter(pids.values()))
    killed = []

    def kill_a_worker(summary) -> None:
        if not killed and summary.chunks >= 6:
            os.kill(victim, signal.SIGKILL)
            killed.append(summary.chunks)

    summary = pg_workspace.run("customers", progress=kill_a_worker)
    assert killed and killed[0] < 48, "the run ended before a worker could be killed"
    assert summary.status == "partial", summary.error_message
    # every row counted once, every chunk committed once, every bad row quarantined once
    assert (summary.received, summary.failed, summary.chunks) == (12_000, bad, 48)
    assert totals(pg_workspace) == (12_000, 12_000 - bad, bad, 48, bad, 12_000 - bad)
    assert set(pg_workspace.store.cursor_state(1)["objects"]) == {f"f{i:02d}.csv" for i in range(4)}
    # the state has the same shape for the local executor: nothing changed, nothing read
    monkeypatch.delenv(EXECUTOR_ENV)
    assert pg_workspace.run("customers").received == 0


@POSTGRES_ONLY
def test_a_run_stopped_mid_way_is_run_again_exactly(pg_workspace, cluster, tmp_path):
    folder = tmp_path / "drop"
    bad = write_files(folder, range(4), 2000, bad_every=40)
    save_dataflow(pg_workspace, folder, chunk_size=250)

    def stop(summary) -> None:
        if summary.chunks >= 4:
            raise RuntimeError("the coordinator died")

    stopped = pg_workspace.run("customers", progress=stop)
    assert stopped.status == "failed" and 4 <= stopped.chunks < 32
    with pg_workspace.engine.connect() as c:
        counted = c.execute(text("select received, chunks from runs")).one()
    time.sleep(1.0)  # fenced off: workers still reading commit nothing more
    with pg_workspace.engine.connect() as c:
        assert c.execute(text("select received, chunks from runs")).one() == counted
    assert (stopped.received, stopped.chunks) == tuple(counted)

    rerun = pg_workspace.run("customers")
    assert rerun.status == "partial", rerun.error_message
    assert stopped.received + rerun.received == 8000
    assert totals(pg_workspace) == (8000, 8000 - bad, bad, 32, bad, 8000 - bad)


def wait_for_a_chunk(workspace: Workspace, run_id: int) -> None:
    """Returns once run ``run_id`` has committed a chunk."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with workspace.engine.connect() as c:
            if c.execute(text("select chunks from runs where id = :id"), {"id": run_id}).scalar():
                return
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} committed no chunk in time")


@POSTGRES_ONLY
def test_the_lease_keeps_one_run_and_fences_its_workers(pg_workspace, cluster, tmp_path):
    folder = tmp_path / "drop"
    write_files(folder, range(4), 3000)
    save_dataflow(pg_workspace, folder, chunk_size=250)
    outcome = {}
    first = threading.Thread(target=lambda: outcome.update(summary=pg_workspace.run("customers")))
    first.start()
    wait_for_a_chunk(pg_workspace, run_id=1)
    with pytest.raises(LeaseLostError, match="already running"):
        pg_workspace.run("customers")
    first.join(timeout=180)
    assert outcome["summary"].status == "succeeded"
    assert outcome["summary"].received == 12_000

    # a worker holding a token that is no longer current commits nothing
    write_files(folder, range(4, 5), 100)
    partition = next(p for p in pg_workspace.connector("drop").partitions("*.csv") if p.name == "f04.csv")
    stale = PartitionTask(
        dataflow="customers",
        dataflow_id=1,
        spec_version=1,
        run_id=outcome["summary"].run_id,
        series=outcome["summary"].run_id,
        partition=partition,
        lease=LeaseFence(1, "gone:1:dead", 1),
    )
    before = totals(pg_workspace)
    result = read_partition_task(stale)
    assert result.error is not None and result.error.code == "lease_lost"
    assert totals(pg_workspace) == before

    # a run given up on (its lease revoked, as a scheduler does past the run timeout) stops with its workers
    write_files(folder, range(5, 9), 3000)
    second = threading.Thread(target=lambda: outcome.update(summary=pg_workspace.run("customers")))
    second.start()
    wait_for_a_chunk(pg_workspace, run_id=outcome["summary"].run_id + 1)
    with pg_workspace.engine.begin() as c:
        assert leases.revoke(c, 1, leases.process_owner_prefix())
    second.join(timeout=180)
    assert (outcome["summary"].status, outcome["summary"].error_code) == ("failed", "lease_lost")
    stopped = totals(pg_workspace)
    time.sleep(1.0)
    assert totals(pg_workspace) == stopped


def test_a_sqlite_store_is_refused_clearly(workspace, tmp_path, monkeypatch):
    write_files(tmp_path / "drop", range(2), 10)
    save_dataflow(workspace, tmp_path / "drop", chunk_size=5)
    monkeypatch.setenv(EXECUTOR_ENV, "local-cluster:2")
    with pytest.raises(ConfigurationError, match="need a PostgreSQL store") as refused:
        workspace.run("customers")
    assert "SQLite lets one process write at a time" in refused.value.user_message
    assert workspace.runs().empty  # refused before any run started, and before any cluster


def test_executor_settings_are_read_or_refused_with_the_forms_that_work():
    assert from_setting(None).name == from_setting("local").name == "local"
    assert from_setting("dask://scheduler.internal:8786") == DaskExecutor(
        address="tcp://scheduler.internal:8786"
    )
    assert from_setting("local-cluster:3") == DaskExecutor(local_workers=3)
    for wrong in ("dask://nohost", "local-cluster:0", "ray://head:10001"):
        with pytest.raises(ConfigurationError, match=r"dask://HOST:PORT|local-cluster:"):
            from_setting(wrong)


def test_workers_refuse_a_store_that_is_not_postgresql(tmp_path: Path, monkeypatch):
    from core.executors.worker import worker_workspace

    monkeypatch.setenv("TRIBUTARY_DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    with pytest.raises(ConfigurationError, match="TRIBUTARY_DATABASE_URL is a sqlite URL"):
        worker_workspace()
    monkeypatch.delenv("TRIBUTARY_DATABASE_URL")
    with pytest.raises(ConfigurationError, match="TRIBUTARY_DATABASE_URL is unset"):
        worker_workspace()
