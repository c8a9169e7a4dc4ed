"""Mapping: edit a dataflow's field mapping and identities, preview them on a sample, save them."""

from __future__ import annotations

import streamlit as st

from ui import data
from ui.feedback import reported_errors, required
from ui.routing import through_app
from ui.state import workspace
from ui.widgets import attributes_table, identities_editor, mapped_sample, mapping_editor

through_app()
st.title("Mapping")
st.caption(
    "Map source columns onto profile attributes, with expressions such as `lower(trim(email))`, "
    "and mark the identities that link a record to a person."
)

flows = required(data.dataflows)
if flows.empty:
    st.info("No dataflow yet: create one on **Dataflows**.", icon=":material/info:")
    st.stop()

name = st.selectbox("Dataflow", flows["name"], key="mapping.dataflow", width=320)
spec = required(workspace().dataflow_spec, name)
version = int(flows.set_index("name").at[name, "version"])
schema = workspace().schema
st.caption(f"Reads **{spec.source.stream}** from **{spec.source.connection}** · version {version}")

fields_column, identities_column = st.columns([3, 2], gap="large")
with fields_column:
    st.markdown("**Fields**")
    mapping = mapping_editor(spec.mapping, schema.paths, key=f"mapping.fields.{name}.{version}")
with identities_column:
    st.markdown("**Identities**")
    identities = identities_editor(spec.identities, list(mapping), key=f"mapping.identities.{name}.{version}")
    with st.expander("Profile attributes", icon=":material/person:"):
        attributes_table(schema.attributes)

edited = {**spec.model_dump(mode="json", exclude_none=True), "mapping": mapping, "identities": identities}
with st.container(horizontal=True):
    preview = st.button("Preview mapping", icon=":material/visibility:", key="mapping.preview")
    save = st.button("Save", type="primary", icon=":material/save:", key="mapping.save")

if save:
    with reported_errors():
        workspace().save_dataflow(name, edited)
        data.refresh()
        st.success(f"Saved the mapping of **{name}**; its next run uses it.", icon=":material/check_circle:")
if preview:
    with reported_errors(), st.spinner("Mapping a sample…"):
        result = data.map_sample(name, edited)
        mapped_sample(result.sample, result.mapped, result.errors)
