"""A unified profile as a lookup returns it: merged attributes with their sources, identities, trail."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd

#: What a hidden personal value reads as.
HIDDEN = "•••"
ATTRIBUTE_COLUMNS = ("attribute", "value", "dataflow", "source_key", "timestamp")
IDENTITY_COLUMNS = ("namespace", "value", "dataflow", "source_key")
TRAIL_COLUMNS = ("created_at", "rule", "namespace", "value", "dataflow", "source_key", "records", "detail")


@dataclass(frozen=True)
class UnifiedProfile:
    """One customer as a merge policy shows them, with where every value came from.

    Attributes:
        profile_id: the graph's id for the profile.
        policy: the name of the merge policy that chose the attributes.
        attributes: attribute, value, and the record that won (dataflow, source_key, timestamp).
        identities: every identity value of the profile's records (namespace, value, dataflow, source_key).
        records: dataflow name -> the profile's records in that dataflow's dataset.
        trail: the graph's decisions on these records, oldest first: ``merged`` rows name
            an identity value that links records (``records``: which ones, as
            ``dataflow:source_key``); ``blocked_value``, ``invalid_value`` and
            ``namespace_limit`` rows name a record whose value did not link, and why
            (created_at, rule, namespace, value, dataflow, source_key, records, detail).
    """

    profile_id: str
    policy: str
    attributes: pd.DataFrame
    identities: pd.DataFrame
    records: dict[str, pd.DataFrame] = field(default_factory=dict)
    trail: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(TRAIL_COLUMNS)))

    @property
    def dataflows(self) -> list[str]:
        """The dataflows contributing records, by name."""
        return sorted(name for name, frame in self.records.items() if not frame.empty)

    @property
    def members(self) -> int:
        """How many records the profile merges."""
        return sum(len(frame) for frame in self.records.values())

    def value(self, attribute: str, default: Any = None) -> Any:
        """The merged value of one attribute, or ``default``."""
        rows = self.attributes[self.attributes["attribute"] == attribute]
        return default if rows.empty else rows["value"].iloc[0]

    def without_personal_data(self, attributes: set[str], namespaces: set[str]) -> UnifiedProfile:
        """The profile as a viewer without the personal data grant sees it.

        Personal attributes' values and personal identity values (emails,
        phones) read :data:`HIDDEN`; records keep only their other columns. Where
        each value came from stays visible, so the profile is still explainable.
        """
        shown = self.attributes.assign(
            value=self.attributes["value"].where(~self.attributes["attribute"].isin(attributes), HIDDEN)
        )

        def masked(frame: pd.DataFrame) -> pd.DataFrame:
            if frame.empty or "namespace" not in frame:
                return frame
            personal = frame["namespace"].isin(namespaces)
            hidden = frame.assign(value=frame["value"].where(~personal, HIDDEN))
            if "detail" in frame:  # a decision's detail quotes its value ("email 'ann@…' is shared by…")
                hidden["detail"] = frame["detail"].where(~personal, HIDDEN)
            return hidden

        return replace(
            self,
            attributes=shown,
            identities=masked(self.identities),
            records={
                name: frame.drop(columns=[c for c in frame if c in attributes])
                for name, frame in self.records.items()
            },
            trail=masked(self.trail),
        )

    def as_dict(self) -> dict[str, Any]:
        """The profile as plain data (times as ``datetime``), for JSON output."""
        return {
            "profile_id": self.profile_id,
            "policy": self.policy,
            "dataflows": self.dataflows,
            "members": self.members,
            "attributes": {
                row["attribute"]: {k: row[k] for k in ATTRIBUTE_COLUMNS[1:]}
                for row in _plain_records(self.attributes)
            },
            "identities": _plain_records(self.identities),
            "records": {name: _plain_records(frame) for name, frame in self.records.items()},
            "trail": _plain_records(self.trail),
        }


def with_records(trail: pd.DataFrame, identities: pd.DataFrame) -> pd.DataFrame:
    """The trail with, per row, the records it is about: holders of a linking value, or its own record."""
    # a profile's own few identities: plain Python costs less here than a pandas groupby
    holders: dict[tuple[str, str], list[str]] = {}
    for namespace, value, dataflow, key in zip(
        *(identities[c].tolist() for c in IDENTITY_COLUMNS), strict=True
    ):
        holders.setdefault((namespace, value), []).append(f"{dataflow}:{key}")
    about = zip(*(trail[c].tolist() for c in ("namespace", "value", "dataflow", "source_key")), strict=True)
    records = [
        f"{dataflow}:{key}"
        if isinstance(key, str)
        else ", ".join(holders.get((namespace, value), [])) or None
        for namespace, value, dataflow, key in about
    ]
    trail = trail.assign(records=pd.Series(records, index=trail.index, dtype=object))
    return trail[list(TRAIL_COLUMNS)]


def _plain_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts with None for missing values and Python scalars."""
    if frame.empty:
        return []
    plain = frame.astype(object).where(frame.notna(), None)
    return [
        {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
        for row in plain.to_dict("records")
    ]
