"""Dry runs: what a run would do now, on a sample or on the whole source, writing nothing.

A dry run reads exactly what the next run would read (the same segments, the
same watermark), prepares every chunk the same way (map, validate,
quarantine), then counts instead of writing: records received, that would be
ingested or quarantined (grouped by reason), new versus updated records, and,
for a full refresh, the records that would be deleted.

When the dataflow declares identities it also forecasts what the identity
graph would do: the records' identities are normalised as a run would, the
stored records they reach (through shared values, transitively) are read, and
the graph's own clustering (:func:`core.profiles.cluster`) runs in memory on
that component, so limits and blocked values count exactly as in a run.
Each resulting profile holding the dry run's records is then compared with
the stored profiles it takes records from: none (``profiles_new``), one it
adds records to (``profiles_joined``), or several that become one
(``profiles_merged`` counts those stored profiles).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, func, select

from core.chunks import PreparedChunk
from core.ingest import DataflowRun, closed_after
from core.profiles import IdentityRules, cluster, load_rules
from core.store import datasets
from core.store import tables as t

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
    #: Whether the dataflow declares identities, so that the profile counts below mean something.
    links_profiles: bool = False
    #: Profiles the records would create (none of their records is in a profile yet).
    profiles_new: int = 0
    #: Stored profiles the records would join (adding records to one profile).
    profiles_joined: int = 0
    #: Stored profiles the records would merge (two or more becoming one; each counted).
    profiles_merged: int = 0

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
            "profiles_new": self.profiles_new,
            "profiles_joined": self.profiles_joined,
            "profiles_merged": self.profiles_merged,
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
    forecast = _ProfileForecast(run) if run.spec.identities else None
    reasons: list[pd.DataFrame] = []
    examples: list[pd.DataFrame] = []
    kept = 0
    for raw in raws:
        chunk = run.chunks.prepare(raw, watermark if sample_rows is None else None)
        report.chunks += 1
        report.received += chunk.received
        report.quarantined += chunk.failed
        report.ingested += len(chunk.records)
        if forecast is not None:
            forecast.add(chunk.records)
        new, updated, stored = _new_and_updated(engine, table, chunk, seen)
        if run.spec.sync.mode != "full_refresh":  # a full refresh counts them with the records it did not see
            report.deleted += _stored(engine, table, chunk.deleted_keys)  # the source's own deletions
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
    if forecast is not None:
        report.links_profiles = True
        replaced = run.spec.sync.mode == "full_refresh" and sample_rows is None
        report.profiles_new, report.profiles_joined, report.profiles_merged = forecast.count(replaced)
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
        with closed_after(chunks):
            yield from chunks


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
    stored = _stored(engine, table, fresh)
    seen.update(fresh.tolist())
    updated = int(again.sum()) + stored
    return len(keys) - updated, updated, stored


def _stored(engine: Engine, table: Any, keys: pd.Series) -> int:
    """How many of ``keys`` the dataset holds (0 before the first run)."""
    stored = 0
    if table is not None and not keys.empty:
        with engine.connect() as c:
            for start in range(0, len(keys), KEY_BATCH):
                batch = keys.iloc[start : start + KEY_BATCH].astype(str).tolist()
                stored += int(
                    c.execute(
                        select(func.count()).select_from(table).where(table.c[datasets.KEY].in_(batch))
                    ).scalar_one()
                )
    return stored


# --- profiles -----------------------------------------------------------------------------------

RECORD = ["dataflow_id", "source_key"]
LINK = [*RECORD, "namespace", "value"]


class _ProfileForecast:
    """The identity links of the records a dry run would ingest, and what they would do to profiles."""

    def __init__(self, run: DataflowRun) -> None:
        self.engine = run.store.engine
        self.dataflow_id = run.dataflow_id
        self.identities = dict(run.spec.identities)
        with self.engine.connect() as conn:
            self.rules: IdentityRules = load_rules(conn)
        self.keys: list[pd.DataFrame] = []  # source_key and row: the order records arrive in
        self.links: list[pd.DataFrame] = []
        self.rows = 0

    def add(self, records: pd.DataFrame) -> None:
        """Normalises a chunk's identities as a run would (a key's last row is the one that links)."""
        keys = records[datasets.KEY].astype(str).reset_index(drop=True)
        rows = np.arange(self.rows, self.rows + len(keys))
        self.rows += len(keys)
        self.keys.append(pd.DataFrame({"source_key": keys, "row": rows}))
        for namespace, attribute in self.identities.items():
            if attribute not in records.columns:
                continue
            values = self.rules.normalise(namespace, records[attribute].reset_index(drop=True)).values
            linkable = values.notna().to_numpy(dtype=bool)
            self.links.append(
                pd.DataFrame(
                    {
                        "source_key": keys[linkable].to_numpy(),
                        "namespace": namespace,
                        "value": values[linkable].astype(object).to_numpy(),
                        "row": rows[linkable],
                    }
                )
            )

    def count(self, replaced: bool) -> tuple[int, int, int]:
        """(new, joined, merged) profiles; ``replaced``: this dataflow's records not read are deleted."""
        if not self.keys:
            return 0, 0, 0
        last = pd.concat(self.keys, ignore_index=True).drop_duplicates("source_key", keep="last")
        ours = last[["source_key"]].assign(dataflow_id=self.dataflow_id)[RECORD]
        links = pd.DataFrame(columns=LINK)
        if self.links:
            links = pd.concat(self.links, ignore_index=True).merge(last, on=["source_key", "row"])
            links = links.assign(dataflow_id=self.dataflow_id)[LINK]
        with self.engine.connect() as conn:
            stored = _links_of(conn, ours)
            nodes, component = _reached(conn, ours, links, self.dataflow_id if replaced else None)
            old = _profiles_of(conn, nodes)
        result = cluster(nodes, component, self.rules)
        changed = _changed_keys(stored, links)
        return _compare(result.members, old, self.dataflow_id, set(ours["source_key"]), changed)


