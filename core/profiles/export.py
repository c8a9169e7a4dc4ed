"""Unified profiles to CSV or Parquet for downstream journeys, a bounded chunk of profiles at a time.

One row per profile: ``profile_id``, ``dataflows`` (names joined by ``;``),
``records`` (how many it merges), every merged attribute, and an
``identities.<namespace>`` column per namespace (values joined by ``;``).

Profiles are read in key order, ``chunk_size`` at a time (keyset paging on
``profile_id``); each chunk's members and records are read through the
members' index on profile_id and merged in bulk (one vectorised merge per
chunk), so memory stays bounded by the chunk size, whatever the number of
profiles. The columns are settled before the first chunk (from the datasets'
attribute types and the namespaces), so every chunk has the same columns and
Parquet the same schema. CSV cells are neutralised against formula injection.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import pandas as pd
from sqlalchemy import Connection, Text, cast, select

from core.errors import ConfigurationError
from core.exports import neutralise
from core.profiles import merge as merging
from core.profiles.merge import dataset_frame, read_dataflows, rows_frame
from core.profiles.query import Profiles
from core.store import datasets
from core.store import tables as t

if TYPE_CHECKING:
    import pyarrow as pa

    from core.services import Workspace

FORMATS = ("csv", "parquet")
#: Joins several values in one cell: ``;`` never occurs unquoted in an email address.
SEPARATOR = ";"
IDENTITY_PREFIX = "identities."
LEADING_COLUMNS = ("profile_id", "dataflows", "records")
DEFAULT_CHUNK = 10_000


@dataclass(frozen=True)
class ExportLayout:
    """The columns of an export: attribute types and identity namespaces, known before any row."""

    attributes: Mapping[str, str]  # attribute path -> type (string when dataflows disagree)
    namespaces: tuple[str, ...]

    @property
    def columns(self) -> list[str]:
        """Every column, in order."""
        return [
            *LEADING_COLUMNS,
            *sorted(self.attributes),
            *(IDENTITY_PREFIX + namespace for namespace in self.namespaces),
        ]


@dataclass(frozen=True)
class ExportSummary:
    """What an export wrote."""

    path: Path
    format: str
    profiles: int
    chunks: int
    columns: tuple[str, ...]


class ProfileWriter(ABC):
    """Writes chunks of unified profiles to one file."""

    def __init__(self, path: Path, layout: ExportLayout) -> None:
        self.path = path
        self.layout = layout

    @abstractmethod
    def write(self, frame: pd.DataFrame) -> None:
        """Appends one chunk (the layout's columns, one row per profile)."""

    @abstractmethod
    def close(self) -> None:
        """Finishes the file."""


class CsvWriter(ProfileWriter):
    """RFC 4180 CSV (header, CRLF), every text cell neutralised against formula injection."""

    def __init__(self, path: Path, layout: ExportLayout) -> None:
        super().__init__(path, layout)
        self._file: BinaryIO = path.open("wb")
        self._header = True

    def write(self, frame: pd.DataFrame) -> None:
        text = neutralise(typed(frame, self.layout)).to_csv(
            index=False, header=self._header, lineterminator="\r\n"
        )
        self._file.write(text.encode("utf-8"))
        self._header = False

    def close(self) -> None:
        if self._header:  # no profiles: still a header, so the file reads as an empty table
            self.write(pd.DataFrame(columns=self.layout.columns))
        self._file.close()


class ParquetWriter(ProfileWriter):
    """Parquet with one row group per chunk and a schema typed from the datasets' attribute types."""

    def __init__(self, path: Path, layout: ExportLayout) -> None:
        import pyarrow.parquet as pq

        super().__init__(path, layout)
        self.schema = arrow_schema(layout)
        self._writer = pq.ParquetWriter(str(path), self.schema)

    def write(self, frame: pd.DataFrame) -> None:
        import pyarrow as pa

        table = pa.Table.from_pandas(typed(frame, self.layout), schema=self.schema, preserve_index=False)
        self._writer.write_table(table)

    def close(self) -> None:
        self._writer.close()


WRITERS: dict[str, type[ProfileWriter]] = {"csv": CsvWriter, "parquet": ParquetWriter}


def export_profiles(
    workspace: Workspace,
    path: str | Path,
    format: str | None = None,
    *,
    policy: str | None = None,
    chunk_size: int = DEFAULT_CHUNK,
) -> ExportSummary:
    """Writes every unified profile to ``path`` as CSV or Parquet (by ``format``, else the suffix)."""
    workspace.require("view_personal_data", "export profiles")
    path = Path(path)
    chosen = format or ("parquet" if path.suffix.lower() in (".parquet", ".pq") else "csv")
    if chosen not in WRITERS:
        raise ConfigurationError(f"unknown export format {chosen!r}; use {' or '.join(FORMATS)}")
    _check_chunk_size(chunk_size)
    merging.choose_policy(Profiles(workspace).policies(), policy)  # an unknown name fails before any write
    layout = export_layout(workspace)
    writer = WRITERS[chosen](path, layout)
    profiles = chunks = 0
    try:
        for frame in unified_chunks(workspace, policy=policy, chunk_size=chunk_size, layout=layout):
            writer.write(frame)
            profiles += len(frame)
            chunks += 1
    finally:
        writer.close()
    return ExportSummary(path, chosen, profiles, chunks, tuple(layout.columns))


def export_layout(workspace: Workspace) -> ExportLayout:
    """The export's columns: every dataset attribute (typed) and every identity namespace."""
    types: dict[str, str] = {}
    with workspace.engine.connect() as conn:
        for columns in conn.execute(select(t.datasets.c.columns)).scalars():
            for attribute, kind in dict(columns).items():
                types[attribute] = kind if types.get(attribute, kind) == kind else "string"
        namespaces = {ns for flow in read_dataflows(conn) for ns in flow.namespaces}
        namespaces |= set(conn.execute(select(t.identities.c.namespace).distinct()).scalars())
    return ExportLayout(types, tuple(sorted(namespaces)))


def unified_chunks(
    workspace: Workspace,
    *,
    policy: str | None = None,
    chunk_size: int = DEFAULT_CHUNK,
    layout: ExportLayout | None = None,
) -> Iterator[pd.DataFrame]:
    """Unified profiles in key order, ``chunk_size`` per frame, each with the layout's columns."""
    _check_chunk_size(chunk_size)
    _, chosen = merging.choose_policy(Profiles(workspace).policies(), policy)
    layout = layout or export_layout(workspace)
    p = t.profiles
    after: str | None = None
    while True:
        with workspace.engine.connect() as conn:
            # the JSON documents as text, parsed in one go per chunk rather than one by one
            documents = [cast(p.c.identities, Text), cast(p.c.dataflows, Text)]
            query = select(p.c.profile_id, p.c.members, *documents).order_by(p.c.profile_id)
            if after is not None:
                query = query.where(p.c.profile_id > after)
            rows = conn.execute(query.limit(chunk_size)).all()
            if not rows:
                return
            head = rows_frame(rows, ["profile_id", "records", "identities", "dataflows"], dtype=object)
            for column in ("identities", "dataflows"):
                head[column] = json.loads("[" + ",".join(head[column]) + "]")
            attributes = _merged_attributes(conn, head["profile_id"], chosen, layout)
        after = str(head["profile_id"].iloc[-1])
        yield _assemble(head, attributes, layout)


def _check_chunk_size(chunk_size: int) -> None:
    if chunk_size < 1:
        raise ConfigurationError("the chunk size must be at least 1 profile")


def _merged_attributes(
    conn: Connection, profile_ids: pd.Series, policy: merging.MergePolicy, layout: ExportLayout
) -> pd.DataFrame:
    """The winning values of a chunk's profiles, one row per (profile, attribute)."""
    first, last = str(profile_ids.iloc[0]), str(profile_ids.iloc[-1])
    m = t.profile_members
    values = []
    for flow in read_dataflows(conn):
        table = flow.table
        if table is None:
            continue
        query = (
            select(m.c.profile_id.label("__profile"), *table.columns)
            .select_from(m.join(table, table.c[datasets.KEY] == m.c.source_key))
            .where(m.c.dataflow_id == flow.id, m.c.profile_id >= first, m.c.profile_id <= last)
        )
        records = dataset_frame(conn.execute(query).all(), table, leading=["profile_id"])
        if records.empty:
            continue
        attributes = [c for c in records.columns[1:] if c in layout.attributes and c != "profile_id"]
        stamp = merging.timestamp_attribute(policy, flow, records.columns)
        values.append(merging.value_arrays(records, flow.name, stamp, attributes))
    return merging.values_frame(merging.merge_arrays(merging.concat_values(values), policy))


def _assemble(head: pd.DataFrame, winners: pd.DataFrame, layout: ExportLayout) -> pd.DataFrame:
    """One row per profile of the chunk, in the layout's columns."""
    index = pd.Index(head["profile_id"], name="profile_id")
    attributes = (
        winners.pivot(index="profile_id", columns="attribute", values="value")
        if not winners.empty
        else pd.DataFrame(index=index)
    ).reindex(index=index, columns=sorted(layout.attributes))
    identities = pd.DataFrame.from_records(head["identities"].tolist(), index=index).reindex(
        columns=list(layout.namespaces)
    )
    frame = pd.DataFrame(
        {
            "profile_id": head["profile_id"].to_numpy(),
            "dataflows": head["dataflows"].map(_joined).to_numpy(),
            "records": head["records"].astype("int64").to_numpy(),
        },
        index=index,
    )
    frame = frame.join(attributes.astype(object))
    for namespace in layout.namespaces:
        frame[IDENTITY_PREFIX + namespace] = identities[namespace].map(_joined)
    return frame.reset_index(drop=True)[layout.columns]


def _joined(values: Any) -> str | None:
    """Several values as one cell, sorted; None when there are none."""
    if not isinstance(values, list | tuple) or not values:
        return None
    return SEPARATOR.join(sorted(str(v) for v in values))


def column_types(layout: ExportLayout) -> dict[str, str]:
    """Each column's type: ``string``, ``integer``, ``number``, ``boolean``, ``date`` or ``timestamp``."""
    types = {"profile_id": "string", "dataflows": "string", "records": "integer"}
    types.update({attribute: layout.attributes[attribute] for attribute in sorted(layout.attributes)})
    types.update({IDENTITY_PREFIX + namespace: "string" for namespace in layout.namespaces})
    return types


def arrow_schema(layout: ExportLayout) -> pa.Schema:
    """The Parquet schema of an export."""
    import pyarrow as pa

    kinds = {
        "integer": pa.int64(),
        "number": pa.float64(),
        "boolean": pa.bool_(),
        "date": pa.date32(),
        "timestamp": pa.timestamp("us", tz="UTC"),
    }
    return pa.schema(
        [pa.field(name, kinds.get(kind, pa.string())) for name, kind in column_types(layout).items()]
    )


def typed(frame: pd.DataFrame, layout: ExportLayout) -> pd.DataFrame:
    """A chunk with each column converted to its type; values that do not fit become missing."""
    return pd.DataFrame({name: _typed(frame[name], kind) for name, kind in column_types(layout).items()})


def _typed(values: pd.Series, kind: str) -> pd.Series:
    if kind == "integer":
        return pd.to_numeric(values, errors="coerce").astype("Int64")
    if kind == "number":
        return pd.to_numeric(values, errors="coerce").astype("float64")
    if kind == "boolean":
        return values.astype("boolean")
    if kind == "date":
        dates = pd.to_datetime(values, errors="coerce", format="mixed")
        return dates.dt.date.astype(object).where(dates.notna(), None)
    if kind == "timestamp":
        stamps = pd.to_datetime(values, errors="coerce", utc=True, format="mixed")
        return pd.Series(stamps, index=values.index).astype("datetime64[us, UTC]")
    present = values.notna()
    return values.astype(object).where(~present, values.astype(str)).where(present, None)
