"""The workspace the dashboard works on, created once per server process."""

from __future__ import annotations

import os

import streamlit as st

from core.services import Workspace


@st.cache_resource(show_spinner="Opening the workspace…")
def workspace() -> Workspace:
    """The store, migrated, with the demo on first start (unless TRIBUTARY_DEMO=0).

    Also starts the scheduler in the background when none is alive, so one
    command runs the whole product; TRIBUTARY_SCHEDULER=0 leaves that to a
    separately run ``python -m core.scheduler`` (e.g. a systemd unit).
    """
    opened = Workspace.open(demo=os.environ.get("TRIBUTARY_DEMO", "1") != "0")
    if os.environ.get("TRIBUTARY_SCHEDULER", "1") != "0":
        from core.scheduler import ensure_scheduler

        ensure_scheduler()
    return opened
