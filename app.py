"""Tributary's dashboard: the sign-in gate, the pages each role may open, and the shared chrome."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from ui import auth, roles
from ui.feedback import reported_errors
from ui.i18n import language_picker, t

st.set_page_config(page_title="Tributary", page_icon=":material/water:", layout="wide")

#: Section -> pages: (file, title, icon, the permission that opens it).
PAGES = {
    "Tributary": [("pages/overview.py", "Overview", ":material/dashboard:", "view")],
    "Bring data in": [
        ("pages/sources.py", "Sources", ":material/cable:", "edit"),
        ("pages/preview.py", "Preview", ":material/table_view:", "edit"),
        ("pages/mapping.py", "Mapping", ":material/alt_route:", "edit"),
    ],
    "Operate": [
        ("pages/dataflows.py", "Dataflows", ":material/conversion_path:", "view"),
        ("pages/runs.py", "Runs", ":material/history:", "view"),
        ("pages/alerts.py", "Alerts", ":material/notifications:", "edit"),
        ("pages/profiles.py", "Profiles", ":material/person_search:", "view"),
    ],
    "Administer": [("pages/admin.py", "Admin", ":material/admin_panel_settings:", "admin")],
}
EVERY_PAGE = [page for pages in PAGES.values() for page in pages]

actor = auth.resolve_session()
if actor is None:
    # Every page's address shows the sign-in page until someone signs in; then that very page.
    sign_in = st.Page("pages/sign_in.py", title=t("Sign in"), icon=":material/login:", default=True)
    addresses = [
        st.Page("pages/sign_in.py", title=t("Sign in"), url_path=Path(file).stem, visibility="hidden")
        for file, *_ in EVERY_PAGE
    ]
    navigation = st.navigation([sign_in, *addresses], position="hidden")
else:
    # A page the role does not open keeps its address, which says who can open it.
    closed = [
        st.Page(
            roles.closed_page(t(title), permission),
            title=t(title),
            url_path=Path(file).stem,
            visibility="hidden",
        )
        for file, title, _, permission in EVERY_PAGE
        if not actor.can(permission)
    ]
    offered = {
        section: [
            st.Page(file, title=t(title), icon=icon, default=file == "pages/overview.py")
            for file, title, icon, permission in pages
            if actor.can(permission)
        ]
        for section, pages in PAGES.items()
    }
    offered["Tributary"] += closed
    navigation = st.navigation({t(section): pages for section, pages in offered.items() if pages})
    auth.signed_in_as(actor)
    roles.closed_pages_note([t(title) for _, title, _, permission in EVERY_PAGE if permission == "edit"])
st.sidebar.caption(
    t("Tributary brings customer data from your files, databases and CRMs into one profile store.")
)
language_picker()
with reported_errors():  # the engine refuses what a role may not do: said on the page, never a traceback
    navigation.run()
