"""Monitoring reads: filtered history over hundreds of runs, error groups, and workspace health."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import insert, update

from core import monitoring
from core.monitoring import RunFilter
from core.services import Workspace
from core.store import tables as t
from tests.run_history import add_dataflows, add_errors, add_runs

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@pytest.fixture
def busy(any_workspace: Workspace, tmp_path: Path) -> tuple[Workspace, dict[str, int], pd.DataFrame]:
    """Three dataflows and 600 runs over 60 days, on each store database."""
    ids = add_dataflows(any_workspace, tmp_path / "history", ["alpha", "beta", "gamma"])
    runs = add_runs(any_workspace, list(ids.values()), 600, NOW)
    return any_workspace, ids, runs


def test_history_filters_by_dataflow_status_time_and_failures(busy) -> None:
    ws, ids, runs = busy
    everything = monitoring.run_history(ws.engine, RunFilter())
    assert len(everything) == 600
    assert everything["id"].is_monotonic_decreasing
    assert str(everything["started_at"].dt.tz) == "UTC"

    beta = monitoring.run_history(ws.engine, RunFilter(dataflow="beta"))
    assert set(beta["dataflow"]) == {"beta"} and len(beta) == (runs["dataflow_id"] == ids["beta"]).sum()

    failed = monitoring.run_history(ws.engine, RunFilter(statuses=("failed", "abandoned")))
    assert set(failed["status"]) == {"failed", "abandoned"}
    assert len(failed) == runs["status"].isin(["failed", "abandoned"]).sum()

    week = monitoring.run_history(ws.engine, RunFilter(since=NOW - timedelta(days=7), until=NOW))
    started = pd.to_datetime(runs["started_at"], utc=True)
    assert len(week) == (started >= NOW - timedelta(days=7)).sum() > 0
    assert week["started_at"].min() >= NOW - timedelta(days=7)

    failures = monitoring.run_history(ws.engine, RunFilter(failures_only=True))
    expected = runs["status"].isin(["failed", "abandoned"]) | (runs["failed"] > 0)
    assert len(failures) == expected.sum()
    assert ((failures["failed"] > 0) | failures["status"].isin(["failed", "abandoned"])).all()

    assert len(monitoring.run_history(ws.engine, RunFilter(), limit=50)) == 50


def test_counts_and_timeline_cover_every_run_the_filter_admits(busy) -> None:
    ws, _, runs = busy
    counts = monitoring.count_runs(ws.engine, RunFilter())
    assert counts == runs["status"].value_counts().to_dict()
    timeline = monitoring.status_timeline(ws.engine, RunFilter())
    assert timeline["runs"].sum() == 600
    assert set(timeline["step"]) == {"1D"}  # 60 days: one bar a day
    assert timeline.groupby("status")["runs"].sum().to_dict() == counts
    days = pd.to_datetime(runs["started_at"], utc=True).dt.floor("1D")
    assert timeline.groupby("bucket")["runs"].sum().to_dict() == days.value_counts().to_dict()

    day = monitoring.status_timeline(ws.engine, RunFilter(since=NOW - timedelta(hours=24)))
    assert set(day["step"]) == {"1h"} and day["bucket"].dt.minute.eq(0).all()
    assert day["runs"].sum() == sum(
        monitoring.count_runs(ws.engine, RunFilter(since=NOW - timedelta(hours=24))).values()
    )


def test_a_long_history_is_counted_by_week_from_monday(any_workspace: Workspace, tmp_path: Path) -> None:
    ids = add_dataflows(any_workspace, tmp_path / "history", ["alpha"])
    runs = add_runs(any_workspace, [ids["alpha"]], 300, NOW, days=400)
    timeline = monitoring.status_timeline(any_workspace.engine, RunFilter())
    assert set(timeline["step"]) == {"7D"} and timeline["runs"].sum() == 300
    assert (timeline["bucket"].dt.day_of_week == 0).all() and timeline["bucket"].dt.hour.eq(0).all()
    started = pd.to_datetime(runs["started_at"], utc=True)
    mondays = (started - pd.to_timedelta(started.dt.day_of_week, unit="D")).dt.floor("1D")
    assert timeline.groupby("bucket")["runs"].sum().to_dict() == mondays.value_counts().to_dict()
    assert monitoring.status_timeline(any_workspace.engine, RunFilter(dataflow="nobody")).empty


def test_throughput_is_rows_per_second_and_empty_without_a_duration(busy) -> None:
    ws, _, _ = busy
    with ws.engine.begin() as conn:
        conn.execute(update(t.runs).where(t.runs.c.id == 1).values(duration_s=None))
    history = monitoring.run_history(ws.engine, RunFilter()).set_index("id")
    row = history.loc[2]
    assert history.loc[2, "throughput"] == pytest.approx(row["received"] / row["duration_s"], abs=0.1)
    assert pd.isna(history.loc[1, "throughput"])


def test_error_groups_count_exactly_and_show_three_examples(workspace: Workspace, tmp_path: Path) -> None:
    ids = add_dataflows(workspace, tmp_path / "history", ["alpha"])
    add_runs(workspace, [ids["alpha"]], 1, NOW)
    groups = {("expression_error", "loyalty.points"): 7, ("expect_regex", "email"): 2}
    add_errors(workspace, 1, ids["alpha"], {**groups, ("malformed_row", None): 1})

    found = monitoring.error_groups(workspace.engine, 1, workspace.run_errors(1))

    assert found[["code", "field", "rows"]].values.tolist() == [
        ["expression_error", "loyalty.points", 7],
        ["expect_regex", "email", 2],
        ["malformed_row", "", 1],
    ]
    assert list(found["examples"].map(len)) == [3, 2, 1]
    example = found["examples"].iloc[0][0]
    assert example.startswith("expression_error on row 0 ← key exp-loyalty.points-0:")
    assert "points='-12'" in example


def test_error_groups_count_past_the_rows_read(workspace: Workspace, tmp_path: Path) -> None:
    ids = add_dataflows(workspace, tmp_path / "history", ["alpha"])
    add_runs(workspace, [ids["alpha"]], 1, NOW)
    add_errors(workspace, 1, ids["alpha"], {("expression_error", "loyalty.points"): 30})
    found = monitoring.error_groups(workspace.engine, 1, workspace.run_errors(1, limit=5))
    assert (found["rows"].iloc[0], len(found["examples"].iloc[0])) == (30, 3)


def beat(ws: Workspace, at: datetime, *, stopped: bool = False, owner: str = "host:1:a") -> None:
    with ws.engine.begin() as conn:
        conn.execute(
            insert(t.scheduler_heartbeats).values(
                owner=owner,
                host="host",
                pid=1,
                started_at=at - timedelta(hours=1),
                beat_at=at,
                running=["alpha"],
                stopped_at=at if stopped else None,
            )
        )


def run(ws: Workspace, dataflow_id: int, status: str, started: datetime, failed: int = 0) -> None:
    with ws.engine.begin() as conn:
        conn.execute(
            insert(t.runs).values(
                dataflow_id=dataflow_id,
                status=status,
                trigger="schedule",
                mode="full_refresh",
                started_at=started,
                finished_at=started + timedelta(seconds=5),
                received=100,
                ingested=100 - failed,
                failed=failed,
                error_code="source_unavailable" if status == "failed" else None,
            )
        )


def test_health_classifies_each_dataflow_and_says_what_is_wrong(any_workspace, tmp_path: Path) -> None:
    ws = any_workspace
    ids = add_dataflows(ws, tmp_path / "history", ["alpha", "beta", "gamma", "delta", "idle", "paused"])
    run(ws, ids["alpha"], "failed", NOW - timedelta(days=3))
    run(ws, ids["alpha"], "succeeded", NOW - timedelta(hours=2))
    run(ws, ids["beta"], "succeeded", NOW - timedelta(hours=5))
    run(ws, ids["beta"], "failed", NOW - timedelta(hours=1))
    run(ws, ids["gamma"], "partial", NOW - timedelta(hours=1), failed=3)
    run(ws, ids["delta"], "succeeded", NOW - timedelta(hours=1))
    with ws.engine.begin() as conn:
        conn.execute(update(t.dataflows).where(t.dataflows.c.id == ids["paused"]).values(enabled=0))
        conn.execute(
            insert(t.schedule_state).values(
                dataflow_id=ids["delta"],
                next_due_at=NOW - timedelta(minutes=30),
                last_success_at=NOW - timedelta(minutes=50),
                updated_at=NOW,
            )
        )
    beat(ws, NOW - timedelta(seconds=20))

    found = monitoring.health(ws.engine, NOW)

    states = found.dataflows.set_index("name")
    assert states["state"].to_dict() == {
        "alpha": "ok",
        "beta": "failing",
        "delta": "late",
        "gamma": "partial",
        "idle": "never run",
        "paused": "paused",
    }
    assert states.loc["beta", "failures_24h"] == 1 and states.loc["alpha", "failures_24h"] == 0
    assert states.loc["gamma", "rows_failed_24h"] == 3
    assert states.loc["delta", "last_success_at"] == pd.Timestamp(NOW - timedelta(minutes=50))
    assert states.loc["beta", "last_success_at"] == pd.Timestamp(NOW - timedelta(hours=5, seconds=-5))
    assert found.scheduler.alive and found.scheduler.running == ("alpha",)
    assert found.level == "error"
    assert found.summary.startswith("1 dataflow failing (beta) · 1 dataflow late (delta)")
    assert list(found.recent_failures["dataflow"]) == ["beta"]  # alpha's failure is 3 days old


def test_the_scheduler_is_alive_down_stopped_or_not_started(workspace: Workspace, tmp_path: Path) -> None:
    add_dataflows(workspace, tmp_path / "history", ["alpha"])
    never = monitoring.health(workspace.engine, NOW)
    assert (never.scheduler.state, never.level) == ("not started", "ok")  # nothing is scheduled yet

    with workspace.engine.begin() as conn:
        conn.execute(
            insert(t.schedule_state).values(
                dataflow_id=1, next_due_at=NOW + timedelta(minutes=10), updated_at=NOW
            )
        )
    waiting = monitoring.health(workspace.engine, NOW)
    assert (waiting.scheduler.state, waiting.level) == ("not started", "warning")
    assert waiting.summary.startswith("Scheduler not started")

    beat(workspace, NOW - timedelta(minutes=5))
    stale = monitoring.health(workspace.engine, NOW)
    assert (stale.scheduler.state, stale.level) == ("down", "error")
    assert stale.scheduler.last_beat_at == NOW - timedelta(minutes=5)
    assert stale.summary.startswith("Scheduler down")

    beat(workspace, NOW - timedelta(seconds=10), stopped=True, owner="host:2:b")
    stopped = monitoring.health(workspace.engine, NOW)
    assert (stopped.scheduler.state, stopped.level) == ("stopped", "warning")  # stopped on purpose

    beat(workspace, NOW - timedelta(seconds=10), owner="host:3:c")
    healthy = monitoring.health(workspace.engine, NOW)
    assert healthy.scheduler.alive and healthy.level == "ok"
    assert healthy.summary == "All good: 1 dataflow, none failing or late."


def test_record_counts_per_dataflow(workspace: Workspace, tmp_path: Path) -> None:
    folder = tmp_path / "history"
    add_dataflows(workspace, folder, ["alpha", "beta"])
    (folder / "alpha.csv").write_text("id\n1\n2\n3\n")
    workspace.run("alpha")
    assert monitoring.record_counts(workspace.engine).to_dict() == {"alpha": 3}