def _reached(
    conn: Connection, ours: pd.DataFrame, links: pd.DataFrame, replaced: int | None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(records, links) of the dry run's records and every stored record they reach, transitively.

    The dry run's records link by their new values, stored records by the
    values stored for them. ``replaced``: the dataflow whose stored records
    the dry run does not read would be deleted (a full refresh), so they are left out.
    """
    found = [links]
    known = ours[RECORD].astype({"dataflow_id": "int64", "source_key": object})
    seen: set[tuple[str, str]] = set()
    values = links
    while not values.empty:
        pairs = set(zip(values["namespace"], values["value"], strict=True)) - seen
        if not pairs:
            break
        seen |= pairs
        holders = _holders(conn, pd.DataFrame(sorted(pairs), columns=["namespace", "value"]))
        if replaced is not None:
            holders = holders[holders["dataflow_id"] != replaced]
        reached = holders[RECORD].drop_duplicates().astype(known.dtypes.to_dict())
        reached = reached.merge(known, how="left", indicator=True)
        fresh = reached.loc[reached["_merge"] == "left_only", RECORD]
        known = pd.concat([known, fresh], ignore_index=True)
        values = _links_of(conn, fresh)
        found.append(values)
    nodes = known.sort_values(RECORD, ignore_index=True)
    return nodes, pd.concat(found, ignore_index=True)[LINK].drop_duplicates()


def _compare(
    members: pd.DataFrame, old: pd.DataFrame, dataflow_id: int, ours: set[str], changed: set[str]
) -> tuple[int, int, int]:
    """(new, joined, merged) profiles, comparing the clustering with the stored profiles.

    Only clusters holding a dry-run record count. A cluster none of whose
    records is in a profile yet is new. Otherwise each record carries its
    stored profile into the cluster, except the dry run's records whose links
    change (they may move, leaving their profile behind): a cluster carrying
    one profile joins it when it gains a record, one carrying several merges them.
    """
    frame = members.merge(old, on=RECORD, how="left")
    mine = (frame["dataflow_id"] == dataflow_id) & frame["source_key"].isin(ours)
    moving = mine & frame["source_key"].isin(changed)
    frame["carried"] = frame["stored"].where(~moving)
    frame["mine"] = mine
    clusters = frame[frame.groupby("profile_id")["mine"].transform("any")]
    carried = clusters.groupby("profile_id")["carried"].nunique()
    new = int((clusters.groupby("profile_id")["stored"].count() == 0).sum())
    merged = int(carried[carried > 1].sum())
    single = clusters[clusters["profile_id"].isin(carried.index[carried == 1])]
    owner = single.groupby("profile_id")["carried"].transform("first")
    gained = (single["stored"] != owner) | single["stored"].isna()
    joined = int(single.loc[gained.to_numpy(), "profile_id"].nunique())
    return new, joined, merged


def _changed_keys(stored: pd.DataFrame, links: pd.DataFrame) -> set[str]:
    """The dry run's keys whose set of links differs from the stored one (new keys included)."""
    columns = ["source_key", "namespace", "value"]
    both = stored[columns].merge(links[columns], how="outer", indicator=True)
    return set(both.loc[both["_merge"] != "both", "source_key"])


def _links_of(conn: Connection, records: pd.DataFrame) -> pd.DataFrame:
    """The stored links of records."""
    i = t.identities
    rows = _by_record(conn, i, [i.c.dataflow_id, i.c.source_key, i.c.namespace, i.c.value], records)
    return pd.DataFrame(rows, columns=LINK)


def _holders(conn: Connection, values: pd.DataFrame) -> pd.DataFrame:
    """Every stored link with one of these (namespace, value) pairs."""
    i = t.identities
    rows: list[Any] = []
    for namespace, group in values.groupby("namespace"):
        wanted = group["value"].tolist()
        for start in range(0, len(wanted), KEY_BATCH):
            query = select(i.c.dataflow_id, i.c.source_key, i.c.namespace, i.c.value).where(
                i.c.namespace == namespace, i.c.value.in_(wanted[start : start + KEY_BATCH])
            )
            rows.extend(conn.execute(query).all())
    return pd.DataFrame(rows, columns=LINK)


def _profiles_of(conn: Connection, records: pd.DataFrame) -> pd.DataFrame:
    """The stored profile of each record in the graph (``stored``)."""
    m = t.profile_members
    rows = _by_record(conn, m, [m.c.dataflow_id, m.c.source_key, m.c.profile_id], records)
    frame = pd.DataFrame(rows, columns=[*RECORD, "stored"])
    return frame.astype({"dataflow_id": "int64", "source_key": object})


def _by_record(conn: Connection, table: Any, columns: list[Any], records: pd.DataFrame) -> list[Any]:
    """Rows of a table keyed by (dataflow_id, source_key) for these records, read in batches."""
    rows: list[Any] = []
    for dataflow_id, group in records.groupby("dataflow_id"):
        keys = group["source_key"].astype(str).tolist()
        for start in range(0, len(keys), KEY_BATCH):
            batch = keys[start : start + KEY_BATCH]
            query = select(*columns).where(
                table.c.dataflow_id == int(dataflow_id), table.c.source_key.in_(batch)
            )
            rows.extend(conn.execute(query).all())
    return rows
