"""Dataflows: the list, a form to create one, and t("Run now") with live progress and its summary."""

from __future__ import annotations

from datetime import date, timedelta

import streamlit as st

from core.scheduler import backfill
from ui import data, roles
from ui.dataflow_form import new_dataflow_form
from ui.feedback import reported_errors, required
from ui.i18n import t
from ui.routing import through_app
from ui.runs import run_with_progress
from ui.schedule_form import describe_schedule, schedule_editor
from ui.state import workspace
from ui.widgets import dataflows_table, run_summary

through_app()
st.title(t("Dataflows"))
st.caption(
    t(
        "A dataflow reads one stream of a connection, maps it onto profiles and loads it, "
        "on demand or on a schedule."
    )
)

may_edit = roles.allowed("edit", t("run, schedule and create dataflows"))
flows = required(data.dataflows)
list_slot = st.container()  # filled last, so a dataflow created or run below shows at once

st.subheader(t("Run now"))
if flows.empty:
    st.info(t("No dataflow yet: create one below."), icon=":material/info:")
else:
    with st.container(horizontal=True, vertical_alignment="bottom"):
        name = st.selectbox(t("Dataflow"), flows["name"], key="dataflows.run.name", width=320)
        run = st.button(
            t("Run now"),
            type="primary",
            icon=":material/play_arrow:",
            key="dataflows.run",
            disabled=not may_edit,
        )
    if run:
        run_with_progress(name)

if not flows.empty:
    with st.expander(t("Schedule"), icon=":material/schedule:"):
        chosen = st.selectbox(t("Dataflow"), flows["name"], key="dataflows.schedule.name", width=320)
        spec = required(workspace().dataflow_spec, chosen)
        schedule, enabled = schedule_editor(spec, key=f"dataflows.schedule.{chosen}")
        if st.button(
            t("Save the schedule"),
            icon=":material/save:",
            key="dataflows.schedule.save",
            disabled=not may_edit,
        ):
            with reported_errors():
                updated = {**spec.model_dump(mode="json", exclude_none=True), "enabled": enabled}
                updated.pop("schedule", None)
                workspace().save_dataflow(chosen, {**updated, **({"schedule": schedule} if schedule else {})})
                data.refresh()
                st.success(
                    t(
                        "Saved: **{name}** {schedule}.",
                        name=chosen,
                        schedule=describe_schedule(schedule, enabled),
                    )
                )
        if spec.sync.mode == "incremental":
            since_column, go_column = st.columns([2, 3], vertical_alignment="bottom")
            since = since_column.date_input(
                t("Backfill from"),
                value=date.today() - timedelta(days=30),
                key=f"dataflows.backfill.since.{chosen}",
                help=t("Reads the history again from this date; records are upserted, never doubled."),
            )
            if go_column.button(t("Backfill now"), key="dataflows.backfill", disabled=not may_edit):
                with (
                    reported_errors(),
                    st.spinner(t("Backfilling {name} from {since}…", name=chosen, since=since)),
                ):
                    run_summary(backfill(workspace(), chosen, since))
                    data.refresh()

with st.expander(t("Create a dataflow"), icon=":material/add_circle:", expanded=flows.empty and may_edit):
    connections = required(data.connections)
    if not may_edit:
        st.caption(roles.reason("edit", t("create dataflows")))
    elif connections.empty:
        st.info(t("Add a connection on **Sources** first."))
    else:
        with reported_errors():
            created = new_dataflow_form(list(connections["name"]))
            if created:
                workspace().save_dataflow(*created)
                data.refresh()
                st.success(
                    t(
                        "Created dataflow **{name}**. Run it above, or fine-tune it on **Mapping**.",
                        name=created[0],
                    )
                )

with list_slot:
    dataflows_table(required(data.dataflows))
