"""English and French: every page of the main path reads in French, and switching back gives English."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.pages.apptest import app
from ui.i18n import LANGUAGE, LANGUAGES, PICKER, _browser_language
from ui.locales.fr import FR

PAGES = {
    "pages/overview.py": "Overview",
    "pages/sources.py": "Sources",
    "pages/preview.py": "Preview",
    "pages/dataflows.py": "Dataflows",
    "pages/runs.py": "Runs",
    "pages/mapping.py": "Mapping",
    "pages/alerts.py": "Alerts",
    "pages/profiles.py": "Profiles",
    "pages/admin.py": "Admin",
}
#: Catalogue keys whose French differs: any of them on a French page is an untranslated string.
ENGLISH_ONLY = {english for english, french in FR.items() if english != french}


def _in_french(page: str | None) -> AppTest:
    at = app()
    at.session_state[LANGUAGE] = "fr"
    at.run()
    assert not at.exception, at.exception
    if page is not None:
        at.switch_page(page).run()
        assert not at.exception, at.exception
    return at


def _shown(at: AppTest) -> list[str]:
    """Every title, header, caption, message, button, tab, metric and widget label on the page."""
    shown: list[str] = []
    for kind in ("title", "header", "subheader", "caption", "info", "success", "warning", "error"):
        shown += [str(element.value) for element in getattr(at, kind)]
    for kind in (
        "button",
        "tabs",
        "metric",
        "expander",
        "selectbox",
        "multiselect",
        "text_input",
        "text_area",
        "number_input",
        "toggle",
        "checkbox",
        "radio",
    ):
        shown += [str(element.label) for element in getattr(at, kind)]
    return shown


@pytest.mark.parametrize(("path", "title"), PAGES.items())
def test_every_main_page_reads_in_french(path: str, title: str) -> None:
    at = _in_french(path)
    assert [element.value for element in at.title] == [FR[title]]
    untranslated = [text for text in _shown(at) if text in ENGLISH_ONLY]
    assert not untranslated, untranslated


def test_the_sign_in_page_reads_in_french() -> None:
    at = app(None)
    at.session_state[LANGUAGE] = "fr"
    at.run()
    assert [element.value for element in at.title] == [FR["Sign in"]]
    assert FR["Sign in"] in [button.label for button in at.button]
    assert not [text for text in _shown(at) if text in ENGLISH_ONLY]


def test_switching_back_to_english() -> None:
    at = _in_french("pages/overview.py")
    assert at.title[0].value == FR["Overview"]
    at.sidebar.selectbox(key=PICKER).set_value("en").run()
    assert not at.exception
    assert at.title[0].value == "Overview"
    assert not [text for text in _shown(at) if text in FR.values() and text not in FR]


def test_english_is_the_default_and_the_picker_offers_french() -> None:
    at = app().run()
    assert at.title[0].value == "Overview"
    picker = at.sidebar.selectbox(key=PICKER)
    assert picker.value == "en"
    assert picker.options == list(LANGUAGES.values())


def test_every_placeholder_is_kept_in_french() -> None:
    for english, french in FR.items():
        assert english.count("{") == french.count("{"), english


def test_browser_language_defaults_to_english_outside_a_browser() -> None:
    assert _browser_language() == "en"
