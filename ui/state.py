"""The workspace the dashboard works on, created once per server process."""

from __future__ import annotations

import os

import streamlit as st

from core.services import Workspace


@st.cache_resource(show_spinner="Opening the workspace…")
def workspace() -> Workspace:
    """The store, migrated, with the demo on first start (unless TRIBUTARY_DEMO=0)."""
    return Workspace.open(demo=os.environ.get("TRIBUTARY_DEMO", "1") != "0")
