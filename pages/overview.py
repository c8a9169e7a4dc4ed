"""Overview: headline figures, the dataflows with their last status, and the latest runs."""

from __future__ import annotations

import streamlit as st

from ui import data
from ui.feedback import reported_errors
from ui.routing import through_app
from ui.widgets import dataflows_table, runs_table

through_app()
st.title("Overview")
st.caption("What Tributary holds and how its latest runs went.")

with reported_errors():
    figures = data.overview()
    for column, (label, value) in zip(
        st.columns(5),
        [
            ("Connections", figures["connections"]),
            ("Dataflows", figures["dataflows"]),
            ("Runs", figures["runs"]),
            ("Records ingested", figures["records_ingested"]),
            ("Rows quarantined", figures["rows_failed"]),
        ],
        strict=True,
    ):
        column.metric(label, f"{value:,}", border=True)

    st.subheader("Dataflows")
    flows = data.dataflows()
    if flows.empty:
        st.info("No dataflow yet: add a connection on **Sources**, then create one on **Dataflows**.")
    else:
        dataflows_table(flows)

    st.subheader("Latest runs")
    runs_table(data.runs(limit=10))
