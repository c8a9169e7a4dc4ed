"""One run of a dataflow: read chunks → map → validate → quarantine → upsert → checkpoint.

Each chunk's records, its quarantined rows, the run's counters, the sync
state and the lease renewal commit in ONE transaction. The watermark of an
incremental sync only moves when a run completes; until then the state holds
a resume point (chunks committed, under which spec version and source
fingerprint), so a killed run that is run again skips what was committed and
re-reads the rest: records are upserted by source key, never doubled, never
lost.

An incremental dataflow over files or objects (a connector's
``partitions()``) is read partition by partition by an executor
(:mod:`core.executors`): in this process by default, or on the workers of a
Dask cluster. Each partition keeps its own row of sync state, moved by
compare-and-swap in each of its chunk transactions, and the run's counters
are added to (``received = received + n``), so partitions commit
concurrently without overwriting each other; the run holds one lease, and
every commit, wherever it runs, checks its fencing token.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy import Connection, RowMapping, insert, update

from connectors.base import (
    Connector,
    ConnectorError,
    CursorRequest,
    Partition,
    StreamNotFoundError,
)
from core import cursor as cursors
from core import drift, profiles
from core.chunks import ChunkProcessor, PreparedChunk
from core.errors import (
    ConfigurationError,
    DataQualityError,
    LeaseLostError,
    SourceUnavailableError,
    TributaryError,
)
from core.mapping import ProfileSchema, compile_mapping
from core.models import DataflowSpec
from core.quality import ValidationSummary
from core.store import datasets, partitions
from core.store import tables as t
from core.store.leases import Lease
from core.store.repository import Store, utcnow

if TYPE_CHECKING:
    from core.executors import Executor

log = logging.getLogger(__name__)


@dataclass
class RunSummary:
    """What a run did; ``--json`` prints exactly these fields first."""

    run_id: int
    dataflow: str
    status: str
    received: int = 0
    ingested: int = 0
    failed: int = 0
    duration_s: float = 0.0
    deleted: int = 0
    chunks: int = 0
    error_code: str | None = None
    error_message: str | None = None
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The summary as plain JSON-ready values."""
        return asdict(self)


ProgressCallback = Callable[[RunSummary], None]


@dataclass(frozen=True)
class _Segment:
    """A part of the source read in one go: one object (by name and version) or the whole stream."""

    name: str | None
    version: str | None
    open: Callable[[], Iterator[pd.DataFrame]]
    modified: str | None = None
    partition: Partition | None = None  # the object, for a segment of a partitioned source


@dataclass(frozen=True)
class _Start:
    """Where a run starts: its lease, its summary, the saved state and what the plan made of it."""

    lease: Lease
    summary: RunSummary
    state: dict[str, Any]
    resume: dict[str, Any] | None
    committed: cursors.Watermark | None  # the watermark saved by the last completed run
    watermark: cursors.Watermark | None  # the one rows are filtered by
    progress: cursors.RunMax  # what the interrupted run this one resumes had seen


