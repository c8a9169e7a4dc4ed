"""Monitoring reads: filtered run history, a status timeline, error diagnostics and workspace health.

Every question is answered by a few set-based queries plus vectorised pandas,
so pages stay fast with thousands of runs: filters run in SQL, counts are SQL
aggregates, and only a bounded number of runs ever leaves the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, RowMapping, Select, case, func, or_, select
from sqlalchemy.sql.elements import ColumnElement

from core.scheduler.health import alive_window
from core.store import tables as t

#: Every status a run can have, in the order people read them.
STATUSES = ("succeeded", "partial", "failed", "running", "abandoned")
#: Statuses of runs that did not finish their work.
FAILED_STATUSES = ("failed", "abandoned")
#: The most runs a history read returns (newest first); charts plot fewer still.
HISTORY_LIMIT = 5_000
#: A scheduled dataflow is late when its next run was due longer ago than this.
LATE_AFTER = timedelta(minutes=5)
#: What the status line says when scheduled dataflows have no scheduler, by scheduler state.
_SCHEDULER_PROBLEMS = {
    "down": "Scheduler down: its heartbeat stopped, scheduled dataflows are not running",
    "stopped": "Scheduler stopped: scheduled dataflows wait until it runs again",
    "not started": "Scheduler not started: scheduled dataflows wait until it runs",
}
#: Source values shown per example of an error group, and their length.
_EXAMPLE_FIELDS, _EXAMPLE_CHARS = 8, 200

_HISTORY_COLUMNS = [
    t.runs.c.id,
    t.runs.c.dataflow_id,
    t.dataflows.c.name.label("dataflow"),
    t.runs.c.status,
    t.runs.c.trigger,
    t.runs.c.mode,
    t.runs.c.started_at,
    t.runs.c.finished_at,
    t.runs.c.received,
    t.runs.c.ingested,
    t.runs.c.failed,
    t.runs.c.deleted,
    t.runs.c.duration_s,
    t.runs.c.error_code,
    t.runs.c.error_message,
    t.runs.c.dataflow_version,
    t.runs.c.resumed_from,
]


@dataclass(frozen=True)
class RunFilter:
    """Which runs a history shows; empty fields do not filter."""

    dataflow: str | None = None
    statuses: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    #: Only runs that failed, were abandoned, or quarantined rows.
    failures_only: bool = False

    def clauses(self) -> list[ColumnElement[bool]]:
        """The SQL conditions of this filter (runs joined to their dataflow)."""
        where: list[ColumnElement[bool]] = []
        if self.dataflow:
            where.append(t.dataflows.c.name == self.dataflow)
        if self.statuses:
            where.append(t.runs.c.status.in_(self.statuses))
        # SQLite keeps times as UTC text without a zone: bounds must be UTC to compare right
        if self.since is not None:
            where.append(t.runs.c.started_at >= as_utc(self.since))
        if self.until is not None:
            where.append(t.runs.c.started_at < as_utc(self.until))
        if self.failures_only:
            where.append(failure_clause())
        return where


def failure_clause() -> ColumnElement[bool]:
    """A run that failed, was abandoned, or quarantined at least one row."""
    return or_(t.runs.c.status.in_(FAILED_STATUSES), t.runs.c.failed > 0)


def run_history(engine: Engine, run_filter: RunFilter, limit: int = HISTORY_LIMIT) -> pd.DataFrame:
    """The runs the filter admits, newest first, at most ``limit``; times in UTC, throughput in rows/s."""
    query = (
        select(*_HISTORY_COLUMNS)
        .join(t.dataflows, t.dataflows.c.id == t.runs.c.dataflow_id)
        .where(*run_filter.clauses())
        .order_by(t.runs.c.id.desc())
        .limit(limit)
    )
    with engine.connect() as conn:
        frame = _frame(conn, query)
    for column in ("started_at", "finished_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    duration = pd.to_numeric(frame["duration_s"], errors="coerce").astype(float)
    received = pd.to_numeric(frame["received"], errors="coerce").astype(float)
    frame["throughput"] = (received / duration.where(duration > 0)).round(1)
    return frame


def count_runs(engine: Engine, run_filter: RunFilter) -> dict[str, int]:
    """How many runs the filter admits, by status (all of them, not only the ones a history returns)."""
    query = (
        select(t.runs.c.status, func.count())
        .join(t.dataflows, t.dataflows.c.id == t.runs.c.dataflow_id)
        .where(*run_filter.clauses())
        .group_by(t.runs.c.status)
    )
    with engine.connect() as conn:
        return {str(status): int(count) for status, count in conn.execute(query)}


def status_timeline(engine: Engine, run_filter: RunFilter) -> pd.DataFrame:
    """Runs per time bucket and status, counted in SQL over every run the filter admits.

    The bucket is an hour, a day or a week (from Monday), by the span the runs
    cover; ``bucket`` is its start in UTC and ``step`` says which it is.
    """
    joined = t.runs.join(t.dataflows, t.dataflows.c.id == t.runs.c.dataflow_id)
    where = run_filter.clauses()
    with engine.connect() as conn:
        first, last = conn.execute(
            select(func.min(t.runs.c.started_at), func.max(t.runs.c.started_at))
            .select_from(joined)
            .where(*where)
        ).one()
        if first is None:
            return pd.DataFrame(columns=["bucket", "status", "runs", "step"])
        span = as_utc(last) - as_utc(first)
        step = "1h" if span <= timedelta(days=2) else "1D" if span <= timedelta(days=120) else "7D"
        bucket = _bucket(conn.dialect.name, step).label("bucket")
        counts = _frame(
            conn,
            select(bucket, t.runs.c.status, func.count().label("runs"))
            .select_from(joined)
            .where(*where)
            .group_by(bucket, t.runs.c.status)
            .order_by(bucket),
        )
    counts["bucket"] = pd.to_datetime(counts["bucket"].astype(str), utc=True, format="ISO8601")
    return counts.assign(step=step)


def _bucket(dialect: str, step: str) -> ColumnElement[Any]:
    """The start of a run's hour, day or week (Monday) in UTC, in the store's own SQL."""
    started = t.runs.c.started_at
    if dialect == "postgresql":
        unit = {"1h": "hour", "1D": "day", "7D": "week"}[step]
        return func.date_trunc(unit, func.timezone("UTC", started))
    # SQLite keeps UTC times as ISO text
    if step == "1h":
        return func.strftime("%Y-%m-%d %H:00:00", started)
    if step == "1D":
        return func.date(started)
    return func.date(started, "-6 days", "weekday 1")


# -- error diagnostics ---------------------------------------------------------
def error_groups(engine: Engine, run_id: int, errors: pd.DataFrame, per_group: int = 3) -> pd.DataFrame:
    """A run's quarantined rows by error code and attribute: exact counts and a few examples each.

    Counts come from SQL over all the run's errors; examples from ``errors``
    (the run's error rows as read, with each source row as a dict in ``row``).
    Columns: code, field, rows, examples (a list of "reason ← source values").
    """
    query = (
        select(t.run_errors.c.code, t.run_errors.c.field, func.count().label("rows"))
        .where(t.run_errors.c.run_id == run_id)
        .group_by(t.run_errors.c.code, t.run_errors.c.field)
    )
    with engine.connect() as conn:
        counts = _frame(conn, query)
    if counts.empty:
        return counts.assign(examples=pd.Series(dtype=object))
    counts["field"] = counts["field"].fillna("")
    if errors.empty:
        examples = pd.Series([[]] * len(counts), index=counts.index)
    else:
        firsts = errors.assign(field=errors["field"].fillna("")).groupby(["code", "field"]).head(per_group)
        described = firsts.assign(example=_describe(firsts))
        listed = described.groupby(["code", "field"])["example"].agg(list)
        examples = counts.join(listed, on=["code", "field"])["example"]
        examples = examples.map(lambda found: found if isinstance(found, list) else [])
    counts["examples"] = examples
    return counts.sort_values(["rows", "code", "field"], ascending=[False, True, True], ignore_index=True)


def _describe(errors: pd.DataFrame) -> pd.Series:
    """One line per example: the reason, then the source key and values (bounded rows only)."""
    lines = []
    for key, field_name, reason, row in zip(
        errors["source_key"], errors["field"], errors["reason"], errors["row"], strict=True
    ):
        values = row if isinstance(row, dict) else {}
        reason = str(reason).removeprefix(f"{field_name}: ")  # the group names the attribute already
        shown = [f"{name}={value!r}" for name, value in values.items() if value is not None]
        more = f", … {len(shown) - _EXAMPLE_FIELDS} more" if len(shown) > _EXAMPLE_FIELDS else ""
        source = ", ".join(shown[:_EXAMPLE_FIELDS]) + more
        label = f"key {key}: " if key is not None and key == key else ""
        lines.append(f"{reason} ← {label}{source}"[:_EXAMPLE_CHARS])
    return pd.Series(lines, index=errors.index, dtype=object)


# -- health --------------------------------------------------------------------
@dataclass(frozen=True)
class SchedulerHealth:
    """Whether a scheduler process is alive, from the heartbeats in the store.

    ``state`` is ``alive`` (a heartbeat within three heartbeat intervals, as the
    scheduler itself judges), ``down``
    (its heartbeats stopped without it saying it stopped: it crashed or hangs),
    ``stopped`` (it stopped cleanly) or ``not started`` (no heartbeat ever).
    """

    state: str
    last_beat_at: datetime | None = None
    host: str | None = None
    running: tuple[str, ...] = ()

    @property
    def alive(self) -> bool:
        """Whether a scheduler runs now."""
        return self.state == "alive"


@dataclass(frozen=True)
class Health:
    """The answer to "is everything OK?": the scheduler, each dataflow, and the latest failures."""

    checked_at: datetime
    scheduler: SchedulerHealth
    #: One row per dataflow: name, state, last run, last success, next due, runs and failures in 24 h.
    dataflows: pd.DataFrame
    #: Failed or abandoned runs of the last 24 hours, newest first.
    recent_failures: pd.DataFrame

    @property
    def level(self) -> str:
        """``ok``, ``warning`` or ``error``: the worst of what is wrong."""
        states = set(self.dataflows["state"]) if not self.dataflows.empty else set()
        waiting = self._scheduled and not self.scheduler.alive
        if (waiting and self.scheduler.state == "down") or states & {"failing"}:
            return "error"
        if waiting or states & {"late", "partial"}:
            return "warning"
        return "ok"

    @property
    def _scheduled(self) -> bool:
        """Whether some enabled dataflow has a schedule (and so needs a scheduler)."""
        return bool(self.dataflows.get("scheduled", pd.Series(dtype=bool)).any())

    @property
    def summary(self) -> str:
        """One line: what is wrong, most urgent first, or that all is well."""
        flows = self.dataflows
        parts = []
        if self._scheduled and not self.scheduler.alive:
            parts.append(_SCHEDULER_PROBLEMS[self.scheduler.state])
        for state, text in (
            ("failing", "failing"),
            ("late", "late"),
            ("partial", "quarantined rows in their last run"),
        ):
            names = flows.loc[flows["state"] == state, "name"].tolist() if not flows.empty else []
            if names:
                parts.append(f"{_count(len(names), 'dataflow')} {text} ({', '.join(names[:5])})")
        if parts:
            return " · ".join(parts)
        if flows.empty:
            return "Nothing to watch yet: no dataflow exists."
        return f"All good: {_count(len(flows), 'dataflow')}, none failing or late."


def health(engine: Engine, now: datetime) -> Health:
    """The workspace's health at ``now``: scheduler heartbeat, each dataflow's state, recent failures."""
    now = as_utc(now)
    since = now - timedelta(hours=24)
    latest = select(func.max(t.runs.c.id).label("id")).group_by(t.runs.c.dataflow_id).subquery()
    failed = case((t.runs.c.status.in_(FAILED_STATUSES), 1), else_=0)
    with engine.connect() as conn:
        flows = _frame(
            conn, select(t.dataflows.c.id, t.dataflows.c.name, t.dataflows.c.enabled, t.dataflows.c.spec)
        )
        last = _frame(
            conn,
            select(
                t.runs.c.dataflow_id.label("id"),
                t.runs.c.id.label("last_run_id"),
                t.runs.c.status.label("last_status"),
                t.runs.c.started_at.label("last_run_at"),
                t.runs.c.error_code.label("last_error"),
            ).join(latest, latest.c.id == t.runs.c.id),
        )
        successes = _frame(
            conn,
            select(t.runs.c.dataflow_id.label("id"), func.max(t.runs.c.finished_at).label("run_success_at"))
            .where(t.runs.c.status.in_(("succeeded", "partial")))
            .group_by(t.runs.c.dataflow_id),
        )
        day = _frame(
            conn,
            select(
                t.runs.c.dataflow_id.label("id"),
                func.count().label("runs_24h"),
                func.sum(failed).label("failures_24h"),
                func.sum(t.runs.c.failed).label("rows_failed_24h"),
            )
            .where(t.runs.c.started_at >= since)
            .group_by(t.runs.c.dataflow_id),
        )
        schedule = _frame(
            conn,
            select(
                t.schedule_state.c.dataflow_id.label("id"),
                t.schedule_state.c.next_due_at,
                t.schedule_state.c.last_success_at.label("scheduled_success_at"),
            ),
        )
        beating, stopped = _newest_beat(conn, stopped=False), _newest_beat(conn, stopped=True)
        failures = _frame(
            conn,
            select(*_HISTORY_COLUMNS)
            .join(t.dataflows, t.dataflows.c.id == t.runs.c.dataflow_id)
            .where(t.runs.c.status.in_(FAILED_STATUSES), t.runs.c.started_at >= since)
            .order_by(t.runs.c.id.desc())
            .limit(10),
        )
    failures["started_at"] = pd.to_datetime(failures["started_at"], utc=True)
    table = _dataflow_states(flows, last.merge(successes, on="id", how="outer"), day, schedule, now)
    return Health(now, _scheduler(beating, stopped, now), table, failures)


def record_counts(engine: Engine) -> pd.Series:
    """How many records each dataflow's dataset holds, by dataflow name (one COUNT per dataset)."""
    from core.store import datasets

    counts: dict[str, int] = {}
    with engine.connect() as conn:
        rows = conn.execute(
            select(t.dataflows.c.id, t.dataflows.c.name).join(
                t.datasets, t.datasets.c.dataflow_id == t.dataflows.c.id
            )
        ).all()
    for dataflow_id, name in rows:
        table = datasets.dataset_table(engine, dataflow_id)
        counts[name] = 0 if table is None else datasets.count_records(engine, table)
    return pd.Series(counts, dtype="int64", name="records")


def _frame(conn: Connection, query: Select[Any]) -> pd.DataFrame:
    """The rows of ``query`` as a frame, with its columns even when it returns none."""
    result = conn.execute(query)
    return pd.DataFrame(result.all(), columns=list(result.keys()))


def _dataflow_states(
    flows: pd.DataFrame, runs: pd.DataFrame, day: pd.DataFrame, schedule: pd.DataFrame, now: datetime
) -> pd.DataFrame:
    """Joins the per-dataflow reads and classifies each dataflow, vectorised."""
    table = flows.merge(runs, on="id", how="left").merge(day, on="id", how="left")
    table = table.merge(schedule, on="id", how="left")
    for column in ("last_run_at", "run_success_at", "next_due_at", "scheduled_success_at"):
        table[column] = pd.to_datetime(table[column], utc=True)
    table["last_success_at"] = table[["run_success_at", "scheduled_success_at"]].max(axis=1)
    for column in ("runs_24h", "failures_24h", "rows_failed_24h"):
        table[column] = pd.to_numeric(table[column]).fillna(0).astype("int64")
    has_schedule = table["spec"].map(lambda spec: bool((spec or {}).get("schedule")))
    enabled = table["enabled"].fillna(1).astype(bool)
    table["scheduled"] = enabled & (has_schedule | table["next_due_at"].notna())
    late = table["scheduled"] & (table["next_due_at"] < pd.Timestamp(now) - LATE_AFTER)
    status = table["last_status"]
    table["state"] = np.select(
        [
            ~enabled,
            status.isin(FAILED_STATUSES),
            status.eq("running"),
            late.fillna(False),
            status.eq("partial"),
            status.isna(),
        ],
        ["paused", "failing", "running", "late", "partial", "never run"],
        default="ok",
    )
    columns = [
        "name",
        "state",
        "last_status",
        "last_run_id",
        "last_run_at",
        "last_success_at",
        "next_due_at",
        "runs_24h",
        "failures_24h",
        "rows_failed_24h",
        "last_error",
        "scheduled",
    ]
    return table[columns].sort_values("name", ignore_index=True)


def _newest_beat(conn: Connection, *, stopped: bool) -> RowMapping | None:
    """The newest heartbeat of a running scheduler, or the newest of one that stopped."""
    beats = t.scheduler_heartbeats.c
    where, newest = (
        (beats.stopped_at.is_not(None), beats.stopped_at)
        if stopped
        else (beats.stopped_at.is_(None), beats.beat_at)
    )
    query = select(t.scheduler_heartbeats).where(where).order_by(newest.desc()).limit(1)
    return conn.execute(query).mappings().first()


def _scheduler(beating: Any, stopped: Any, now: datetime) -> SchedulerHealth:
    """From the newest heartbeat of a running scheduler and the newest of a stopped one."""
    beat_at = _utc_or_none(beating["beat_at"]) if beating is not None else None
    stopped_at = _utc_or_none(stopped["stopped_at"]) if stopped is not None else None
    if beat_at is not None and beat_at >= now - alive_window():
        return SchedulerHealth("alive", beat_at, beating["host"], tuple(beating["running"] or ()))
    if stopped_at is not None and (beat_at is None or stopped_at >= beat_at):
        return SchedulerHealth("stopped", _utc_or_none(stopped["beat_at"]), stopped["host"])
    if beat_at is not None:
        return SchedulerHealth("down", beat_at, beating["host"])
    return SchedulerHealth("not started")


def _utc_or_none(moment: datetime | None) -> datetime | None:
    return None if moment is None else as_utc(moment)


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def as_utc(moment: datetime) -> datetime:
    """``moment`` in UTC; a naive one is taken to be UTC already (as SQLite returns them)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
