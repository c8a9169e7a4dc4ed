"""Helpers for scheduler tests: a frozen clock, a CSV source, dataflows on schedules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from core.scheduler import Scheduler, SchedulerSettings
from core.services import Workspace


class FrozenClock:
    """A clock that moves only when told."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now

    def set(self, *parts: int) -> datetime:
        self.now = datetime(*parts, tzinfo=UTC)
        return self.now


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2026, 3, 2, 9, 7, tzinfo=UTC))


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """A folder with customers.csv (100 rows)."""
    folder = tmp_path / "source"
    folder.mkdir()
    write_customers(folder / "customers.csv", 100)
    return folder


def write_customers(path: Path, rows: int) -> None:
    ids = np.arange(rows)
    pd.DataFrame(
        {"customer_id": ids, "email": pd.Series(ids).astype(str) + "@example.com", "points": ids % 1000}
    ).to_csv(path, index=False)


def save_files_dataflow(
    workspace: Workspace,
    name: str,
    folder: Path,
    schedule: dict[str, Any] | None,
    *,
    stream: str = "customers.csv",
    chunk_size: int = 50_000,
    quality: bool = False,
    **extra: Any,
) -> None:
    """Saves a files connection on ``folder`` (once) and a dataflow reading ``stream`` from it."""
    workspace.save_connection("files", "files", {"url": str(folder)})
    spec: dict[str, Any] = {
        "source": {"connection": "files", "stream": stream, "format": {"type": "csv"}},
        "sync": {"mode": "full_refresh", "primary_key": ["customer_id"], "chunk_size": chunk_size},
        "mapping": {
            "crmId": "customer_id",
            "personalEmail.address": "email",
            "loyalty.points": "to_int(points)",
        },
        **extra,
    }
    if quality:
        spec["quality"] = [
            {"expect_column_values_to_not_be_null": {"column": "crmId"}},
            {"expect_column_values_to_match_regex": {"column": "personalEmail.address", "regex": "@"}},
        ]
    if schedule is not None:
        spec["schedule"] = schedule
    workspace.save_dataflow(name, spec)


def scheduler(workspace: Workspace, clock: FrozenClock, **settings: Any) -> Scheduler:
    """A scheduler on ``workspace`` whose time is ``clock``."""
    return Scheduler(workspace, SchedulerSettings(**settings), clock=clock)


def tick(scheduler: Scheduler) -> list[str]:
    """One tick, waiting for its runs; the names of the dataflows it started."""
    claims = scheduler.tick()
    assert scheduler.wait(timeout=120)
    return sorted(claim.name for claim in claims)


def run_rows(workspace: Workspace, name: str | None = None) -> pd.DataFrame:
    """Runs oldest first."""
    runs = workspace.runs(name, limit=10_000)
    return runs.sort_values("id").reset_index(drop=True) if not runs.empty else runs
