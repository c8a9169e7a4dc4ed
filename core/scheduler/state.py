"""The schedule_state table: when each dataflow is due, which slot it last served, its retries.

Every scheduler process reads the dataflows and their state afresh on each
tick, so new, changed, paused and deleted dataflows need no restart. A slot is
*claimed* by compare-and-swap on the row before its run is submitted: of
several schedulers that see the same slot due, exactly one moves the row on,
and only that one runs it. Times are UTC.

After downtime, a dataflow whose ``next_due_at`` passed long ago is claimed
once (one catch-up run), and its next slot is the first one after *now*.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import ColumnElement, Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from core.models import ScheduleSpec
from core.scheduler import timetable
from core.scheduler.settings import SchedulerSettings
from core.store import tables as t

log = logging.getLogger(__name__)
_state = t.schedule_state


def as_utc(value: datetime | None) -> datetime | None:
    """A stored time as an aware UTC datetime (SQLite hands them back naive)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True)
class ScheduleState:
    """One dataflow's row of schedule_state."""

    dataflow_id: int
    next_due_at: datetime | None = None
    last_due_at: datetime | None = None
    last_started_at: datetime | None = None
    last_success_at: datetime | None = None
    last_run_id: int | None = None
    attempts: int = 0
    retry_at: datetime | None = None
    schedule: dict[str, Any] | None = None

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> ScheduleState:
        """Reads a row, times as aware UTC."""
        return cls(
            dataflow_id=int(row["dataflow_id"]),
            next_due_at=as_utc(row["next_due_at"]),
            last_due_at=as_utc(row["last_due_at"]),
            last_started_at=as_utc(row["last_started_at"]),
            last_success_at=as_utc(row["last_success_at"]),
            last_run_id=row["last_run_id"],
            attempts=int(row["attempts"] or 0),
            retry_at=as_utc(row["retry_at"]),
            schedule=row["schedule"],
        )

    def due(self, now: datetime) -> str | None:
        """Why the dataflow is due now: ``"schedule"`` (a slot), ``"retry"``, or None."""
        if self.next_due_at is not None and self.next_due_at <= now:
            return "schedule"
        if self.retry_at is not None and self.retry_at <= now:
            return "retry"
        return None

    def due_at(self) -> datetime | None:
        """The earliest of the next slot and the pending retry."""
        times = [moment for moment in (self.next_due_at, self.retry_at) if moment is not None]
        return min(times) if times else None


@dataclass(frozen=True)
class Scheduled:
    """An enabled dataflow, the schedule it runs on, and its state."""

    dataflow_id: int
    name: str
    schedule: ScheduleSpec | None
    state: ScheduleState


@dataclass(frozen=True)
class Claim:
    """A slot this process won: it, and only it, submits the run.

    Attributes:
        trigger: ``"schedule"`` for a slot, ``"retry"`` for a retry of the last one.
        slot: the scheduled time the run serves (for a retry: the slot retried).
        attempt: 0 for a slot's first run, then 1, 2, ... for its retries.
    """

    dataflow_id: int
    name: str
    trigger: str
    slot: datetime | None
    attempt: int


@dataclass(frozen=True)
class Outcome:
    """How a run ended, as far as scheduling cares.

    ``status`` is a run status (succeeded, partial, failed) or ``skipped`` when
    another process held the dataflow's lease, so this one did not run it.
    """

    status: str
    run_id: int | None = None
    error_code: str | None = None
    message: str = ""
    retriable: bool = False


def read_states(engine: Engine) -> dict[int, ScheduleState]:
    """Every dataflow's schedule state, by dataflow id."""
    with engine.connect() as c:
        return {
            row["dataflow_id"]: ScheduleState.from_row(row) for row in c.execute(select(_state)).mappings()
        }


def read_state(engine: Engine, dataflow_id: int) -> ScheduleState | None:
    """One dataflow's schedule state, or None before the scheduler or a run saw it."""
    with engine.connect() as c:
        row = c.execute(select(_state).where(_state.c.dataflow_id == dataflow_id)).mappings().first()
    return None if row is None else ScheduleState.from_row(row)


def refresh(engine: Engine, now: datetime, minimum_minutes: int = 1) -> list[Scheduled]:
    """The enabled dataflows with their state, first states written and changed schedules recomputed.

    A dataflow seen for the first time gets its first due time; one whose
    schedule differs from the one its state was computed from gets a new one
    (and loses pending retries). Paused dataflows are left as they are; on
    resume, a slot missed meanwhile runs once.
    """
    with engine.connect() as c:
        dataflows = list(
            c.execute(
                select(t.dataflows.c.id, t.dataflows.c.name, t.dataflows.c.spec, t.dataflows.c.enabled)
            ).mappings()
        )
    states = read_states(engine)
    active = []
    for row in dataflows:
        spec = row["spec"] or {}
        if not row["enabled"] or not spec.get("enabled", True):
            continue
        try:
            schedule = _schedule_of(spec, minimum_minutes)
        except ValidationError:
            log.warning("dataflow %s has an invalid schedule; it is not scheduled", row["name"])
            continue
        wanted = schedule.model_dump(mode="json") if schedule is not None else None
        state = states.get(row["id"])
        if state is None:
            state = _insert(engine, row["id"], timetable.first_due(schedule, now), wanted, now)
        elif state.schedule != wanted:
            state = _recompute(engine, state, timetable.first_due(schedule, now), wanted, now)
        if state is not None:
            active.append(Scheduled(int(row["id"]), str(row["name"]), schedule, state))
    return active


