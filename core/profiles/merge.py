"""Merge policies: which record's value a unified profile shows for each attribute.

Two kinds, as in AEP's merge policies:

* ``timestamp`` — the latest value wins, attribute by attribute. A record's
  time is its dataflow's timestamp attribute (set per dataflow in the policy,
  else the mapped ``updatedAt``, else an attribute mapped straight from the
  sync cursor) and, where that is missing or unreadable, when it was ingested.
* ``precedence`` — an ordered list of dataflows: the first one holding a value
  wins; records of one dataflow, and of dataflows not in the list, fall back
  to the timestamp order.

Either way a missing value (null, or blank text, which SQLite keeps and
PostgreSQL's bulk load turns into null) never wins over a value. Equal times
are settled by dataflow name, then source key, so a merge is deterministic.

The workspace keeps its policies in the ``profiles.policies`` setting
(``{name: {kind, order?, timestamps?}}``); ``default`` is the timestamp policy
unless the setting says otherwise. Merging is vectorised over a long frame of
attribute values, for one profile or for many at once (exports).

What merging reads from the store lives here too: each dataflow's mapping
and cursor (:class:`DataflowInfo`, to find its timestamp attribute) and
dataset rows as frames whose times are UTC on every store.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy import Connection, DateTime, Table, select

from core.errors import ConfigurationError, NotFoundError
from core.store import tables as t

#: The workspace setting holding the named merge policies.
SETTING = "profiles.policies"
#: The policy used when none is named.
DEFAULT_POLICY = "default"
#: The profile attribute that, when a dataflow maps it, dates that dataflow's records.
UPDATED_AT = "updatedAt"
#: When the record was last written: the time of last resort.
INGESTED_AT = "_ingested_at"
#: Dataset columns that are not profile attributes.
LINEAGE_COLUMNS = ("_source_key", "_run_id", "_generation", "_origin", "_ingested_at")
#: The columns of a long frame of attribute values, and of a merge's result.
VALUE_COLUMNS = ("profile_id", "attribute", "value", "dataflow", "source_key", "timestamp")


class MergePolicy(BaseModel):
    """A named way to merge records into a profile.

    Attributes:
        kind: ``timestamp`` (latest wins) or ``precedence`` (first dataflow of ``order`` wins).
        order: dataflow names, strongest first (precedence only).
        timestamps: dataflow name -> the attribute holding when its records last changed.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["timestamp", "precedence"] = "timestamp"
    order: tuple[str, ...] = Field(default_factory=tuple)
    timestamps: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _order_fits_kind(self) -> MergePolicy:
        if self.kind == "precedence" and not self.order:
            raise ValueError("a precedence policy needs an order: dataflow names, strongest first")
        if len(set(self.order)) != len(self.order):
            raise ValueError("order names a dataflow twice")
        return self

    def describe(self) -> str:
        """The policy in a few words, for the explorer and the CLI."""
        if self.kind == "precedence":
            return "dataflow precedence: " + " > ".join(self.order) + ", then latest update"
        return "latest update wins per attribute"


@dataclass(frozen=True)
class DataflowInfo:
    """What merging needs to know of a dataflow: its id, name, mapping, cursor and namespaces."""

    id: int
    name: str
    mapping: Mapping[str, str]
    cursor: str | None
    namespaces: tuple[str, ...]


def read_dataflows(conn: Connection) -> list[DataflowInfo]:
    """Every dataflow's merge-relevant settings, by name."""
    query = select(t.dataflows.c.id, t.dataflows.c.name, t.dataflows.c.spec).order_by(t.dataflows.c.name)
    return [
        DataflowInfo(
            id=int(row.id),
            name=row.name,
            mapping=dict(row.spec.get("mapping") or {}),
            cursor=(row.spec.get("sync") or {}).get("cursor"),
            namespaces=tuple(row.spec.get("identities") or {}),
        )
        for row in conn.execute(query).all()
    ]


def rows_frame(rows: Sequence[Any], columns: list[str], dtype: Any = None) -> pd.DataFrame:
    """A frame of result rows, built column by column (pandas reads SQLAlchemy rows one by one)."""
    if not rows:
        return pd.DataFrame({name: pd.Series(dtype=dtype or object) for name in columns})
    return pd.DataFrame(dict(zip(columns, map(list, zip(*rows, strict=True)), strict=True)), dtype=dtype)


