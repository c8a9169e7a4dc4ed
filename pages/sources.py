"""Sources: the connector catalog, the saved connections, and a form to add or edit one."""

from __future__ import annotations

import streamlit as st

from core.services import MASK
from ui import data
from ui.feedback import reported_errors, required
from ui.forms import connector_class, model_form
from ui.routing import through_app
from ui.state import workspace
from ui.widgets import catalog_grid

NEW = "+ New connection"

through_app()
st.title("Sources")
st.caption(
    "Connect the systems your customer data lives in. Credentials are stored encrypted, never shown again."
)

catalog = required(data.catalog)
with st.expander("Catalog", expanded=True, icon=":material/apps:"):
    catalog_grid(catalog)

st.subheader("Saved connections")
saved_slot = st.container()  # filled last, so a connection saved below shows at once

st.subheader("Add or edit a connection")
saved = required(data.connections)
just_saved = st.session_state.pop("sources.saved", None)
if just_saved:
    # Shown again as the saved connection: the form typed into (its secrets too) is not drawn, so dropped.
    st.session_state["sources.editing"] = just_saved
editing = st.selectbox("Connection", [NEW, *saved["name"]], key="sources.editing")
if editing == NEW:
    available = catalog[catalog["available"]]
    titles = dict(zip(available["name"], available["title"], strict=True))
    connector = st.selectbox("Connector", list(titles), format_func=titles.get, key="sources.connector")
    name, description, values = "", "", {}
else:
    spec = required(workspace().connection_spec, editing)
    connector, name, description, values = spec.connector, editing, spec.description, spec.config
stored = {field for field, value in values.items() if value == MASK}

with st.form(f"sources.form.{connector}.{editing}", enter_to_submit=False):
    st.caption(required(connector_class, connector).description)
    name = st.text_input(
        "Name *",
        value=name,
        disabled=editing != NEW,
        help="Letters, digits, _ or -",
        key=f"sources.name.{editing}",
    )
    description = st.text_input("Description", value=description, key=f"sources.description.{editing}")
    config = model_form(
        connector_class(connector).config_model,
        values,
        key=f"sources.{connector}.{editing}",
        stored_secrets=stored,
    )
    with st.container(horizontal=True):
        test = st.form_submit_button("Test connection", icon=":material/network_check:", key="sources.test")
        save = st.form_submit_button("Save", type="primary", icon=":material/save:", key="sources.save")

if test:
    with st.spinner("Testing the connection…"):
        result = workspace().test_connection(
            name=editing if editing != NEW else None, connector=connector, config=config
        )
    (st.success if result.ok else st.error)(result.message)
if save:
    with reported_errors():
        workspace().save_connection(name.strip(), connector, config, description.strip())
        data.refresh()
        st.session_state["sources.saved"] = name.strip()
        st.rerun()
if just_saved:
    st.success(f"Saved connection **{just_saved}**.", icon=":material/check_circle:")

with saved_slot:
    connections = required(data.connections)
    if connections.empty:
        st.info("No connection yet: add one below.")
    else:
        st.dataframe(
            connections,
            hide_index=True,
            column_config={
                "name": "Name",
                "connector": "Connector",
                "description": "Description",
                "updated_at": st.column_config.DatetimeColumn("Updated", format="YYYY-MM-DD HH:mm"),
            },
        )
