"""Real scheduler processes: racing on one store, a stalled lease holder, stopping, starting one."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import text

from core.scheduler import ensure_scheduler, health, run_now, scheduler_status, state
from core.store.repository import utcnow
from tests.scheduler.conftest import save_files_dataflow, write_customers

ROOT = Path(__file__).resolve().parents[2]
CLAIM = re.compile(r"\[(\d+)\]: claimed (\S+) (schedule|retry) slot (\S+) attempt (\d+)")


def start_scheduler(log: Path, *args: str, **env: str) -> subprocess.Popen[bytes]:
    """``python -m core.scheduler ARGS`` on the test's store, its output in ``log``."""
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "TRIBUTARY_MIN_INTERVAL_MINUTES": "1", **env}
    with log.open("wb") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "core.scheduler", *args],
            cwd=ROOT,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def wait_for(condition, timeout: float, what: str, every: float = 0.05):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


def live_schedulers(engine) -> int:
    with engine.connect() as c:
        return int(
            c.execute(text("select count(*) from scheduler_heartbeats where stopped_at is null")).scalar()
        )


def runs_frame(engine) -> pd.DataFrame:
    query = (
        "select r.id, d.name, r.status, r.trigger, r.error_code, r.started_at, r.finished_at, r.chunks "
        "from runs r join dataflows d on d.id = r.dataflow_id order by r.id"
    )
    with engine.connect() as c:
        frame = pd.DataFrame(c.execute(text(query)).mappings().all())
    for column in ("started_at", "finished_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")
    return frame


@pytest.mark.parametrize("processes", [2, 5])
def test_racing_schedulers_never_overlap_a_dataflow_nor_run_a_slot_twice(
    any_workspace, tmp_path, processes, monkeypatch
):
    monkeypatch.setenv("TRIBUTARY_MIN_INTERVAL_MINUTES", "1")  # saving checks it, as the schedulers do
    folder = tmp_path / "source"
    folder.mkdir()
    write_customers(folder / "customers.csv", 6000)
    names = ["alpha", "beta", "gamma"]
    for name in names:
        save_files_dataflow(any_workspace, name, folder, {"every": "1 minute"}, chunk_size=300)
    # schedule time runs 60 times faster (shared by all processes): a slot per dataflow every second
    warp = f"{time.time():.3f}:60"
    logs = [tmp_path / f"scheduler-{i}.log" for i in range(processes)]
    args = ["--tick-seconds", "0.2", "--workers", "2", "--grace", "60", "--time-warp", warp]
    children = [start_scheduler(log, *args) for log in logs]
    try:
        wait_for(lambda: live_schedulers(any_workspace.engine) == processes, 90, "the schedulers to start")
        time.sleep(8)
    finally:
        for child in children:
            child.send_signal(signal.SIGTERM)
        codes = [child.wait(timeout=90) for child in children]
    output = "\n".join(log.read_text() for log in logs)
    assert codes == [0] * processes, output[-3000:]

    claims = [(m[2], m[3], m[4]) for m in CLAIM.finditer(output)]
    slots = Counter((name, slot) for name, trigger, slot in claims if trigger == "schedule")
    assert slots and max(slots.values()) == 1  # no slot claimed twice
    runs = runs_frame(any_workspace.engine)
    assert set(runs["status"]) == {"succeeded"}
    skipped = output.count("is running in another process")
    assert len(runs) + skipped == len(claims)  # each claim ran, or found its dataflow running elsewhere
    overlaps = 0
    for name in names:
        mine = runs[runs["name"] == name].sort_values("started_at")
        overlaps += int(
            (mine["started_at"].iloc[1:].to_numpy() < mine["finished_at"].iloc[:-1].to_numpy()).sum()
        )
    assert overlaps == 0
    claimers = {m[1] for m in CLAIM.finditer(output)}
    print(
        f"\n{processes} schedulers on {any_workspace.engine.dialect.name}: {len(claims)} slots claimed "
        f"by {len(claimers)} processes, {len(runs)} runs, {skipped} skipped "
        f"(the dataflow was running elsewhere), {overlaps} overlaps"
    )
    with any_workspace.engine.connect() as c:
        for name in names:
            assert c.execute(text(f"select count(distinct _source_key), count(*) from ds_{name}")).one() == (
                6000,
                6000,
            )
    assert live_schedulers(any_workspace.engine) == 0  # each one said it stopped


