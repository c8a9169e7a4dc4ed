"""Fills a store with many runs and quarantined rows quickly, written straight into its tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import insert

from core.services import Workspace
from core.store import tables as t

#: The status mix of generated runs (weights sum to 1).
STATUS_MIX = {"succeeded": 0.6, "partial": 0.25, "failed": 0.1, "abandoned": 0.05}
#: Minutes before now where the pages' time ranges end (24 hours, 7 and 30 days).
EDGES = (24 * 60, 7 * 24 * 60, 30 * 24 * 60)


def busy_store(folder: Path, run_count: int, errors: dict[tuple[str, str | None], int]) -> dict[str, Any]:
    """A store of its own with dataflows alpha, beta and gamma, ``run_count`` runs over 60 days up to
    now, and ``errors`` quarantined for beta's oldest run. Returns the environment that opens it
    (for the dashboard), the runs as written (with their ids), the dataflow ids and that run's id.
    """
    env = {
        "TRIBUTARY_WORKSPACE": str(folder),
        "TRIBUTARY_DATABASE_URL": f"sqlite:///{folder / 'tributary.db'}",
        "TRIBUTARY_DEMO": "0",
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        ws = Workspace.open()
        ids = add_dataflows(ws, folder / "data", ["alpha", "beta", "gamma"])
        runs = add_runs(ws, list(ids.values()), run_count, datetime.now(UTC))
        runs["id"] = range(1, len(runs) + 1)
        diagnosed = int(runs.loc[runs["dataflow_id"] == ids["beta"], "id"].iloc[0])
        add_errors(ws, diagnosed, ids["beta"], errors)
        ws.engine.dispose()
    return {"env": env, "runs": runs, "ids": ids, "diagnosed": diagnosed, "folder": folder}


def add_dataflows(ws: Workspace, folder: Path, names: list[str]) -> dict[str, int]:
    """Saves a files connection and one small dataflow per name; returns name -> id."""
    folder.mkdir(parents=True, exist_ok=True)
    ws.save_connection("history_files", "files", {"url": str(folder)})
    for name in names:
        ws.save_dataflow(
            name,
            {
                "source": {"connection": "history_files", "stream": f"{name}.csv"},
                "sync": {"mode": "full_refresh", "primary_key": ["id"]},
                "mapping": {"crmId": "id"},
            },
        )
    return {name: int(ws.store.dataflow_row(name)["id"]) for name in names}


def add_runs(
    ws: Workspace, dataflow_ids: list[int], count: int, now: datetime, days: int = 60
) -> pd.DataFrame:
    """Inserts ``count`` finished runs spread over the ``days`` before ``now``; returns them as written."""
    rng = np.random.default_rng(7)
    minutes = rng.integers(1, days * 24 * 60, count)
    for edge in EDGES:  # keep clear of the pages' time ranges, so a test running slowly counts the same
        minutes = np.where(np.abs(minutes - edge) < 30, minutes + 60, minutes)
    started = [now - timedelta(minutes=int(m)) for m in minutes]
    statuses = rng.choice(list(STATUS_MIX), size=count, p=list(STATUS_MIX.values()))
    received = rng.integers(100, 5_000, count)
    failed = np.where(statuses == "partial", received // 20, np.where(statuses == "failed", received // 5, 0))
    duration = rng.uniform(0.5, 30.0, count).round(2)
    frame = pd.DataFrame(
        {
            "dataflow_id": rng.choice(dataflow_ids, size=count),
            "status": statuses,
            "trigger": "schedule",
            "mode": "full_refresh",
            "started_at": started,
            "finished_at": [s + timedelta(seconds=float(d)) for s, d in zip(started, duration, strict=True)],
            "received": received,
            "ingested": np.where(statuses == "failed", 0, received - failed),
            "failed": failed,
            "deleted": 0,
            "chunks": 1,
            "duration_s": duration,
            "error_code": np.where(statuses == "failed", "error_threshold", None),
            "error_message": np.where(statuses == "failed", "Too many rows failed.", None),
            "dataflow_version": 1,
        }
    ).sort_values("started_at", ignore_index=True)
    rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
    with ws.engine.begin() as conn:
        conn.execute(insert(t.runs), rows)
    return frame


def add_errors(
    ws: Workspace, run_id: int, dataflow_id: int, groups: dict[tuple[str, str | None], int]
) -> None:
    """Quarantines rows for a run: ``groups`` maps (code, field) to how many rows to add."""
    rows = []
    for (code, field), count in groups.items():
        for number in range(count):
            key = f"{code[:3]}-{field}-{number}"
            rows.append(
                {
                    "run_id": run_id,
                    "dataflow_id": dataflow_id,
                    "source_key": key,
                    "origin": f"rows.csv#{len(rows) + 1}",
                    "code": code,
                    "field": field,
                    "reason": f"{field}: {code} on row {number}",
                    "row": {"id": key, "email": '=HYPERLINK("http://x")', "points": "-12"},
                }
            )
    if rows:
        with ws.engine.begin() as conn:
            conn.execute(insert(t.run_errors), rows)