class DataflowRun:
    """Runs one dataflow once, holding its lease for the whole run."""

    def __init__(
        self,
        store: Store,
        dataflow: Mapping[str, Any] | RowMapping,
        connector: Connector,
        schema: ProfileSchema,
        *,
        trigger: str = "manual",
        progress: ProgressCallback | None = None,
        redact: Callable[[str], str] = lambda text: text,
        executor: Executor | None = None,
    ) -> None:
        self.store = store
        self.executor = executor
        self.row = dataflow
        self.spec = DataflowSpec.model_validate(dataflow["spec"])
        self.connector = connector
        self.schema = schema
        self.trigger = trigger
        self.progress = progress
        self.redact = redact
        self.dataflow_id = int(dataflow["id"])
        self.options = connector.parse_options(self.spec.source.options).model_dump()
        self.chunks = ChunkProcessor(self.spec, schema)
        self.validation = ValidationSummary.for_suite(self.chunks.suite) if self.spec.quality else None

    def execute(self) -> RunSummary:
        """Runs to the end; never raises for source or data problems (the run records them)."""
        started = time.monotonic()
        if self.executor is None:
            from core.executors import from_environment

            self.executor = from_environment()
        self.executor.check_store(self.store.engine)
        lease = Lease(self.store.engine, self.dataflow_id)
        lease.acquire()
        lease.start_heartbeat()
        try:
            with self.store.engine.begin() as conn:
                lease.renew(conn)
                self.store.abandon_running(conn, self.dataflow_id)
            state = self.store.cursor_state(self.dataflow_id)
            resume = self._resume_point(state)
            run_id = self.store.start_run(
                self.dataflow_id,
                self.trigger,
                self.spec.sync.mode,
                resume.get("run_id") if resume else None,
                version=int(self.row["version"]),
            )
            summary = RunSummary(run_id=run_id, dataflow=self.row["name"], status="running")
            try:
                self._run(lease, summary, state, resume)
            except LeaseLostError as error:
                self._fail(summary, error.code, error.user_message, lease=None)
            except TributaryError as error:
                self._fail(summary, error.code, error.user_message, lease)
            except ConnectorError as error:
                wrapped = from_connector(error)
                self._fail(summary, wrapped.code, wrapped.user_message, lease)
            except Exception as error:  # the run records it; the process stays alive
                log.exception("run %s of %s failed unexpectedly", run_id, self.row["name"])
                self._fail(
                    summary,
                    "internal",
                    f"Unexpected {type(error).__name__}: {self.redact(str(error))}",
                    lease,
                )
            summary.duration_s = round(time.monotonic() - started, 3)
            with self.store.engine.begin() as conn:
                conn.execute(
                    update(t.runs).where(t.runs.c.id == run_id).values(duration_s=summary.duration_s)
                )
            return summary
        finally:
            lease.release()

    # -- the run -------------------------------------------------------------
    @property
    def _pushes_down(self) -> bool:
        """Whether the source itself reads only rows past the cursor, in cursor order."""
        return self.connector.pushes_down_cursor and self.spec.sync.mode == "incremental"

    def _resume_point(self, state: Mapping[str, Any]) -> dict[str, Any] | None:
        """Where an interrupted run left off, if it ran the same spec in the same mode."""
        resume = state.get("resume")
        if not resume:
            return None
        same = resume.get("version") == self.row["version"] and resume.get("mode") == self.spec.sync.mode
        return dict(resume) if same else None

    def plan(
        self, state: Mapping[str, Any], resume: Mapping[str, Any] | None = None
    ) -> tuple[cursors.Watermark | None, cursors.Watermark | None, cursors.RunMax, list[_Segment]]:
        """What a run reads now: (committed watermark, watermark to filter by, progress, segments)."""
        sync = self.spec.sync
        incremental_by_cursor = sync.mode == "incremental" and sync.cursor is not None
        watermark = cursors.Watermark.from_state(state) if incremental_by_cursor else None
        committed = watermark
        progress = cursors.RunMax.from_state(resume or {})
        request = None
        if self._pushes_down:
            assert watermark is not None and sync.cursor is not None
            if resume and progress.value is not None:
                # continue after what the interrupted run committed, not from the old watermark
                watermark = cursors.Watermark(progress.kind, progress.value, frozenset(progress.ties))
            request = CursorRequest(sync.cursor, watermark.value, tuple(sync.primary_key))
        return committed, watermark, progress, self._segments(state, request)

    def _segments(self, state: Mapping[str, Any], request: CursorRequest | None) -> list[_Segment]:
        """What this run reads: the changed objects of a versioned source, else the whole stream.

        An incremental dataflow over a source of versioned objects (files,
        blobs) reads each object once per version; the versions already
        ingested are part of the committed state.
        """
        stream, options, size = self.spec.source.stream, self.options, self.spec.sync.chunk_size
        if self.spec.sync.mode == "incremental":
            parts = self.connector.partitions(stream, options)
            if parts is not None:
                done = state.get("objects", {})
                return [
                    _Segment(
                        p.name,
                        p.version,
                        partial(self.connector.read_partition, stream, p, options, size),
                        p.modified,
                        p,
                    )
                    for p in parts
                    if done.get(p.name) != p.version
                ]
        version = None if self._pushes_down else self.connector.fingerprint(stream, options)
        return [_Segment(None, version, partial(self.connector.read, stream, options, size, request))]

    def _run(
        self,
        lease: Lease,
        summary: RunSummary,
        state: dict[str, Any],
        resume: dict[str, Any] | None,
    ) -> None:
        committed, watermark, progress, segments = self.plan(state, resume)
        self._check_drift(summary, segments)
        start = _Start(lease, summary, state, resume, committed, watermark, progress)
        if not segments or segments[0].partition is not None:
            self._run_partitions(start, segments)
        else:
            self._run_whole(start, segments[0])

    def _run_whole(self, start: _Start, segment: _Segment) -> None:
        """Reads the stream as one segment, in this process; the resume point sits in the run's state."""
        sync = self.spec.sync
        lease, summary, state, resume = start.lease, start.summary, start.state, start.resume
        committed, watermark, progress = start.committed, start.watermark, start.progress
        # a full refresh resumes its generation only when the chunks it skips are unchanged
        can_skip = (
            resume is not None
            and segment.version is not None
            and segment.version == resume.get("segment_version")
        )
        generation = int(resume["generation"]) if resume and can_skip else summary.run_id
        run_id = resume["run_id"] if resume else summary.run_id
        with self.store.engine.begin() as conn:
            table = datasets.ensure_dataset(conn, self.dataflow_id, self.row["name"], self.chunks.types)
        skip = 0
        if (
            resume
            and segment.version is not None
            and not self._pushes_down
            and (resume.get("segment") == segment.name and resume.get("segment_version") == segment.version)
        ):
            skip = int(resume.get("chunks_done", 0))
        chunks = segment.open()
        # closed on any outcome: a failed run must not leave the source's cursor (and its locks) open
        with closed_after(chunks):
            for index, raw in enumerate(chunks):
                if index < skip:
                    continue
                chunk = self.chunks.prepare(raw, watermark)
                if self.validation is not None:
                    self.validation = self.validation.add(chunk.results)
                summary.received += chunk.received
                summary.failed += chunk.failed
                over = summary.received and summary.failed / summary.received > self.spec.error_threshold
                if chunk.cursor_values is not None and watermark is not None:
                    progress.kind = watermark.kind
                    progress.update(chunk.cursor_values, chunk.keys)
                resume_state = {
                    "run_id": run_id,
                    "generation": generation,
                    "segment": segment.name,
                    "segment_version": segment.version,
                    "chunks_done": index + 1,
                    "version": self.row["version"],
                    "mode": sync.mode,
                    **progress.to_state(),
                }
                with self.store.engine.begin() as conn:
                    lease.renew(conn)
                    if not over:
                        summary.deleted += self._write_records(conn, table, chunk, summary.run_id, generation)
                        summary.ingested += len(chunk.records)
                    self._write_errors(conn, chunk.errors, summary.run_id)
                    summary.chunks += 1
                    self._write_counters(conn, summary)
                    self.store.save_cursor_state(conn, self.dataflow_id, {**state, "resume": resume_state})
                if self.progress:
                    self.progress(summary)
                if over:
                    raise _over_threshold(summary, self.spec.error_threshold)
        with self.store.engine.begin() as conn:
            lease.renew(conn)
            new_state: dict[str, Any] = {}
            if sync.mode == "full_refresh":
                stale = datasets.delete_stale(conn, table, generation)
                summary.deleted += stale
                if stale:
                    profiles.forget_missing(conn, self.dataflow_id, table)
                partitions.clear(conn, self.dataflow_id)  # the next incremental sync reads every object
            elif committed is not None:
                new_state.update(committed.advanced(progress).to_state())
            self.store.save_cursor_state(conn, self.dataflow_id, new_state)
            summary.status = "partial" if summary.failed else "succeeded"
            self._write_counters(conn, summary, finished=True)

    def _run_partitions(self, start: _Start, segments: list[_Segment]) -> None:
        """Reads the changed objects of a partitioned source through the executor, each on its own.

        The run series (the first run of those that resumed each other) and
        the run-level resume point are committed before any partition is read;
        each partition's progress is then its own row. At the end the
        watermark advances by what every partition of the series saw.
        """
        from core.executors.partition import PartitionJob, PartitionTask

        sync = self.spec.sync
        lease, summary, state, resume = start.lease, start.summary, start.state, start.resume
        committed, watermark, progress = start.committed, start.watermark, start.progress
        series = int(resume["run_id"]) if resume else summary.run_id
        with self.store.engine.begin() as conn:
            datasets.ensure_dataset(conn, self.dataflow_id, self.row["name"], self.chunks.types)
        if segments:
            point = {
                "run_id": series,
                "generation": summary.run_id,
                "version": self.row["version"],
                "mode": sync.mode,
                **progress.to_state(),
            }
            with self.store.engine.begin() as conn:
                lease.renew(conn)
                partitions.register(conn, self.dataflow_id, [s.name for s in segments if s.name])
                self.store.save_cursor_state(conn, self.dataflow_id, {**state, "resume": point})
            fence = lease.fence()
            tasks = [
                PartitionTask(
                    dataflow=str(self.row["name"]),
                    dataflow_id=self.dataflow_id,
                    spec_version=int(self.row["version"]),
                    run_id=summary.run_id,
                    series=series,
                    partition=segment.partition,
                    lease=fence,
                    watermark=None if watermark is None else watermark.to_state(),
                )
                for segment in segments
                if segment.partition is not None
            ]
            assert self.executor is not None
            self.executor.run_partitions(PartitionJob(self, lease, summary, tasks, watermark))
        with self.store.engine.begin() as conn:
            lease.renew(conn)
            new_state: dict[str, Any] = {}
            if committed is not None:
                seen = merged_progress(progress, partitions.progress_of(conn, self.dataflow_id, series))
                new_state.update(committed.advanced(seen).to_state())
            self.store.save_cursor_state(conn, self.dataflow_id, new_state)
            self.refresh_counters(summary, conn)
            summary.status = "partial" if summary.failed else "succeeded"
            self._write_counters(conn, summary, finished=True)

    def refresh_counters(self, summary: RunSummary, conn: Connection | None = None) -> None:
        """Sets the summary's counters to the run's committed ones (partitions may have added to them)."""
        if conn is None:
            with self.store.engine.connect() as own:
                totals = self.store.run_totals(own, summary.run_id)
        else:
            totals = self.store.run_totals(conn, summary.run_id)
        summary.received, summary.ingested = int(totals["received"]), int(totals["ingested"])
        summary.failed, summary.deleted = int(totals["failed"]), int(totals["deleted"])
        summary.chunks = int(totals["chunks"])

    def drift_report(self, segments: list[_Segment]) -> tuple[drift.Schema | None, drift.DriftReport | None]:
        """The source's schema now and, if this version recorded one, how it drifted since.

        The schema is read from a sample of what the run reads (the newest
        changed object of a versioned source). (None, None) when there is
        nothing to read.
        """
        if not segments:
            return None, None
        stream = self.spec.source.stream
        objects = [s for s in segments if s.name is not None]
        if objects:
            stream = max(objects, key=lambda s: (s.modified or "", s.name or "")).name or stream
        try:
            current = drift.read_schema(self.connector, stream, self.options)
        except StreamNotFoundError:
            return None, None  # nothing to read yet: the read itself says so, or reads nothing
        saved = self.store.version_row(None, self.dataflow_id, int(self.row["version"]))
        baseline = saved["source_schema"] if saved is not None else None
        if baseline is None:
            return current, None
        mapping = compile_mapping(self.spec.mapping, self.schema, list(baseline))
        return current, drift.compare(baseline, current, mapping)

    def _check_drift(self, summary: RunSummary, segments: list[_Segment]) -> None:
        """Stops the run before any write when the source lost or retyped a column the mapping reads.

        A version saved without a source schema records the one its first run sees.
        """
        current, report = self.drift_report(segments)
        if report is None:
            if current is not None:
                with self.store.engine.begin() as conn:
                    self.store.set_source_schema(conn, self.dataflow_id, int(self.row["version"]), current)
            return
        summary.warnings = [change.message for change in report.warnings]
        if report.drifted:
            with self.store.engine.begin() as conn:
                conn.execute(
                    update(t.runs).where(t.runs.c.id == summary.run_id).values(warnings=report.to_json())
                )
        report.raise_if_breaking()

    # -- writes --------------------------------------------------------------
    def _write_records(
        self, conn: Connection, table: Any, chunk: PreparedChunk, run_id: int, generation: int
    ) -> int:
        """Writes a chunk's records and removes those the source deleted; returns how many were removed."""
        removed = 0
        if not chunk.deleted_keys.empty:
            removed = datasets.delete_keys(conn, table, chunk.deleted_keys)
            if self.spec.identities:
                profiles.forget(conn, self.dataflow_id, chunk.deleted_keys)
        if chunk.records.empty:
            return removed
        records = chunk.records.assign(_run_id=run_id, _generation=generation, _ingested_at=utcnow())
        datasets.upsert(conn, table, records)
        self._write_identities(conn, records)
        return removed

    def _write_identities(self, conn: Connection, records: pd.DataFrame) -> None:
        if not self.spec.identities:
            return
        # normalised by namespace, placeholders refused; then the affected profiles re-clustered
        values = {namespace: records[attribute] for namespace, attribute in self.spec.identities.items()}
        changed = profiles.write_identities(conn, self.dataflow_id, records[datasets.KEY], values)
        profiles.maintain(conn, self.dataflow_id, changed)

    def _write_errors(self, conn: Connection, errors: pd.DataFrame, run_id: int) -> None:
        if errors.empty:
            return
        rows = errors.assign(run_id=run_id, dataflow_id=self.dataflow_id)
        conn.execute(insert(t.run_errors), rows.astype(object).where(rows.notna(), None).to_dict("records"))

    def _write_counters(self, conn: Connection, summary: RunSummary, finished: bool = False) -> None:
        values: dict[str, Any] = {
            "received": summary.received,
            "ingested": summary.ingested,
            "failed": summary.failed,
            "deleted": summary.deleted,
            "chunks": summary.chunks,
            "status": summary.status,
        }
        if self.validation is not None:
            values["validation"] = self.validation.to_json()
        if finished:
            values["finished_at"] = utcnow()
        conn.execute(update(t.runs).where(t.runs.c.id == summary.run_id).values(**values))

    def _fail(self, summary: RunSummary, code: str, message: str, lease: Lease | None) -> None:
        summary.status = "failed"
        summary.error_code = code
        summary.error_message = self.redact(message)
        with self.store.engine.begin() as conn:
            if lease is not None and code == "error_threshold":
                # a failed run starts over next time instead of resuming
                state = self.store.cursor_state(self.dataflow_id, conn)
                state.pop("resume", None)
                self.store.save_cursor_state(conn, self.dataflow_id, state)
            conn.execute(
                update(t.runs)
                .where(t.runs.c.id == summary.run_id)
                .values(
                    status="failed",
                    finished_at=utcnow(),
                    error_code=code,
                    error_message=summary.error_message,
                    received=summary.received,
                    ingested=summary.ingested,
                    failed=summary.failed,
                    chunks=summary.chunks,
                )
            )


