"""The workspace the dashboard works on, and who it acts for.

The store (engine, vault) is opened once per server process
(``st.cache_resource``); each session acts for its signed-in user, whose
actor :mod:`ui.auth` reads from the store at the start of every run, so a
role changed or an account disabled by an admin holds at the next click.

Cached reads (``st.cache_data``) never look at the session: each takes an
:data:`ActorKey` as its first argument and opens :func:`acting` for it, so
the cache keys every result by who may see it and a result computed for an
admin is never served to a viewer.
"""

from __future__ import annotations

import os

import streamlit as st

from core.errors import PermissionDeniedError
from core.secrets import Vault
from core.security import Actor, Users
from core.services import Workspace
from core.store import db

#: Session keys: the signed-in account's name, how it signed in, and this run's actor.
SIGNED_IN = "auth.user"
SIGNED_IN_WITH = "auth.method"
ACTOR = "auth.actor"
#: Who the sign-in page acts as: no account, the lowest role, so it can only sign in.
NOBODY = Actor("(signed out)", "viewer")
#: An actor as plain, ordered values (name, role, grants): what cached reads are keyed by.
ActorKey = tuple[str, str, tuple[str, ...]]


@st.cache_resource(show_spinner="Opening the workspace…")
def _opened() -> Workspace:
    """The store, migrated, with the demo on first start (unless TRIBUTARY_DEMO=0).

    Creates the admin that TRIBUTARY_ADMIN_USER/TRIBUTARY_ADMIN_PASSWORD name
    when no account exists yet (unattended installs). Also starts the scheduler
    in the background when none is alive, so one command runs the whole
    product; TRIBUTARY_SCHEDULER=0 leaves that to a separately run
    ``python -m core.scheduler`` (e.g. a systemd unit).
    """
    opened = Workspace.open(demo=os.environ.get("TRIBUTARY_DEMO", "1") != "0")
    opened.users.ensure_admin_from_environment()
    if os.environ.get("TRIBUTARY_SCHEDULER", "1") != "0":
        from core.scheduler import ensure_scheduler

        ensure_scheduler()
    return opened


def signed_in() -> Actor | None:
    """This run's actor, None until someone signs in."""
    found = st.session_state.get(ACTOR)
    return found if isinstance(found, Actor) else None


def actor() -> Actor:
    """This run's actor; PermissionDeniedError when nobody is signed in."""
    found = signed_in()
    if found is None:
        raise PermissionDeniedError("Sign in to use Tributary.")
    return found


def actor_key(who: Actor | None = None) -> ActorKey:
    """``who`` (by default this run's actor) as the plain values cached reads take."""
    who = who or actor()
    return who.name, who.role, tuple(sorted(who.grants))


def acting(key: ActorKey) -> Workspace:
    """The workspace acting for the actor ``key`` names (what cached reads call)."""
    name, role, grants = key
    return _opened().as_actor(Actor(name, role, frozenset(grants)))  # type: ignore[arg-type]


def workspace() -> Workspace:
    """The workspace acting for this session's signed-in user (their role holds on every action)."""
    return acting(actor_key())


def accounts() -> Users:
    """The accounts, as the sign-in page may use them: count, sign in, first admin, single sign-on."""
    return Users(_opened().engine, NOBODY)


def reload_vault() -> None:
    """Reads the secrets key again, after a rotation, for every session of this process."""
    _opened().vault = Vault.from_environment(db.workspace_dir())
