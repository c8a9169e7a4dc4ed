"""One run as the scheduler, "Run now" and a backfill start it: the same lease, the same state update.

Every run goes through ``Workspace.run`` (or, for a backfill, the same
``DataflowRun`` with another starting watermark), so it takes the
dataflow's lease and commits under its fencing token whoever started it.
Then its outcome is written to schedule_state: the last success, and for
scheduled runs, a retry with backoff when the failure may pass.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import pandas as pd
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError

from connectors.base import ConnectorError
from core import cursor as cursors
from core.errors import ConfigurationError, LeaseLostError, TributaryError
from core.ingest import DataflowRun, ProgressCallback, RunSummary, from_connector
from core.scheduler import state
from core.scheduler.settings import SchedulerSettings
from core.store.repository import utcnow

if TYPE_CHECKING:
    from core.services import Workspace

log = logging.getLogger(__name__)

# error codes of failures that may pass by themselves: worth a retry with backoff
RETRIABLE = frozenset({"source_unavailable", "timeout", "store_unavailable"})


def outcome_of(summary: RunSummary) -> state.Outcome:
    """A finished run's outcome for scheduling."""
    return state.Outcome(
        status=summary.status,
        run_id=summary.run_id,
        error_code=summary.error_code,
        message=summary.error_message or "",
        retriable=summary.error_code in RETRIABLE,
    )


def run_claimed(workspace: Workspace, claim: state.Claim) -> state.Outcome:
    """Runs a claimed slot to its end and says how it went; never raises.

    When another process holds the dataflow's lease the run is ``skipped``:
    that process is running the dataflow, and no run row is written.
    """
    try:
        return outcome_of(workspace.run(claim.name, trigger=claim.trigger))
    except LeaseLostError as error:
        if error.code == "already_running":
            log.info("%s is running in another process; slot %s skipped", claim.name, claim.slot)
            return state.Outcome("skipped", error_code=error.code, message=error.user_message)
        return state.Outcome("failed", error_code=error.code, message=error.user_message)
    except TributaryError as error:
        return state.Outcome(
            "failed", error_code=error.code, message=error.user_message, retriable=error.retriable
        )
    except ConnectorError as error:
        wrapped = from_connector(error)
        return state.Outcome(
            "failed", error_code=wrapped.code, message=wrapped.user_message, retriable=wrapped.retriable
        )
    except ValidationError:
        return state.Outcome(
            "failed", error_code="configuration", message="the dataflow's settings are invalid"
        )
    except DBAPIError as error:  # the store itself failed (down, locked): worth another try
        log.warning("store error while running %s: %s", claim.name, type(error).__name__)
        return state.Outcome(
            "failed", error_code="store_unavailable", message=type(error).__name__, retriable=True
        )
    except Exception as error:  # the scheduler outlives any one run
        log.exception("run of %s failed unexpectedly", claim.name)
        return state.Outcome("failed", error_code="internal", message=type(error).__name__)


def run_now(
    workspace: Workspace, name: str, *, trigger: str = "manual", progress: ProgressCallback | None = None
) -> RunSummary:
    """Runs a dataflow now in this process, the way the scheduler does, and records it.

    Raises:
        LeaseLostError: the dataflow is running elsewhere (code ``already_running``).
        TributaryError: the dataflow does not exist or cannot be set up.
    """
    summary = workspace.run(name, trigger=trigger, progress=progress)
    _record(workspace, name, summary)
    return summary


