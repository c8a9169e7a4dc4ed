"""A frozen clock drives the scheduler over a real store: restarts, catch-up, changes, pauses."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, update

from core.scheduler import Scheduler, SchedulerSettings, health, scheduler_status, state
from core.store import tables as t
from core.store.repository import utcnow
from tests.scheduler.conftest import run_rows, save_files_dataflow, scheduler, tick

HOURLY = {"every": "1 hour", "timezone": "Europe/Paris"}


def states_by_name(workspace) -> dict[str, state.ScheduleState]:
    ids = {row["id"]: row["name"] for row in workspace.store.dataflow_rows()}
    return {ids[i]: s for i, s in state.read_states(workspace.engine).items() if i in ids}


def test_runs_each_slot_once_and_a_restart_neither_loses_nor_repeats(any_workspace, source, clock):
    save_files_dataflow(any_workspace, "hourly", source, HOURLY)
    first = scheduler(any_workspace, clock)
    assert tick(first) == []  # first seen at 09:07: due at 10:00, not now
    assert states_by_name(any_workspace)["hourly"].next_due_at == datetime(2026, 3, 2, 10, tzinfo=UTC)
    clock.set(2026, 3, 2, 10, 0)
    assert tick(first) == ["hourly"]
    assert tick(first) == []  # the same slot, again: nothing
    first.shutdown()

    # a new process (a restart) reads the state: the 10:00 slot is not run again
    second = scheduler(any_workspace, clock)
    clock.set(2026, 3, 2, 10, 30)
    assert tick(second) == []
    clock.set(2026, 3, 2, 11, 0, 1)
    assert tick(second) == ["hourly"]
    runs = run_rows(any_workspace, "hourly")
    assert list(runs["status"]) == ["succeeded", "succeeded"]
    assert set(runs["trigger"]) == {"schedule"}
    saved = states_by_name(any_workspace)["hourly"]
    assert saved.last_due_at == datetime(2026, 3, 2, 11, tzinfo=UTC)
    assert saved.next_due_at == datetime(2026, 3, 2, 12, tzinfo=UTC)
    assert saved.last_success_at == clock.now
    assert saved.last_run_id == int(runs["id"].iloc[-1])
    second.shutdown()


def test_after_downtime_one_catch_up_run_then_the_first_slot_after_now(any_workspace, source, clock):
    save_files_dataflow(any_workspace, "hourly", source, HOURLY)
    save_files_dataflow(any_workspace, "daily", source, {"every": "day", "start": "2026-01-01 06:00"})
    assert tick(scheduler(any_workspace, clock)) == []
    # down from 09:07 until the next day 15:20: eight hourly slots and one daily slot missed
    clock.set(2026, 3, 3, 15, 20)
    restarted = scheduler(any_workspace, clock)
    assert tick(restarted) == ["daily", "hourly"]
    assert tick(restarted) == []
    states = states_by_name(any_workspace)
    assert states["hourly"].next_due_at == datetime(2026, 3, 3, 16, tzinfo=UTC)
    assert states["hourly"].last_due_at == datetime(2026, 3, 2, 10, tzinfo=UTC)  # the slot it caught up
    assert states["daily"].next_due_at == datetime(2026, 3, 4, 6, tzinfo=UTC)
    assert len(run_rows(any_workspace)) == 2


def test_schedule_changes_pauses_deletions_and_new_dataflows_need_no_restart(any_workspace, source, clock):
    save_files_dataflow(any_workspace, "a", source, HOURLY)
    save_files_dataflow(any_workspace, "b", source, HOURLY)
    running = scheduler(any_workspace, clock)
    assert tick(running) == []

    # changed: every 15 minutes now; the next slot is recomputed at once
    save_files_dataflow(any_workspace, "a", source, {"every": "15 minutes"})
    # paused, by its spec
    save_files_dataflow(any_workspace, "b", source, HOURLY, enabled=False)
    # new
    save_files_dataflow(any_workspace, "c", source, {"once": True})
    assert tick(running) == ["c"]  # a one-off without a start runs as soon as it is seen
    assert states_by_name(any_workspace)["a"].next_due_at == datetime(2026, 3, 2, 9, 15, tzinfo=UTC)
    clock.set(2026, 3, 2, 10, 0)
    assert tick(running) == ["a"]  # b is paused, c ran once
    clock.set(2026, 3, 2, 10, 15)
    # deleted (its state goes with it), and paused in the dataflows table
    with any_workspace.engine.begin() as c:
        dataflow_id = any_workspace.store.dataflow_row("c")["id"]
        c.execute(delete(t.runs).where(t.runs.c.dataflow_id == dataflow_id))
        c.execute(delete(t.dataflows).where(t.dataflows.c.id == dataflow_id))
        c.execute(update(t.dataflows).where(t.dataflows.c.name == "a").values(enabled=0))
    assert tick(running) == []
    assert "c" not in states_by_name(any_workspace)

    # resumed: the slot missed while paused runs once
    save_files_dataflow(any_workspace, "b", source, HOURLY, enabled=True)
    assert tick(running) == ["b"]
    assert tick(running) == []
    # a schedule removed: manual only from now on
    save_files_dataflow(any_workspace, "b", source, None)
    clock.set(2026, 3, 2, 23, 0)
    assert tick(running) == []
    assert states_by_name(any_workspace)["b"].next_due_at is None
    running.shutdown()


def test_a_changed_one_off_runs_again_but_an_unrelated_edit_does_not(any_workspace, source, clock):
    save_files_dataflow(
        any_workspace, "once", source, {"once": True, "start": "2026-03-02 11:00", "timezone": "Europe/Paris"}
    )
    running = scheduler(any_workspace, clock)
    assert tick(running) == []
    clock.set(2026, 3, 2, 10, 0)  # 11:00 in Paris
    assert tick(running) == ["once"]
    clock.set(2026, 3, 5)
    assert tick(running) == []
    # an edit to the mapping keeps the schedule: no new run
    save_files_dataflow(
        any_workspace,
        "once",
        source,
        {"once": True, "start": "2026-03-02 11:00", "timezone": "Europe/Paris"},
        description="edited",
    )
    assert tick(running) == []
    # a new start is a new one-off
    save_files_dataflow(any_workspace, "once", source, {"once": True, "start": "2026-03-06 08:00"})
    assert tick(running) == []
    clock.set(2026, 3, 6, 8, 0)  # UTC, the default zone
    assert tick(running) == ["once"]
    assert len(run_rows(any_workspace, "once")) == 2


def test_of_two_schedulers_seeing_one_slot_only_one_claims_it(any_workspace, source, clock):
    save_files_dataflow(any_workspace, "hourly", source, HOURLY)
    tick(scheduler(any_workspace, clock))
    clock.set(2026, 3, 2, 10, 0)
    entries = state.refresh(any_workspace.engine, clock.now)
    # both read the same due state; the second compare-and-swap finds it moved on
    assert state.claim(any_workspace.engine, entries[0], clock.now) is not None
    assert state.claim(any_workspace.engine, entries[0], clock.now) is None
    assert state.refresh(any_workspace.engine, clock.now)[0].state.due(clock.now) is None


def test_a_schedule_below_the_minimum_runs_at_the_minimum(workspace, source, clock, monkeypatch):
    monkeypatch.setenv("TRIBUTARY_MIN_INTERVAL_MINUTES", "1")
    save_files_dataflow(workspace, "often", source, {"every": "2 minutes"})
    running = scheduler(workspace, clock, min_interval_minutes=30)
    tick(running)
    assert states_by_name(workspace)["often"].next_due_at == datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    running.shutdown()


def test_a_full_pool_claims_nothing_more_and_leaves_the_slots_to_others(workspace, source, clock):
    for name in ("a", "b", "c"):
        save_files_dataflow(workspace, name, source, {"once": True})
    busy = scheduler(workspace, clock, workers=2)
    claims = busy.tick()
    assert len(claims) == 2
    busy.wait(60)
    assert tick(busy) == ["c"]
    busy.shutdown()


def test_serve_ticks_beats_and_runs_extra_jobs_until_stopped(workspace, source):
    save_files_dataflow(workspace, "now", source, {"once": True})
    running = Scheduler(workspace, SchedulerSettings(tick_seconds=0.1, heartbeat_seconds=0.1))
    stop, calls = threading.Event(), []

    def flaky() -> None:
        calls.append(1)
        raise RuntimeError("an extra job failing does not stop the loop")

    server = threading.Thread(target=running.serve, args=(stop, [(0.05, flaky)]))
    server.start()
    try:
        deadline = time.monotonic() + 30
        while run_rows(workspace).empty or len(calls) < 3:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert scheduler_status(workspace.engine).alive
    finally:
        stop.set()
        server.join(timeout=30)
    assert running.shutdown() == []
    assert not scheduler_status(workspace.engine).alive
    assert run_rows(workspace)["status"].tolist() == ["succeeded"]


def test_a_scheduler_is_alive_while_it_beats_within_three_intervals(workspace):
    health.register(workspace.engine, "host:1:abc")
    health.beat(workspace.engine, "host:1:abc", ["crm"])
    now = utcnow()
    status = scheduler_status(workspace.engine, now=now, heartbeat_seconds=10)
    assert (status.alive, status.owners, status.running) == (True, ("host:1:abc",), ("crm",))
    silent = scheduler_status(workspace.engine, now=now + timedelta(seconds=31), heartbeat_seconds=10)
    assert (silent.alive, silent.owners, silent.last_beat) == (False, (), status.last_beat)
    health.mark_stopped(workspace.engine, "host:1:abc")
    assert not scheduler_status(workspace.engine, heartbeat_seconds=10).alive
