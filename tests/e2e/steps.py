"""Steps the stories share: sign in, open a page from the sidebar, wait for a rerun, keep a screenshot."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.e2e.conftest import ADMIN, ROOT, Dashboard

#: ``TRIBUTARY_SCREENSHOTS=1`` saves the main screens here, for the README.
SCREENSHOTS = ROOT / "docs" / "screenshots"


_IDLE = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    return app !== null && app.dataset.testScriptState === "notRunning"
        && document.querySelector('[data-stale="true"]') === null;
}"""
_BUSY = "() => document.querySelector('[data-testid=\"stApp\"]')?.dataset.testScriptState !== 'notRunning'"


def settled(page: Page) -> None:
    """Waits until Streamlit has finished the script run the last action started (no stale element left).

    A click reaches the server a moment before the app says it runs: the run is
    first given a second to start (its own signal, not a sleep), then awaited.
    """
    with contextlib.suppress(PlaywrightTimeout):  # the run was over before we looked, or nothing ran
        page.wait_for_function(_BUSY, timeout=1_000)
    page.wait_for_function(_IDLE, timeout=60_000)


def open_dashboard(page: Page, dashboard: Dashboard) -> None:
    """Loads the dashboard (a new Streamlit session) and waits for its first run."""
    page.goto(dashboard.url)
    ready = page.get_by_label("Admin user name").or_(page.get_by_label("User name", exact=True))
    expect(ready.or_(page.get_by_test_id("stSidebarNav"))).to_be_visible(timeout=90_000)
    settled(page)


def sign_in(page: Page, dashboard: Dashboard, user: tuple[str, str] = ADMIN) -> None:
    """Opens the dashboard signed in as ``user``; at first start, creates the admin first."""
    open_dashboard(page, dashboard)
    if page.get_by_label("Admin user name").count():
        create_first_admin(page, *ADMIN)
        if user == ADMIN:
            return
        page.get_by_role("button", name="Sign out").click()
        settled(page)
    enter(page.get_by_label("User name"), user[0])
    enter(page.get_by_label("Password", exact=True), user[1])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    settled(page)


def create_first_admin(page: Page, name: str, password: str) -> None:
    """Fills the first-start form and lands on the overview."""
    enter(page.get_by_label("Admin user name"), name)
    enter(page.get_by_label("Password", exact=True), password)
    enter(page.get_by_label("Password again"), password)
    page.get_by_role("button", name="Create the admin and sign in").click()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    settled(page)


def go(page: Page, title: str) -> None:
    """Opens a page from the sidebar's navigation (the session stays signed in)."""
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title, exact=True).click()
    expect(page.get_by_role("heading", name=title, level=1)).to_be_visible()
    settled(page)


def shoot(page: Page, name: str, **options: Any) -> None:
    """With ``TRIBUTARY_SCREENSHOTS=1``, saves the screen as ``docs/screenshots/NAME.png``."""
    if os.environ.get("TRIBUTARY_SCREENSHOTS") != "1":
        return
    settled(page)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(Path(SCREENSHOTS / f"{name}.png")), **options)


def choose(page: Page, label: str, option: str, scope: Any = None, nth: int = 0) -> None:
    """Picks ``option`` in the ``nth`` selectbox named ``label``: types it to filter the list, clicks it."""
    box = (scope or page).get_by_role("combobox", name=label, exact=True).nth(nth)
    box.click()
    box.fill(option)
    page.get_by_role("option", name=option, exact=True).first.click()
    expect(page.get_by_role("listbox")).to_have_count(0)
    expect(box).to_have_value(option)
    settled(page)


def enter(field: Any, value: str) -> None:
    """Types ``value`` into a text field and leaves it (Streamlit commits a field's value on blur)."""
    field.fill(value)
    field.press("Tab")
    expect(field).to_have_value(value)
