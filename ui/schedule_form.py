"""The schedule editor: manual, once, or every N minutes / hours / days / weeks from a start, in a zone."""

from __future__ import annotations

import zoneinfo
from datetime import datetime, time
from typing import Any

import streamlit as st

from core.models import DataflowSpec, ScheduleSpec
from ui.i18n import t

#: Kind shown -> the ScheduleSpec unit it writes (None: manual or once).
KINDS = {
    "Manual only": None,
    "Once": None,
    "Every N minutes": "minute",
    "Hourly": "hour",
    "Daily": "day",
    "Weekly": "week",
}
#: Common zones first; every IANA zone is offered.
ZONES = sorted(zoneinfo.available_timezones())


def kind_of(schedule: ScheduleSpec | None) -> tuple[str, int]:
    """The editor's kind and count for a saved schedule."""
    if schedule is None or (not schedule.every and not schedule.once):
        return "Manual only", 1
    if schedule.once:
        return "Once", 1
    interval = schedule.interval()
    assert interval is not None
    count, unit = interval
    return next(k for k, u in KINDS.items() if u == unit), count


def schedule_editor(spec: DataflowSpec, *, key: str) -> tuple[dict[str, Any] | None, bool]:
    """Draws the editor for a dataflow's schedule; returns (schedule or None, enabled)."""
    saved = spec.schedule
    kind, count = kind_of(saved)
    pick_kind, pick_count, pick_zone = st.columns([2, 1, 2])
    chosen = pick_kind.selectbox(
        t("Runs"), list(KINDS), index=list(KINDS).index(kind), key=f"{key}.kind", format_func=t
    )
    unit = KINDS[chosen]
    every = pick_count.number_input(
        t("Every"),
        min_value=1,
        max_value=1000,
        value=count,
        step=1,
        key=f"{key}.count",
        disabled=unit is None,
        help=t("How many minutes, hours, days or weeks between runs."),
    )
    zone = pick_zone.selectbox(
        t("Time zone"),
        ZONES,
        index=ZONES.index(saved.timezone) if saved and saved.timezone in ZONES else ZONES.index("UTC"),
        key=f"{key}.zone",
        help=t("Daily and weekly runs keep their local time across daylight-saving changes."),
    )
    start = saved.start if saved and saved.start else datetime.now().replace(second=0, microsecond=0)
    pick_date, pick_time, pick_enabled = st.columns([2, 1, 2], vertical_alignment="bottom")
    day = pick_date.date_input(
        t("Starting"), value=start.date(), key=f"{key}.date", disabled=chosen == "Manual only"
    )
    at = pick_time.time_input(
        t("At"), value=time(start.hour, start.minute), key=f"{key}.time", disabled=chosen == "Manual only"
    )
    enabled = pick_enabled.toggle(
        t("Enabled"), value=spec.enabled, key=f"{key}.enabled", help=t("Paused when off.")
    )
    if chosen == "Manual only":
        return None, enabled
    moment = datetime.combine(day, at).isoformat()
    if chosen == "Once":
        return {"once": True, "start": moment, "timezone": zone}, enabled
    return {
        "every": f"{int(every)} {unit}{'s' if every > 1 else ''}",
        "start": moment,
        "timezone": zone,
    }, enabled


def describe_schedule(schedule: dict[str, Any] | None, enabled: bool = True) -> str:
    """A short sentence for a schedule, e.g. "runs every 2 hours from 2026-12-01 02:00 (Europe/Paris)"."""
    if not enabled:
        return t("is paused")
    if not schedule:
        return t("runs only when started by hand")
    start = str(schedule.get("start", "")).replace("T", " ")[:16]
    zone = schedule.get("timezone", "UTC")
    if schedule.get("once"):
        return t("runs once at {start} ({zone})", start=start, zone=zone)
    return t("runs every {every} from {start} ({zone})", every=schedule["every"], start=start, zone=zone)
