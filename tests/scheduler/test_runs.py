"""Run now and backfill go through the scheduler's path: the same lease, the same state."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from core.errors import ConfigurationError, LeaseLostError
from core.scheduler import backfill, run_now, state
from core.store.leases import Lease
from tests.scheduler.conftest import run_rows, save_files_dataflow


def state_of(workspace, name: str) -> state.ScheduleState:
    found = state.read_state(workspace.engine, workspace.store.dataflow_row(name)["id"])
    assert found is not None
    return found


def test_run_now_records_the_success_and_waits_for_no_one(any_workspace, source):
    save_files_dataflow(any_workspace, "customers", source, {"every": "1 day"})
    summary = run_now(any_workspace, "customers")
    assert (summary.status, summary.ingested) == ("succeeded", 100)
    saved = state_of(any_workspace, "customers")
    assert saved.last_run_id == summary.run_id
    assert saved.last_success_at is not None
    assert run_rows(any_workspace)["trigger"].tolist() == ["manual"]


def test_run_now_refuses_while_the_dataflow_runs_elsewhere(workspace, source):
    save_files_dataflow(workspace, "customers", source, None)
    holder = Lease(workspace.engine, workspace.store.dataflow_row("customers")["id"])
    holder.acquire()
    with pytest.raises(LeaseLostError, match="already running"):
        run_now(workspace, "customers")
    holder.release()
    assert run_now(workspace, "customers").status == "succeeded"


def write_history(path, emails: str) -> None:
    days = pd.date_range("2026-01-01", periods=10, freq="D", tz="UTC")
    pd.DataFrame(
        {
            "customer_id": range(10),
            "email": [f"{emails}{i}@example.com" for i in range(10)],
            "points": range(10),
            "updated_at": days.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
    ).to_csv(path, index=False)


def test_backfill_reingests_from_a_date_and_leaves_the_watermark(workspace, tmp_path):
    folder = tmp_path / "history"
    folder.mkdir()
    write_history(folder / "customers.csv", "old")
    incremental = {"mode": "incremental", "cursor": "updated_at", "primary_key": ["customer_id"]}
    save_files_dataflow(workspace, "history", folder, None, sync=incremental)
    assert run_now(workspace, "history").ingested == 10
    watermark = workspace.store.cursor_state(workspace.store.dataflow_row("history")["id"])["cursor"]
    # the source corrected its history without touching the cursor column
    write_history(folder / "customers.csv", "new")
    assert run_now(workspace, "history").ingested == 0  # incremental: nothing past the watermark
    summary = backfill(workspace, "history", datetime(2026, 1, 8))
    assert (summary.status, summary.received, summary.ingested) == ("succeeded", 3, 3)
    records = workspace.records("history").sort_values("crmId")
    assert records["personalEmail.address"].str[:3].tolist() == ["old"] * 7 + ["new"] * 3
    assert workspace.store.cursor_state(workspace.store.dataflow_row("history")["id"])["cursor"] == watermark
    assert run_rows(workspace, "history")["trigger"].tolist() == ["manual", "manual", "backfill"]
    assert run_now(workspace, "history").received == 0  # later runs go on from the same watermark


def test_backfill_of_files_without_a_cursor_rereads_the_objects_modified_since(workspace, tmp_path):
    folder = tmp_path / "drops"
    folder.mkdir()
    for day in (1, 2):
        write_history(folder / f"day{day}.csv", f"d{day}")
    objects = {"mode": "incremental", "primary_key": ["customer_id"]}
    save_files_dataflow(workspace, "drops", folder, None, stream="day*.csv", sync=objects)
    run_now(workspace, "drops")
    assert run_now(workspace, "drops").received == 0  # both files were read
    assert backfill(workspace, "drops", datetime(2000, 1, 1, tzinfo=UTC)).received == 20
    assert backfill(workspace, "drops", datetime(2100, 1, 1)).received == 0


def test_backfill_needs_an_incremental_dataflow(workspace, source):
    save_files_dataflow(workspace, "customers", source, None)
    with pytest.raises(ConfigurationError, match="full refresh"):
        backfill(workspace, "customers", datetime(2026, 1, 1))
