"""Dashboard page load with 10,000 runs and a million profiles in the store, cold and warm cache.

Run from the repository root::

    python -m bench.page_load_bench [--profiles 1000000] [--runs 10000] [--repeat 3] [--store DIR]

Builds a throwaway SQLite store (no demo, no scheduler) holding ``--profiles``
profiles written with bulk writes (as :mod:`bench.profile_lookup_bench` does)
and ``--runs`` runs of its two dataflows over the last 60 days, inserted in
one statement. Then opens each page with Streamlit's AppTest as a signed-in
admin and times the page's script run: cold (``st.cache_data`` cleared, the
workspace already open) and warm (the same page run again). Prints the median
of ``--repeat`` timings per page; the target is under 1 s. ``--store DIR``
keeps the store in DIR and reuses it on the next run (to time a fix without
building the million profiles again).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

PAGES = [
    "pages/overview.py",
    "pages/sources.py",
    "pages/preview.py",
    "pages/mapping.py",
    "pages/dataflows.py",
    "pages/runs.py",
    "pages/alerts.py",
    "pages/profiles.py",
    "pages/admin.py",
]
APP = Path(__file__).resolve().parents[1] / "app.py"
ADMIN = "bench_admin"
PASSWORD = "correct horse battery staple"


def add_runs(workspace: object, dataflow_ids: list[int], count: int, seed: int = 4) -> None:
    """``count`` finished runs spread over the last 60 days, in one INSERT statement."""
    from sqlalchemy import insert

    from core.store import tables as t

    rng = np.random.default_rng(seed)
    now = datetime.now(UTC)
    statuses = rng.choice(["succeeded", "partial", "failed"], count, p=[0.8, 0.15, 0.05])
    minutes = np.sort(rng.integers(0, 60 * 24 * 60, count))[::-1]
    rows = []
    for position in range(count):
        started = now - timedelta(minutes=int(minutes[position]))
        received = int(rng.integers(1_000, 100_000))
        failed = int(received * 0.01) if statuses[position] != "succeeded" else 0
        rows.append(
            {
                "dataflow_id": dataflow_ids[position % len(dataflow_ids)],
                "status": str(statuses[position]),
                "trigger": "schedule",
                "mode": "full_refresh",
                "started_at": started,
                "finished_at": started + timedelta(seconds=30),
                "received": received,
                "ingested": received - failed,
                "failed": failed,
                "deleted": 0,
                "chunks": 1,
                "duration_s": 30.0,
                "error_code": "threshold_exceeded" if statuses[position] == "failed" else None,
            }
        )
    with workspace.engine.begin() as conn:  # type: ignore[attr-defined]
        conn.execute(insert(t.runs), rows)


def build_store(folder: Path, profiles: int, runs: int) -> None:
    """The store under ``folder``: an admin, ``profiles`` profiles, ``runs`` runs."""
    from bench.profile_lookup_bench import CRM, SHOP, build_profiles
    from core.services import Workspace

    workspace = Workspace.open()
    workspace.users.create(ADMIN, PASSWORD, "admin", [])
    started = time.perf_counter()
    build_profiles(workspace, profiles)
    print(f"{profiles:,} profiles written in {time.perf_counter() - started:.0f} s")
    started = time.perf_counter()
    add_runs(workspace, [workspace.store.dataflow_row(name)["id"] for name in (CRM, SHOP)], runs)
    print(f"{runs:,} runs written in {time.perf_counter() - started:.1f} s")
    workspace.engine.dispose()


def time_page(page: str) -> float:
    """Seconds of one script run of ``page`` (app.py routing to it), for a signed-in admin."""
    from streamlit.testing.v1 import AppTest

    from ui.state import SIGNED_IN, SIGNED_IN_WITH

    at = AppTest.from_file(str(APP), default_timeout=600)
    at.session_state[SIGNED_IN] = ADMIN
    at.session_state[SIGNED_IN_WITH] = "password"
    at.switch_page(page)
    started = time.perf_counter()
    at.run()
    elapsed = time.perf_counter() - started
    assert not at.exception, (page, at.exception)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--store", type=Path, help="a folder to keep the store in, reused when it holds one")
    parser.add_argument("--pages", default=",".join(PAGES), help="comma-separated pages to time")
    args = parser.parse_args()
    folder = (args.store or Path(tempfile.mkdtemp(prefix="tributary-page-bench-"))) / "workspace"
    built = (folder / "tributary.db").exists()
    os.environ.update(
        TRIBUTARY_WORKSPACE=str(folder),
        TRIBUTARY_DATABASE_URL=f"sqlite:///{folder / 'tributary.db'}",
        TRIBUTARY_DEMO="0",
        TRIBUTARY_SCHEDULER="0",
    )
    if not built:
        build_store(folder, args.profiles, args.runs)

    import streamlit as st

    time_page("pages/overview.py")  # opens the workspace once (st.cache_resource), as a running server has
    print(f"{'page':<22}{'cold (s)':>10}{'warm (s)':>10}")
    for page in args.pages.split(","):
        cold, warm = [], []
        for _ in range(args.repeat):
            st.cache_data.clear()
            cold.append(time_page(page))
            warm.append(time_page(page))
        print(f"{page:<22}{statistics.median(cold):>10.2f}{statistics.median(warm):>10.2f}")


if __name__ == "__main__":
    main()