def test_a_stalled_lease_holder_cannot_commit_after_another_took_over(any_workspace, tmp_path, monkeypatch):
    rows, chunk, ttl = 10_000, 500, 2.0
    monkeypatch.setenv("TRIBUTARY_LEASE_TTL_S", str(ttl))
    folder = tmp_path / "source"
    folder.mkdir()
    write_customers(folder / "customers.csv", rows)
    save_files_dataflow(any_workspace, "slow", folder, {"once": True}, chunk_size=chunk, quality=True)
    engine = any_workspace.engine
    stalled = start_scheduler(tmp_path / "stalled.log", "--once")

    def chunks_committed() -> int:
        with engine.connect() as c:
            return int(c.execute(text("select coalesce(max(chunks), 0) from runs")).scalar())

    # stop it just after a commit, while it prepares the next chunk (outside any transaction)
    wait_for(lambda: chunks_committed() >= 2, 90, "the first chunks", every=0.2)
    seen = chunks_committed()
    wait_for(lambda: chunks_committed() > seen, 30, "one more chunk", every=0.005)
    stalled.send_signal(signal.SIGSTOP)
    try:
        time.sleep(ttl + 1.5)  # its lease expires: nothing renews it
        result = {}
        taker = threading.Thread(target=lambda: result.update(summary=run_now(any_workspace, "slow")))
        taker.start()
        taker.join(timeout=60)
        took_over_while_stalled = not taker.is_alive()
    finally:
        woke_at = utcnow()
        stalled.send_signal(signal.SIGCONT)
    taker.join(timeout=60)
    assert stalled.wait(timeout=60) == 0
    assert took_over_while_stalled, "the stalled process held a write transaction; the takeover waited"

    summary = result["summary"]
    assert summary.status == "succeeded"
    runs = runs_frame(engine).set_index("id")
    first = runs.drop(summary.run_id).iloc[0]
    assert (first["status"], first["error_code"]) == ("failed", "lease_lost")
    with engine.connect() as c:
        total, distinct = c.execute(text("select count(*), count(distinct _source_key) from ds_slow")).one()
        written, last_write = c.execute(
            text("select count(*), max(_ingested_at) from ds_slow where _run_id = :r"), {"r": int(first.name)}
        ).one()
    assert (total, distinct) == (rows, rows)
    assert written == first["chunks"] * chunk  # everything it committed, it committed before stalling
    last_write = pd.Timestamp(last_write)
    assert (last_write if last_write.tzinfo else last_write.tz_localize("UTC")) < woke_at
    assert summary.received == rows - written  # the takeover resumed after its chunks
    assert "slow: failed" in (tmp_path / "stalled.log").read_text()
    saved = state.read_state(engine, any_workspace.store.dataflow_row("slow")["id"])
    assert saved is not None and saved.retry_at is None  # lost to another process: no retry


def test_stopping_mid_run_hands_the_run_to_the_next_scheduler(workspace, tmp_path):
    folder = tmp_path / "source"
    folder.mkdir()
    # 100 chunks: the rest of the run takes far longer than the grace period, however fast the machine
    rows = 50_000
    write_customers(folder / "customers.csv", rows)
    save_files_dataflow(workspace, "slow", folder, {"once": True}, chunk_size=500, quality=True)
    log = tmp_path / "scheduler.log"
    child = start_scheduler(log, "--tick-seconds", "0.5", "--grace", "0.5")
    with workspace.engine.connect() as c:
        wait_for(lambda: c.execute(text("select max(chunks) from runs")).scalar(), 90, "a chunk")
    child.send_signal(signal.SIGTERM)
    assert child.wait(timeout=30) == 0
    output = log.read_text()
    assert "gave up on slow after the grace period" in output
    assert live_schedulers(workspace.engine) == 0
    interrupted = runs_frame(workspace.engine).iloc[0]
    assert (interrupted["status"], interrupted["error_code"]) == ("abandoned", "interrupted")
    # the next scheduler retries it at once and finishes it
    again = start_scheduler(tmp_path / "again.log", "--once")
    assert again.wait(timeout=120) == 0
    runs = runs_frame(workspace.engine)
    assert runs["trigger"].tolist() == ["schedule", "retry"]
    assert runs["status"].iloc[-1] == "succeeded"
    assert workspace.record_count("slow") == rows


def test_ensure_scheduler_starts_one_detached_and_only_one(workspace):
    assert not scheduler_status(workspace.engine).alive
    assert ensure_scheduler() is True
    pid = None
    try:
        assert ensure_scheduler() is False  # starting: not a second one
        status = wait_for(lambda: (s := scheduler_status(workspace.engine)).alive and s, 60, "a heartbeat")
        assert len(status.owners) == 1
        pid = int(status.owners[0].split(":")[1])
        assert ensure_scheduler() is False  # alive
        assert "scheduler" in (Path(os.environ["TRIBUTARY_WORKSPACE"]) / "scheduler.log").read_text()
    finally:
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
        for child in health._spawned:
            child.wait(timeout=60)
    stopped = scheduler_status(workspace.engine)
    assert not stopped.alive and stopped.last_beat is not None
