"""Finds the alert events in the store: read-only, idempotent, one stable key per occurrence.

The rules, as implemented:

- ``run_failed``: each run whose status is ``failed``, once (key ``run_failed:{run}``).
- ``run_partial``: a ``partial`` run whose failed/received share is above the warning
  level: ``AlertRules.partial_rate`` when set, else half of the dataflow's own
  ``error_threshold`` (past the threshold itself the run fails and ``run_failed`` says
  so). Key ``run_partial:{run}``.
- ``no_data``: a scheduled dataflow whose last ``no_data_runs`` completed runs
  (succeeded or partial; failed runs are alerted on their own and neither break
  nor extend the streak) all received 0 rows. One alert per streak, keyed by the
  streak's first run: ``no_data:{dataflow}:{first run}``.
- ``scheduler_down``: scheduled dataflows exist and no scheduler heartbeat came in
  the last ``scheduler_down_minutes``. One alert per outage, keyed by the last beat
  before it (``scheduler_down:{iso}``, or ``scheduler_down:never``); a scheduler that
  comes back and dies again is a new outage.
- ``run_late``: a scheduled dataflow whose ``schedule_state.next_due_at`` is more
  than one interval in the past: the slot's run has not started (or, if the
  scheduler moves the slot on at the end of a run, not finished) a whole interval
  after it was due. Key ``run_late:{dataflow}:{due iso}``: one alert per missed
  slot. Not raised during a scheduler outage: ``scheduler_down`` says it all.

"Scheduled" means enabled with a ``schedule.every`` (``scheduler_down`` also counts
``schedule.once``). Finished runs are looked at ``lookback_hours`` back.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Connection, Engine, and_, func, select

from core.alerts.events import AlertEvent, AlertRules
from core.models import DataflowSpec
from core.store import tables as t

#: Runs that read their source to the end.
COMPLETED = ("succeeded", "partial")
_UNITS = {
    "minute": timedelta(minutes=1),
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
    "week": timedelta(weeks=1),
}
#: What an alert about a run says of it.
_RUN_COLUMNS = (
    "id",
    "dataflow_id",
    "status",
    "received",
    "ingested",
    "failed",
    "finished_at",
    "error_code",
    "error_message",
)


def utc(value: datetime | None) -> datetime | None:
    """``value`` as an aware UTC datetime (SQLite hands timezone-aware columns back naive, in UTC)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def detect(engine: Engine, rules: AlertRules, now: datetime) -> list[AlertEvent]:
    """Every alert event that holds at ``now``, oldest first."""
    now = utc(now) or now
    since = now - timedelta(hours=rules.lookback_hours)
    with engine.connect() as conn:
        flows = _dataflows(conn)
        events = _failed_runs(conn, since) + _partial_runs(conn, flows, rules, since)
        events += _no_data(conn, flows, rules)
        down = _scheduler_down(conn, flows, rules, now)
        events += down if down else _late(conn, flows, now)
    return sorted(events, key=lambda event: (event.occurred_at, event.key))


def _dataflows(conn: Connection) -> dict[int, tuple[str, DataflowSpec | None, bool]]:
    """Dataflow id -> (name, spec, enabled); a spec that no longer validates is None."""
    found: dict[int, tuple[str, DataflowSpec | None, bool]] = {}
    for row in conn.execute(
        select(t.dataflows.c.id, t.dataflows.c.name, t.dataflows.c.spec, t.dataflows.c.enabled)
    ):
        try:
            spec: DataflowSpec | None = DataflowSpec.model_validate(row.spec)
        except ValidationError:
            spec = None
        found[int(row.id)] = (str(row.name), spec, bool(row.enabled))
    return found


def interval(spec: DataflowSpec | None) -> timedelta | None:
    """How often a dataflow runs, or None when it is not on a repeating schedule."""
    every = spec.schedule.interval() if spec is not None and spec.schedule is not None else None
    return None if every is None else every[0] * _UNITS[every[1]]


