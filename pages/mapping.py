"""Mapping studio: edit a dataflow's fields and identities on a cached sample and watch them map live."""

from __future__ import annotations

import streamlit as st

from core.mapping import suggest
from core.quality import suggest_expectations
from core.studio import SAMPLE_ROWS
from ui import data, studio
from ui import quality as quality_panels
from ui.feedback import reported_errors, required
from ui.i18n import t
from ui.routing import through_app
from ui.state import workspace
from ui.widgets import attributes_table, mapped_sample

through_app()
st.title(t("Mapping"))
st.caption(
    t(
        "Map source columns onto profile attributes, with expressions such as `lower(trim(email))`; "
        "mark identities; check the result live on a sample, dry-run it, and save a new version."
    )
)

flows = required(data.dataflows)
if flows.empty:
    st.info(t("No dataflow yet: create one on **Dataflows**."), icon=":material/info:")
    st.stop()

name = st.selectbox(t("Dataflow"), flows["name"], key="mapping.dataflow", width=320)
ws, schema = workspace(), workspace().schema
saved = required(ws.dataflow_spec, name)
version = int(flows.set_index("name").at[name, "version"])
source = saved.source
sample = required(data.studio_sample, source.connection, source.stream, dict(source.options))
top = st.container(horizontal=True, vertical_alignment="center")
top.caption(
    t(
        "Reads **{stream}** from **{connection}** · version {version} · {rows}-row sample",
        stream=source.stream,
        connection=source.connection,
        version=version,
        rows=f"{len(sample):,}",
    )
)
if top.button(t("Reload sample"), icon=":material/refresh:", key="mapping.reload"):
    data.reload_sample()
    st.rerun()

revision = st.session_state.setdefault(f"mapping.revision.{name}", 0)
base = st.session_state.get(f"mapping.base.{name}.{version}", saved)


def start_over_with(**changes: object) -> None:
    """Reloads the editors with the current edits plus ``changes`` (unsaved until Save)."""
    st.session_state[f"mapping.base.{name}.{version}"] = base.model_copy(update={**current, **changes})
    st.session_state[f"mapping.revision.{name}"] = revision + 1
    st.rerun()


left, right = st.columns([5, 4], gap="medium")
with left:
    mapping, identities = studio.fields_editor(
        base,
        schema.paths,
        studio.namespaces_of(schema.attributes, base.identities),
        key=f"mapping.fields.{name}.{version}.{revision}",
    )
    columns = list(sample.columns)
    primary_key = st.multiselect(
        t("Primary key"),
        columns,
        default=[c for c in base.sync.primary_key if c in columns],
        key=f"mapping.key.{name}.{version}",
        help=t("Records are upserted by it; without one, by file and line."),
    )
quality = base.quality
sync = base.sync.model_copy(update={"primary_key": primary_key})
current = {"mapping": mapping, "identities": identities, "sync": sync, "quality": quality}
edited = studio.spec_with(base, **current)
spec, result = None, None
with right, reported_errors():
    spec = studio.parsed_spec(edited, name)
    result = ws.studio.map_frame(spec, sample, validate=False) if spec else None
    if result is not None:
        studio.field_checks(result)
    if studio.drift_notice(ws.studio.drift_of(name, sample, spec), key="mapping.accept_schema"):
        ws.studio.accept_schema(name, sample)
        data.refresh()
        st.rerun()

save = st.button(t("Save"), type="primary", icon=":material/save:", key="mapping.save")
save_outcome = st.empty()

output, suggested, checks, dry, versions, files, reference = st.tabs(
    [
        t("Mapped sample"),
        t("Suggestions"),
        t("Quality"),
        t("Dry run"),
        t("Versions"),
        t("Import / export"),
        t("Attributes & functions"),
    ]
)
with output:
    if result is not None:
        mapped_sample(result.sample, result.mapped, result.errors)
