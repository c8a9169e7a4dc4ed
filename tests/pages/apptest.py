"""Helpers for page tests: open the app on a page, read element texts."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parents[2] / "app.py"
#: The first run creates the demo and imports Great Expectations.
TIMEOUT = 60


def open_page(page: str | None = None) -> AppTest:
    """Runs app.py, then switches to ``page`` (e.g. "pages/runs.py") and runs it."""
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    assert not at.exception, at.exception
    if page is not None:
        at.switch_page(page).run()
    return at


def texts(elements: object) -> str:
    """The text of every element in an AppTest element list, joined (for `in` checks)."""
    return "\n".join(str(element.value) for element in elements)  # type: ignore[attr-defined]
