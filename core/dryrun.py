"""Dry runs: what a run would do now, on a sample or on the whole source, writing nothing.

A dry run reads exactly what the next run would read (the same segments, the
same watermark), prepares every chunk the same way (map, validate,
quarantine), then counts instead of writing: records received, that would be
ingested or quarantined (grouped by reason), new versus updated records, and,
for a full refresh, the records that would be deleted.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sqlalchemy import Engine, func, select

from core.chunks import PreparedChunk
from core.ingest import DataflowRun
from core.store import datasets

#: Keys looked up in the dataset per query when telling new records from updated ones.
KEY_BATCH = 5_000
#: Quarantined rows a report keeps as examples.
EXAMPLES = 100


@dataclass
class DryRunReport:
    """What a run would do now."""

    scope: str  # "sample" or "source"
    received: int = 0
    ingested: int = 0
    quarantined: int = 0
    new: int = 0
    updated: int = 0
    deleted: int = 0
    chunks: int = 0
    #: Quarantined rows grouped by code, field and reason, with how many rows each.
    reasons: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: Up to EXAMPLES quarantined rows with their source values.
    examples: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: Schema drift since the mapping was saved, as a run would report it.
    drift: list[dict[str, Any]] = field(default_factory=list)
    #: Set when the run would stop: over the error threshold, or a breaking drift.
    would_fail: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The counts as plain values (for ``--json`` and comparisons with a real run)."""
        return {
            "scope": self.scope,
            "received": self.received,
            "ingested": self.ingested,
            "quarantined": self.quarantined,
            "new": self.new,
            "updated": self.updated,
            "deleted": self.deleted,
            "would_fail": self.would_fail,
        }


def dry_run(run: DataflowRun, *, sample_rows: int | None = None) -> DryRunReport:
    """What ``run`` would do: on its first ``sample_rows`` rows, or on the whole source when None."""
    report = DryRunReport(scope="source" if sample_rows is None else "sample")
    engine = run.store.engine
    table = datasets.dataset_table(engine, run.dataflow_id)
    state = run.store.cursor_state(run.dataflow_id)
    _, watermark, _, segments = run.plan(state)
    report.drift = _drift(run, segments)
    breaking = [c["message"] for c in report.drift if c["breaking"]]
    if breaking:  # the run would stop before reading a row
        report.would_fail = "The source's schema changed: " + "; ".join(breaking) + "."
        report.reasons = pd.DataFrame(columns=["code", "field", "reason", "rows"])
        return report
    if sample_rows is not None:
        sample = run.connector.sample(run.spec.source.stream, sample_rows, run.options)
        raws: Iterable[pd.DataFrame] = [sample]
    else:
        raws = _chunks(segments)
    seen: set[str] = set()
    matched = 0  # records that already exist in the dataset
    reasons: list[pd.DataFrame] = []
    examples: list[pd.DataFrame] = []
    kept = 0
    for raw in raws:
        chunk = run.chunks.prepare(raw, watermark if sample_rows is None else None)
        report.chunks += 1
        report.received += chunk.received
        report.quarantined += chunk.failed
        report.ingested += len(chunk.records)
        new, updated, stored = _new_and_updated(engine, table, chunk, seen)
        report.new += new
        report.updated += updated
        matched += stored
        if not chunk.errors.empty:
            reasons.append(
                chunk.errors.groupby(["code", "field", "reason"], dropna=False).size().rename("rows")
            )
            if kept < EXAMPLES:
                examples.append(chunk.errors.head(EXAMPLES - kept))
                kept += len(examples[-1])
    if reasons:
        grouped = pd.concat(reasons).groupby(level=[0, 1, 2], dropna=False).sum()
        report.reasons = grouped.sort_values(ascending=False).reset_index()
    else:
        report.reasons = pd.DataFrame(columns=["code", "field", "reason", "rows"])
    report.examples = pd.concat(examples, ignore_index=True) if examples else pd.DataFrame()
    if run.spec.sync.mode == "full_refresh" and table is not None and sample_rows is None:
        with engine.connect() as c:
            existing = int(c.execute(select(func.count()).select_from(table)).scalar_one())
        report.deleted = existing - matched
    if report.received and report.quarantined / report.received > run.spec.error_threshold:
        report.would_fail = (
            f"{report.quarantined} of {report.received} rows would fail "
            f"({report.quarantined / report.received:.1%}), over the error threshold of "
            f"{run.spec.error_threshold:.0%}: the run would stop."
        )
    return report


def _chunks(segments: list[Any]) -> Iterator[pd.DataFrame]:
    for segment in segments:
        chunks = segment.open()
        try:
            yield from chunks
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()


def _drift(run: DataflowRun, segments: list[Any]) -> list[dict[str, Any]]:
    """The schema drift a run would check, without recording a baseline."""
    _, report = run.drift_report(segments)
    return [] if report is None else report.to_json()


def _new_and_updated(
    engine: Engine, table: Any, chunk: PreparedChunk, seen: set[str]
) -> tuple[int, int, int]:
    """A chunk's records that would be inserted, that would update a record, and that exist already."""
    keys = chunk.records[datasets.KEY].astype(str)
    if keys.empty:
        return 0, 0, 0
    again = keys.isin(seen)
    fresh = keys[~again]
    stored = 0
    if table is not None and not fresh.empty:
        with engine.connect() as c:
            for start in range(0, len(fresh), KEY_BATCH):
                batch = fresh.iloc[start : start + KEY_BATCH].tolist()
                stored += int(
                    c.execute(
                        select(func.count()).select_from(table).where(table.c[datasets.KEY].in_(batch))
                    ).scalar_one()
                )
    seen.update(fresh.tolist())
    updated = int(again.sum()) + stored
    return len(keys) - updated, updated, stored
