"""Overview: is everything OK? The status line, scheduler health, dataflow states, failures, figures."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import delete, insert

from core.services import Workspace
from core.store import tables as t
from tests.pages.apptest import open_page, texts
from tests.run_history import busy_store as build_busy_store


def test_metrics_match_the_workspace_figures() -> None:
    at = open_page("pages/overview.py")
    assert not at.exception
    figures = Workspace.open().overview()
    shown = {metric.label: metric.value for metric in at.metric}
    assert shown["Connections"] == f"{figures['connections']:,}"
    assert shown["Dataflows"] == f"{figures['dataflows']:,}"
    assert shown["Records ingested"] == f"{figures['records_ingested']:,}"
    assert shown["Rows quarantined"] == f"{figures['rows_failed']:,}"
    assert figures["records_ingested"] > 0  # the demo ran


def test_dataflow_states_and_latest_runs() -> None:
    at = open_page("pages/overview.py")
    flows, runs = at.dataframe[0].value, at.dataframe[1].value
    ws = Workspace.open()
    states = flows.set_index("name")
    assert {"crm_contacts", "shop_orders"} <= set(states.index)
    assert states.loc["crm_contacts", "last_status"] in {"succeeded", "partial"}
    assert states.loc["crm_contacts", "records"] == ws.record_count("crm_contacts")
    assert {"state", "last_success_at", "next_due_at", "failures_24h"} <= set(flows.columns)
    assert 2 <= len(runs) <= 10
    assert list(runs["id"]) == sorted(runs["id"], reverse=True)  # newest first
    assert any(link.proto.page.endswith("runs") for link in at.get("page_link"))


@pytest.fixture
def heartbeat() -> Iterator[None]:
    """A scheduler that beat a few seconds ago, removed afterwards (the demo store is shared)."""
    ws = Workspace.open()
    now = datetime.now(UTC)
    with ws.engine.begin() as conn:
        conn.execute(
            insert(t.scheduler_heartbeats).values(
                owner="page-test:1:x", host="page-test", pid=1, started_at=now, beat_at=now, running=[]
            )
        )
    yield
    with ws.engine.begin() as conn:
        conn.execute(delete(t.scheduler_heartbeats).where(t.scheduler_heartbeats.c.owner == "page-test:1:x"))


def test_scheduler_not_started_then_alive(heartbeat) -> None:
    ws = Workspace.open()
    with ws.engine.begin() as conn:
        conn.execute(delete(t.scheduler_heartbeats))
    at = open_page("pages/overview.py")
    status_line = texts(at.error) + texts(at.warning)  # an error when other tests left a failing dataflow
    assert status_line.startswith("Scheduler not started")  # the demo's dataflows have schedules

    now = datetime.now(UTC)
    with ws.engine.begin() as conn:
        conn.execute(
            insert(t.scheduler_heartbeats).values(
                owner="page-test:1:x", host="page-test", pid=1, started_at=now, beat_at=now, running=[]
            )
        )
    at = open_page("pages/overview.py")
    assert not at.exception
    assert "Scheduler" not in texts(at.error) + texts(at.warning)
    assert "Scheduler alive on page-test" in texts(at.markdown)


# -- a busy workspace ------------------------------------------------------------------
@pytest.fixture(scope="module")
def busy_store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A store of its own with 600 runs of three dataflows, alpha late on its schedule."""
    store = build_busy_store(tmp_path_factory.mktemp("overview") / "workspace", 600, {})
    with pytest.MonkeyPatch.context() as patch:
        for name, value in store["env"].items():
            patch.setenv(name, value)
        ws = Workspace.open()
        with ws.engine.begin() as conn:
            conn.execute(
                insert(t.schedule_state).values(
                    dataflow_id=store["ids"]["alpha"],
                    next_due_at=datetime.now(UTC) - timedelta(hours=2),
                    updated_at=datetime.now(UTC),
                )
            )
        ws.engine.dispose()
    return store


@pytest.fixture
def busy(busy_store: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    for name, value in busy_store["env"].items():
        monkeypatch.setenv(name, value)
    return busy_store


def test_states_failures_and_links_over_hundreds_of_runs(busy) -> None:
    runs, ids = busy["runs"], busy["ids"]
    at = open_page("pages/overview.py")
    assert not at.exception

    latest = runs.sort_values("id").groupby("dataflow_id").last()
    names = {number: name for name, number in ids.items()}
    failing = sorted(names[i] for i in latest.index if latest.loc[i, "status"] in {"failed", "abandoned"})
    status_line = texts(at.error) + texts(at.warning)
    assert status_line.startswith("Scheduler not started")
    if failing:
        assert f"failing ({', '.join(failing)})" in texts(at.error)

    flows = at.dataframe[0].value.set_index("name")
    day = runs[
        pd.to_datetime(runs["started_at"], utc=True) >= pd.Timestamp.now(tz="UTC") - pd.Timedelta(hours=24)
    ]
    for name, number in ids.items():
        mine = day[day["dataflow_id"] == number]
        assert flows.loc[name, "runs_24h"] == len(mine)
        assert flows.loc[name, "failures_24h"] == mine["status"].isin(["failed", "abandoned"]).sum()
    assert pd.notna(flows.loc["alpha", "next_due_at"])

    failed = day[day["status"].isin(["failed", "abandoned"])].sort_values("id", ascending=False).head(10)
    links = [link for link in at.get("page_link") if link.proto.query_string]
    assert [link.proto.query_string for link in links] == [f"run={i}" for i in failed["id"]]
    assert all(link.proto.page.endswith("runs") for link in links)


def test_a_late_dataflow_is_named_when_it_is_not_failing(busy) -> None:
    at = open_page("pages/overview.py")
    state = at.dataframe[0].value.set_index("name").loc["alpha", "state"]
    assert state in {"Late", "Failing"}  # failing outranks late
    if state == "Late":
        assert "1 dataflow late (alpha)" in texts(at.error) + texts(at.warning)
