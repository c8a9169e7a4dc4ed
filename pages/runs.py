"""Runs: history by dataflow, records ingested and failed per run, and each run's quarantined rows."""

from __future__ import annotations

import streamlit as st

from ui import data
from ui.charts import runs_chart
from ui.feedback import required
from ui.quality import run_validation
from ui.routing import through_app
from ui.widgets import STATUS_ICONS, runs_table

ALL = "All dataflows"

through_app()
st.title("Runs")
st.caption(
    "Every run with what it received, ingested and quarantined. Drill into a run to see why rows failed."
)

flows = required(data.dataflows)
choice = st.selectbox("Dataflow", [ALL, *flows["name"]], key="runs.dataflow", width=320)
runs = required(data.runs, None if choice == ALL else choice)
if runs.empty:
    st.info("No runs yet: start one on **Dataflows**.", icon=":material/info:")
    st.stop()

with st.container(border=True):
    st.markdown("**Records per run** (latest 50)")
    st.altair_chart(runs_chart(runs.head(50)), width="stretch")
runs_table(runs, key="runs.table")

st.subheader("Run details")
labels = {
    int(run.id): f"#{run.id} · {run.dataflow} · {run.status} · {int(run.failed):,} failed"
    for run in runs.itertuples()
}
with_failures = [int(i) for i in runs.loc[runs["failed"] > 0, "id"]]
run_id = st.selectbox(
    "Run",
    list(labels),
    index=list(labels).index(with_failures[0]) if with_failures else 0,
    format_func=labels.get,
    key="runs.run",
    width=480,
)
chosen = runs.set_index("id").loc[run_id]
if chosen["error_message"]:
    st.error(f"{chosen['error_code']}: {chosen['error_message']}", icon=STATUS_ICONS["failed"])
drift = chosen.get("warnings")
warnings = [w for w in drift if not w.get("breaking")] if isinstance(drift, list) else []
if warnings:
    st.warning("\n".join(f"- {w['message']}" for w in warnings), icon=":material/warning:")

rows_tab, checks_tab = st.tabs(["Quarantined rows", "Quality checks"])
with checks_tab:
    run_validation(chosen.get("validation"))
quarantined = required(data.quarantined_rows, run_id)
if quarantined.empty:
    rows_tab.success(f"Run #{run_id} quarantined no rows.", icon=":material/check_circle:")
else:
    with rows_tab:
        st.dataframe(
            quarantined,
            hide_index=True,
            column_config={
                "source_key": "Key",
                "origin": "Origin",
                "code": "Code",
                "field": "Attribute",
                "reason": st.column_config.TextColumn("Reason", width="large"),
            },
        )
        st.download_button(
            f"Download {len(quarantined):,} rows as CSV",
            quarantined.to_csv(index=False).encode("utf-8"),
            file_name=f"run-{run_id}-quarantined.csv",
            mime="text/csv",
            icon=":material/download:",
            on_click="ignore",
        )