with suggested:
    st.caption(t("From the sample's column names and values. Tick what to use, then apply it to the fields."))
    accepted = studio.suggestions_picker(
        suggest(sample, schema, data.standard_mapping(source.connection, source.stream)),
        mapping,
        key=f"mapping.suggest.{name}.{revision}",
    )
    if st.button(
        t("Apply {count} suggestion(s)", count=len(accepted)),
        key="mapping.suggest.apply",
        disabled=not accepted,
    ):
        merged, named = studio.with_suggestions(mapping, identities, accepted)
        start_over_with(mapping=merged, identities=named)
with checks, reported_errors():
    kept = quality_panels.suite_editor(quality, key=f"mapping.quality.{name}.{version}.{revision}")
    edited["quality"] = current["quality"] = kept
    added = quality_panels.expectation_form(list(mapping), key=f"mapping.quality.new.{name}")
    if added is not None:
        start_over_with(quality=[*kept, added])
    with st.expander(t("Suggested from the mapped sample"), icon=":material/lightbulb:"):
        mapped = result.mapped if result is not None else sample.iloc[:0]
        types = {path: schema.get(path).type for path in mapped.columns}
        offered = suggest_expectations(mapped, identities, types)
        picked = quality_panels.suggestions_picker(offered, key=f"mapping.quality.suggest.{name}.{revision}")
        if st.button(
            t("Add {count} suggested check(s)", count=len(picked)),
            key="mapping.quality.accept",
            disabled=not picked,
        ):
            start_over_with(quality=[*kept, *picked])
    if st.button(t("Validate the sample"), icon=":material/rule:", key="mapping.quality.validate") and spec:
        quality_panels.results_table(
            ws.studio.check_sample(spec.model_copy(update={"quality": kept}), sample)
        )
    spec = spec.model_copy(update={"quality": kept}) if spec else None
with dry, reported_errors():
    st.caption(t("What a run would do now with these (unsaved) edits: nothing is written."))
    on_sample, on_source = st.columns(2)
    if on_sample.button(
        t("Dry run on the {rows}-row sample", rows=f"{SAMPLE_ROWS:,}"), key="mapping.dry.sample"
    ):
        with st.spinner(t("Dry-running the sample…"), show_time=True):
            report = ws.studio.dry_run(name, spec, sample_rows=SAMPLE_ROWS)
        studio.dry_run_report(report)
    if on_source.button(t("Dry run on the whole source"), key="mapping.dry.source"):
        with st.spinner(
            t("Dry-running the whole source: it reads every row, nothing is written…"), show_time=True
        ):
            report = ws.studio.dry_run(name, spec, sample_rows=None)
        studio.dry_run_report(report)
with versions, reported_errors():
    history = ws.studio.versions(name)
    studio.versions_table(history)
    older = [int(v) for v in history["version"] if int(v) != version]
    pick = st.selectbox(t("Version to restore"), older, key=f"mapping.restore.pick.{name}", index=None)
    if st.button(t("Restore it as a new version"), key="mapping.restore", disabled=pick is None):
        ws.studio.restore_version(name, int(pick or 0))
        data.refresh()
        st.rerun()
with files, reported_errors():
    if spec is not None:
        studio.mapping_downloads(spec, name)
    imported = studio.uploaded_mapping(key=f"mapping.import.{name}.{revision}")
    if imported is not None:
        start_over_with(mapping=imported[0], identities=imported[1])
with reference:
    attributes_table(schema.attributes)
    st.markdown(studio.reference_page())

if save:  # last, so the quality tab's edits are part of what is saved
    with save_outcome.container(), reported_errors():
        ws.save_dataflow(name, edited, source_schema=studio.schema_of(sample), note="saved in the studio")
        st.session_state.pop(f"mapping.base.{name}.{version}", None)
        data.refresh()
        st.success(
            t("Saved the mapping of **{name}**; its next run uses it.", name=name),
            icon=":material/check_circle:",
        )