def claim(engine: Engine, entry: Scheduled, now: datetime) -> Claim | None:
    """Takes the due slot (or retry) of ``entry`` by compare-and-swap; None if another process did."""
    state = entry.state
    reason = state.due(now)
    if reason is None:
        return None
    values: dict[str, Any] = {"last_started_at": now, "updated_at": now}
    if reason == "schedule":
        slot, attempt = state.next_due_at, 0
        next_slot = timetable.next_due(entry.schedule, now)
        values.update(last_due_at=slot, next_due_at=next_slot, attempts=0, retry_at=None)
    else:
        slot, attempt = state.last_due_at, state.attempts
        values.update(retry_at=None)
    with engine.begin() as c:
        won = c.execute(update(_state).where(*_unchanged(state)).values(**values)).rowcount
    if won != 1:
        return None
    return Claim(entry.dataflow_id, entry.name, reason, slot, attempt)


def record_outcome(
    engine: Engine,
    dataflow_id: int,
    outcome: Outcome,
    now: datetime,
    settings: SchedulerSettings | None = None,
) -> ScheduleState | None:
    """Writes how a run ended: last success, and a retry with backoff when it may help.

    Without ``settings`` (a run started by a person) a failure schedules no
    retry; a success clears pending ones either way.
    """
    if outcome.status == "skipped":
        return read_state(engine, dataflow_id)
    with engine.begin() as c:
        row = c.execute(select(_state).where(_state.c.dataflow_id == dataflow_id)).mappings().first()
        if row is None:
            try:
                c.execute(insert(_state).values(dataflow_id=dataflow_id, attempts=0, updated_at=now))
            except IntegrityError:  # the dataflow was deleted meanwhile
                return None
            attempts = 0
        else:
            attempts = int(row["attempts"] or 0)
        values: dict[str, Any] = {"updated_at": now}
        if outcome.run_id is not None:
            values["last_run_id"] = outcome.run_id
        if outcome.status in ("succeeded", "partial"):
            values.update(last_success_at=now, attempts=0, retry_at=None)
        elif settings is not None:
            if outcome.retriable and attempts < settings.retry_attempts:
                values.update(attempts=attempts + 1, retry_at=now + settings.backoff(attempts + 1))
            else:
                values.update(retry_at=None)
        c.execute(update(_state).where(_state.c.dataflow_id == dataflow_id).values(**values))
    return read_state(engine, dataflow_id)


def retry_soon(engine: Engine, dataflow_id: int, now: datetime) -> None:
    """Makes the dataflow's last slot due again now (its run was interrupted, not failed)."""
    with engine.begin() as c:
        c.execute(
            update(_state).where(_state.c.dataflow_id == dataflow_id).values(retry_at=now, updated_at=now)
        )


def _schedule_of(spec: Mapping[str, Any], minimum_minutes: int) -> ScheduleSpec | None:
    raw = spec.get("schedule")
    if raw is None:
        return None
    schedule = ScheduleSpec.model_validate(raw)
    return timetable.at_least(schedule, minimum_minutes) if timetable.is_scheduled(schedule) else None


def _insert(
    engine: Engine, dataflow_id: int, next_due_at: datetime | None, schedule: Any, now: datetime
) -> ScheduleState | None:
    """Writes a first state; when another process (or a run) wrote one first, reads that instead."""
    try:
        with engine.begin() as c:
            c.execute(
                insert(_state).values(
                    dataflow_id=dataflow_id,
                    next_due_at=next_due_at,
                    schedule=schedule,
                    attempts=0,
                    updated_at=now,
                )
            )
    except IntegrityError:
        return read_state(engine, dataflow_id)  # None if the dataflow was deleted meanwhile
    return ScheduleState(dataflow_id, next_due_at=next_due_at, schedule=schedule)


def _recompute(
    engine: Engine, state: ScheduleState, next_due_at: datetime | None, schedule: Any, now: datetime
) -> ScheduleState | None:
    """Moves a changed schedule's next slot; the process that loses the swap reads the winner's."""
    values = {"next_due_at": next_due_at, "schedule": schedule, "attempts": 0, "retry_at": None}
    with engine.begin() as c:
        won = c.execute(update(_state).where(*_unchanged(state)).values(**values, updated_at=now)).rowcount
    if won == 1:
        log.info("dataflow %s: schedule changed, next due %s", state.dataflow_id, next_due_at)
        return replace(state, **values)
    return read_state(engine, state.dataflow_id)


def _unchanged(state: ScheduleState) -> list[ColumnElement[bool]]:
    """The compare part of compare-and-swap: the row still holds what ``state`` read."""
    return [
        _state.c.dataflow_id == state.dataflow_id,
        _same(_state.c.next_due_at, state.next_due_at),
        _same(_state.c.retry_at, state.retry_at),
        _same(_state.c.last_due_at, state.last_due_at),
        _state.c.attempts == state.attempts,
    ]


def _same(column: Any, value: datetime | None) -> ColumnElement[bool]:
    return column.is_(None) if value is None else column == value
