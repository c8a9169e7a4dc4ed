"""One run of a dataflow: read chunks → map → validate → quarantine → upsert → checkpoint.

Each chunk's records, its quarantined rows, the run's counters, the sync
state and the lease renewal commit in ONE transaction. The watermark of an
incremental sync only moves when a run completes; until then the state holds
a resume point (chunks committed, under which spec version and source
fingerprint), so a killed run that is run again skips what was committed and
re-reads the rest: records are upserted by source key, never doubled, never
lost.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd
from sqlalchemy import Connection, RowMapping, delete, insert, select, update

from connectors.base import (
    META_PREFIX,
    ORIGIN_COLUMN,
    RAW_COLUMN,
    ROW_ERROR_COLUMN,
    Connector,
    ConnectorError,
    CursorRequest,
)
from core import cursor as cursors
from core.errors import (
    ConfigurationError,
    DataQualityError,
    LeaseLostError,
    SourceUnavailableError,
    TributaryError,
)
from core.mapping import ProfileSchema, compile_mapping
from core.models import DataflowSpec
from core.quality import QualitySuite
from core.store import bulk, datasets
from core.store import tables as t
from core.store.leases import Lease
from core.store.repository import Store, utcnow

log = logging.getLogger(__name__)

ERROR_COLUMNS = ["row", "field", "code", "reason"]
_SEPARATOR = "\x1f"  # joins the values of a composite primary key


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

    def as_dict(self) -> dict[str, Any]:
        """The summary as plain JSON-ready values."""
        return asdict(self)


ProgressCallback = Callable[[RunSummary], None]


@dataclass
class _Chunk:
    """A chunk split into the rows to upsert and the rows to quarantine."""

    received: int
    records: pd.DataFrame
    errors: pd.DataFrame
    failed: int
    cursor_values: pd.Series | None = None
    keys: pd.Series = field(default_factory=lambda: pd.Series(dtype="string"))


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
    ) -> None:
        self.store = store
        self.row = dataflow
        self.spec = DataflowSpec.model_validate(dataflow["spec"])
        self.connector = connector
        self.schema = schema
        self.trigger = trigger
        self.progress = progress
        self.redact = redact
        self.dataflow_id = int(dataflow["id"])
        self.options = connector.parse_options(self.spec.source.options).model_dump()
        self.mapping = compile_mapping(self.spec.mapping, schema)
        self._compiled_for: list[str] | None = None
        self.suite = QualitySuite.parse(self.spec.quality)
        self.suite.check_columns(self.mapping.targets)
        self.types = {target: schema.get(target).type for target in self.mapping.targets}

    def execute(self) -> RunSummary:
        """Runs to the end; never raises for source or data problems (the run records them)."""
        started = time.monotonic()
        lease = Lease(self.store.engine, self.dataflow_id)
        lease.acquire()
        lease.start_heartbeat()
        try:
            with self.store.engine.begin() as conn:
                lease.renew(conn)
                self.store.abandon_running(conn, self.dataflow_id)
            state = self.store.cursor_state(self.dataflow_id)
            fingerprint = self.connector.fingerprint(self.spec.source.stream, self.options)
            resume = self._resume_point(state, fingerprint)
            run_id = self.store.start_run(
                self.dataflow_id, self.trigger, self.spec.sync.mode, resume.get("run_id") if resume else None
            )
            summary = RunSummary(run_id=run_id, dataflow=self.row["name"], status="running")
            try:
                self._run(lease, summary, state, resume, fingerprint)
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

    def _resume_point(self, state: Mapping[str, Any], fingerprint: str | None) -> dict[str, Any] | None:
        """Where an interrupted run left off, if this run may continue from there.

        A source read in cursor order resumes from the highest cursor value
        committed; any other source skips the chunks already committed, which
        is only safe while its content (fingerprint) is unchanged.
        """
        resume = state.get("resume")
        if not resume or (fingerprint is None and not self._pushes_down):
            return None
        same = (
            resume.get("fingerprint") == fingerprint
            and resume.get("version") == self.row["version"]
            and resume.get("mode") == self.spec.sync.mode
        )
        return dict(resume) if same else None

    def _run(
        self,
        lease: Lease,
        summary: RunSummary,
        state: dict[str, Any],
        resume: dict[str, Any] | None,
        fingerprint: str | None,
    ) -> None:
        sync = self.spec.sync
        watermark = cursors.Watermark.from_state(state) if sync.mode == "incremental" else None
        progress = cursors.RunMax.from_state(resume or {})
        generation = int(resume["generation"]) if resume else summary.run_id
        skip = int(resume["chunks_done"]) if resume and not self._pushes_down else 0
        request = None
        committed = watermark
        if self._pushes_down:
            assert watermark is not None and sync.cursor is not None
            if resume and progress.value is not None:
                # continue after what the interrupted run committed, not from the old watermark
                watermark = cursors.Watermark(progress.kind, progress.value, frozenset(progress.ties))
            request = CursorRequest(sync.cursor, watermark.value, tuple(sync.primary_key))
        with self.store.engine.begin() as conn:
            table = datasets.ensure_dataset(conn, self.dataflow_id, self.row["name"], self.types)
        chunks = self.connector.read(self.spec.source.stream, self.options, sync.chunk_size, request)
        # closed on any outcome: a failed run must not leave the source's cursor (and its locks) open
        with _closed_after(chunks):
            for index, raw in enumerate(chunks):
                if index < skip:
                    continue
                chunk = self._prepare(raw, watermark)
                summary.received += chunk.received
                summary.failed += chunk.failed
                over = summary.received and summary.failed / summary.received > self.spec.error_threshold
                if chunk.cursor_values is not None and watermark is not None:
                    progress.kind = watermark.kind
                    progress.update(chunk.cursor_values, chunk.keys)
                resume_state = {
                    "run_id": resume["run_id"] if resume else summary.run_id,
                    "generation": generation,
                    "chunks_done": index + 1,
                    "fingerprint": fingerprint,
                    "version": self.row["version"],
                    "mode": sync.mode,
                    **progress.to_state(),
                }
                with self.store.engine.begin() as conn:
                    lease.renew(conn)
                    if not over:
                        self._write_records(conn, table, chunk, summary.run_id, generation)
                        summary.ingested += len(chunk.records)
                    self._write_errors(conn, chunk.errors, summary.run_id)
                    summary.chunks += 1
                    self._write_counters(conn, summary)
                    self.store.save_cursor_state(conn, self.dataflow_id, {**state, "resume": resume_state})
                if self.progress:
                    self.progress(summary)
                if over:
                    raise DataQualityError(
                        f"{summary.failed} of {summary.received} rows failed "
                        f"({summary.failed / summary.received:.1%}), over this dataflow's error threshold "
                        f"of {self.spec.error_threshold:.0%}; the run stopped. See its quarantined rows."
                    )
        with self.store.engine.begin() as conn:
            lease.renew(conn)
            if sync.mode == "full_refresh":
                summary.deleted = datasets.delete_stale(conn, table, generation)
                if summary.deleted:
                    keys = select(table.c[datasets.KEY])
                    conn.execute(
                        delete(t.identities).where(
                            t.identities.c.dataflow_id == self.dataflow_id,
                            t.identities.c.source_key.not_in(keys),
                        )
                    )
                new_state: dict[str, Any] = {}
            else:
                assert watermark is not None
                assert committed is not None
                new_state = committed.advanced(progress).to_state()
            self.store.save_cursor_state(conn, self.dataflow_id, new_state)
            summary.status = "partial" if summary.failed else "succeeded"
            self._write_counters(conn, summary, finished=True)

    def _prepare(self, raw: pd.DataFrame, watermark: cursors.Watermark | None) -> _Chunk:
        """Filters, keys, maps and validates one chunk, vectorised."""
        raw = raw.reset_index(drop=True)
        origin = (
            raw[ORIGIN_COLUMN] if ORIGIN_COLUMN in raw else pd.Series(pd.NA, index=raw.index, dtype="string")
        )
        malformed = (
            raw[ROW_ERROR_COLUMN].notna() if ROW_ERROR_COLUMN in raw else pd.Series(False, index=raw.index)
        )
        source_columns = [c for c in raw.columns if not str(c).startswith(META_PREFIX)]
        if self._compiled_for != source_columns:
            # compiled against the real columns, plain names with spaces or dots are columns, not expressions
            self._check_drift(source_columns)
            self.mapping = compile_mapping(self.spec.mapping, self.schema, source_columns)
            self._compiled_for = source_columns
        sync = self.spec.sync
        keys = _source_keys(raw, sync.primary_key, origin)
        cursor_values = None
        if watermark is not None:
            assert sync.cursor is not None
            if sync.cursor not in raw.columns:
                raise ConfigurationError(
                    f"The cursor column {sync.cursor!r} is not in the source; "
                    f"it has: {', '.join(source_columns)}."
                )
            cursor_values = watermark.normalise(raw[sync.cursor])
            keep = watermark.admits(cursor_values, keys) | (malformed & (watermark.value is None))
            raw, keys, origin, malformed = raw[keep], keys[keep], origin[keep], malformed[keep]
            cursor_values = cursor_values[keep & ~malformed]
        errors = [_malformed_errors(raw, malformed)]
        missing_key = keys.isna() & ~malformed
        if missing_key.any():
            errors.append(
                _errors(
                    missing_key[missing_key].index,
                    None,
                    "missing_primary_key",
                    f"primary key ({', '.join(sync.primary_key)}) is empty",
                )
            )
        candidates = raw[~malformed & ~missing_key]
        mapped = self.mapping.apply(candidates[source_columns])
        errors.append(mapped.errors[ERROR_COLUMNS])
        clean = mapped.frame.drop(index=mapped.errors["row"].unique())
        failures = self.suite.validate(clean)
        if not failures.empty:
            errors.append(failures.assign(code=failures["expectation"])[ERROR_COLUMNS])
        error_frame = (
            pd.concat([e for e in errors if not e.empty], ignore_index=True)
            if any(not e.empty for e in errors)
            else pd.DataFrame(columns=ERROR_COLUMNS)
        )
        bad_rows = pd.Index(error_frame["row"].unique())
        good = clean.drop(index=bad_rows.intersection(clean.index))
        records = good.assign(
            **{datasets.KEY: keys.loc[good.index].astype(str), "_origin": origin.loc[good.index]}
        )
        # the same key twice in one chunk: the later row wins, as it would across chunks
        records = records.drop_duplicates(subset=datasets.KEY, keep="last")
        quarantined = _with_rows(error_frame, raw, source_columns, keys, origin)
        return _Chunk(
            received=len(raw),
            records=records,
            errors=quarantined,
            failed=len(bad_rows),
            cursor_values=cursor_values,
            keys=keys,
        )

    def _check_drift(self, columns: list[str]) -> None:
        missing = sorted(self.mapping.source_columns - set(columns))
        if missing:
            raise ConfigurationError(
                f"The source no longer has column(s) {', '.join(missing)} that the mapping uses; "
                f"it has: {_names(columns)}. Update the mapping (or the source's format settings).",
                code="schema_drift",
            )

    # -- writes --------------------------------------------------------------
    def _write_records(
        self, conn: Connection, table: Any, chunk: _Chunk, run_id: int, generation: int
    ) -> None:
        if chunk.records.empty:
            return
        records = chunk.records.assign(_run_id=run_id, _generation=generation, _ingested_at=utcnow())
        datasets.upsert(conn, table, records)
        self._write_identities(conn, records)

    def _write_identities(self, conn: Connection, records: pd.DataFrame) -> None:
        if not self.spec.identities:
            return
        keys = pd.DataFrame({"dataflow_id": self.dataflow_id, "source_key": records[datasets.KEY]})
        bulk.delete_where(conn, t.identities, keys, ["dataflow_id", "source_key"])
        frames = []
        for namespace, attribute in self.spec.identities.items():
            values = records[attribute].astype("string").str.strip()
            if namespace == "email":
                values = values.str.lower()
            present = values.notna() & (values != "")
            frames.append(keys[present].assign(namespace=namespace, value=values[present]))
        bulk.upsert(
            conn,
            t.identities,
            pd.concat(frames, ignore_index=True),
            ["dataflow_id", "source_key", "namespace"],
        )

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


@contextmanager
def _closed_after(chunks: Iterator[pd.DataFrame]) -> Iterator[None]:
    """Closes a connector's chunk generator however the loop over it ends."""
    try:
        yield
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


