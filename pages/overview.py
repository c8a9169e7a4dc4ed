"""Overview: is everything OK? The scheduler, each dataflow's state, recent failures, headline figures."""

from __future__ import annotations

import streamlit as st

from ui import data
from ui.feedback import reported_errors
from ui.i18n import t
from ui.routing import through_app
from ui.runs import dataflow_health, health_banner, recent_failures
from ui.widgets import runs_table

through_app()
st.title(t("Overview"))
st.caption(t("Whether everything runs as it should, and what Tributary holds."))

with reported_errors():
    health = data.health()
    health_banner(health)

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
        column.metric(t(label), f"{value:,}", border=True)

    st.subheader(t("Dataflows"))
    dataflow_health(health.dataflows, data.record_counts())

    st.subheader(t("Failures in the last 24 hours"))
    recent_failures(health.recent_failures)

    st.subheader(t("Latest runs"))
    runs_table(data.runs(limit=10))
    st.page_link("pages/runs.py", label=t("All runs, charts and diagnostics"), icon=":material/history:")
