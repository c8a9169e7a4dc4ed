"""Helpers for page tests: open the app on a page as a signed-in user, read element texts.

Every page needs a signed-in user. :func:`app` signs one in the way the
sign-in form does (:func:`ui.auth.sign_in` puts the account's name in the
session; app.py reads its role from the store on every run), after creating
the account when needed. Authentication stays on: ``as_user=None`` opens the
app signed out, on the sign-in page.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable
from pathlib import Path

from streamlit.testing.v1 import AppTest

from core.security import Actor, Role, Users
from core.services import Workspace
from ui.state import SIGNED_IN, SIGNED_IN_WITH

APP = Path(__file__).resolve().parents[2] / "app.py"
#: The first run creates the demo and imports Great Expectations.
TIMEOUT = 60
#: The password of every account these helpers create.
PASSWORD = "correct horse battery staple"
#: The accounts tests sign in as, by name: role and grants.
USERS: dict[str, tuple[Role, tuple[str, ...]]] = {
    "admin": ("admin", ()),
    "editor": ("editor", ()),
    "viewer": ("viewer", ()),
    "granted": ("viewer", ("personal_data",)),
}


def account(name: str, role: Role | None = None, grants: Iterable[str] | None = None) -> Actor:
    """Creates the account ``name`` (password :data:`PASSWORD`) unless it exists, with its role and grants.

    The role and grants default to :data:`USERS`' entry for ``name``. The
    workspace is opened as the dashboard opens it (with the demo on a new store).
    """
    users = _users(os.environ.get("TRIBUTARY_DATABASE_URL", ""), os.environ.get("TRIBUTARY_DEMO", "1") != "0")
    listed = users.list().set_index("username")
    if role is None and name not in USERS:  # an account the test made itself: as it is
        return users.actor_of(name)
    role = role or USERS[name][0]
    wanted = sorted(grants if grants is not None else USERS.get(name, (role, ()))[1])
    if name not in listed.index:
        users.create(name, PASSWORD, role, wanted)
    elif listed.at[name, "role"] != role or sorted(listed.at[name, "grants"] or []) != wanted:
        users.update(name, role=role, grants=wanted)
    return users.actor_of(name)


@functools.cache
def _users(url: str, demo: bool) -> Users:
    """The accounts of the store at ``url``, opened once (with the demo on a new store, as the dashboard)."""
    return Workspace.open(url or None, demo=demo).users


def app(
    as_user: str | None = "admin", role: Role | None = None, grants: Iterable[str] | None = None
) -> AppTest:
    """app.py, not run yet, with ``as_user`` signed in (see :func:`account`); signed out when None."""
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    if as_user is not None:
        account(as_user, role, grants)
        at.session_state[SIGNED_IN] = as_user
        at.session_state[SIGNED_IN_WITH] = "password"
    return at


def open_page(
    page: str | None = None,
    as_user: str | None = "admin",
    role: Role | None = None,
    grants: Iterable[str] | None = None,
) -> AppTest:
    """Runs app.py as ``as_user`` (an admin by default), then switches to ``page`` (e.g. "pages/runs.py")."""
    at = app(as_user, role, grants).run()
    assert not at.exception, at.exception
    if page is not None:
        at.switch_page(page).run()
    return at


def texts(elements: object) -> str:
    """The text of every element in an AppTest element list, joined (for `in` checks)."""
    return "\n".join(str(element.value) for element in elements)  # type: ignore[attr-defined]
