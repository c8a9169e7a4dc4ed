"""Widgets several pages share: the catalog grid, the mapping editors, a run summary."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd
import streamlit as st

from core.ingest import RunSummary
from ui.i18n import t

#: How each run status looks in messages.
STATUS_ICONS = {
    "succeeded": ":material/check_circle:",
    "partial": ":material/warning:",
    "failed": ":material/cancel:",
    "running": ":material/progress_activity:",
    "abandoned": ":material/block:",
}

#: Column labels for run tables (the store's names are fine for code, not for people).
RUN_COLUMNS = {
    "id": st.column_config.NumberColumn("Run", format="#%d"),
    "dataflow": "Dataflow",
    "status": "Status",
    "trigger": "Trigger",
    "started_at": st.column_config.DatetimeColumn("Started", format="YYYY-MM-DD HH:mm:ss"),
    "received": st.column_config.NumberColumn(t("Received"), format="localized"),
    "ingested": st.column_config.NumberColumn(t("Ingested"), format="localized"),
    "failed": st.column_config.NumberColumn(t("Failed"), format="localized"),
    "deleted": st.column_config.NumberColumn("Deleted", format="localized"),
    "duration_s": st.column_config.NumberColumn(t("Duration"), format="%.1f s"),
    "throughput": st.column_config.NumberColumn("Rows/s", format="localized", help="Received ÷ duration"),
    "error_code": "Error",
    "dataflow_version": st.column_config.NumberColumn(
        "Version", format="v%d", help="The dataflow version it ran"
    ),
}


def runs_table(runs: pd.DataFrame, *, key: str | None = None) -> None:
    """A table of runs with readable headers (only the columns people read)."""
    if runs.empty:
        st.info(
            t("No runs yet: start one with **Run now** on **Dataflows**, or give a dataflow a schedule."),
            icon=":material/info:",
        )
        return
    columns = [c for c in RUN_COLUMNS if c in runs.columns]
    shown = runs[columns].assign(error_code=runs.get("error_code", "").fillna(""))
    st.dataframe(shown, column_config=RUN_COLUMNS, hide_index=True, key=key)


#: Column labels for the dataflows table.
DATAFLOW_COLUMNS = {
    "name": "Dataflow",
    "connection": "Connection",
    "stream": "Stream",
    "mode": "Sync",
    "schedule": "Schedule",
    "version": st.column_config.NumberColumn("Version", format="v%d"),
    "last_status": "Last status",
    "last_run_at": st.column_config.DatetimeColumn("Last run", format="YYYY-MM-DD HH:mm"),
}


def dataflows_table(flows: pd.DataFrame) -> None:
    """The dataflows with their source, sync mode, schedule and last run."""
    if flows.empty:
        st.info(t("No dataflow yet: create one below from a connection's stream."), icon=":material/info:")
        return
    st.dataframe(flows, hide_index=True, column_config=DATAFLOW_COLUMNS)


def catalog_grid(catalog: pd.DataFrame, per_row: int = 5) -> None:
    """Every catalog source as a small card, grouped by category, marked available or coming."""
    for category, entries in catalog.groupby("category", sort=False):
        st.markdown(f"**{category}**")
        cells = st.columns(per_row)
        for position, entry in enumerate(entries.itertuples()):
            with cells[position % per_row].container(border=True, height="stretch"):
                st.markdown(entry.title)
                if entry.available:
                    st.badge(t("Available"), icon=":material/check:", color="green")
                else:
                    st.badge(t("Coming"), icon=":material/schedule:", color="gray")


def mapping_editor(mapping: Mapping[str, str], targets: Sequence[str], *, key: str) -> dict[str, str]:
    """An editable table of profile attribute -> source column or expression; returns the filled rows."""
    frame = pd.DataFrame({"target": list(mapping), "source": list(mapping.values())}, dtype="string")
    edited = st.data_editor(
        frame,
        num_rows="dynamic",
        hide_index=True,
        key=key,
        column_config={
            "target": st.column_config.SelectboxColumn(
                t("Profile attribute"), options=list(targets), required=True
            ),
            "source": st.column_config.TextColumn(
                t("Source column or expression"),
                help=t("A column name, or e.g. lower(trim(email))"),
                required=True,
            ),
        },
    )
    return _pairs(edited, "target", "source")


def _pairs(frame: pd.DataFrame, key_column: str, value_column: str) -> dict[str, str]:
    filled = frame.dropna(subset=[key_column, value_column])
    filled = filled[(filled[key_column].str.strip() != "") & (filled[value_column].str.strip() != "")]
    if filled[key_column].duplicated().any():
        twice = ", ".join(sorted(set(filled[key_column][filled[key_column].duplicated()])))
        st.warning(
            t("Listed more than once (the last row wins): {names}", names=twice), icon=":material/warning:"
        )
    return dict(zip(filled[key_column].str.strip(), filled[value_column].str.strip(), strict=True))


def run_summary(summary: RunSummary) -> None:
    """The outcome of a run: its counters as metrics and a one-line verdict."""
    received, ingested, failed, duration = st.columns(4)
    received.metric(t("Received"), f"{summary.received:,}")
    ingested.metric(t("Ingested"), f"{summary.ingested:,}")
    failed.metric(t("Failed"), f"{summary.failed:,}")
    duration.metric(t("Duration"), f"{summary.duration_s:.1f} s")
    text = t(
        "Run #{run_id} of {dataflow} {status}: received {received}, ingested {ingested}, failed {failed}.",
        run_id=summary.run_id,
        dataflow=summary.dataflow,
        status=t(summary.status),
        received=f"{summary.received:,}",
        ingested=f"{summary.ingested:,}",
        failed=f"{summary.failed:,}",
    )
    icon = STATUS_ICONS.get(summary.status)
    if summary.status == "succeeded":
        st.success(text, icon=icon)
    elif summary.status == "partial":
        st.warning(text + " " + t("See its quarantined rows on the Runs page."), icon=icon)
    else:
        st.error(f"{text} {summary.error_message or ''}".strip(), icon=icon)


def mapped_sample(sample: pd.DataFrame, mapped: pd.DataFrame, errors: pd.DataFrame) -> None:
    """The output of a mapping on a sample, and the rows a run would quarantine, with reasons."""
    bad_rows = errors["row"].nunique() if not errors.empty else 0
    if bad_rows:
        st.warning(
            t(
                "{bad} of {total} sample rows would be quarantined ({problems} problems).",
                bad=f"{bad_rows:,}",
                total=f"{len(sample):,}",
                problems=f"{len(errors):,}",
            ),
            icon=":material/warning:",
        )
    else:
        st.success(
            t("All {total} sample rows map and pass the checks.", total=f"{len(sample):,}"),
            icon=":material/check_circle:",
        )
    output, quarantined = st.tabs(
        [
            t("Mapped output · {count}", count=f"{len(mapped):,}"),
            t("Quarantined rows · {count}", count=f"{bad_rows:,}"),
        ]
    )
    output.dataframe(mapped, hide_index=True, height=360)
    if errors.empty:
        quarantined.info(t("Nothing would be quarantined."))
        return
    with_source = errors.merge(
        sample, left_on="row", right_index=True, how="left", suffixes=("", " (source)")
    )
    with_source["row"] += 1  # people count sample rows from 1
    quarantined.dataframe(
        with_source,
        hide_index=True,
        height=360,
        column_config={
            "row": st.column_config.NumberColumn("Sample row", format="%d", help="Counted from 1"),
            "field": "Attribute",
            "code": "Code",
            "reason": st.column_config.TextColumn("Reason", width="large"),
        },
    )


def attributes_table(attributes: Sequence[object]) -> None:
    """The profile schema's attributes: path, type, identity namespace and description."""
    frame = pd.DataFrame(
        [
            {
                "path": a.path,  # type: ignore[attr-defined]
                "type": a.type,  # type: ignore[attr-defined]
                "identity": a.identity or "",  # type: ignore[attr-defined]
                "description": a.description,  # type: ignore[attr-defined]
            }
            for a in attributes
        ]
    )
    st.dataframe(frame, hide_index=True, height=300)


