"""Altair charts of run history."""

from __future__ import annotations

import altair as alt
import pandas as pd

#: Colours of the run outcomes, matched to the theme (teal primary, muted red).
OUTCOME_COLOURS = {"ingested": "#0B7A75", "failed": "#D1495B"}


def runs_chart(runs: pd.DataFrame) -> alt.Chart:
    """Records ingested and failed per run, as stacked bars, oldest run on the left."""
    frame = runs[["id", "dataflow", "status", "started_at", "ingested", "failed"]].melt(
        id_vars=["id", "dataflow", "status", "started_at"],
        value_vars=list(OUTCOME_COLOURS),
        var_name="outcome",
        value_name="records",
    )
    frame["run"] = "#" + frame["id"].astype(str)
    order = ["#" + str(i) for i in sorted(runs["id"])]
    # A few runs would make each bar as wide as a column; keep them slim until they crowd.
    bars = alt.Chart(frame).mark_bar(size=36) if len(runs) <= 15 else alt.Chart(frame).mark_bar()
    return bars.encode(
        x=alt.X("run:N", sort=order, title="Run", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("records:Q", stack="zero", title="Records"),
        color=alt.Color(
            "outcome:N",
            title="Outcome",
            scale=alt.Scale(domain=list(OUTCOME_COLOURS), range=list(OUTCOME_COLOURS.values())),
        ),
        order=alt.Order("outcome:N", sort="descending"),
        tooltip=[
            alt.Tooltip("run:N", title="Run"),
            alt.Tooltip("dataflow:N", title="Dataflow"),
            alt.Tooltip("status:N", title="Status"),
            alt.Tooltip("started_at:T", title="Started", format="%Y-%m-%d %H:%M"),
            alt.Tooltip("outcome:N", title="Outcome"),
            alt.Tooltip("records:Q", title="Records", format=","),
        ],
    ).properties(height=280)
