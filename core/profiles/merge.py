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

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy import Connection, DateTime, Table, select

from core.errors import ConfigurationError, NotFoundError
from core.store import datasets
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
    """What merging needs to know of a dataflow: mapping and cursor (to date records), namespaces, dataset."""

    id: int
    name: str
    mapping: Mapping[str, str]
    cursor: str | None
    namespaces: tuple[str, ...]
    #: the dataset table, None before the first run
    table: Table | None = field(default=None, compare=False)


def read_dataflows(conn: Connection) -> list[DataflowInfo]:
    """Every dataflow's merge-relevant settings and dataset table, by name (one query).

    The same ``Table`` object comes back while a dataset's columns stay the same, so
    SQLAlchemy's statement cache serves every later read of it: compiling a select of
    a dataset afresh costs more than a lookup's whole merge.
    """
    f, d = t.dataflows, t.datasets
    query = (
        select(f.c.id, f.c.name, f.c.spec, d.c.table_name, d.c.columns)
        .select_from(f.outerjoin(d, d.c.dataflow_id == f.c.id))
        .order_by(f.c.name)
    )
    flows = []
    for id_, name, spec, table_name, columns in conn.execute(query).all():
        table = None
        if table_name is not None:
            key = (table_name, json.dumps(columns))
            table = _TABLES.get(key)
            if table is None:
                table = datasets.dataset_table(conn, id_)
                if len(_TABLES) > 1000:  # datasets whose columns changed many times: start over
                    _TABLES.clear()
                _TABLES[key] = table
        flows.append(
            DataflowInfo(
                id=int(id_),
                name=name,
                mapping=dict(spec.get("mapping") or {}),
                cursor=(spec.get("sync") or {}).get("cursor"),
                namespaces=tuple(spec.get("identities") or {}),
                table=table,
            )
        )
    return flows


_TABLES: dict[tuple[str, str], Table | None] = {}


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
    names = [*leading, *(c.name for c in table.columns)]
    if not rows:
        return rows_frame(rows, names)
    times = {c.name for c in table.columns if isinstance(c.type, DateTime)}
    # every column built at once: adding or replacing one later costs as much as building it
    columns = {
        name: pd.to_datetime(values, utc=True, format="mixed")
        if name in times
        else np.asarray(values, dtype=object)
        for name, values in zip(names, zip(*rows, strict=True), strict=True)
    }
    return pd.DataFrame(columns, copy=False)


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


def value_arrays(
    records: pd.DataFrame,
    dataflow: str,
    timestamp_column: str,
    attributes: Sequence[str] | None = None,
    *,
    profile_id: str | None = None,
) -> dict[str, np.ndarray]:
    """A dataflow's records as long arrays: one entry per present (record, attribute) value.

    Args:
        records: dataset rows with ``_source_key``, ``_ingested_at``, the attribute
            columns and, unless ``profile_id`` is given, a ``profile_id`` column.
        dataflow: the dataflow's name.
        timestamp_column: the column that dates the records (see :func:`timestamp_attribute`).
        attributes: the attribute columns to take (default: all but lineage and ``profile_id``).
        profile_id: the profile of every record, when they all belong to one.

    Returns:
        :data:`VALUE_COLUMNS` -> arrays (object; ``timestamp`` as naive UTC ``datetime64[us]``),
        missing values left out.
    """
    if attributes is None:
        attributes = [c for c in records.columns if c not in LINEAGE_COLUMNS and c != "profile_id"]
    attributes = list(attributes)
    if records.empty or not attributes:
        return _no_values()
    # numpy rather than DataFrame.melt and frames: a lookup merges a handful of records, where
    # pandas' per-call overhead would cost more than the work; object arrays keep values as they are
    table = records.to_numpy(dtype=object)
    cells = table[:, records.columns.get_indexer(attributes)].ravel()
    present = np.flatnonzero(_present(cells))
    row, column = np.divmod(present, len(attributes))
    profiles = (
        np.full(len(row), profile_id, dtype=object)
        if profile_id is not None
        else table[row, records.columns.get_loc("profile_id")]
    )
    return {
        "profile_id": profiles,
        "attribute": np.asarray(attributes, dtype=object)[column],
        "value": cells[present],
        "dataflow": np.full(len(present), dataflow, dtype=object),
        "source_key": table[row, records.columns.get_loc("_source_key")],
        "timestamp": record_timestamps(records, timestamp_column)[row],
    }


