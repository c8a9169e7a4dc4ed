"""Altair charts of run history: status over time, records per run, duration and throughput.

Charts receive frames already bounded by the caller (runs are aggregated by
time bucket, or cut to the latest :data:`CHART_RUNS`), so a history of
thousands of runs never sends thousands of marks to the browser.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

#: The most runs a per-run chart plots (the newest ones).
CHART_RUNS = 200
#: Colours of the run outcomes, matched to the theme (teal primary, muted red).
OUTCOME_COLOURS = {"ingested": "#0B7A75", "failed": "#D1495B"}
#: Colours of the run statuses, in the order the legend lists them.
STATUS_COLOURS = {
    "succeeded": "#0B7A75",
    "partial": "#E9A03B",
    "failed": "#D1495B",
    "abandoned": "#8D99AE",
    "running": "#3D7EA6",
}
#: How each bucket of core.monitoring.status_timeline reads, and the time unit that sizes its bars.
_STEPS = {
    "1h": ("hour", "utcyearmonthdatehours"),
    "1D": ("day", "utcyearmonthdate"),
    "7D": ("week", "utcyearweek"),
}
_RUN_TOOLTIP = [
    alt.Tooltip("run:N", title="Run"),
    alt.Tooltip("dataflow:N", title="Dataflow"),
    alt.Tooltip("status:N", title="Status"),
    alt.Tooltip("started_at:T", title="Started (UTC)", format="%Y-%m-%d %H:%M"),
]


def status_timeline_chart(timeline: pd.DataFrame) -> alt.Chart:
    """Runs per hour, day or week, stacked by status (``timeline`` from core.monitoring.status_timeline)."""
    step = str(timeline["step"].iloc[0]) if not timeline.empty else "1D"
    name, unit = _STEPS.get(step, _STEPS["1D"])
    return (
        alt.Chart(timeline)
        .mark_bar()
        .encode(
            # the time unit makes each bar as wide as its bucket (the buckets are already floored to it)
            x=alt.X("bucket:T", timeUnit=unit, title=f"Started (by {name}, UTC)"),
            y=alt.Y("runs:Q", stack="zero", title="Runs"),
            color=_status_colour(),
            order=alt.Order("status:N"),
            tooltip=[
                alt.Tooltip("bucket:T", title="From (UTC)", format="%Y-%m-%d %H:%M"),
                alt.Tooltip("status:N", title="Status"),
                alt.Tooltip("runs:Q", title="Runs", format=","),
            ],
        )
        .properties(height=220)
    )


def runs_chart(runs: pd.DataFrame) -> alt.LayerChart:
    """Records ingested and failed per run as stacked bars, a tick at what was received; oldest left."""
    shown = _latest(runs)
    frame = shown[["id", "dataflow", "status", "started_at", "received", *OUTCOME_COLOURS]].melt(
        id_vars=["id", "dataflow", "status", "started_at", "received"],
        value_vars=list(OUTCOME_COLOURS),
        var_name="outcome",
        value_name="records",
    )
    frame["run"] = "#" + frame["id"].astype(str)
    order = ["#" + str(i) for i in sorted(shown["id"])]
    x = alt.X("run:N", sort=order, title="Run", axis=alt.Axis(labelAngle=0, labelOverlap=True))
    # A few runs would make each bar as wide as a column; keep them slim until they crowd.
    bars = alt.Chart(frame).mark_bar(size=36) if len(shown) <= 15 else alt.Chart(frame).mark_bar()
    bars = bars.encode(
        x=x,
        y=alt.Y("records:Q", stack="zero", title="Records"),
        color=alt.Color(
            "outcome:N",
            title="Outcome",
            scale=alt.Scale(domain=list(OUTCOME_COLOURS), range=list(OUTCOME_COLOURS.values())),
        ),
        order=alt.Order("outcome:N", sort="descending"),
        tooltip=[
            *_RUN_TOOLTIP,
            alt.Tooltip("outcome:N", title="Outcome"),
            alt.Tooltip("records:Q", title="Records", format=","),
            alt.Tooltip("received:Q", title="Received", format=","),
        ],
    )
    received = (
        alt.Chart(frame.drop_duplicates("id"))
        .mark_tick(color="#1F2937", thickness=2)
        .encode(x=x, y="received:Q", tooltip=[*_RUN_TOOLTIP, alt.Tooltip("received:Q", format=",")])
    )
    return alt.layer(bars, received).properties(height=260)


def run_metric_chart(runs: pd.DataFrame, column: str, title: str, unit_format: str = ",.1f") -> alt.Chart:
    """One figure per run over time (duration, throughput), a dot per run coloured by dataflow."""
    frame = _latest(runs).dropna(subset=[column]).assign(run=lambda f: "#" + f["id"].astype(str))
    return (
        alt.Chart(frame)
        .mark_circle(size=36, opacity=0.8)
        .encode(
            x=alt.X("started_at:T", title="Started (UTC)"),
            y=alt.Y(f"{column}:Q", title=title),
            color=alt.Color("dataflow:N", title="Dataflow"),
            tooltip=[*_RUN_TOOLTIP, alt.Tooltip(f"{column}:Q", title=title, format=unit_format)],
        )
        .properties(height=220)
    )


def _latest(runs: pd.DataFrame) -> pd.DataFrame:
    """The newest :data:`CHART_RUNS` runs (histories come newest first)."""
    return runs.nlargest(CHART_RUNS, "id") if len(runs) > CHART_RUNS else runs


def _status_colour() -> alt.Color:
    return alt.Color(
        "status:N",
        title="Status",
        scale=alt.Scale(domain=list(STATUS_COLOURS), range=list(STATUS_COLOURS.values())),
    )
