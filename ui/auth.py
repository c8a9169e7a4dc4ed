"""Signing in and out: the session's actor, the sign-in page's forms, single sign-on, the sidebar.

A session is signed in when ``st.session_state[SIGNED_IN]`` names an
account. :func:`resolve_session` runs first on every script run (app.py): it
reads that account from the store again, so a role changed, an account
disabled or deleted by an admin takes effect at the next click, and puts the
actor in the session for :mod:`ui.state`. Two ways in:

- a local account: user name and password (:meth:`core.security.Users.authenticate`,
  which locks an account after five failures in a row);
- OpenID Connect, when ``[auth]`` is configured in ``.streamlit/secrets.toml``:
  ``st.login()`` signs in at the provider, ``st.user`` carries the identity
  and :func:`oidc_actor` maps its email to an account (created as a newcomer
  on first sign-in).

While no account exists, the only thing the dashboard offers is the
creation of the first admin.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlparse

import streamlit as st
from streamlit.errors import StreamlitAuthError

from core.errors import AuthenticationFailedError, NotFoundError, TributaryError
from core.security import Actor, Users
from core.security.users import ADMIN_PASSWORD_ENV, ADMIN_USER_ENV, MIN_PASSWORD
from ui.feedback import show_error
from ui.i18n import t
from ui.state import ACTOR, SIGNED_IN, SIGNED_IN_WITH, accounts

#: A message for the sign-in page, set when a session was signed out for a reason.
NOTICE = "auth.notice"
#: Identity providers named after their metadata URL's host, for the "Sign in with …" button.
KNOWN_PROVIDERS = {
    "accounts.google.com": "Google",
    "login.microsoftonline.com": "Microsoft",
    "okta.com": "Okta",
    "auth0.com": "Auth0",
    "gitlab.com": "GitLab",
}


# -- the session -------------------------------------------------------------------
def resolve_session() -> Actor | None:
    """This run's actor: the signed-in account as the store has it now; None until someone signs in."""
    st.session_state.pop(ACTOR, None)
    users = accounts()
    name = st.session_state.get(SIGNED_IN)
    if name is None and _signed_in_at_provider() and users.count():
        try:
            name = sign_in(oidc_actor(users, st.user.to_dict()), "oidc").name
        except TributaryError as error:
            st.session_state[NOTICE] = error
            return None
    if name is None:
        return None
    try:
        actor = users.actor_of(str(name))
    except (NotFoundError, AuthenticationFailedError):
        forget()
        st.session_state[NOTICE] = AuthenticationFailedError(
            "this account was removed or disabled; signed out"
        )
        return None
    st.session_state[ACTOR] = actor
    return actor


def sign_in(actor: Actor, method: str) -> Actor:
    """Marks the session as signed in as ``actor`` ("password" or "oidc"): what the forms do."""
    st.session_state[SIGNED_IN] = actor.name
    st.session_state[SIGNED_IN_WITH] = method
    st.session_state[ACTOR] = actor
    return actor


def forget() -> None:
    """Drops everything the session holds: who signed in, and every widget's value."""
    st.session_state.clear()


def sign_out() -> None:
    """Ends the session (and the provider's cookie, for single sign-on), then shows the sign-in page."""
    with_provider = st.session_state.get(SIGNED_IN_WITH) == "oidc"
    forget()
    if with_provider:
        st.logout()
    st.rerun()


def oidc_actor(users: Users, user: Mapping[str, Any]) -> Actor:
    """The actor of an OpenID Connect identity (``st.user``): its email names the account.

    The account is created with the newcomers' role on first sign-in
    (:meth:`core.security.Users.sso`). An email the provider says it has not
    verified is refused: anyone could otherwise claim an admin's address.
    """
    if not user.get("is_logged_in"):
        raise AuthenticationFailedError("not signed in with the identity provider")
    if user.get("email_verified") is False:
        raise AuthenticationFailedError(
            "your identity provider has not verified your email address; verify it there, then sign in again"
        )
    email = str(user.get("email") or "").strip().lower()
    if not email:
        raise AuthenticationFailedError(
            "your identity provider sent no email address; ask an admin to request the email scope"
        )
    return users.sso(email)