def dataset_frame(rows: Sequence[Any], table: Table, leading: Sequence[str] = ()) -> pd.DataFrame:
    """Dataset rows as a frame, times in UTC on every store (SQLite hands them back without a zone).

    Args:
        rows: result rows: the ``leading`` columns, then the table's.
        table: the dataset table read.
        leading: names of columns selected before the table's own.
    """
    frame = rows_frame(rows, [*leading, *(c.name for c in table.columns)])
    for column in table.columns:
        if isinstance(column.type, DateTime) and not frame.empty:
            frame[column.name] = pd.to_datetime(frame[column.name], utc=True, format="mixed")
    return frame


def load_policies(setting: Mapping[str, Any] | None) -> dict[str, MergePolicy]:
    """The policies of a ``profiles.policies`` setting, always with a ``default`` one."""
    policies = {DEFAULT_POLICY: MergePolicy()}
    for name, body in (setting or {}).items():
        policies[str(name)] = parse_policy(str(name), body)
    return policies


def parse_policy(name: str, body: Any) -> MergePolicy:
    """One policy from its settings; raises ConfigurationError saying what to fix."""
    if isinstance(body, MergePolicy):
        return body
    try:
        return MergePolicy.model_validate(body)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in item['loc']) or 'policy'}: {item['msg']}"
            for item in error.errors(include_url=False, include_input=False, include_context=False)
        )
        raise ConfigurationError(f"merge policy {name!r}: {problems}") from None


def choose_policy(policies: Mapping[str, MergePolicy], name: str | None) -> tuple[str, MergePolicy]:
    """The policy called ``name`` (the default when None), with its name."""
    name = name or DEFAULT_POLICY
    if name not in policies:
        raise NotFoundError(f"no merge policy {name!r}; known: {', '.join(sorted(policies))}")
    return name, policies[name]


def timestamp_attribute(policy: MergePolicy, dataflow: DataflowInfo, columns: Iterable[str]) -> str:
    """The column that dates a dataflow's records under ``policy``.

    The policy's own choice for the dataflow first, then ``updatedAt`` when the
    dataflow maps it, then an attribute mapped from the sync cursor column
    (bare, or through one function such as ``to_timestamp(updated_at)``), and
    ``_ingested_at`` otherwise.
    """
    available = set(columns)
    chosen = policy.timestamps.get(dataflow.name)
    if chosen:
        if chosen not in available:
            raise ConfigurationError(
                f"merge policy: dataflow {dataflow.name!r} has no attribute {chosen!r} to date its records by"
            )
        return chosen
    if UPDATED_AT in available:
        return UPDATED_AT
    if dataflow.cursor:
        from_cursor = re.compile(rf"^\s*(?:\w+\(\s*)?{re.escape(dataflow.cursor)}\s*\)?\s*$")
        for attribute, expression in dataflow.mapping.items():
            if attribute in available and from_cursor.match(expression):
                return attribute
    return INGESTED_AT


def attribute_values(
    records: pd.DataFrame,
    dataflow: str,
    timestamp_column: str,
    attributes: Sequence[str] | None = None,
    *,
    profile_id: str | None = None,
) -> pd.DataFrame:
    """A dataflow's records as a long frame: one row per present (record, attribute) value.

    Args:
        records: dataset rows with ``_source_key``, ``_ingested_at``, the attribute
            columns and, unless ``profile_id`` is given, a ``profile_id`` column.
        dataflow: the dataflow's name.
        timestamp_column: the column that dates the records (see :func:`timestamp_attribute`).
        attributes: the attribute columns to take (default: all but lineage and ``profile_id``).
        profile_id: the profile of every record, when they all belong to one.

    Returns:
        A frame with :data:`VALUE_COLUMNS`, missing values left out.
    """
    if attributes is None:
        attributes = [c for c in records.columns if c not in LINEAGE_COLUMNS and c != "profile_id"]
    attributes = list(attributes)
    if records.empty or not attributes:
        return _empty()
    # numpy rather than DataFrame.melt: a lookup merges a handful of records, where pandas'
    # per-call overhead would cost more than the work; object arrays keep each value as it was
    table = records.to_numpy(dtype=object)
    cells = table[:, records.columns.get_indexer(attributes)].ravel()
    present = np.flatnonzero(_present(cells))
    row, column = np.divmod(present, len(attributes))
    frame = pd.DataFrame(
        {
            "profile_id": (
                np.full(len(row), profile_id, dtype=object)
                if profile_id is not None
                else table[row, records.columns.get_loc("profile_id")]
            ),
            "attribute": np.asarray(attributes, dtype=object)[column],
            "value": cells[present],
            "dataflow": np.full(len(present), dataflow, dtype=object),
            "source_key": table[row, records.columns.get_loc("_source_key")],
        },
        dtype=object,  # as they are: inferring text columns costs more than a lookup's whole merge
    )
    frame["timestamp"] = pd.DatetimeIndex(record_timestamps(records, timestamp_column)[row]).tz_localize(
        "UTC"
    )
    return frame


