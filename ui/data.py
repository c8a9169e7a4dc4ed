"""Cached reads of the workspace for the pages (st.cache_data), and one call to drop them after a write.

Each cached function takes the signed-in actor (:data:`ui.state.ActorKey`) as
its first argument and reads through :func:`ui.state.acting`: the cache keys
every result by who may see it. The public functions pass this session's actor.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import streamlit as st

from connectors import connector_class
from connectors.base import SUGGESTED_IDENTITIES, SUGGESTED_MAPPING, StreamInfo
from core import monitoring
from core.mapping.suggest import StandardMapping
from core.monitoring import RunFilter
from core.services import Preview
from ui.state import ActorKey, acting, actor_key, workspace

#: Seconds a cached read stays fresh; writes made on this page clear the caches at once.
FRESH_SECONDS = 30


def catalog() -> pd.DataFrame:
    """The connector catalog (it only changes with the code)."""
    return _catalog(actor_key())


def connections() -> pd.DataFrame:
    """The saved connections, secrets left out."""
    return _connections(actor_key())


def dataflows() -> pd.DataFrame:
    """The dataflows with their last run."""
    return _dataflows(actor_key())


def runs(dataflow: str | None = None, limit: int = 200) -> pd.DataFrame:
    """Run history, newest first."""
    return _runs(actor_key(), dataflow, limit)


def quarantined_rows(run_id: int) -> pd.DataFrame:
    """A run's quarantined rows, one column per source field, ready to read or download."""
    return _quarantined_rows(actor_key(), run_id)


@st.cache_data(show_spinner=False)
def _catalog(actor: ActorKey) -> pd.DataFrame:
    return acting(actor).catalog()


@st.cache_data(ttl=FRESH_SECONDS, show_spinner=False)
def _connections(actor: ActorKey) -> pd.DataFrame:
    return acting(actor).connections()


@st.cache_data(ttl=FRESH_SECONDS, show_spinner=False)
def _dataflows(actor: ActorKey) -> pd.DataFrame:
    return acting(actor).dataflows()


@st.cache_data(ttl=FRESH_SECONDS, show_spinner=False)
def _runs(actor: ActorKey, dataflow: str | None, limit: int) -> pd.DataFrame:
    return acting(actor).runs(dataflow, limit)


@st.cache_data(ttl=FRESH_SECONDS, show_spinner=False)
def _quarantined_rows(actor: ActorKey, run_id: int) -> pd.DataFrame:
    errors = acting(actor).run_errors(run_id)
    if errors.empty:
        return errors
    source = pd.json_normalize(errors["row"].map(lambda row: row if isinstance(row, dict) else {}).tolist())
    source.index = errors.index
    reasons = errors[["source_key", "origin", "code", "field", "reason"]]
    return reasons.join(source, suffixes=("", " (source)"))


def run_history(run_filter: RunFilter) -> pd.DataFrame:
    """The runs a filter admits, newest first (at most core.monitoring.HISTORY_LIMIT)."""
    return _history(actor_key(), *_plain(run_filter))


def run_counts(run_filter: RunFilter) -> dict[str, int]:
    """How many runs a filter admits, by status."""
    return _counts(actor_key(), *_plain(run_filter))


def run_timeline(run_filter: RunFilter) -> pd.DataFrame:
    """Runs per hour, day or week and status, over every run a filter admits."""
    return _timeline(actor_key(), *_plain(run_filter))


def run(run_id: int) -> dict[str, Any]:
    """One run with its dataflow's name, validation summary and warnings."""
    return dict(workspace().store.run_row(run_id))


def error_groups(run_id: int) -> pd.DataFrame:
    """A run's quarantined rows by code and attribute, with counts, and three examples each.

    The examples quote source rows (personal data): without the right to see
    those, the groups come with counts only.
    """
    return _error_groups(actor_key(), run_id)


@st.cache_data(ttl=FRESH_SECONDS, show_spinner=False)
def _error_groups(actor: ActorKey, run_id: int) -> pd.DataFrame:
    opened = acting(actor)
    if opened.actor.can("view_personal_data"):
        return monitoring.error_groups(opened.engine, run_id, opened.run_errors(run_id))
    opened.store.run_row(run_id)  # NotFoundError for an unknown run, as run_errors would raise
    return monitoring.error_groups(opened.engine, run_id, pd.DataFrame())


def health() -> monitoring.Health:
    """Scheduler, dataflows and recent failures, as of now (never cached: it answers "is all well now?")."""
    return monitoring.health(workspace().engine, datetime.now(UTC))


def record_counts() -> pd.Series:
    """How many records each dataflow holds (a COUNT per dataset: cached a little longer)."""
    return _record_counts(actor_key())


@st.cache_data(ttl=2 * FRESH_SECONDS, show_spinner=False)
def _record_counts(actor: ActorKey) -> pd.Series:
    return monitoring.record_counts(acting(actor).engine)