def oidc_providers() -> dict[str | None, str]:
    """The OpenID Connect providers ``[auth]`` configures: ``st.login``'s argument -> button label.

    Empty when there is no ``[auth]`` section, or no secrets file at all.
    """
    try:
        section = st.secrets.get("auth")
    except FileNotFoundError:  # no .streamlit/secrets.toml (or one that does not parse)
        return {}
    if not isinstance(section, Mapping):
        return {}
    found: dict[str | None, str] = {}
    if "client_id" in section:  # the unnamed default provider
        found[None] = _provider_label(str(section.get("server_metadata_url", "")))
    for name, settings in section.items():
        if isinstance(settings, Mapping) and "client_id" in settings:
            found[str(name)] = str(name).replace("-", " ").title()
    return found


def _provider_label(metadata_url: str) -> str:
    host = urlparse(metadata_url).hostname or ""
    for domain, label in KNOWN_PROVIDERS.items():
        if host == domain or host.endswith("." + domain):
            return label
    return host or "single sign-on"


def _signed_in_at_provider() -> bool:
    return bool(oidc_providers()) and st.user.to_dict().get("is_logged_in") is True


# -- the sign-in page --------------------------------------------------------------
def first_start() -> bool:
    """Whether no account exists yet (the page then asks for the first admin)."""
    return accounts().count() == 0


def notice() -> None:
    """Why the session was signed out, or why single sign-on was refused, if so."""
    reason = st.session_state.pop(NOTICE, None)
    if isinstance(reason, TributaryError):
        show_error(reason)
        if _signed_in_at_provider() and st.button(
            t("Sign out of the identity provider"), key="auth.oidc.out"
        ):
            st.logout()


def first_admin_form() -> None:
    """First start: the first admin's name and password (twice); signs them in."""
    st.info(
        "**First start.** Create the administrator account. Until Tributary is configured for a team, the "
        'dashboard listens on this machine only (`server.address = "localhost"` in '
        "`.streamlit/config.toml`), so only someone at this computer can do this.",
        icon=":material/admin_panel_settings:",
    )
    st.caption(
        f"Unattended installs set `{ADMIN_USER_ENV}` and `{ADMIN_PASSWORD_ENV}` instead: the admin is then "
        "created when the dashboard starts."
    )
    with st.form("auth.first", enter_to_submit=True, clear_on_submit=True):
        name = st.text_input(t("Admin user name"), key="auth.first.name", autocomplete="username")
        password = st.text_input(
            t("Password"),
            type="password",
            key="auth.first.password",
            help=f"At least {MIN_PASSWORD} characters",
            autocomplete="new-password",
        )
        again = st.text_input(
            t("Password again"), type="password", key="auth.first.again", autocomplete="new-password"
        )
        created = st.form_submit_button(
            t("Create the admin and sign in"), type="primary", key="auth.first.save"
        )
    if not created:
        return
    if password != again:
        st.error(t("The two passwords differ: type the same password twice."), icon=":material/error:")
        return
    try:
        sign_in(accounts().create_first_admin(name, password), "password")
    except TributaryError as error:
        show_error(error)
        return
    st.rerun()


def provider_buttons() -> None:
    """One "Sign in with …" button per configured OpenID Connect provider."""
    for provider, label in oidc_providers().items():
        if st.button(
            f"Sign in with {label}", key=f"auth.oidc.{provider or 'default'}", icon=":material/login:"
        ):
            try:
                st.login(provider)
            except StreamlitAuthError as error:  # a missing redirect_uri or cookie_secret
                st.error(f"Single sign-on is not set up correctly: {error}", icon=":material/error:")


def password_form() -> None:
    """User name and password; signs in, or says why not (never echoing the password)."""
    with st.form("auth.sign_in", enter_to_submit=True, clear_on_submit=True):
        name = st.text_input(t("User name"), key="auth.name", autocomplete="username")
        password = st.text_input(
            t("Password"), type="password", key="auth.password", autocomplete="current-password"
        )
        submitted = st.form_submit_button(t("Sign in"), type="primary", key="auth.submit")
    if not submitted:
        return
    try:
        sign_in(accounts().authenticate(name, password), "password")
    except TributaryError as error:
        show_error(error)
        return
    st.rerun()


# -- the sidebar -------------------------------------------------------------------
def signed_in_as(actor: Actor) -> None:
    """The user's name and role in the sidebar, and t("Sign out")."""
    grants = "".join(f" · {grant.replace('_', ' ')}" for grant in sorted(actor.grants))
    name = "".join(f"\\{c}" if c in "\\`*_{}[]()#+-.!<>|~" else c for c in actor.name)
    st.sidebar.markdown(f":material/account_circle: **{name}** · {actor.role}{grants}")
    if st.sidebar.button(t("Sign out"), key="auth.sign_out", icon=":material/logout:"):
        sign_out()