def _scheduled(flows: Mapping[int, tuple[str, DataflowSpec | None, bool]]) -> dict[int, timedelta]:
    return {
        dataflow_id: every
        for dataflow_id, (_, spec, enabled) in flows.items()
        if enabled and (every := interval(spec)) is not None
    }


def _finished_runs(conn: Connection, status: str, since: datetime) -> list[Any]:
    columns = [t.runs.c[name] for name in _RUN_COLUMNS]
    query = (
        select(*columns, t.dataflows.c.name.label("dataflow"))
        .join(t.dataflows, t.dataflows.c.id == t.runs.c.dataflow_id)
        .where(t.runs.c.status == status, t.runs.c.finished_at >= since)
        .order_by(t.runs.c.id)
    )
    return list(conn.execute(query))


def _counts(run: Any) -> str:
    return f"Received {run.received:,}, ingested {run.ingested:,}, quarantined {run.failed:,}."


def _run_event(kind: str, run: Any, since: datetime, title: str, summary: str) -> AlertEvent:
    """An event about one finished run (its status is the run's)."""
    return AlertEvent(
        kind=kind,
        key=f"{kind}:{run.id}",
        occurred_at=utc(run.finished_at) or since,
        title=title,
        summary=summary,
        dataflow_id=run.dataflow_id,
        dataflow=run.dataflow,
        run_id=run.id,
        status=run.status,
    )


def _failed_runs(conn: Connection, since: datetime) -> list[AlertEvent]:
    events = []
    for run in _finished_runs(conn, "failed", since):
        reason = f"{run.error_code}: {run.error_message}" if run.error_message else str(run.error_code or "")
        title = f"Run #{run.id} of {run.dataflow} failed"
        events.append(_run_event("run_failed", run, since, title, f"{reason[:600]} {_counts(run)}".strip()))
    return events


def _partial_runs(
    conn: Connection,
    flows: Mapping[int, tuple[str, DataflowSpec | None, bool]],
    rules: AlertRules,
    since: datetime,
) -> list[AlertEvent]:
    events = []
    for run in _finished_runs(conn, "partial", since):
        if not run.received:
            continue
        spec = flows.get(run.dataflow_id, ("", None, True))[1]
        threshold = spec.error_threshold if spec is not None else 0.05
        level = rules.partial_rate if rules.partial_rate is not None else threshold / 2
        rate = run.failed / run.received
        if rate > level:
            title = f"Run #{run.id} of {run.dataflow} quarantined {rate:.1%} of its rows"
            summary = (
                f"Over the {level:.1%} warning level (the run fails past {threshold:.0%}). "
                f"{_counts(run)} See its quarantined rows on the Runs page."
            )
            events.append(_run_event("run_partial", run, since, title, summary))
    return events


def _no_data(
    conn: Connection, flows: Mapping[int, tuple[str, DataflowSpec | None, bool]], rules: AlertRules
) -> list[AlertEvent]:
    scheduled = _scheduled(flows)
    if not scheduled:
        return []
    runs = t.runs
    completed = runs.c.status.in_(COMPLETED)
    last_data = (
        select(runs.c.dataflow_id, func.max(runs.c.id).label("last_id"))
        .where(completed, runs.c.received > 0)
        .group_by(runs.c.dataflow_id)
        .subquery()
    )
    streaks = (
        select(
            runs.c.dataflow_id,
            func.count().label("runs"),
            func.min(runs.c.id).label("first_id"),
            func.max(runs.c.id).label("last_id"),
            func.max(runs.c.finished_at).label("finished_at"),
        )
        .select_from(runs.outerjoin(last_data, last_data.c.dataflow_id == runs.c.dataflow_id))
        .where(
            completed,
            runs.c.received == 0,
            runs.c.id > func.coalesce(last_data.c.last_id, 0),
            runs.c.dataflow_id.in_(list(scheduled)),
        )
        .group_by(runs.c.dataflow_id)
    )
    events = []
    for streak in conn.execute(streaks):
        if streak.runs < rules.no_data_runs:
            continue
        name = flows[streak.dataflow_id][0]
        events.append(
            AlertEvent(
                kind="no_data",
                key=f"no_data:{streak.dataflow_id}:{streak.first_id}",
                occurred_at=utc(streak.finished_at) or datetime.now(UTC),
                title=f"No data from {name} for {streak.runs} runs",
                summary=f"The last {streak.runs} completed runs of {name} (since run #{streak.first_id}) "
                "received no rows. Check that the source still gets new data.",
                dataflow_id=streak.dataflow_id,
                dataflow=name,
                run_id=streak.last_id,
                status="no_data",
                ongoing=True,
            )
        )
    return events


