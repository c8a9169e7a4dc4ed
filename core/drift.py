"""Schema drift: the source's columns now, compared with those a dataflow's mapping was built on.

A dataflow version records its source schema (column -> portable type) when
it is saved from a sample, or on its first run. Before each run the current
schema is read from a small sample and compared:

- an added column is reported; nothing reads it yet;
- a removed column, or a column retyped incompatibly, that the mapping reads
  fails the run before any write, naming the attributes and expressions it
  breaks;
- a compatible widening (integer -> number, date -> timestamp), a text column
  that now arrives typed, or a retype of a column that only feeds text
  attributes, goes on with a warning.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from connectors.base import META_PREFIX, Connector, infer_field_type
from core.errors import ConfigurationError
from core.mapping import CompiledMapping

#: Rows read to learn the source's schema before a run.
SCHEMA_SAMPLE_ROWS = 200
#: Retypes a mapping reading the column survives unchanged (old type, new type).
WIDENINGS = frozenset({("integer", "number"), ("date", "timestamp"), ("boolean", "integer")})
#: Attribute types that take any value as text.
TEXT_TYPES = frozenset({"string"})

Schema = dict[str, str | None]


class SchemaDriftError(ConfigurationError):
    """The source lost or retyped a column the mapping reads: the run stops before any write."""

    code = "schema_drift"


def schema_of(frame: pd.DataFrame) -> Schema:
    """Each data column's portable type; None for a column whose sample holds no value."""
    schema: Schema = {}
    for column in frame.columns:
        name = str(column)
        if name.startswith(META_PREFIX):
            continue
        values = frame[column]
        present = values.dropna()
        if pd.api.types.is_string_dtype(present.dtype) or present.dtype == object:
            present = present[present.astype("string").str.strip() != ""]
        schema[name] = infer_field_type(values) if len(present) else None
    return schema


def read_schema(connector: Connector, stream: str, options: Mapping[str, Any] | None = None) -> Schema:
    """The schema of a stream, from a small sample (raises the connector's errors)."""
    return schema_of(connector.sample(stream, SCHEMA_SAMPLE_ROWS, dict(options or {})))


@dataclass(frozen=True)
class Change:
    """One column that changed, and what it does to the mapping."""

    column: str
    kind: str  # added | removed | retyped | widened
    before: str | None = None
    after: str | None = None
    #: attribute path -> expression, for the mapped fields that read the column.
    used_by: Mapping[str, str] = field(default_factory=dict)
    breaking: bool = False

    @property
    def message(self) -> str:
        """One line a person can act on."""
        what = {
            "added": f"column {self.column!r} was added",
            "removed": f"column {self.column!r} was removed",
            "retyped": f"column {self.column!r} changed type from {self.before} to {self.after}",
            "widened": f"column {self.column!r} widened from {self.before} to {self.after}",
        }[self.kind]
        if not self.used_by:
            return what + "; no mapped attribute reads it"
        fields = ", ".join(
            f"{path} ({expr})" if expr != self.column else path for path, expr in self.used_by.items()
        )
        if self.breaking:
            return f"{what}; it breaks {fields}: update the mapping"
        return f"{what}; {fields} still map{'s' if len(self.used_by) == 1 else ''} it"


@dataclass(frozen=True)
class DriftReport:
    """How the source's schema moved since the mapping was built."""

    changes: tuple[Change, ...] = ()

    @property
    def breaking(self) -> tuple[Change, ...]:
        """Changes that stop a run."""
        return tuple(c for c in self.changes if c.breaking)

    @property
    def warnings(self) -> tuple[Change, ...]:
        """Changes a run goes on with (added columns, compatible retypes)."""
        return tuple(c for c in self.changes if not c.breaking)

    @property
    def drifted(self) -> bool:
        """Whether anything changed at all."""
        return bool(self.changes)

    def raise_if_breaking(self) -> None:
        """Raises SchemaDriftError naming every broken attribute."""
        if self.breaking:
            details = "; ".join(c.message for c in self.breaking)
            raise SchemaDriftError(f"The source's schema changed: {details}.")

    def to_json(self) -> list[dict[str, Any]]:
        """The changes as plain values, for a run's warnings."""
        return [
            {
                "column": c.column,
                "kind": c.kind,
                "before": c.before,
                "after": c.after,
                "used_by": dict(c.used_by),
                "breaking": c.breaking,
                "message": c.message,
            }
            for c in self.changes
        ]


def compare(
    baseline: Mapping[str, str | None], current: Mapping[str, str | None], mapping: CompiledMapping
) -> DriftReport:
    """Compares two schemas in the light of what ``mapping`` reads."""
    readers: dict[str, dict[str, str]] = {}
    types: dict[str, set[str]] = {}
    for f in mapping.fields:
        for column in f.expression.columns:
            readers.setdefault(column, {})[f.attribute.path] = f.expression.text
            types.setdefault(column, set()).add(f.attribute.type)
    changes: list[Change] = []
    for column in current:
        if column not in baseline:
            changes.append(Change(column, "added", after=current[column]))
    for column, before in baseline.items():
        used = readers.get(column, {})
        if column not in current:
            changes.append(Change(column, "removed", before=before, used_by=used, breaking=bool(used)))
            continue
        after = current[column]
        if before is None or after is None or before == after:
            continue  # a column with no value in one of the samples says nothing about its type
        only_text = bool(used) and types.get(column, set()) <= TEXT_TYPES
        if (before, after) in WIDENINGS:
            changes.append(Change(column, "widened", before, after, used_by=used))
        elif only_text or before in TEXT_TYPES:
            # text the mapping already converted reads the same when it arrives typed
            changes.append(Change(column, "retyped", before, after, used_by=used))
        else:
            changes.append(Change(column, "retyped", before, after, used_by=used, breaking=bool(used)))
    return DriftReport(tuple(changes))


__all__ = [
    "SCHEMA_SAMPLE_ROWS",
    "Change",
    "DriftReport",
    "Schema",
    "SchemaDriftError",
    "compare",
    "read_schema",
    "schema_of",
]