# -- vectorised helpers ------------------------------------------------------
def _source_keys(raw: pd.DataFrame, primary_key: list[str], origin: pd.Series) -> pd.Series:
    """The key each record is upserted by: its primary key, or where it came from."""
    if not primary_key:
        return origin.astype("string")
    missing = [c for c in primary_key if c not in raw.columns]
    if missing:
        raise ConfigurationError(
            f"The primary key column(s) {', '.join(missing)} are not in the source; "
            f"it has: {', '.join(c for c in raw.columns if not str(c).startswith(META_PREFIX))}."
        )
    parts = [raw[c].astype("string").str.strip().replace("", pd.NA) for c in primary_key]
    keys = parts[0]
    for part in parts[1:]:
        keys = keys + _SEPARATOR + part
    return keys


def _names(columns: list[str], most: int = 30) -> str:
    """Column names quoted (so odd ones show), at most ``most`` of them."""
    shown = ", ".join(repr(str(c))[:60] for c in columns[:most])
    return (
        shown + (f" and {len(columns) - most} more" if len(columns) > most else "")
        if columns
        else "no columns"
    )


def _errors(rows: pd.Index, field_name: str | None, code: str, reason: str | pd.Series) -> pd.DataFrame:
    return pd.DataFrame({"row": rows, "field": field_name, "code": code, "reason": reason})


