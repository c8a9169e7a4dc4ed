"""Replay: re-ingest the quarantined rows of a run through the dataflow's current mapping and checks.

After fixing a mapping (or a check), the rows a run quarantined can be run
again without re-reading the source: each ``run_errors`` row keeps the source
row as received. A replay is a run of its own (trigger ``replay``) that

- takes the dataflow's lease, like any run, and writes through the same
  methods as :class:`core.ingest.DataflowRun` (records upserted by source
  key with their identities, quarantined rows, counters), one bounded batch
  per transaction;
- reads each distinct quarantined source row once (several problems of one
  row are one row; a key quarantined twice keeps its latest version);
- upserts the rows that now pass and quarantines the others again, under the
  new run, with today's reasons. The replayed run is left as it was.

Decisions, so that a replay never makes the data worse:

- Rows that could not be parsed (``malformed_row``) are not re-parsed: a
  replay re-maps rows, it does not re-read the source. They are quarantined
  again with their reason and count as failed.
- A row is skipped (received, neither ingested nor failed, and said in the
  run's warnings) when a later run already read newer data for its key: a
  record written, or a row quarantined, by a run that started after the
  replayed one. After a later completed full refresh every row is out of date.
  Replaying the same run twice therefore rewrites the same records by key and
  doubles nothing.
- The error threshold does not apply: every replayed row failed once already.
- ``runs.resumed_from`` of a replay holds the run that first read its rows
  (the replayed run, or the run it replayed in turn); its trigger is
  ``replay``, so it never reads as a resumed run.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy import Connection, RowMapping, Table, case, func, select, union_all, update

from connectors.base import ORIGIN_COLUMN
from core.chunks import ERROR_COLUMNS, PreparedChunk
from core.errors import ConfigurationError
from core.ingest import DataflowRun, RunSummary
from core.models import DataflowSpec
from core.store import datasets
from core.store import tables as t
from core.store.leases import Lease

if TYPE_CHECKING:
    from core.services import Workspace

#: The trigger of replay runs.
TRIGGER = "replay"
#: Quarantined rows replayed per transaction (also bounds the keys in one IN list).
BATCH_ROWS = 1_000
#: The key a stored source row keeps its raw text under (see core.chunks).
_RAW_KEY = "_raw"
_MALFORMED = "malformed_row"


def replay(workspace: Workspace, run_id: int, *, batch_rows: int = BATCH_ROWS) -> RunSummary:
    """Re-ingests the quarantined rows of run ``run_id`` with its dataflow's current spec.

    Raises ConfigurationError when the run quarantined nothing, and
    LeaseLostError when the dataflow is running; problems during the replay
    are recorded on the new run, as for any run.
    """
    store = workspace.store
    original = store.run_row(run_id)
    if store.count_errors(run_id) == 0:
        raise ConfigurationError(f"Run #{run_id} quarantined no rows: there is nothing to replay.")
    row = store.dataflow_row(original["dataflow"])
    connection = DataflowSpec.model_validate(row["spec"]).source.connection
    first_read = original["resumed_from"] if original["trigger"] == TRIGGER else run_id
    return ReplayRun(
        workspace,
        row,
        replayed=run_id,
        first_read=int(first_read or run_id),
        batch_rows=batch_rows,
        redact=workspace.redactor(connection),
    ).execute()


class ReplayRun(DataflowRun):
    """A run whose rows are a past run's quarantined source rows instead of the source's."""

    def __init__(
        self,
        workspace: Workspace,
        dataflow: Mapping[str, Any] | RowMapping,
        *,
        replayed: int,
        first_read: int,
        batch_rows: int = BATCH_ROWS,
        **options: Any,
    ) -> None:
        connection = DataflowSpec.model_validate(dataflow["spec"]).source.connection
        super().__init__(
            workspace.store,
            dataflow,
            workspace.connector(connection),
            workspace.schema,
            trigger=TRIGGER,
            **options,
        )
        self.replayed = replayed
        self.first_read = first_read
        self.batch_rows = batch_rows

    def _resume_point(self, state: Mapping[str, Any]) -> dict[str, Any] | None:
        return None  # a replay reads no source: it neither resumes a read nor records a resume point

    def _run(
        self,
        lease: Lease,
        summary: RunSummary,
        state: dict[str, Any],
        resume: dict[str, Any] | None,
    ) -> None:
        engine = self.store.engine
        with engine.begin() as conn:
            lease.renew(conn)
            conn.execute(
                update(t.runs).where(t.runs.c.id == summary.run_id).values(resumed_from=self.first_read)
            )
            table = datasets.ensure_dataset(conn, self.dataflow_id, self.row["name"], self.chunks.types)
            generation = _current_generation(conn, table, summary.run_id)
            refreshed = self._later_full_refresh(conn)
            ids = self._distinct_rows(conn)
        skipped = 0
        if refreshed is not None:
            summary.received, skipped, ids = len(ids), len(ids), []
            summary.warnings.append(
                f"Run #{refreshed}, a full refresh, re-read the whole source after run #{self.first_read}: "
                "its quarantined rows are out of date, so none was replayed. "
                f"Replay run #{refreshed}'s instead."
            )
        for batch in _batches(ids, self.batch_rows):
            with engine.begin() as conn:
                lease.renew(conn)
                stored = _stored_rows(conn, batch)
                malformed = stored["code"] == _MALFORMED
                stale = self._superseded(conn, table, stored["source_key"].where(~malformed))
                chunk = self._prepare(stored[~malformed & ~stale])
                errors = _joined(chunk.errors, _still_malformed(stored[malformed]))
                summary.received += len(stored)
                summary.failed += chunk.failed + int(malformed.sum())
                skipped += int(stale.sum())
                self._write_records(conn, table, chunk, summary.run_id, generation)
                summary.ingested += len(chunk.records)
                self._write_errors(conn, errors, summary.run_id)
                summary.chunks += 1
                self._write_counters(conn, summary)
            if self.progress:
                self.progress(summary)
        if skipped and refreshed is None:
            summary.warnings.append(
                f"{skipped:,} row(s) were not replayed: a run after run #{self.first_read} already read "
                "newer data for their keys."
            )
        with engine.begin() as conn:
            lease.renew(conn)
            summary.status = "partial" if summary.failed else "succeeded"
            self._write_counters(conn, summary, finished=True)
            if summary.warnings:
                notes = [{"message": text, "breaking": False} for text in summary.warnings]
                conn.execute(update(t.runs).where(t.runs.c.id == summary.run_id).values(warnings=notes))

    # -- reading the replayed rows ---------------------------------------------------
    def _distinct_rows(self, conn: Connection) -> list[int]:
        """One error id per quarantined source row: the latest per key, and every row without a key."""
        errors = t.run_errors.c
        keyed = (
            select(func.max(errors.id))
            .where(errors.run_id == self.replayed, errors.source_key.is_not(None))
            .group_by(errors.source_key)
        )
        unkeyed = select(errors.id).where(errors.run_id == self.replayed, errors.source_key.is_(None))
        return sorted(conn.execute(union_all(keyed, unkeyed)).scalars())

    def _prepare(self, stored: pd.DataFrame) -> PreparedChunk:
        """Maps and checks stored source rows like a chunk read from the source (no watermark)."""
        if stored.empty:
            return PreparedChunk(0, pd.DataFrame(), pd.DataFrame(columns=ERROR_COLUMNS), 0)
        payload = [row if isinstance(row, dict) else {} for row in stored["row"]]
        raw = pd.DataFrame.from_records(payload, index=stored.index).drop(columns=_RAW_KEY, errors="ignore")
        raw[ORIGIN_COLUMN] = stored["origin"].astype("string")
        chunk = self.chunks.prepare(raw, None)
        if self.validation is not None:
            self.validation = self.validation.add(chunk.results)
        return chunk

    # -- freshness -------------------------------------------------------------------
    @property
    def _freshness(self) -> Any:
        """When a run's data was read: a replay's is that of the run that first read its rows."""
        return case((t.runs.c.trigger == TRIGGER, t.runs.c.resumed_from), else_=t.runs.c.id)

    def _later_full_refresh(self, conn: Connection) -> int | None:
        """A full refresh that completed after the rows were first read, if any."""
        return conn.execute(
            select(func.min(t.runs.c.id)).where(
                t.runs.c.dataflow_id == self.dataflow_id,
                t.runs.c.mode == "full_refresh",
                t.runs.c.status.in_(("succeeded", "partial")),
                t.runs.c.trigger != TRIGGER,
                t.runs.c.id > self.first_read,
            )
        ).scalar()

    def _superseded(self, conn: Connection, table: Table, keys: pd.Series) -> pd.Series:
        """Which rows a later run already read newer data for (written or quarantined by key)."""
        wanted = keys.dropna().unique().tolist()
        if not wanted:
            return pd.Series(False, index=keys.index)
        key = table.c[datasets.KEY]
        written = select(key).join(t.runs, t.runs.c.id == table.c._run_id)
        written = written.where(key.in_(wanted), self._freshness > self.first_read)
        later = select(t.runs.c.id).where(
            t.runs.c.dataflow_id == self.dataflow_id, self._freshness > self.first_read
        )
        quarantined = select(t.run_errors.c.source_key).where(
            t.run_errors.c.run_id.in_(later), t.run_errors.c.source_key.in_(wanted)
        )
        newer = set(conn.execute(written).scalars()) | set(conn.execute(quarantined).scalars())
        return keys.isin(newer)


def _current_generation(conn: Connection, table: Table, run_id: int) -> int:
    """The full-refresh generation the dataset's records carry now (a replay must not make them stale)."""
    latest = conn.execute(select(func.max(table.c._generation))).scalar()
    return int(latest) if latest is not None else run_id


def _stored_rows(conn: Connection, ids: Sequence[int]) -> pd.DataFrame:
    errors = t.run_errors.c
    query = select(errors.source_key, errors.origin, errors.code, errors.reason, errors.row)
    result = conn.execute(query.where(errors.id.in_(ids)).order_by(errors.id))
    return pd.DataFrame(result.all(), columns=list(result.keys()))


def _still_malformed(stored: pd.DataFrame) -> pd.DataFrame:
    """Malformed rows, quarantined again: a replay cannot re-parse them."""
    reason = (
        "Still malformed (a replay re-maps rows but cannot re-parse them; fix the source and run again): "
        + stored["reason"].astype(str)
    )
    return pd.DataFrame(
        {
            "field": None,
            "code": _MALFORMED,
            "reason": reason,
            "source_key": stored["source_key"],
            "origin": stored["origin"],
            "row": stored["row"],
        }
    )


def _joined(*frames: pd.DataFrame) -> pd.DataFrame:
    present = [frame for frame in frames if not frame.empty]
    return pd.concat(present, ignore_index=True) if present else frames[0]


def _batches(ids: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]
