"""Runs: history charts by dataflow, status and time; a run's diagnostics, downloads and replay."""

from __future__ import annotations

import streamlit as st

from ui import data
from ui.feedback import required
from ui.i18n import t
from ui.quality import run_validation
from ui.routing import through_app
from ui.runs import (
    TABLE_RUNS,
    error_diagnostics,
    history_filter,
    history_overview,
    pick_run,
    replay_panel,
    run_header,
)
from ui.widgets import runs_table

through_app()
st.title(t("Runs"))
st.caption(
    t(
        "Every run with what it received, ingested and quarantined. Drill into a run to see why rows failed, "
        "download them, and replay them once the mapping is fixed."
    )
)

flows = required(data.dataflows)
run_filter = history_filter(flows["name"].tolist())
history = required(data.run_history, run_filter)
if history.empty:
    if flows.empty:
        st.info(t("No dataflow yet: add a connection on **Sources**, then create one on **Dataflows**."))
    else:
        st.info(
            t(
                "No runs match these filters. Widen the period or clear the filters, "
                "or start a run with **Run now** on **Dataflows**."
            ),
            icon=":material/info:",
        )
        st.page_link("pages/dataflows.py", label=t("Dataflows"), icon=":material/conversion_path:")
    st.stop()

with st.container(border=True):
    history_overview(run_filter, history)
runs_table(history.head(TABLE_RUNS), key="runs.table")

st.subheader(t("Run details"))
run = required(data.run, pick_run(history, key="runs.run"))
run_header(run)
rows_tab, checks_tab = st.tabs([t("Quarantined rows"), t("Quality checks")])
with checks_tab:
    run_validation(run.get("validation"))
with rows_tab:
    if error_diagnostics(int(run["id"]), int(run["failed"] or 0)):
        current = flows.set_index("name")["version"].get(run["dataflow"])
        replay_panel(run, int(current) if current is not None else None)
