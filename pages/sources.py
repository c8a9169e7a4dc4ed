"""Sources: the connector catalog, the saved connections, and a form to add or edit one."""

from __future__ import annotations

import streamlit as st

from core.services import MASK
from ui import data
from ui.feedback import reported_errors, required
from ui.forms import connector_class, field_errors, model_form
from ui.i18n import t
from ui.routing import through_app
from ui.state import workspace
from ui.widgets import catalog_grid

NEW = "+ New connection"  # a sentinel option, shown translated

through_app()
st.title(t("Sources"))
st.caption(
    t("Connect the systems your customer data lives in. Credentials are stored encrypted, never shown again.")
)

catalog = required(data.catalog)
with st.expander(t("Catalog"), expanded=True, icon=":material/apps:"):
    catalog_grid(catalog)

st.subheader(t("Saved connections"))
saved_slot = st.container()  # filled last, so a connection saved below shows at once

st.subheader(t("Add or edit a connection"))
saved = required(data.connections)
just_saved = st.session_state.pop("sources.saved", None)
if just_saved:
    # Shown again as the saved connection: the form typed into (its secrets too) is not drawn, so dropped.
    st.session_state["sources.editing"] = just_saved
editing = st.selectbox(
    t("Connection"),
    [NEW, *saved["name"]],
    key="sources.editing",
    format_func=lambda option: t(option) if option == NEW else option,
)
if editing == NEW:
    available = catalog[catalog["available"]]
    titles = dict(zip(available["name"], available["title"], strict=True))
    connector = st.selectbox(t("Connector"), list(titles), format_func=titles.get, key="sources.connector")
    name, description, values = "", "", {}
else:
    spec = required(workspace().connection_spec, editing)
    connector, name, description, values = spec.connector, editing, spec.description, spec.config
stored = {field for field, value in values.items() if value == MASK}

with st.form(f"sources.form.{connector}.{editing}", enter_to_submit=False):
    st.caption(required(connector_class, connector).description)
    name = st.text_input(
        t("Name *"),
        value=name,
        disabled=editing != NEW,
        help=t("Letters, digits, _ or -"),
        key=f"sources.name.{editing}",
    )
    description = st.text_input(t("Description"), value=description, key=f"sources.description.{editing}")
    config = model_form(
        connector_class(connector).config_model,
        values,
        key=f"sources.{connector}.{editing}",
        stored_secrets=stored,
    )
    with st.container(horizontal=True):
        test = st.form_submit_button(
            t("Test connection"), icon=":material/network_check:", key="sources.test"
        )
        save = st.form_submit_button(t("Save"), type="primary", icon=":material/save:", key="sources.save")

problems = []
if test or save:
    if save and not name.strip():
        problems.append(t("**Name**: give the connection a name (letters, digits, _ or -)."))
    problems += field_errors(connector_class(connector).config_model, config, stored)
    if problems:
        st.error(
            t("Fix these fields first:") + "\n\n" + "\n".join(f"- {line}" for line in problems),
            icon=":material/error:",
        )
if test and not problems:
    with st.spinner(t("Testing the connection…")):
        result = workspace().test_connection(
            name=editing if editing != NEW else None, connector=connector, config=config
        )
    (st.success if result.ok else st.error)(result.message)
if save and not problems:
    with reported_errors():
        workspace().save_connection(name.strip(), connector, config, description.strip())
        data.refresh()
        st.session_state["sources.saved"] = name.strip()
        st.rerun()
if just_saved:
    st.success(t("Saved connection **{name}**.", name=just_saved), icon=":material/check_circle:")

with saved_slot:
    connections = required(data.connections)
    if connections.empty:
        st.info(t("No connection yet: add one below."))
    else:
        st.dataframe(
            connections,
            hide_index=True,
            column_config={
                "name": t("Name"),
                "connector": t("Connector"),
                "description": t("Description"),
                "updated_at": st.column_config.DatetimeColumn(t("Updated"), format="YYYY-MM-DD HH:mm"),
            },
        )
