"""English and French for the dashboard: ``t("English text")`` says it in the session's language.

The English text is the key and the source of truth: a string missing from a
catalogue shows in English, never as a blank. Catalogues are plain Python
dicts (:mod:`ui.locales`), so they need no build step and no dependency, and
``{name}`` placeholders are filled after the lookup (``t("{n} runs", n=3)``).

The language is the session's choice from the sidebar's picker; until one is
made, the browser's (``st.context.locale``, else the ``Accept-Language``
header), else English.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from ui.locales import CATALOGUES

#: Session key of the language in use: the picker's own state.
LANGUAGE = PICKER = "i18n.language"
#: The languages offered, by code, each named in itself.
LANGUAGES = {"en": "English", "fr": "Français"}
DEFAULT = "en"


def _browser_language() -> str:
    """The first offered language the browser prefers, else English."""
    wanted: list[str] = []
    try:
        locale = st.context.locale
        if locale:
            wanted.append(str(locale))
        header = st.context.headers.get("Accept-Language") or ""
    except Exception:
        header = ""
    wanted += [part.split(";")[0].strip() for part in header.split(",") if part.strip()]
    for tag in wanted:
        code = tag.split("-")[0].split("_")[0].lower()
        if code in LANGUAGES:
            return code
    return DEFAULT


def language() -> str:
    """This session's language code (``en`` or ``fr``)."""
    chosen = st.session_state.get(LANGUAGE)
    if chosen in LANGUAGES:
        return str(chosen)
    detected = _browser_language()
    st.session_state[LANGUAGE] = detected
    return detected


def t(text: str, /, **values: Any) -> str:
    """``text`` in the session's language, its ``{placeholders}`` filled from ``values``."""
    said = CATALOGUES.get(language(), {}).get(text, text)
    return said.format(**values) if values else said


def language_picker() -> None:
    """The sidebar's language picker; the choice holds for the session (until signing out)."""
    language()  # its state starts as the browser's language
    st.sidebar.selectbox("Language / Langue", list(LANGUAGES), format_func=LANGUAGES.__getitem__, key=PICKER)
