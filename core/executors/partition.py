"""One partition of a run, read and committed chunk by chunk, wherever it runs.

The same function reads a partition in the run's own process (the local
executor) and on a Dask worker. Each chunk commits in ONE transaction: the
lease's fencing token checked, the records upserted, the quarantined rows, the
partition's resume point moved by compare-and-swap, and the chunk's counts
added to the run's counters. A retried partition resumes after the chunks its
run series committed; the error threshold is judged on the run's committed
totals and the chunk.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, update
from sqlalchemy.exc import DBAPIError

from connectors.base import ConnectorError, Partition
from core import cursor as cursors
from core import errors
from core.chunks import PreparedChunk
from core.errors import DataQualityError, TributaryError
from core.ingest import closed_after, from_connector, over_threshold
from core.store import datasets, partitions
from core.store import tables as t
from core.store.leases import Fence, LeaseFence

if TYPE_CHECKING:
    from core.ingest import DataflowRun, RunSummary
    from core.store.leases import Lease

#: PostgreSQL's deadlock and serialisation failures: the transaction is retried, it wrote nothing.
_RETRY_STATES = frozenset({"40P01", "40001"})
_ATTEMPTS = 5


@dataclass(frozen=True)
class PartitionTask:
    """What reading one partition of a run needs: names, numbers and versions, never a secret.

    Attributes:
        dataflow: the dataflow's name (a worker opens it from its own store).
        dataflow_id: its id, to check the worker's store is the coordinator's.
        spec_version: the dataflow version the run uses; a worker refuses another.
        run_id: the run whose counters the chunks add to.
        series: the first run of a resumed series: the partition's progress belongs to it.
        partition: the object and its version.
        lease: the coordinator's lease owner and fencing token, checked in every commit.
        watermark: the watermark rows are filtered by (``Watermark.to_state()``), or None.
    """

    dataflow: str
    dataflow_id: int
    spec_version: int
    run_id: int
    series: int
    partition: Partition
    lease: LeaseFence
    watermark: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class ErrorReport:
    """An error that stopped a partition, as plain values: it crosses processes and shows in no log."""

    kind: str  # the core.errors class name, or "internal"
    code: str
    message: str

    def to_error(self) -> TributaryError:
        """The TributaryError to raise in the coordinator."""
        cls = getattr(errors, self.kind, None)
        if isinstance(cls, type) and issubclass(cls, TributaryError):
            return cls(self.message, code=self.code)
        return errors.RunFailedError(self.message, code=self.code)


@dataclass(frozen=True)
class PartitionResult:
    """How reading one partition went: its validation summary, or why it stopped."""

    name: str
    validation: Mapping[str, Any] | None = None
    error: ErrorReport | None = None


@dataclass(frozen=True)
class PartitionJob:
    """The partitions of one run, for an executor to read.

    Attributes:
        run: the run (in the coordinator); its counters and validation summary are kept current.
        lease: the run's lease, held by the coordinator.
        summary: the run's summary, whose counters the executor keeps current.
        tasks: one task per partition, in path order.
        watermark: the watermark rows are filtered by, or None.
    """

    run: DataflowRun
    lease: Lease
    summary: RunSummary
    tasks: list[PartitionTask]
    watermark: cursors.Watermark | None = None


#: Called after each chunk's commit with what it added to the run's counters.
ChunkCallback = Callable[[Mapping[str, int]], None]


def read_partition(
    run: DataflowRun,
    task: PartitionTask,
    fence: Fence,
    *,
    watermark: cursors.Watermark | None = None,
    on_chunk: ChunkCallback | None = None,
    live_validation: bool = False,
) -> PartitionResult:
    """Reads and commits one partition; raises what stopped it.

    Args:
        run: the dataflow's run (its spec, connector, store and writers).
        task: the partition and the run it belongs to.
        fence: checked in every transaction (the run's lease, or the coordinator's token on a worker).
        watermark: the watermark object to filter by, shared across partitions read in one process
            (its kind is fixed on first sight); default one made from ``task.watermark``.
        on_chunk: called after each chunk's commit with the counts it added.
        live_validation: write the run's validation summary with each chunk (one process reads
            all partitions, so ``run.validation`` is the whole run's).

    Raises:
        DataQualityError: the run's failed rows passed the error threshold with this chunk.
        LeaseLostError: the run lost its lease (stopped, or taken over).
        RunFailedError: another attempt at this partition committed first.
    """
    if watermark is None and task.watermark is not None:
        watermark = cursors.Watermark.from_state(task.watermark)
    part = task.partition
    with run.store.engine.begin() as conn:
        fence.check(conn)
        claim = partitions.claim(conn, task.dataflow_id, part.name, part.version, task.series)
        table = datasets.dataset_table(conn, task.dataflow_id)
    if claim.done:
        return PartitionResult(part.name)
    assert table is not None, "the coordinator creates the dataset before reading partitions"
    writer = _ChunkWriter(run, task, fence, table, live_validation)
    progress = cursors.RunMax.from_state(claim.progress or {})
    done = claim.skip
    chunks = run.connector.read_partition(run.spec.source.stream, part, run.options, run.spec.sync.chunk_size)
    with closed_after(chunks):
        for index, raw in enumerate(chunks):
            if index < claim.skip:
                continue
            chunk = run.chunks.prepare(raw, watermark)
            if run.validation is not None:
                run.validation = run.validation.add(chunk.results)
            if chunk.cursor_values is not None and watermark is not None:
                progress.kind = watermark.kind
                progress.update(chunk.cursor_values, chunk.keys)
            counts, over = writer.commit(chunk, index + 1, progress.to_state() if watermark else None)
            done = index + 1
            if on_chunk is not None:
                on_chunk(counts)
            if over is not None:
                raise over
    with run.store.engine.begin() as conn:
        fence.check(conn)
        partitions.finish(conn, task.dataflow_id, part.name, part.version, task.series, done)
    return PartitionResult(part.name, run.validation.to_json() if run.validation is not None else None)


class _ChunkWriter:
    """Commits the chunks of one partition, each in one transaction."""

    def __init__(
        self, run: DataflowRun, task: PartitionTask, fence: Fence, table: Any, live_validation: bool
    ) -> None:
        self.run, self.task, self.fence, self.table = run, task, fence, table
        self.live_validation = live_validation

    def commit(
        self, chunk: PreparedChunk, chunks_done: int, progress: Mapping[str, Any] | None
    ) -> tuple[dict[str, int], DataQualityError | None]:
        """Commits one chunk; retries the transaction when PostgreSQL broke a deadlock with it.

        Returns what it added to the run's counters, and the error to stop with when the
        run's failed rows passed the threshold (the chunk's records were then not written).
        """
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                with self.run.store.engine.begin() as conn:
                    return self._write(conn, chunk, chunks_done, progress)
            except DBAPIError as error:
                if getattr(error.orig, "sqlstate", None) not in _RETRY_STATES or attempt == _ATTEMPTS:
                    raise
                time.sleep(random.uniform(0.05, 0.2) * attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def _write(
        self, conn: Connection, chunk: PreparedChunk, chunks_done: int, progress: Mapping[str, Any] | None
    ) -> tuple[dict[str, int], DataQualityError | None]:
        run, task = self.run, self.task
        self.fence.check(conn)
        before = run.store.run_totals(conn, task.run_id)
        received = int(before["received"]) + chunk.received
        failed = int(before["failed"]) + chunk.failed
        over = None
        if received and failed / received > run.spec.error_threshold:
            # the chunk's quarantined rows and counts are kept, its records are not; the run stops
            over = over_threshold(failed, received, run.spec.error_threshold)
        counts = {
            "received": chunk.received,
            "ingested": 0,
            "failed": chunk.failed,
            "deleted": 0,
            "chunks": 1,
        }
        if over is None:
            # the records' generation is the run: partitions are read by incremental runs only
            counts["deleted"] = run._write_records(conn, self.table, chunk, task.run_id, task.run_id)
            counts["ingested"] = len(chunk.records)
        run._write_errors(conn, chunk.errors, task.run_id)
        part = task.partition
        partitions.advance(
            conn, task.dataflow_id, part.name, part.version, task.series, chunks_done, progress
        )
        # last: the run's row is the one every worker's chunk updates, so it is locked the shortest time
        run.store.add_to_run(conn, task.run_id, **counts)
        if self.live_validation and run.validation is not None:
            conn.execute(
                update(t.runs).where(t.runs.c.id == task.run_id).values(validation=run.validation.to_json())
            )
        return counts, over


def report_of(error: BaseException, redact: Callable[[str], str]) -> ErrorReport:
    """An error as plain values, its message redacted (a connector's may quote its settings)."""
    if isinstance(error, ConnectorError):
        error = from_connector(error)
    if isinstance(error, TributaryError):
        return ErrorReport(type(error).__name__, error.code, redact(error.user_message))
    return ErrorReport("internal", "internal", f"Unexpected {type(error).__name__}: {redact(str(error))}")