def _malformed_errors(raw: pd.DataFrame, malformed: pd.Series) -> pd.DataFrame:
    if not malformed.any():
        return pd.DataFrame(columns=ERROR_COLUMNS)
    return _errors(
        malformed[malformed].index, None, "malformed_row", raw.loc[malformed, ROW_ERROR_COLUMN].astype(str)
    )


def _with_rows(
    errors: pd.DataFrame, raw: pd.DataFrame, columns: list[str], keys: pd.Series, origin: pd.Series
) -> pd.DataFrame:
    """Adds to each error the source row as received, its key and its origin."""
    if errors.empty:
        return pd.DataFrame(columns=[*ERROR_COLUMNS, "source_key", "origin", "row_data"])
    rows = errors["row"]
    bad = raw.loc[pd.Index(rows.unique())]
    payload = bad[columns].astype(object).where(bad[columns].notna(), None)
    if RAW_COLUMN in bad:
        payload = payload.assign(_raw=bad[RAW_COLUMN].astype(object).where(bad[RAW_COLUMN].notna(), None))
    as_dicts = pd.Series(payload.to_dict("records"), index=bad.index)
    out = errors.drop(columns="row").assign(
        source_key=keys.loc[rows].astype(object).to_numpy(),
        origin=origin.loc[rows].astype(object).to_numpy(),
        row=as_dicts.loc[rows].to_numpy(),
    )
    return out.astype(object).where(out.notna(), None)


def from_connector(error: ConnectorError) -> TributaryError:
    if error.retriable:
        return SourceUnavailableError(error.user_message)
    return ConfigurationError(error.user_message, code=type(error).__name__.removesuffix("Error").lower())