def merged_progress(start: cursors.RunMax, parts: list[tuple[str, Mapping[str, Any]]]) -> cursors.RunMax:
    """The cursor progress of a whole run from that of its partitions: the highest value, its ties united.

    A partition whose cursor was read as another kind (numbers where the
    others held timestamps) cannot be compared and is left out: the watermark
    then moves less far, which only admits rows again, upserted by key.
    """
    merged = cursors.RunMax(start.kind, start.value, set(start.ties))
    for _, state in parts:
        part = cursors.RunMax.from_state(state)
        if part.value is None:
            continue
        if merged.value is None:
            if merged.kind in (None, part.kind):
                merged = cursors.RunMax(part.kind, part.value, set(part.ties))
            continue
        if part.kind != merged.kind:
            continue
        if part.value > merged.value:
            merged.value, merged.ties = part.value, set(part.ties)
        elif part.value == merged.value:
            merged.ties |= part.ties
    return merged


def _over_threshold(summary: RunSummary, threshold: float) -> DataQualityError:
    return over_threshold(summary.failed, summary.received, threshold)


def over_threshold(failed: int, received: int, threshold: float) -> DataQualityError:
    """The error that stops a run whose failed rows passed its error threshold."""
    return DataQualityError(
        f"{failed} of {received} rows failed ({failed / received:.1%}), "
        f"over this dataflow's error threshold of {threshold:.0%}; the run stopped. "
        "See its quarantined rows."
    )


@contextmanager
def closed_after(chunks: Iterator[pd.DataFrame]) -> Iterator[None]:
    """Closes a connector's chunk generator however the loop over it ends."""
    try:
        yield
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


def from_connector(error: ConnectorError) -> TributaryError:
    if error.retriable:
        return SourceUnavailableError(error.user_message)
    return ConfigurationError(error.user_message, code=type(error).__name__.removesuffix("Error").lower())
