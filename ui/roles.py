"""What the signed-in user's role allows, so that pages disable or hide the rest and say why.

The engine checks every action anyway (:mod:`core.security.access`); this is
the courtesy of not offering a button that can only be refused.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from core.security.access import PERMISSIONS
from ui.i18n import t
from ui.state import signed_in

#: Who has each permission, as the reason under a disabled action reads.
HOLDERS = {
    "view": "Signed-in users",
    "edit": "Editors and admins",
    "admin": "Admins",
    "view_personal_data": "Editors, admins and viewers granted personal data",
}


def can(permission: str) -> bool:
    """Whether the signed-in user has ``permission`` (view, edit, view_personal_data, admin)."""
    assert permission in PERMISSIONS, permission
    actor = signed_in()
    return actor is not None and actor.can(permission)


def reason(permission: str, action: str) -> str:
    """Why an action is not offered: "Editors and admins can change connections."."""
    return t("{holders} can {action}.", holders=t(HOLDERS[permission]), action=t(action))


def allowed(permission: str, action: str) -> bool:
    """Whether the role allows ``action``; when not, a caption says who can (above disabled widgets)."""
    if can(permission):
        return True
    st.caption(f":material/lock: {reason(permission, action)}")
    return False


def closed_page(title: str, permission: str) -> Callable[[], None]:
    """A page in place of one the role does not open, at its address: who can open it."""

    def closed() -> None:
        st.title(title)
        said = reason(permission, t("open {page}", page=title))
        st.info(f"{said} {t('Ask an admin if you need to.')}", icon=":material/lock:")

    return closed


def closed_pages_note(titles: list[str]) -> None:
    """A sidebar line naming the editors' pages a viewer does not see."""
    if titles and not can("edit"):
        st.sidebar.caption(
            ":material/lock: "
            + t(
                "{pages} and {last} are for editors and admins.",
                pages=", ".join(titles[:-1]),
                last=titles[-1],
            )
        )