def record_timestamps(records: pd.DataFrame, column: str) -> np.ndarray:
    """Each record's time (naive UTC ``datetime64[us]``): ``column`` where readable, else its ingestion."""
    stamps = _utc(records[column]) if column in records else np.full(len(records), np.datetime64("NaT", "us"))
    if INGESTED_AT in records and column != INGESTED_AT:
        stamps = np.where(np.isnat(stamps), _utc(records[INGESTED_AT]), stamps)
    return stamps


def merge(values: pd.DataFrame, policy: MergePolicy) -> pd.DataFrame:
    """The winning value of every (profile, attribute) of a long frame of values.

    Args:
        values: rows with :data:`VALUE_COLUMNS` (as :func:`attribute_values` makes
            them), for one profile or many.
        policy: how to choose.

    Returns:
        One row per (profile_id, attribute), in that order, with the value and the record it came from.
    """
    if values.empty:
        return _empty()
    cells = values["value"].to_numpy(dtype=object)
    keep = np.flatnonzero(_present(cells))
    columns = {c: values[c].to_numpy(dtype=object)[keep] for c in ("profile_id", "attribute", "dataflow")}
    source_key = values["source_key"].to_numpy(dtype=object)[keep]
    stamps = _utc(values["timestamp"])[keep]
    profile = pd.factorize(columns["profile_id"], sort=True)[0]
    attribute = pd.factorize(columns["attribute"], sort=True)[0]
    dataflow, dataflow_names = pd.factorize(columns["dataflow"], sort=True)
    key = pd.factorize(source_key.astype(str), sort=True)[0]
    # latest first; a value without any time comes after every dated one
    ticks = stamps.view(np.int64)
    newest_first = np.where(np.isnat(stamps), np.iinfo(np.int64).max, -ticks)
    rank = np.zeros(len(keep), dtype=np.int64)
    if policy.kind == "precedence":
        positions = {name: position for position, name in enumerate(policy.order)}
        rank = np.array([positions.get(name, len(positions)) for name in dataflow_names], dtype=np.int64)[
            dataflow
        ]
    order = np.lexsort((key, dataflow, newest_first, rank, attribute, profile))  # last key sorts first
    group = profile[order].astype(np.int64) * (int(attribute.max()) + 1) + attribute[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = group[1:] != group[:-1]
    won = order[first]
    frame = pd.DataFrame(
        {
            "profile_id": columns["profile_id"][won],
            "attribute": columns["attribute"][won],
            "value": cells[keep][won],
            "dataflow": columns["dataflow"][won],
            "source_key": source_key[won],
        },
        dtype=object,
    )
    frame["timestamp"] = pd.DatetimeIndex(stamps[won]).tz_localize("UTC")
    return frame


def _empty() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype=object) for c in VALUE_COLUMNS})
    frame["timestamp"] = pd.Series(dtype="datetime64[us, UTC]")
    return frame


def _present(cells: np.ndarray) -> np.ndarray:
    """Whether each cell counts: not missing, and not blank text."""
    present = ~pd.isna(cells)
    # only text can be blank; checking just the text cells spares formatting every number and time
    text = np.flatnonzero(present & _IS_INSTANCE(cells, str).astype(bool))
    if len(text):
        blank = pd.Series(cells[text], dtype="str").str.strip().eq("").to_numpy(dtype=bool)
        present[text[blank]] = False
    return present


#: isinstance over an object array (a C loop: no Python function call per cell)
_IS_INSTANCE: Any = np.frompyfunc(isinstance, 2, 1)


def _utc(values: pd.Series) -> np.ndarray:
    """Times as naive UTC ``datetime64[us]``: naive ones read as UTC, unreadable ones NaT."""
    if isinstance(values.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(values):
        return values.to_numpy(dtype="datetime64[us]")
    converted = pd.to_datetime(values.to_numpy(dtype=object), utc=True, errors="coerce", format="mixed")
    return np.asarray(converted.tz_localize(None), dtype="datetime64[us]")
