"""The identity graph: records linked by shared identity values, clustered into profiles."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Engine, Table


@dataclass(frozen=True)
class Clustering:
    """Records grouped into profiles, with the linking decisions made on the way."""

    members: pd.DataFrame
    profiles: pd.DataFrame
    decisions: pd.DataFrame


def profile_id_of(dataflow_id: int, source_key: str) -> str:
    """The id of the profile whose smallest member is this record."""
    raise NotImplementedError


def cluster(records: pd.DataFrame, links: pd.DataFrame, rules: Any) -> Clustering:
    """Clusters records into profiles from their links (order-independent)."""
    raise NotImplementedError


def write_identities(
    conn: Connection, dataflow_id: int, keys: pd.Series, values: Mapping[str, pd.Series]
) -> pd.Series:
    """Writes records' normalised identities; returns the keys whose links changed."""
    raise NotImplementedError


def maintain(conn: Connection, dataflow_id: int, source_keys: pd.Series) -> None:
    """Re-clusters the components of records whose links changed."""
    raise NotImplementedError


def forget(conn: Connection, dataflow_id: int, source_keys: pd.Series) -> None:
    """Removes deleted records from the graph, re-splitting their components."""
    raise NotImplementedError


def forget_missing(conn: Connection, dataflow_id: int, table: Table) -> None:
    """Forgets the records of a dataflow that its dataset no longer holds."""
    raise NotImplementedError


def rebuild(engine: Engine) -> None:
    """Recomputes identities and profiles of every dataflow from the datasets."""
    raise NotImplementedError
