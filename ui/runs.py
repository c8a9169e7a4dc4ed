"""Monitoring widgets: history filters and charts, a run's diagnostics, downloads and replay, health."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from typing import Any

import pandas as pd
import streamlit as st

from core import exports
from core.ingest import RunSummary
from core.monitoring import STATUSES, Health, RunFilter
from core.scheduler import run_now
from ui import data, roles
from ui.charts import CHART_RUNS, run_metric_chart, runs_chart, status_timeline_chart
from ui.feedback import attempt, required
from ui.i18n import DEFAULT, language, t
from ui.state import workspace
from ui.widgets import STATUS_ICONS, run_summary

ALL = "All dataflows"
#: The time ranges offered, as how far back they reach (None: all time; "dates": picked dates).
PERIODS: dict[str, timedelta | str | None] = {
    "24 hours": timedelta(hours=24),
    "7 days": timedelta(days=7),
    "30 days": timedelta(days=30),
    "All": None,
    "Dates": "dates",
}
#: Runs listed in the table and offered in the run picker (the newest).
TABLE_RUNS = 1_000
#: How a dataflow's state reads in the Overview table.
STATE_LABELS = {
    "ok": "OK",
    "partial": "Quarantining rows",
    "late": "Late",
    "failing": "Failing",
    "running": "Running",
    "paused": "Paused",
    "never run": "Never run",
}
#: Text colours of the states that need a look (the theme's red, amber and teal).
STATE_COLOURS = {"Failing": "#D1495B", "Late": "#E07A1F", "Quarantining rows": "#B7791F", "OK": "#0B7A75"}


# -- history -----------------------------------------------------------------------
def history_filter(dataflows: list[str]) -> RunFilter:
    """Dataflow, status, time range and "failures only" pickers; returns the filter they make."""
    flow, status, period, failures = st.columns([3, 3, 5, 2], vertical_alignment="bottom")
    choice = flow.selectbox(t("Dataflow"), [ALL, *dataflows], key="runs.dataflow")
    statuses = status.multiselect(t("Status"), STATUSES, key="runs.status", placeholder=t("All statuses"))
    picked = period.segmented_control(
        t("Started"), list(PERIODS), default="7 days", required=True, key="runs.period"
    )
    only_failures = failures.toggle(
        t("Failures only"),
        key="runs.failures",
        help=t("Runs that failed, were abandoned or quarantined rows."),
    )
    since, until = _period(picked)
    return RunFilter(
        dataflow=None if choice == ALL else choice,
        statuses=tuple(statuses),
        since=since,
        until=until,
        failures_only=only_failures,
    )


def _period(picked: str | None) -> tuple[datetime | None, datetime | None]:
    reach = PERIODS.get(picked or "All")
    if isinstance(reach, timedelta):
        return datetime.now(UTC) - reach, None
    if reach != "dates":
        return None, None
    today = datetime.now(UTC).date()
    dates = st.date_input(
        t("Dates (UTC)"), value=(today - timedelta(days=7), today), max_value=today, key="runs.dates"
    )
    days = [d for d in (dates if isinstance(dates, tuple | list) else [dates]) if isinstance(d, date)]
    if not days:
        return None, None
    return _midnight(min(days)), _midnight(max(days) + timedelta(days=1))


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def history_overview(run_filter: RunFilter, history: pd.DataFrame) -> None:
    """How many runs match, by status, and the charts of their history."""
    counts = data.run_counts(run_filter)
    total = sum(counts.values())
    by_status = " · ".join(f"{counts[s]:,} {t(s)}" for s in STATUSES if counts.get(s))
    shown = (
        " " + t("The newest {count} are charted and listed.", count=f"{len(history):,}")
        if len(history) < total
        else ""
    )
    st.caption(
        t("**{total} runs** match: {by_status}.", total=f"{total:,}", by_status=by_status)
        + shown
        + " "
        + t("Times are UTC.")
    )
    timeline, records, timing = st.tabs(
        [t("Status over time"), t("Records per run"), t("Duration and throughput")]
    )
    timeline.altair_chart(status_timeline_chart(data.run_timeline(run_filter)), width="stretch")
    records.caption(
        t(
            "Ingested and failed records of the latest {count}; the tick marks what was received.",
            count=CHART_RUNS,
        )
        if len(history) > CHART_RUNS
        else t("Ingested and failed records of each run; the tick marks what was received.")
    )
    records.altair_chart(runs_chart(history), width="stretch")
    duration, throughput = timing.columns(2)
    duration.altair_chart(run_metric_chart(history, "duration_s", "Duration (s)"), width="stretch")
    throughput.altair_chart(
        run_metric_chart(history, "throughput", "Throughput (rows/s)", ",.0f"), width="stretch"
    )


def pick_run(history: pd.DataFrame, *, key: str) -> int:
    """The run to look into: the one a link asked for (``?run=``), else the newest with failures."""
    listed = history.head(TABLE_RUNS)
    labels = dict(
        zip(
            listed["id"].astype(int),
            "#"
            + listed["id"].astype(str)
            + " · "
            + listed["dataflow"]
            + " · "
            + listed["status"]
            + " · "
            + listed["failed"].map("{:,}".format)
            + " "
            + t("failed"),
            strict=True,
        )
    )
    asked = _linked_run()
    if asked is not None and asked not in labels:
        found = attempt(data.run, asked)
        if found is not None:
            labels = {asked: f"#{asked} · {found['dataflow']} · {found['status']}", **labels}
    with_failures = listed.loc[listed["failed"] > 0, "id"]
    default = asked if asked in labels else int(with_failures.iloc[0]) if len(with_failures) else None
    options = list(labels)
    return st.selectbox(
        t("Run"),
        options,
        index=options.index(default) if default in labels else 0,
        format_func=labels.get,
        key=key,
        width=520,
    )


def _linked_run() -> int | None:
    value = st.query_params.get("run")
    return int(value) if value is not None and str(value).isdigit() else None


# -- one run -----------------------------------------------------------------------
def run_header(run: Mapping[str, Any]) -> None:
    """Why a run failed, the drift it went on with, and what it replayed."""
    if run.get("error_message"):
        st.error(f"{run['error_code']}: {run['error_message']}", icon=STATUS_ICONS["failed"])
    if run.get("trigger") == "replay" and run.get("resumed_from"):
        st.info(
            t(
                "A replay of the quarantined rows first read by run #{run}, "
                "with dataflow version v{version}.",
                run=run["resumed_from"],
                version=run.get("dataflow_version"),
            ),
            icon=":material/replay:",
        )
    notes = run.get("warnings")
    warnings = [w for w in notes if not w.get("breaking")] if isinstance(notes, list) else []
    if warnings:
        st.warning("\n".join(f"- {w['message']}" for w in warnings), icon=":material/warning:")


def error_diagnostics(run_id: int, failed: int) -> int:
    """A run's quarantined rows grouped by code and attribute, the rows themselves, and downloads.

    Returns how many problems the run recorded.
    """
    groups = required(data.error_groups, run_id)
    if groups.empty:
        st.success(t("Run #{run} quarantined no rows.", run=run_id), icon=":material/check_circle:")
        return 0
    st.markdown(f"**{int(groups['rows'].sum()):,} problems** in {failed:,} quarantined rows")
    st.dataframe(
        groups if roles.can("view_personal_data") else groups.drop(columns=["examples"]),  # source values
        hide_index=True,
        key="runs.groups",
        column_config={
            "code": "Code",
            "field": "Attribute",
            "rows": st.column_config.NumberColumn("Rows", format="localized"),
            "examples": st.column_config.ListColumn("Examples: reason ← source values", width="large"),
        },
    )
    total = int(groups["rows"].sum())
    if not roles.allowed("view_personal_data", "see and download quarantined rows (they hold source data)"):
        return total
    rows = required(data.quarantined_rows, run_id)
    names = (groups["code"] + (" · " + groups["field"]).where(groups["field"] != "", "")).tolist()
    shown = st.selectbox(t("Rows of"), ["All problems", *names], key="runs.group", width=480)
    if shown != "All problems":
        code, field = groups.iloc[names.index(shown)][["code", "field"]]
        rows = rows[(rows["code"] == code) & (rows["field"].fillna("") == field)]
    st.dataframe(
        rows,
        hide_index=True,
        column_config={
            "source_key": "Key",
            "origin": "Origin",
            "code": "Code",
            "field": "Attribute",
            "reason": st.column_config.TextColumn("Reason", width="large"),
        },
    )
    if len(rows) < total and shown == "All problems":
        st.caption(
            t(
                "The first {count} of {total} problems are listed and downloaded.",
                count=f"{len(rows):,}",
                total=f"{total:,}",
            )
        )
    downloads(rows, f"run-{run_id}-quarantined")
    return total


def downloads(rows: pd.DataFrame, stem: str) -> None:
    """CSV and JSON downloads of ``rows``, with formula-like cells neutralised (built only on click)."""
    row = st.container(horizontal=True)
    for label, build, suffix, mime, icon in (
        (
            t("Download {count} rows as CSV", count=f"{len(rows):,}"),
            exports.to_csv_bytes,
            "csv",
            "text/csv",
            "download",
        ),
        (t("… as JSON"), exports.to_json_bytes, "json", "application/json", "data_object"),
    ):
        row.download_button(
            label,
            partial(build, rows),
            file_name=f"{stem}.{suffix}",
            mime=mime,
            icon=f":material/{icon}:",
            on_click="ignore",
            help=t(
                "Cells starting with =, +, -, @, tab or CR get a leading ' so spreadsheets never run them."
            ),
        )


def replay_panel(run: Mapping[str, Any], current_version: int | None) -> None:
    """Re-ingests the run's quarantined rows with the dataflow's current mapping and checks."""
    st.markdown(t("**Replay**"))
    may_replay = roles.allowed("edit", t("replay runs"))
    if current_version is not None and run.get("dataflow_version") == current_version:
        st.caption(
            t(
                "The dataflow is still at v{version}, the version this run used: a replay would "
                "quarantine the same rows again. Fix the mapping or checks on **Mapping** first.",
                version=current_version,
            )
        )
    if st.button(
        t(
            "Replay {count} quarantined rows with v{version}",
            count=f"{int(run['failed']):,}",
            version=current_version or "?",
        ),
        key="runs.replay",
        icon=":material/replay:",
        disabled=not may_replay,
        help=t(
            "A new run (trigger: replay) re-maps and re-checks these rows; those that pass are upserted "
            "by key, never doubled, and the others are quarantined again. This run stays as it is."
        ),
    ):
        with st.spinner(t("Replaying the quarantined rows…")):
            summary = attempt(workspace().replay, int(run["id"]))
        if summary is not None:
            data.refresh()
            run_summary(summary)


def run_with_progress(name: str) -> None:
    """Runs a dataflow now in this process, with a progress bar per committed chunk, then its summary."""
    with st.status(t("Running {name}…", name=name), expanded=True) as status:
        bar = st.progress(0.0, text=t("Starting…"))

        def show_progress(summary: RunSummary) -> None:
            """Moves the bar after each committed chunk (the total is unknown until the end)."""
            bar.progress(
                summary.chunks / (summary.chunks + 1),
                text=t(
                    "Chunk {chunks}: received {received}, ingested {ingested}, failed {failed}",
                    chunks=summary.chunks,
                    received=f"{summary.received:,}",
                    ingested=f"{summary.ingested:,}",
                    failed=f"{summary.failed:,}",
                ),
            )

        summary = attempt(run_now, workspace(), name, progress=show_progress)
        data.refresh()
        if summary is None:
            status.update(label=t("{name} could not run", name=name), state="error")
        else:
            bar.progress(1.0, text=t("Done in {seconds} s", seconds=f"{summary.duration_s:.1f}"))
            failed = summary.status == "failed"
            status.update(label=f"{name}: {t(summary.status)}", state="error" if failed else "complete")
    if summary is not None:
        run_summary(summary)


# -- health ------------------------------------------------------------------------
#: The parts of the engine's health line (:attr:`core.monitoring.Health.summary`), as patterns to translate.
_HEALTH_PARTS = (
    (
        re.compile(r"^All good: ([\d,]+) dataflows?, none failing or late\.$"),
        "All good: {0} dataflow(s), none failing or late.",
    ),
    (re.compile(r"^([\d,]+) dataflows? failing \((.*)\)$"), "{0} dataflow(s) failing ({1})"),
    (re.compile(r"^([\d,]+) dataflows? late \((.*)\)$"), "{0} dataflow(s) late ({1})"),
    (
        re.compile(r"^([\d,]+) dataflows? quarantined rows in their last run \((.*)\)$"),
        "{0} dataflow(s) quarantined rows in their last run ({1})",
    ),
)


def said_in_language(summary: str) -> str:
    """The engine's one-line health summary, part by part, in the session's language."""
    if language() == DEFAULT:
        return summary
    said = []
    for part in summary.split(" · "):
        for pattern, text in _HEALTH_PARTS:
            found = pattern.match(part)
            if found:
                part = t(text).format(*found.groups())
                break
        else:
            part = t(part)
        said.append(part)
    return " · ".join(said)


def health_banner(health: Health) -> None:
    """One line: all good, or what is wrong; then whether the scheduler is alive."""
    show = {"ok": st.success, "warning": st.warning, "error": st.error}[health.level]
    icon = {"ok": ":material/check_circle:", "warning": ":material/warning:", "error": ":material/error:"}
    show(said_in_language(health.summary), icon=icon[health.level])
    scheduler = health.scheduler
    beat = f"{scheduler.last_beat_at:%Y-%m-%d %H:%M:%S} UTC" if scheduler.last_beat_at else ""
    if scheduler.alive and scheduler.last_beat_at is not None:
        ago = (health.checked_at - scheduler.last_beat_at).total_seconds()
        running = t(", running {names}", names=", ".join(scheduler.running)) if scheduler.running else ""
        st.badge(
            t(
                "Scheduler alive on {host} (heartbeat {ago} s ago{running})",
                host=scheduler.host,
                ago=f"{ago:.0f}",
                running=running,
            ),
            color="green",
        )
    elif scheduler.state == "down":
        st.badge(
            t("Scheduler down: last heartbeat from {host} at {beat}", host=scheduler.host, beat=beat),
            color="red",
        )
    elif scheduler.state == "stopped":
        st.badge(
            t("Scheduler stopped on {host} (last heartbeat {beat})", host=scheduler.host, beat=beat),
            color="gray",
        )
    else:
        st.badge(t("Scheduler not started: scheduled dataflows run only while it runs"), color="gray")


def dataflow_health(flows: pd.DataFrame, records: pd.Series) -> None:
    """Each dataflow's state, last run, last success, next due, records and failures of the last 24 h."""
    if flows.empty:
        st.info(t("No dataflow yet: add a connection on **Sources**, then create one on **Dataflows**."))
        return
    shown = flows.assign(
        state=flows["state"].map(STATE_LABELS).fillna(flows["state"]),
        records=flows["name"].map(records).fillna(0).astype("int64"),
    ).drop(columns=["scheduled"])
    moment = "YYYY-MM-DD HH:mm"
    st.dataframe(
        shown.style.map(lambda state: f"color: {STATE_COLOURS.get(state, 'inherit')}", subset=["state"]),
        hide_index=True,
        column_config={
            "name": t("Dataflow"),
            "state": "State",
            "last_status": "Last status",
            "last_run_id": st.column_config.NumberColumn("Last run", format="#%d"),
            "last_run_at": st.column_config.DatetimeColumn("Last run at (UTC)", format=moment),
            "last_success_at": st.column_config.DatetimeColumn("Last success (UTC)", format=moment),
            "next_due_at": st.column_config.DatetimeColumn("Next due (UTC)", format=moment),
            "runs_24h": st.column_config.NumberColumn("Runs 24 h", format="localized"),
            "failures_24h": st.column_config.NumberColumn("Failed runs 24 h", format="localized"),
            "rows_failed_24h": st.column_config.NumberColumn("Rows quarantined 24 h", format="localized"),
            "last_error": "Last error",
            "records": st.column_config.NumberColumn("Records", format="localized"),
        },
        column_order=[
            "name",
            "state",
            "last_status",
            "last_run_at",
            "last_success_at",
            "next_due_at",
            "records",
            "runs_24h",
            "failures_24h",
            "rows_failed_24h",
            "last_error",
        ],
    )


def recent_failures(failures: pd.DataFrame) -> None:
    """Links to the runs that failed in the last 24 hours, newest first."""
    if failures.empty:
        st.caption(t("No run failed in the last 24 hours."))
        return
    for failure in failures.itertuples():  # at most ten links
        code = f" · {failure.error_code}" if isinstance(failure.error_code, str) else ""
        st.page_link(
            "pages/runs.py",
            label=f"#{failure.id} · {failure.dataflow} · {failure.status}{code} · "
            f"{failure.started_at:%Y-%m-%d %H:%M} UTC",
            icon=STATUS_ICONS.get(str(failure.status), ":material/cancel:"),
            query_params={"run": str(failure.id)},
        )
