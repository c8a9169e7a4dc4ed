"""Event detection from real runs and from scheduler rows: each rule, its key, and idempotence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, update

from core.alerts import AlertCenter
from core.services import Workspace
from core.store import tables as t
from tests.alerts.conftest import add_dataflow, run, write_rows


def kinds(center: AlertCenter, now: datetime | None = None) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for event in center.detect(now):
        found.setdefault(event.kind, []).append(event.key)
    return found


def beat(workspace: Workspace, owner: str, at: datetime, stopped: datetime | None = None) -> None:
    with workspace.engine.begin() as c:
        c.execute(
            insert(t.scheduler_heartbeats).values(
                owner=owner, host="here", pid=1, started_at=at, beat_at=at, stopped_at=stopped
            )
        )


def due(workspace: Workspace, dataflow: str, at: datetime) -> None:
    dataflow_id = workspace.store.dataflow_row(dataflow)["id"]
    with workspace.engine.begin() as c:
        c.execute(insert(t.schedule_state).values(dataflow_id=dataflow_id, next_due_at=at, updated_at=at))


def test_a_failed_run_is_one_event_with_a_stable_key(workspace, center, source: Path) -> None:
    add_dataflow(workspace, "contacts", every=None)
    write_rows(source, "contacts", good=0, bad=10)
    run_id = run(workspace, "contacts", "failed")

    events = center.detect()
    assert [e.key for e in events] == [f"run_failed:{run_id}"]
    event = events[0]
    assert event.dataflow == "contacts" and event.run_id == run_id and event.status == "failed"
    assert "error_threshold" in event.summary and "10 of 10 rows failed" in event.summary
    assert [e.key for e in center.detect()] == [event.key]  # detecting again finds the same occurrence


def test_partial_runs_alert_above_half_the_threshold_or_the_configured_rate(
    workspace, center, source: Path
) -> None:
    add_dataflow(workspace, "leads", threshold=0.3, every=None)  # warning level: 15%
    write_rows(source, "leads", good=8, bad=2)
    over = run(workspace, "leads", "partial")  # 20% quarantined
    write_rows(source, "leads", good=9, bad=1, start=100, day="02")
    under = run(workspace, "leads", "partial")  # 10%

    assert kinds(center) == {"run_partial": [f"run_partial:{over}"]}
    event = center.detect()[0]
    assert "20.0%" in event.title and "15.0% warning level" in event.summary

    center.save_rules({"partial_rate": 0.05})
    assert kinds(center) == {"run_partial": [f"run_partial:{over}", f"run_partial:{under}"]}


def test_no_data_alerts_once_per_streak_of_empty_scheduled_runs(workspace, center, source: Path) -> None:
    add_dataflow(workspace, "orders")  # every hour
    add_dataflow(workspace, "manual", every=None)
    write_rows(source, "orders", good=5)
    write_rows(source, "manual", good=5)
    run(workspace, "orders", "succeeded")
    run(workspace, "manual", "succeeded")
    empty = [run(workspace, "orders", "succeeded") for _ in range(2)]
    for _ in range(3):
        run(workspace, "manual", "succeeded")
    assert "no_data" not in kinds(center)  # two empty runs, and the manual dataflow is not watched

    run(workspace, "orders", "succeeded")
    assert kinds(center)["no_data"] == [f"no_data:{workspace.store.dataflow_row('orders')['id']}:{empty[0]}"]
    run(workspace, "orders", "succeeded")  # a longer streak is the same occurrence
    assert len(kinds(center)["no_data"]) == 1

    write_rows(source, "orders", good=2, start=50, day="02")
    run(workspace, "orders", "succeeded")
    assert "no_data" not in kinds(center)  # data came back
    again = [run(workspace, "orders", "succeeded") for _ in range(3)]
    assert kinds(center)["no_data"] == [f"no_data:{workspace.store.dataflow_row('orders')['id']}:{again[0]}"]
    event = next(e for e in center.detect() if e.kind == "no_data")
    assert event.ongoing and "last 3 completed runs of orders" in event.summary


def test_scheduler_down_is_one_alert_per_outage(workspace, center, source: Path) -> None:
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    assert "scheduler_down" not in kinds(center, now)  # nothing scheduled: no scheduler needed
    add_dataflow(workspace, "contacts")
    assert kinds(center, now)["scheduler_down"] == ["scheduler_down:never"]

    beat(workspace, "host:1:a", now - timedelta(minutes=2))
    assert "scheduler_down" not in kinds(center, now)
    first = kinds(center, now + timedelta(minutes=10))["scheduler_down"]
    assert first == [f"scheduler_down:{(now - timedelta(minutes=2)).isoformat()}"]
    assert kinds(center, now + timedelta(minutes=30))["scheduler_down"] == first  # the same outage

    back = now + timedelta(minutes=40)
    with workspace.engine.begin() as c:  # it recovers ...
        c.execute(update(t.scheduler_heartbeats).values(beat_at=back))
    assert "scheduler_down" not in kinds(center, back + timedelta(minutes=1))
    second = kinds(center, back + timedelta(minutes=6))["scheduler_down"]  # ... and dies again
    assert second == [f"scheduler_down:{back.isoformat()}"] != first

    center.save_rules({"scheduler_down_minutes": 10})
    assert "scheduler_down" not in kinds(center, back + timedelta(minutes=6))


def test_a_cleanly_stopped_scheduler_is_down_after_the_grace_period_too(workspace, center, source) -> None:
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    add_dataflow(workspace, "contacts")
    beat(workspace, "host:1:a", now, stopped=now)
    assert "scheduler_down" not in kinds(center, now + timedelta(minutes=1))  # a restart has time
    (event,) = [e for e in center.detect(now + timedelta(minutes=6)) if e.kind == "scheduler_down"]
    assert "stopped at 2026-12-01 12:00 UTC" in event.summary and "1 scheduled dataflow " in event.summary


def test_a_run_late_by_more_than_its_interval_alerts_once_per_slot(workspace, center, source: Path) -> None:
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    beat(workspace, "host:1:a", now)  # the scheduler is alive
    add_dataflow(workspace, "hourly")  # every hour
    add_dataflow(workspace, "daily", every="1 day")
    due(workspace, "hourly", now - timedelta(minutes=61))
    due(workspace, "daily", now - timedelta(hours=5))

    hourly = workspace.store.dataflow_row("hourly")["id"]
    slot = (now - timedelta(minutes=61)).isoformat()
    assert kinds(center, now)["run_late"] == [f"run_late:{hourly}:{slot}"]
    event = next(e for e in center.detect(now) if e.kind == "run_late")
    assert (
        event.dataflow == "hourly" and "61 minutes late" in event.summary and "every 1 hour" in event.summary
    )

    with workspace.engine.begin() as c:  # the scheduler served the slot; the next one is not late yet
        c.execute(
            update(t.schedule_state).where(t.schedule_state.c.dataflow_id == hourly).values(next_due_at=now)
        )
    assert "run_late" not in kinds(center, now + timedelta(minutes=30))
    later = now + timedelta(minutes=61)
    with workspace.engine.begin() as c:
        c.execute(update(t.scheduler_heartbeats).values(beat_at=later))
    assert kinds(center, later)["run_late"] == [f"run_late:{hourly}:{now.isoformat()}"]


def test_lateness_is_not_reported_while_the_scheduler_is_down(workspace, center, source: Path) -> None:
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    add_dataflow(workspace, "hourly")
    due(workspace, "hourly", now - timedelta(hours=3))
    beat(workspace, "host:1:a", now - timedelta(hours=3))
    assert set(kinds(center, now)) == {"scheduler_down"}


def test_disabled_dataflows_are_not_watched(workspace, center, source: Path) -> None:
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    add_dataflow(workspace, "paused")
    with workspace.engine.begin() as c:
        c.execute(update(t.dataflows).values(enabled=0))
    due(workspace, "paused", now - timedelta(hours=3))
    assert kinds(center, now) == {}