def backfill(
    workspace: Workspace,
    name: str,
    since: datetime | date | float | str,
    *,
    progress: ProgressCallback | None = None,
) -> RunSummary:
    """Ingests an incremental dataflow's history again from ``since``, as a one-off run.

    With a cursor column, the run reads the rows whose cursor is at or after
    ``since`` (a date, or a number for a numeric cursor); over files and
    objects without one, the objects modified since then. Records are upserted
    by key, so none is doubled, and the saved watermark only moves forward:
    later runs go on as before. A naive ``since`` is UTC.

    Raises:
        ConfigurationError: a full-refresh dataflow (it reads everything on every run).
        LeaseLostError: the dataflow is running elsewhere.
    """
    base = workspace.dataflow_run(name, trigger="backfill", progress=progress)
    if base.spec.sync.mode != "incremental":
        raise ConfigurationError(
            f"Backfill re-reads an incremental dataflow's history from a date; {name!r} is a full refresh, "
            "which reads the whole source on every run: run it now instead."
        )
    run = BackfillRun(
        base.store,
        base.row,
        base.connector,
        base.schema,
        since=since,
        trigger="backfill",
        progress=progress,
        redact=base.redact,
    )
    summary = run.execute()
    _record(workspace, name, summary)
    return summary


class BackfillRun(DataflowRun):
    """A run of an incremental dataflow that starts at ``since`` instead of where the last run ended."""

    def __init__(self, *args: Any, since: datetime | date | float | str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.since = since

    def _resume_point(self, state: Mapping[str, Any]) -> dict[str, Any] | None:
        return None  # a backfill starts over from its date, whatever a killed run left

    def plan(
        self, state: Mapping[str, Any], resume: Mapping[str, Any] | None = None
    ) -> tuple[cursors.Watermark | None, cursors.Watermark | None, cursors.RunMax, list[Any]]:
        """Reads from ``since``, every object again; commits the saved watermark advanced by what it saw."""
        cursor = self.spec.sync.cursor
        fresh = {key: value for key, value in state.items() if key not in ("objects", "resume")}
        committed = cursors.Watermark.from_state(state) if cursor else None
        if committed is not None:
            fresh.update(starting_watermark(committed.kind, self.since).to_state())
        _, watermark, progress, segments = super().plan(fresh, resume)
        if cursor is None:  # objects without a cursor column: those modified since
            since = _utc_timestamp(self.since)
            segments = [s for s in segments if s.modified is None or _utc_timestamp(s.modified) >= since]
        return committed, watermark, progress, segments


def starting_watermark(kind: str | None, since: datetime | date | float | str) -> cursors.Watermark:
    """A watermark at ``since``, in the cursor's kind (a timestamp for dates)."""
    if kind is None:
        kind = "number" if isinstance(since, int | float) else "timestamp"
    value: Any
    if kind == "timestamp":
        value = _utc_timestamp(since)
    elif kind == "number":
        value = float(since)  # type: ignore[arg-type]
    else:
        value = since.isoformat() if isinstance(since, date) else str(since)
    return cursors.Watermark(kind, value)


def _utc_timestamp(moment: datetime | date | float | str) -> pd.Timestamp:
    """A date, datetime or ISO text as a UTC timestamp (naive means UTC)."""
    value = pd.Timestamp(moment)  # type: ignore[arg-type]
    return value.tz_localize("UTC") if value.tzinfo is None else value.tz_convert("UTC")


def _record(workspace: Workspace, name: str, summary: RunSummary) -> None:
    """Writes a person's run into schedule_state (a success clears pending retries)."""
    dataflow_id = int(workspace.store.dataflow_row(name)["id"])
    state.record_outcome(workspace.engine, dataflow_id, outcome_of(summary), utcnow())


def record_scheduled(
    workspace: Workspace,
    claim: state.Claim,
    outcome: state.Outcome,
    now: datetime,
    settings: SchedulerSettings,
) -> None:
    """Writes a scheduled run's outcome, with a retry when it failed in a way that may pass."""
    updated = state.record_outcome(workspace.engine, claim.dataflow_id, outcome, now, settings)
    if outcome.status == "failed" and updated is not None and updated.retry_at is not None:
        log.warning(
            "%s failed (%s); retry %s of %s at %s",
            claim.name,
            outcome.error_code,
            updated.attempts,
            settings.retry_attempts,
            updated.retry_at.isoformat(),
        )
    elif outcome.status == "failed":
        log.warning("%s failed (%s); no retry", claim.name, outcome.error_code)
