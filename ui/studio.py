"""The mapping studio's panels: the fields editor with live checks, drift, dry run, versions, files.

Every panel takes what it shows as arguments and returns what the user
edited; the page (pages/mapping.py) holds them together.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import streamlit as st
from pydantic import ValidationError

from core.drift import DriftReport, schema_of
from core.dryrun import DryRunReport
from core.mapping import Suggestion
from core.mapping.functions import reference_page
from core.models import DataflowSpec
from core.services import format_validation_error
from core.studio import MAX_MAPPING_FILE_BYTES, MappedSample, Studio

__all__ = [
    "drift_notice",
    "dry_run_report",
    "field_checks",
    "fields_editor",
    "mapping_downloads",
    "namespaces_of",
    "parsed_spec",
    "reference_page",
    "schema_of",
    "spec_with",
    "suggestions_picker",
    "uploaded_mapping",
    "versions_table",
    "with_suggestions",
]

#: Column labels of the live field checks.
FIELD_CHECKS = {
    "attribute": "Attribute",
    "type": "Type",
    "source": None,
    "identity": None,  # the editor shows it
    "nulls": st.column_config.NumberColumn("Nulls", format="localized"),
    "failures": st.column_config.NumberColumn("Failures", format="localized", help="Rows that fail to map"),
    "examples": st.column_config.TextColumn("Examples", width="small"),
    "problem": st.column_config.TextColumn("Problem", width="large"),
}


def fields_editor(
    spec: DataflowSpec, targets: Sequence[str], namespaces: Sequence[str], *, key: str
) -> tuple[dict[str, str], dict[str, str]]:
    """An editable table of attribute, source column or expression, and identity namespace.

    Returns (mapping, identities) from the filled rows.
    """
    by_attribute = {attribute: ns for ns, attribute in spec.identities.items()}
    frame = pd.DataFrame(
        {
            "target": list(spec.mapping),
            "source": list(spec.mapping.values()),
            "identity": [by_attribute.get(a) for a in spec.mapping],
        },
        dtype="string",
    )
    edited = st.data_editor(
        frame,
        num_rows="dynamic",
        hide_index=True,
        key=key,
        width="stretch",
        column_config={
            "target": st.column_config.SelectboxColumn(
                "Profile attribute", options=list(targets), required=True
            ),
            "source": st.column_config.TextColumn(
                "Source column or expression",
                help="A column name, or an expression such as lower(trim(email)) (see the functions tab).",
                required=True,
            ),
            "identity": st.column_config.SelectboxColumn(
                "Identity",
                options=list(namespaces),
                help="An identity in this namespace: records that share it are one person.",
            ),
        },
    )
    filled = edited.dropna(subset=["target", "source"])
    filled = filled[(filled["target"].str.strip() != "") & (filled["source"].str.strip() != "")]
    if filled["target"].duplicated().any():
        twice = ", ".join(sorted(set(filled["target"][filled["target"].duplicated()])))
        st.warning(f"Mapped more than once (the last row wins): {twice}", icon=":material/warning:")
    mapping = dict(zip(filled["target"].str.strip(), filled["source"].str.strip(), strict=True))
    marked = filled.dropna(subset=["identity"])
    identities = dict(zip(marked["identity"].str.strip(), marked["target"].str.strip(), strict=True))
    return mapping, identities


def field_checks(result: MappedSample) -> None:
    """Per attribute: type, nulls and failures on the sample, examples, and expression problems."""
    rows = len(result.sample)
    bad = result.errors["row"].nunique() if not result.errors.empty else 0
    problems = len(result.problems)
    summary = f"{rows:,} sample rows · {rows - bad:,} map cleanly · {bad:,} would be quarantined"
    if problems:
        st.error(
            f"{problems} expression{'s' if problems > 1 else ''} to fix: "
            + "; ".join(result.problems.values()),
            icon=":material/error:",
        )
    st.caption(summary)
    st.dataframe(result.fields, hide_index=True, column_config=FIELD_CHECKS, width="stretch")


def drift_notice(report: DriftReport | None, *, key: str) -> bool:
    """Shows how the source moved since the mapping was saved; True when the user accepts it."""
    if report is None or not report.drifted:
        return False
    lines = "\n".join(f"- {change.message}" for change in report.changes)
    if report.breaking:
        st.error(
            f"**The source's schema changed; the next run will stop before writing.**\n{lines}",
            icon=":material/report:",
        )
    else:
        st.warning(
            f"**The source's schema changed since this mapping was saved.**\n{lines}",
            icon=":material/warning:",
        )
    return st.button(
        "Accept the new schema",
        key=key,
        icon=":material/done_all:",
        help="Save this mapping as a new version built on the source's current columns "
        "(fix the mapping first if it reads a column that is gone).",
    )


#: Suggestions at or above this confidence start accepted.
ACCEPT_FROM = 0.7


def suggestions_picker(
    suggestions: Sequence[Suggestion], mapped: Mapping[str, str], *, key: str
) -> list[Suggestion]:
    """The sample's suggestions with a confidence and a reason each; returns those the user accepts.

    Confident suggestions for attributes not mapped yet start ticked; nothing
    changes until the user applies them.
    """
    if not suggestions:
        st.info("No column of the sample looks like a profile attribute.", icon=":material/info:")
        return []
    frame = pd.DataFrame(
        {
            "accept": [s.confidence >= ACCEPT_FROM and s.attribute not in mapped for s in suggestions],
            "column": [s.column for s in suggestions],
            "attribute": [s.attribute for s in suggestions],
            "expression": [s.expression for s in suggestions],
            "confidence": [s.confidence for s in suggestions],
            "identity": [s.identity or "" for s in suggestions],
            "reason": [s.reason for s in suggestions],
            "mapped now": [mapped.get(s.attribute, "") for s in suggestions],
        }
    )
    edited = st.data_editor(
        frame,
        hide_index=True,
        key=key,
        width="stretch",
        disabled=[c for c in frame.columns if c != "accept"],
        column_config={
            "accept": st.column_config.CheckboxColumn("Accept"),
            "column": "Source column",
            "attribute": "Profile attribute",
            "expression": "Maps as",
            "confidence": st.column_config.ProgressColumn(
                "Confidence", min_value=0, max_value=1, format="percent"
            ),
            "identity": "Identity",
            "reason": st.column_config.TextColumn("Why", width="large"),
            "mapped now": "Mapped now",
        },
    )
    return [s for s, ok in zip(suggestions, edited["accept"], strict=True) if ok]


def with_suggestions(
    mapping: Mapping[str, str], identities: Mapping[str, str], accepted: Sequence[Suggestion]
) -> tuple[dict[str, str], dict[str, str]]:
    """The mapping and identities with the accepted suggestions applied (they replace what they map)."""
    merged, named = dict(mapping), dict(identities)
    for suggestion in accepted:
        merged[suggestion.attribute] = suggestion.expression
        if suggestion.identity and suggestion.identity not in named:
            named[suggestion.identity] = suggestion.attribute
    return merged, named


def dry_run_report(report: DryRunReport) -> None:
    """The outcome of a dry run: counts, why rows would be quarantined, and examples."""
    where = "the 1,000-row sample" if report.scope == "sample" else "the whole source"
    if report.would_fail:
        st.error(f"On {where}: {report.would_fail}", icon=":material/cancel:")
    else:
        st.success(
            f"On {where}, nothing written: this is what a run would do now.", icon=":material/science:"
        )
    metrics = st.columns(6)
    for column, (label, value) in zip(
        metrics,
        [
            ("Received", report.received),
            ("Would ingest", report.ingested),
            ("Quarantined", report.quarantined),
            ("New records", report.new),
            ("Updated records", report.updated),
            ("Would delete", report.deleted),
        ],
        strict=True,
    ):
        column.metric(label, f"{value:,}")
    if report.links_profiles:
        profiles = st.columns(6)
        for column, (label, value, tip) in zip(
            profiles,
            [
                ("New profiles", report.profiles_new, "People no profile holds yet"),
                ("Profiles joined", report.profiles_joined, "Existing profiles the records would add to"),
                ("Profiles merged", report.profiles_merged, "Existing profiles that would become one"),
            ],
            strict=False,
        ):
            column.metric(label, f"{value:,}", help=tip)
    if not report.reasons.empty:
        st.markdown("**Why rows would be quarantined**")
        st.dataframe(report.reasons, hide_index=True, width="stretch")
    if not report.examples.empty:
        with st.expander(f"Example quarantined rows · {len(report.examples)}"):
            st.dataframe(report.examples, hide_index=True)


def versions_table(versions: pd.DataFrame) -> None:
    """The saved versions of a dataflow, newest first."""
    st.dataframe(
        versions.drop(columns=["spec"]),
        hide_index=True,
        width="stretch",
        column_config={
            "version": st.column_config.NumberColumn("Version", format="v%d"),
            "created_at": st.column_config.DatetimeColumn("Saved", format="YYYY-MM-DD HH:mm:ss"),
            "note": "Note",
            "attributes": st.column_config.NumberColumn("Attributes"),
            "changes": st.column_config.TextColumn("Changes", width="large"),
            "current": st.column_config.CheckboxColumn("Current"),
        },
    )


def mapping_downloads(spec: DataflowSpec, name: str) -> None:
    """Download buttons for the mapping as YAML and as CSV."""
    yaml_col, csv_col = st.columns(2)
    yaml_col.download_button(
        "Download YAML",
        Studio.export_mapping(spec, "yaml"),
        file_name=f"{name}-mapping.yaml",
        mime="application/yaml",
        icon=":material/download:",
        key="studio.export.yaml",
    )
    csv_col.download_button(
        "Download CSV",
        Studio.export_mapping(spec, "csv"),
        file_name=f"{name}-mapping.csv",
        mime="text/csv",
        icon=":material/download:",
        key="studio.export.csv",
    )


def uploaded_mapping(*, key: str) -> tuple[dict[str, str], dict[str, str]] | None:
    """A mapping file the user uploads (YAML or CSV), parsed; None until one is given."""
    upload = st.file_uploader(
        "Import a mapping (YAML or CSV)",
        type=["yaml", "yml", "csv"],
        key=key,
        help=f"At most {MAX_MAPPING_FILE_BYTES // 1024} KB.",
    )
    if upload is None:
        return None
    # Never more than the cap (plus one byte, so that a larger file is told apart and refused).
    return Studio.import_mapping_file(upload.read(MAX_MAPPING_FILE_BYTES + 1), upload.name)


def spec_with(spec: DataflowSpec, **changes: Any) -> dict[str, Any]:
    """The spec as plain values with ``changes`` applied (what the page saves)."""
    return {**spec.model_dump(mode="json", exclude_none=True), **changes}


def namespaces_of(attributes: Sequence[Any], identities: Mapping[str, str]) -> list[str]:
    """Identity namespaces to offer: the schema's and the dataflow's own."""
    known = [a.identity for a in attributes if a.identity]
    return list(dict.fromkeys([*known, *identities]))


def parsed_spec(edited: Mapping[str, Any], name: str) -> DataflowSpec | None:
    """The edited spec, parsed; None (with the reason shown) while it is incomplete."""
    try:
        return DataflowSpec.model_validate(edited)
    except ValidationError as error:
        st.error(format_validation_error(error, f"dataflow {name!r}"), icon=":material/error:")
        return None