def _scheduler_down(
    conn: Connection,
    flows: Mapping[int, tuple[str, DataflowSpec | None, bool]],
    rules: AlertRules,
    now: datetime,
) -> list[AlertEvent]:
    needs_scheduler = [
        name
        for name, spec, enabled in flows.values()
        if enabled
        and spec is not None
        and spec.schedule is not None
        and (spec.schedule.every or spec.schedule.once)
    ]
    if not needs_scheduler:
        return []
    latest = (
        conn.execute(
            select(t.scheduler_heartbeats).order_by(t.scheduler_heartbeats.c.beat_at.desc()).limit(1)
        )
        .mappings()
        .first()
    )
    grace = timedelta(minutes=rules.scheduler_down_minutes)
    beat = utc(latest["beat_at"]) if latest is not None else None
    if beat is not None and beat >= now - grace:
        return []
    stopped = utc(latest["stopped_at"]) if latest is not None else None
    if beat is None:
        key, since, said = "scheduler_down:never", now, "No scheduler has ever sent a heartbeat"
    elif stopped is not None:
        key, since = f"scheduler_down:{beat.isoformat()}", beat + grace
        said = f"The scheduler stopped at {stopped:%Y-%m-%d %H:%M} UTC and none has started since"
    else:
        key, since = f"scheduler_down:{beat.isoformat()}", beat + grace
        said = f"The last scheduler heartbeat came at {beat:%Y-%m-%d %H:%M} UTC"
    count = len(needs_scheduler)
    return [
        AlertEvent(
            kind="scheduler_down",
            key=key,
            occurred_at=since,
            title="The scheduler is down",
            summary=f"{said}; {count} scheduled dataflow{'s' if count != 1 else ''} will not run "
            "until it is back. Start it with `python -m core.scheduler`.",
            status="down",
            ongoing=True,
        )
    ]


def _late(
    conn: Connection, flows: Mapping[int, tuple[str, DataflowSpec | None, bool]], now: datetime
) -> list[AlertEvent]:
    scheduled = _scheduled(flows)
    if not scheduled:
        return []
    state = t.schedule_state
    rows = conn.execute(
        select(state.c.dataflow_id, state.c.next_due_at).where(
            and_(state.c.next_due_at.is_not(None), state.c.dataflow_id.in_(list(scheduled)))
        )
    )
    events = []
    for row in rows:
        due = utc(row.next_due_at)
        every = scheduled[row.dataflow_id]
        if due is None or due + every >= now:
            continue
        name, spec, _ = flows[row.dataflow_id]
        late_by = now - due
        events.append(
            AlertEvent(
                kind="run_late",
                key=f"run_late:{row.dataflow_id}:{due.isoformat()}",
                occurred_at=due + every,
                title=f"{name} is late",
                summary=f"Its run due at {due:%Y-%m-%d %H:%M} UTC is {_duration(late_by)} late; "
                f"it runs every {spec.schedule.every if spec and spec.schedule else every}.",
                dataflow_id=row.dataflow_id,
                dataflow=name,
                status="late",
                ongoing=True,
            )
        )
    return events


def _duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} minutes"
    if minutes < 48 * 60:
        return f"{minutes // 60} hours"
    return f"{minutes // (24 * 60)} days"
