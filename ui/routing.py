"""Keeps every visit routed by app.py's st.navigation, even a deep link right after a restart.

Streamlit treats an app with a ``pages/`` folder as a legacy multipage app until
some session calls ``st.navigation``: if the first request after the server
starts is ``/runs``, Streamlit runs pages/runs.py alone, without app.py's
navigation, page config and sidebar (AppTest does this on every run, as it
starts each run like a fresh server). Each page calls :func:`through_app`
first; in that case it runs app.py in its place, within the same script run so
that widget events (a clicked button) are not lost, and st.navigation routes
the request back to this page.
"""

from __future__ import annotations

import runpy

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager
from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx


def through_app() -> None:
    """Runs app.py instead of this page when Streamlit ran the page as a legacy ``pages/`` page."""
    context = get_script_run_ctx()
    if not PagesManager.uses_pages_directory or context is None:
        return
    PagesManager.uses_pages_directory = False  # what st.navigation itself sets
    runpy.run_path(str(context.pages_manager.main_script_path), run_name="__main__")
    st.stop()  # app.py has drawn this page; the legacy run of it ends here
