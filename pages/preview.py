"""Preview: pick a connection and a stream, look at a 1,000-row sample and its column profile."""

from __future__ import annotations

import streamlit as st

from ui import data
from ui.feedback import reported_errors, required
from ui.forms import connector_class, model_form
from ui.i18n import t
from ui.routing import through_app
from ui.widgets import object_picker, objects_table

through_app()
st.title(t("Preview"))
st.caption(t("Browse a connection's streams and look at a sample before you map it."))

connections = required(data.connections)
if connections.empty:
    st.info(t("No connection yet: add one on **Sources**."), icon=":material/info:")
    st.stop()

pick_connection, pick_stream, type_stream = st.columns([1, 1, 1])
connection = pick_connection.selectbox(t("Connection"), connections["name"], key="preview.connection")
with reported_errors():
    streams = {info.name: info for info in data.streams(connection)}
    stream = pick_stream.selectbox(
        t("Stream"), list(streams), key=f"preview.stream.{connection}", placeholder=t("No stream found")
    )
    custom = type_stream.text_input(
        t("…or type a pattern"),
        key=f"preview.custom.{connection}",
        placeholder="orders/*.jsonl",
        help=t("A glob over the connection's files, or a stream name the list does not show."),
    )
    chosen = custom.strip() or stream
    if not chosen:
        st.stop()

    info = streams.get(chosen)
    if info and (info.primary_key_candidates or info.cursor_candidates):
        st.caption(
            t(
                "Key candidates: {keys} · cursor candidates: {cursors}",
                keys=", ".join(info.primary_key_candidates) or "—",
                cursors=", ".join(info.cursor_candidates) or "—",
            )
        )
    connector = connections.set_index("name").at[connection, "connector"]
    with st.expander(t("Read options"), icon=":material/tune:"):
        options = model_form(
            required(connector_class, connector).options_model, key=f"preview.options.{connector}"
        )
    objects = data.objects(connection, chosen, options)
    if objects is not None:
        chosen = object_picker(objects, key=f"preview.object.{connection}.{chosen}") or chosen
    sample = data.preview(connection, chosen, options)
    if sample.malformed:
        st.warning(
            t(
                "{count} malformed rows in this sample could not be parsed; "
                "a run quarantines them with their reasons.",
                count=f"{sample.malformed:,}",
            ),
            icon=":material/warning:",
        )
    labels = [
        t("Sample · {count} rows", count=f"{len(sample.frame):,}"),
        t("Column profile · {count}", count=len(sample.profile)),
    ]
    labels += [t("Objects · {count}", count=f"{len(objects):,}")] if objects is not None else []
    rows, profile, *listing = st.tabs(labels)
    rows.dataframe(sample.frame, hide_index=True, height=460)
    profile.dataframe(
        sample.profile,
        hide_index=True,
        column_config={
            "column": t("Column"),
            "type": t("Inferred type"),
            "null_pct": st.column_config.ProgressColumn(
                t("Null %"), min_value=0, max_value=100, format="%.1f%%"
            ),
            "distinct": st.column_config.NumberColumn(t("Distinct"), format="localized"),
            "examples": st.column_config.TextColumn(t("Examples"), width="large"),
        },
    )
    if objects is not None:
        with listing[0]:
            objects_table(objects)
