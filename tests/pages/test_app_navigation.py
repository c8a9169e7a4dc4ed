"""app.py: routes every page through st.navigation and draws the shared chrome."""

from __future__ import annotations

import pytest

from tests.pages.apptest import app, open_page, texts

PAGES = {
    "pages/overview.py": "Overview",
    "pages/sources.py": "Sources",
    "pages/preview.py": "Preview",
    "pages/mapping.py": "Mapping",
    "pages/dataflows.py": "Dataflows",
    "pages/runs.py": "Runs",
    "pages/alerts.py": "Alerts",
    "pages/profiles.py": "Profiles",
    "pages/admin.py": "Admin",
}


def test_the_default_page_is_the_overview_with_the_sidebar_caption() -> None:
    at = open_page()
    assert not at.exception
    assert [title.value for title in at.title] == ["Overview"]
    assert "Tributary" in texts(at.sidebar.caption)


@pytest.mark.parametrize(("path", "title"), PAGES.items())
def test_every_page_is_routed_and_renders_without_error(path: str, title: str) -> None:
    at = open_page(path)  # switch_page raises if st.navigation did not register the file
    assert not at.exception, at.exception
    assert not at.error, texts(at.error)
    assert at.title[0].value == title
    assert "Tributary" in texts(at.sidebar.caption)  # drawn by app.py around every page


def test_a_first_deep_link_after_a_restart_still_goes_through_app_py(monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit.runtime.pages_manager import PagesManager

    # A fresh server with a pages/ folder starts in legacy mode, as if no session had called st.navigation.
    monkeypatch.setattr(PagesManager, "uses_pages_directory", True)
    at = app()  # signed in: signing in is tests/pages/test_auth.py's
    at.switch_page("pages/runs.py").run()
    assert not at.exception
    assert at.title[0].value == "Runs"
    assert "Tributary" in texts(at.sidebar.caption)  # app.py ran: its chrome is there


def test_opening_the_dashboard_starts_the_scheduler_when_none_is_alive(
    demo_workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One command runs the product: the dashboard's first open starts `python -m core.scheduler`."""
    import os
    import signal
    import time

    import streamlit as st

    from core.scheduler import scheduler_status
    from core.scheduler.health import _spawned
    from core.services import Workspace

    monkeypatch.setenv("TRIBUTARY_SCHEDULER", "1")
    monkeypatch.setenv("TRIBUTARY_SCHEDULER_HEARTBEAT_S", "1")
    st.cache_resource.clear()  # as a fresh dashboard process
    engine = Workspace.open().engine
    try:
        open_page()
        deadline = time.monotonic() + 60
        while not scheduler_status(engine).alive and time.monotonic() < deadline:
            time.sleep(0.5)
        assert scheduler_status(engine).alive
        assert (demo_workspace / "scheduler.log").exists()
    finally:
        for child in list(_spawned):
            os.kill(child.pid, signal.SIGTERM)
            child.wait(timeout=60)
        st.cache_resource.clear()