#: How many objects the Preview lists and offers to sample (a folder may hold many more).
OBJECTS_SHOWN = 1000


def object_picker(objects: pd.DataFrame, *, key: str) -> str | None:
    """Offers one of a stream's objects to sample; None samples them all in order."""
    everything = t("All {count} matching objects", count=f"{len(objects):,}")
    names = objects["name"].head(OBJECTS_SHOWN).tolist()
    picked = st.selectbox(
        t("Object to sample"),
        [everything, *names],
        key=key,
        help=t("A sample reads only the start of an object, never the whole of it."),
    )
    return None if picked == everything else picked


def objects_table(objects: pd.DataFrame) -> None:
    """A stream's objects with their size and modified time, newest first."""
    if len(objects) > OBJECTS_SHOWN:
        st.caption(
            t(
                "The {shown} most recently modified of {count} objects.",
                shown=f"{OBJECTS_SHOWN:,}",
                count=f"{len(objects):,}",
            )
        )
    st.dataframe(
        objects.sort_values("modified", ascending=False).head(OBJECTS_SHOWN),
        hide_index=True,
        column_config={
            "name": st.column_config.TextColumn("Object", width="large"),
            "size": st.column_config.NumberColumn("Size (bytes)", format="localized"),
            "modified": st.column_config.DatetimeColumn("Modified (UTC)", format="YYYY-MM-DD HH:mm:ss"),
            "version": None,
        },
    )