def attribute_values(
    records: pd.DataFrame,
    dataflow: str,
    timestamp_column: str,
    attributes: Sequence[str] | None = None,
    *,
    profile_id: str | None = None,
) -> pd.DataFrame:
    """:func:`value_arrays` as a frame with :data:`VALUE_COLUMNS` (``timestamp`` in UTC)."""
    return values_frame(value_arrays(records, dataflow, timestamp_column, attributes, profile_id=profile_id))


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
        return values_frame(_no_values())
    keep = np.flatnonzero(_present(values["value"].to_numpy(dtype=object)))
    arrays = {c: values[c].to_numpy(dtype=object)[keep] for c in VALUE_COLUMNS if c != "timestamp"}
    return values_frame(merge_arrays({**arrays, "timestamp": _utc(values["timestamp"])[keep]}, policy))


def merge_arrays(values: Mapping[str, np.ndarray], policy: MergePolicy) -> dict[str, np.ndarray]:
    """:func:`merge` on the arrays :func:`value_arrays` makes (concatenated for several dataflows).

    The values must all be present (as :func:`value_arrays` leaves them).
    """
    profile = pd.factorize(values["profile_id"], sort=True)[0]
    attribute = pd.factorize(values["attribute"], sort=True)[0]
    dataflow, dataflow_names = pd.factorize(values["dataflow"], sort=True)
    key = pd.factorize(values["source_key"].astype(str), sort=True)[0]
    stamps = values["timestamp"]
    # latest first; a value without any time comes after every dated one
    newest_first = np.where(np.isnat(stamps), np.iinfo(np.int64).max, -stamps.view(np.int64))
    rank = np.zeros(len(stamps), dtype=np.int64)
    if policy.kind == "precedence":
        positions = {name: position for position, name in enumerate(policy.order)}
        ranks = np.array([positions.get(name, len(positions)) for name in dataflow_names], dtype=np.int64)
        rank = ranks[dataflow]
    order = np.lexsort((key, dataflow, newest_first, rank, attribute, profile))  # last key sorts first
    group = profile[order].astype(np.int64) * (int(attribute.max(initial=0)) + 1) + attribute[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = group[1:] != group[:-1]
    won = order[first]
    return {name: array[won] for name, array in values.items()}


def concat_values(parts: Sequence[Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Several dataflows' value arrays as one."""
    if not parts:
        return _no_values()
    return {name: np.concatenate([part[name] for part in parts]) for name in VALUE_COLUMNS}


def values_frame(values: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """Value arrays as a frame with :data:`VALUE_COLUMNS`, ``timestamp`` in UTC."""
    # object columns as they are (inferring text types costs more than a lookup's whole merge),
    # all built at once (adding a column to a frame costs as much again)
    stamps = pd.Series(pd.DatetimeIndex(values["timestamp"]).tz_localize("UTC"), copy=False)
    columns = {c: pd.Series(values[c], dtype=object, copy=False) for c in VALUE_COLUMNS if c != "timestamp"}
    return pd.DataFrame({**columns, "timestamp": stamps}, copy=False)[list(VALUE_COLUMNS)]


def _no_values() -> dict[str, np.ndarray]:
    arrays = {c: np.empty(0, dtype=object) for c in VALUE_COLUMNS}
    arrays["timestamp"] = np.empty(0, dtype="datetime64[us]")
    return arrays


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
