"""The "new dataflow" form: a source stream, a suggested mapping to edit, and how to sync it."""

from __future__ import annotations

from typing import Any

import streamlit as st

from ui import data
from ui.i18n import t
from ui.state import workspace
from ui.widgets import mapping_editor

SYNC_MODES = {"full_refresh": "Full refresh", "incremental": "Incremental (by a cursor column)"}


def new_dataflow_form(connections: list[str]) -> tuple[str, dict[str, Any]] | None:
    """Draws the form; returns (name, spec) when the user clicks Create, else None.

    Raises:
        TributaryError: when the connection's streams or sample cannot be read.
    """
    name = st.text_input(t("Name *"), key="dataflows.new.name", placeholder="newsletter_signups")
    pick_connection, pick_stream, type_stream = st.columns(3)
    connection = pick_connection.selectbox(t("Connection"), connections, key="dataflows.new.connection")
    streams = {info.name: info for info in data.streams(connection)}
    listed = pick_stream.selectbox(t("Stream"), list(streams), key=f"dataflows.new.stream.{connection}")
    typed = type_stream.text_input(t("…or type a pattern"), key=f"dataflows.new.custom.{connection}")
    stream = typed.strip() or listed
    if not stream:
        return None
    sample = data.preview(connection, stream).frame
    columns = list(sample.columns)
    info = streams.get(stream)
    schema = workspace().schema
    standard = data.standard_mapping(connection, stream)

    st.markdown(t("**Mapping**: suggested from the sample's column names and values, edit freely"))
    mapping = mapping_editor(
        data.suggested_mapping(sample, standard),
        schema.paths,
        key=f"dataflows.new.mapping.{connection}.{stream}",
    )
    pick_mode, pick_cursor, pick_key = st.columns(3)
    mode = pick_mode.selectbox(
        t("Sync mode"),
        list(SYNC_MODES),
        format_func=lambda mode: t(SYNC_MODES[mode]),
        key="dataflows.new.mode",
    )
    cursors = [c for c in (info.cursor_candidates if info else ()) if c in columns]
    cursor = pick_cursor.selectbox(
        t("Cursor column"),
        columns,
        index=columns.index(cursors[0]) if cursors else None,
        disabled=mode != "incremental",
        key=f"dataflows.new.cursor.{stream}",
        help=t("Incremental runs read only rows whose cursor moved past the last run's."),
    )
    declared = list((info.metadata.get("primary_key") or []) if info else [])  # a connector's composite key
    keys = (
        declared
        if declared and set(declared) <= set(columns)
        else [c for c in (info.primary_key_candidates if info else ()) if c in columns][:1]
    )
    primary_key = pick_key.multiselect(
        t("Primary key"),
        columns,
        default=keys,
        key=f"dataflows.new.key.{stream}",
        help=t("Records are upserted by it; without one, by file and line."),
    )
    identities = {
        attribute.identity: attribute.path
        for attribute in schema.attributes
        if attribute.identity and attribute.path in mapping
    }
    if standard is not None:  # the connector's own identities for its standard object
        identities.update({ns: path for ns, path in standard.identities.items() if path in mapping})
    if identities:
        st.caption(t("Identities: ") + ", ".join(f"{ns} ← {path}" for ns, path in identities.items()))
    if not st.button(t("Create dataflow"), type="primary", icon=":material/add:", key="dataflows.new.create"):
        return None
    problems = []
    if not name.strip():
        problems.append(t("**Name**: give the dataflow a name (letters, digits, _ or -)."))
    if not mapping:
        problems.append(t("**Mapping**: map at least one source column onto a profile attribute."))
    if mode == "incremental" and not cursor:
        problems.append(t("**Cursor column**: an incremental dataflow needs one; or pick Full refresh."))
    if problems:
        st.error(
            t("Fix these fields first:") + "\n\n" + "\n".join(f"- {line}" for line in problems),
            icon=":material/error:",
        )
        return None
    sync = {"mode": mode, "primary_key": primary_key, **({"cursor": cursor} if mode == "incremental" else {})}
    spec = {
        "source": {"connection": connection, "stream": stream},
        "sync": sync,
        "mapping": mapping,
        "identities": identities,
    }
    return name.strip(), spec