# Filters reach the caches as plain values: they hash (and pickle) whatever the module's reload state.
def _plain(run_filter: RunFilter) -> tuple[Any, ...]:
    return (
        run_filter.dataflow,
        run_filter.statuses,
        run_filter.since,
        run_filter.until,
        run_filter.failures_only,
    )


@st.cache_data(ttl=FRESH_SECONDS, show_spinner="Reading the run history…")
def _history(actor: ActorKey, *fields: Any) -> pd.DataFrame:
    return monitoring.run_history(acting(actor).engine, RunFilter(*fields))


@st.cache_data(ttl=FRESH_SECONDS, show_spinner=False)
def _counts(actor: ActorKey, *fields: Any) -> dict[str, int]:
    return monitoring.count_runs(acting(actor).engine, RunFilter(*fields))


@st.cache_data(ttl=FRESH_SECONDS, show_spinner=False)
def _timeline(actor: ActorKey, *fields: Any) -> pd.DataFrame:
    return monitoring.status_timeline(acting(actor).engine, RunFilter(*fields))


def overview() -> dict[str, Any]:
    """The headline figures."""
    return _overview(actor_key())


@st.cache_data(ttl=FRESH_SECONDS, show_spinner=False)
def _overview(actor: ActorKey) -> dict[str, Any]:
    return acting(actor).overview()


def streams(connection: str) -> list[StreamInfo]:
    """The streams a connection offers (names, key/cursor candidates, standard-object mappings)."""
    return [
        StreamInfo(name, primary_key_candidates=keys, cursor_candidates=cursors, metadata=hints)
        for name, keys, cursors, hints in _stream_rows(actor_key(), connection)
    ]


def standard_mapping(connection: str, stream: str) -> StandardMapping | None:
    """The connector's mapping of a standard object (Salesforce Contact…), None for other streams."""
    info = next((info for info in streams(connection) if info.name == stream), None)
    if info is None:
        return None
    title = workspace().connection_spec(connection).connector
    with contextlib.suppress(KeyError):
        title = connector_class(title).title
    return StandardMapping.from_metadata(info.metadata, f"{title} {stream}")


def preview(connection: str, stream: str, options: Mapping[str, Any] | None = None) -> Preview:
    """A 1,000-row sample of a stream with its column profile."""
    frame, profile, malformed = _preview_parts(actor_key(), connection, stream, dict(options or {}))
    return Preview(frame=frame, profile=profile, malformed=malformed)


# The cached values are plain tuples and frames: st.cache_data pickles them, and a
# dataclass would stop pickling once Streamlit reloads its module after an edit.
@st.cache_data(ttl=FRESH_SECONDS, show_spinner="Listing streams…")
def _stream_rows(
    actor: ActorKey, connection: str
) -> list[tuple[str, tuple[str, ...], tuple[str, ...], dict[str, Any]]]:
    return [
        (
            info.name,
            tuple(info.primary_key_candidates),
            tuple(info.cursor_candidates),
            {
                k: (dict(v) if isinstance(v, Mapping) else list(v))
                for k in (SUGGESTED_MAPPING, SUGGESTED_IDENTITIES, "primary_key")
                if (v := info.metadata.get(k))
            },
        )
        for info in acting(actor).streams(connection)
    ]


@st.cache_data(ttl=FRESH_SECONDS, show_spinner="Reading a sample…")
def _preview_parts(
    actor: ActorKey, connection: str, stream: str, options: dict[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    sample = acting(actor).preview(connection, stream, options)
    return sample.frame, sample.profile, int(sample.malformed)


def objects(connection: str, stream: str, options: dict[str, Any]) -> pd.DataFrame | None:
    """The objects a storage stream matches (name, size, modified), None for tables."""
    return _objects(actor_key(), connection, stream, options)


def studio_sample(connection: str, stream: str, options: dict[str, Any]) -> pd.DataFrame:
    """The 1,000-row sample the studio maps on every edit: read once, kept until reloaded."""
    return _studio_sample(actor_key(), connection, stream, options)


def reload_sample() -> None:
    """Forgets the studio's samples, so the next edit reads the source again."""
    _studio_sample.clear()


@st.cache_data(ttl=FRESH_SECONDS, show_spinner="Listing objects…")
def _objects(actor: ActorKey, connection: str, stream: str, options: dict[str, Any]) -> pd.DataFrame | None:
    return acting(actor).objects(connection, stream, options)


@st.cache_data(show_spinner="Reading the sample once…", max_entries=16)
def _studio_sample(actor: ActorKey, connection: str, stream: str, options: dict[str, Any]) -> pd.DataFrame:
    return acting(actor).preview(connection, stream, options).frame


def suggested_mapping(
    sample: pd.DataFrame, standard: StandardMapping | None = None, floor: float = 0.5
) -> dict[str, str]:
    """Profile attribute -> source column or conversion, from the sample's names and values."""
    from core.mapping import suggest

    suggestions = suggest(sample, workspace().schema, standard)
    return {s.attribute: s.expression for s in suggestions if s.confidence >= floor}


def refresh() -> None:
    """Forgets every cached read, after a write changed the workspace."""
    st.cache_data.clear()
