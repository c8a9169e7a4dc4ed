"""Incremental sync state: the watermark of a cursor column, with its ties.

As in dlt's incremental loading, the state keeps the highest cursor value
seen and the keys of the records that carry exactly that value. The next run
admits rows above the watermark, and rows *at* the watermark whose key it has
not seen, so a record that arrives later with the same timestamp as the last
one is not lost, and no record is read twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

MAX_TIES = 100_000  # ties beyond this are improbable; the oldest are forgotten


def detect_kind(values: pd.Series) -> str:
    """Whether a cursor column holds timestamps, numbers or plain strings."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return "number"
    if pd.api.types.is_datetime64_any_dtype(values):
        return "timestamp"
    present = values.dropna()
    if present.empty:
        return "string"
    if pd.to_datetime(present, utc=True, errors="coerce", format="ISO8601").notna().mean() >= 0.9:
        return "timestamp"
    if pd.to_numeric(present, errors="coerce").notna().mean() >= 0.9:
        return "number"
    return "string"


def normalise(values: pd.Series, kind: str) -> pd.Series:
    """Makes cursor values comparable; unparseable values become missing."""
    if kind == "timestamp":
        if pd.api.types.is_datetime64_any_dtype(values):
            parsed = pd.to_datetime(values, utc=True)
        else:
            parsed = pd.to_datetime(values, utc=True, errors="coerce", format="ISO8601")
            retry = parsed.isna() & values.notna()
            if retry.any():
                parsed[retry] = pd.to_datetime(values[retry], utc=True, errors="coerce", format="mixed")
        return parsed
    if kind == "number":
        return pd.to_numeric(values, errors="coerce").astype("Float64")
    return values.astype("string")


def _dump(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == "timestamp":
        return pd.Timestamp(value).isoformat()
    if kind == "number":
        return float(value)
    return str(value)


def _load(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == "timestamp":
        return pd.Timestamp(value)
    return value


@dataclass
class RunMax:
    """The highest cursor value a run has seen so far, and the keys sharing it."""

    kind: str | None = None
    value: Any = None
    ties: set[str] = field(default_factory=set)

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> RunMax:
        """Restores the progress saved in a resume point."""
        saved = state.get("run_max") or {}
        kind = saved.get("kind")
        return cls(kind, _load(saved.get("value"), kind or "string"), set(saved.get("ties", [])))

    def update(self, values: pd.Series, keys: pd.Series) -> None:
        """Takes the maximum of a chunk's (normalised) cursor values into account."""
        present = values.dropna()
        if present.empty:
            return
        top = present.max()
        at_top = keys.loc[present.index[present == top]].dropna().astype(str)
        if self.value is None or top > self.value:
            self.value, self.ties = top, set(at_top)
        elif top == self.value:
            self.ties |= set(at_top)

    def to_state(self) -> dict[str, Any]:
        """The progress as JSON-ready state."""
        kind = self.kind or "string"
        return {
            "run_max": {
                "kind": self.kind,
                "value": _dump(self.value, kind),
                "ties": sorted(self.ties)[-MAX_TIES:],
            }
        }


@dataclass
class Watermark:
    """The committed position of an incremental dataflow."""

    kind: str | None = None
    value: Any = None
    ties: frozenset[str] = frozenset()

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Watermark:
        """Reads the watermark from a dataflow's saved state."""
        saved = state.get("cursor") or {}
        kind = saved.get("kind")
        return cls(kind, _load(saved.get("value"), kind or "string"), frozenset(saved.get("ties", [])))

    def normalise(self, values: pd.Series) -> pd.Series:
        """Makes a chunk's cursor values comparable, fixing the kind on first sight."""
        if self.kind is None:
            self.kind = detect_kind(values)
        return normalise(values, self.kind)

    def admits(self, values: pd.Series, keys: pd.Series) -> pd.Series:
        """Rows to read: past the watermark, or at it with a key not seen yet.

        Rows without a cursor value (empty, unparseable, or lines that could
        not be parsed at all) cannot be placed; only the first run, which has
        no watermark yet, reads them. Otherwise every later run would read,
        and quarantine or count, them again.
        """
        if self.value is None:
            return pd.Series(True, index=values.index)
        after = (values > self.value).fillna(False).astype(bool)
        tie = (values == self.value).fillna(False).astype(bool) & ~keys.astype(str).isin(self.ties)
        return after | tie

    def advanced(self, run: RunMax) -> Watermark:
        """The watermark after a completed run that saw ``run``."""
        kind = self.kind or run.kind
        if run.value is None:
            return Watermark(kind, self.value, self.ties)
        if self.value is None or run.value > self.value:
            return Watermark(kind, run.value, frozenset(run.ties))
        if run.value == self.value:
            return Watermark(kind, self.value, self.ties | run.ties)
        return Watermark(kind, self.value, self.ties)

    def to_state(self) -> dict[str, Any]:
        """The watermark as JSON-ready state."""
        kind = self.kind or "string"
        return {
            "cursor": {
                "kind": self.kind,
                "value": _dump(self.value, kind),
                "ties": sorted(self.ties)[-MAX_TIES:],
            }
        }
