"""The Admin page's widgets: accounts and roles, the audit log, and the secrets key rotation.

Every action goes through the engine as the signed-in admin
(:class:`core.security.Users`, :meth:`core.services.Workspace.audit_log`,
:func:`core.security.keys.rotate`), which checks the role again, writes the
audit log, and refuses what would lock everyone out (removing or demoting the
last admin): its message is shown as it is. Reads here are not cached: an
admin wants to see a change at once, and the tables are small.
"""

from __future__ import annotations

import os
from typing import Any

import pandas as pd
import streamlit as st

from core.secrets import KEY_ENV
from core.security import PERSONAL_DATA, ROLES
from core.security.keys import rotate
from core.security.users import MIN_PASSWORD
from core.store import db
from ui.feedback import reported_errors
from ui.i18n import t
from ui.state import reload_vault, workspace

#: What each role may do, as the role pickers explain it.
ROLE_HELP = (
    "**viewer**: dataflows, runs and profiles, personal data hidden unless granted · "
    "**editor**: also connections, mappings, dataflows, runs and alerts, with personal data · "
    "**admin**: also users, identity rules, merge policies and the secrets key"
)
#: The kinds of change the audit log records.
AUDIT_TYPES = ("user", "connection", "dataflow", "setting", "secrets_key")
DIFFERENT_PASSWORDS = "The two passwords differ: type the same password twice."
#: The session key of a message shown after the rerun that follows a change.
_DONE = "admin.done"


def accounts() -> pd.DataFrame:
    """Every account: username, role, grants, disabled, locked_until, last_login_at, created_at."""
    return workspace().users.list()


def done(message: str) -> None:
    """Reruns the page (so its tables show the change), then shows ``message`` once."""
    st.session_state[_DONE] = message
    st.rerun()


def last_change() -> None:
    """The message :func:`done` left, if any."""
    message = st.session_state.pop(_DONE, None)
    if message:
        st.success(message, icon=":material/check_circle:")


# -- users -------------------------------------------------------------------------
def users_table(frame: pd.DataFrame) -> None:
    """The accounts, with their state."""
    st.dataframe(
        frame.assign(grants=frame["grants"].map(lambda grants: list(grants or []))),
        hide_index=True,
        key="admin.users",
        column_config={
            "username": t("User"),
            "role": t("Role"),
            "grants": st.column_config.ListColumn("Grants"),
            "disabled": st.column_config.CheckboxColumn("Disabled"),
            "locked_until": st.column_config.DatetimeColumn("Locked until (UTC)", format="YYYY-MM-DD HH:mm"),
            "last_login_at": st.column_config.DatetimeColumn("Last sign-in (UTC)", format="YYYY-MM-DD HH:mm"),
            "created_at": st.column_config.DatetimeColumn("Created (UTC)", format="YYYY-MM-DD HH:mm"),
        },
    )


def add_user_form() -> None:
    """A new account: name, role, grant, and a password or single sign-on only."""
    with st.form("admin.add", clear_on_submit=True, enter_to_submit=False):
        name = st.text_input(
            t("User name *"),
            key="admin.add.name",
            help=t("For single sign-on, the person's email address as the identity provider sends it"),
        )
        role = st.selectbox(t("Role"), ROLES, key="admin.add.role", help=ROLE_HELP)
        granted = st.checkbox(
            t("Personal data"),
            key="admin.add.grant",
            help=t("Lets a viewer see personal data (editors always do)"),
        )
        sso_only = st.checkbox(
            t("Single sign-on only (no password)"),
            key="admin.add.sso",
            help=t("The person signs in with the identity provider configured in .streamlit/secrets.toml"),
        )
        password, again = _password_pair("admin.add")
        added = st.form_submit_button(t("Add the user"), type="primary", key="admin.add.save")
    if not added:
        return
    name = name.strip().lower() if sso_only else name.strip()
    if not sso_only and password != again:
        st.error(DIFFERENT_PASSWORDS, icon=":material/error:")
        return
    with reported_errors():
        grants = [PERSONAL_DATA] if granted else []
        workspace().users.create(name, None if sso_only else password, role, grants)
        done(f"Added **{name}** ({role}{', single sign-on' if sso_only else ''}).")


def change_user(frame: pd.DataFrame) -> None:
    """One account's role and grants, state (disable, unlock), password and deletion."""
    name = st.selectbox(t("User"), frame["username"], key="admin.user", width=420)
    row = frame.set_index("username").loc[name]
    grants = list(row["grants"] or [])
    with st.form(f"admin.edit.{name}", enter_to_submit=False):
        role = st.selectbox(
            t("Role"), ROLES, index=ROLES.index(row["role"]), key=f"admin.role.{name}", help=ROLE_HELP
        )
        granted = st.checkbox(t("Personal data"), value=PERSONAL_DATA in grants, key=f"admin.grant.{name}")
        saved = st.form_submit_button(t("Save role and grants"), key="admin.edit.save")
    if saved:
        _update(name, f"Saved **{name}**: {role}.", role=role, grants=[PERSONAL_DATA] if granted else [])
    with st.container(horizontal=True):
        disabled = bool(row["disabled"])
        if st.button(t("Enable") if disabled else t("Disable"), key="admin.toggle", icon=":material/block:"):
            _update(name, f"{'Enabled' if disabled else 'Disabled'} **{name}**.", disabled=not disabled)
        locked = _locked(row["locked_until"])
        if locked and st.button(t("Unlock"), key="admin.unlock", icon=":material/lock_open:"):
            _update(name, f"Unlocked **{name}**: they can sign in again.", unlock=True)
        with st.popover(t("Reset password"), icon=":material/password:", key="admin.password.open"):
            with st.form(f"admin.password.{name}", clear_on_submit=True, border=False):
                password, again = _password_pair("admin.password")
                reset = st.form_submit_button(t("Set the password"), key="admin.password.save")
            if reset:
                if password != again:
                    st.error(DIFFERENT_PASSWORDS, icon=":material/error:")
                else:
                    _update(name, f"Set a new password for **{name}**.", password=password)
        with st.popover(t("Delete"), icon=":material/delete:", key="admin.delete.open"):
            st.write(f"Delete the account **{name}**? The audit log keeps what they did.")
            if st.button(f"Delete {name}", type="primary", key="admin.delete"):
                with reported_errors():
                    workspace().users.delete(name)
                    st.session_state.pop("admin.user", None)
                    done(f"Deleted **{name}**.")


def _update(name: str, message: str, **changes: Any) -> None:
    with reported_errors():
        workspace().users.update(name, **changes)
        done(message)


def _password_pair(key: str) -> tuple[str, str]:
    password = st.text_input(
        t("Password"),
        type="password",
        key=f"{key}.password",
        help=f"At least {MIN_PASSWORD} characters",
        autocomplete="new-password",
    )
    again = st.text_input(
        t("Password again"), type="password", key=f"{key}.again", autocomplete="new-password"
    )
    return password, again


def _locked(until: Any) -> bool:
    if until is None or pd.isna(until):
        return False
    stamp = pd.Timestamp(until)
    return (stamp if stamp.tzinfo else stamp.tz_localize("UTC")) > pd.Timestamp.now(tz="UTC")


# -- audit log ---------------------------------------------------------------------
def audit_log() -> None:
    """Who changed what and when, newest first, by type; a secret's change reads "changed", never a value."""
    kind = st.selectbox(
        t("Type"),
        ["all", *AUDIT_TYPES],
        key="admin.audit.type",
        width=320,
        format_func=lambda kind: kind.replace("_", " "),
    )
    with reported_errors():
        entries = workspace().audit_log(500, None if kind == "all" else kind)
        st.dataframe(
            entries.assign(diff=entries["diff"].map(describe_diff)),
            hide_index=True,
            key="admin.audit",
            column_config={
                "at": st.column_config.DatetimeColumn("At (UTC)", format="YYYY-MM-DD HH:mm:ss"),
                "actor": "Who",
                "action": "Did",
                "object_type": t("Type"),
                "object_name": "Name",
                "diff": st.column_config.TextColumn(t("Changes"), width="large"),
            },
        )
        st.caption(f"The newest {len(entries):,} entries. `python -m core audit --json` prints them all.")


def describe_diff(diff: Any) -> str:
    """A diff as one line: "role: viewer → editor; password: set → changed"."""
    if not isinstance(diff, dict) or not diff:
        return ""

    def shown(value: Any) -> str:
        return "—" if value is None else str(value)

    return "; ".join(
        f"{field}: {shown(change.get('before'))} → {shown(change.get('after'))}"
        if isinstance(change, dict)
        else f"{field}: {shown(change)}"
        for field, change in diff.items()
    )


# -- secrets key -------------------------------------------------------------------
def rotate_key_panel() -> None:
    """Re-encrypts every stored credential with a new key, after a confirmation; says how many."""
    if os.environ.get(KEY_ENV, "").strip():
        st.caption(
            f"The key comes from `{KEY_ENV}`: put the new key first in it (comma separated, newest first), "
            "restart, rotate here, then remove the old key from the variable and restart again."
        )
    else:
        st.caption(
            "The key lives in the workspace's `secret.key` file: rotating adds a new key in front, keeps "
            "the older ones after it, and re-encrypts every stored credential with the new one."
        )
    with st.popover(t("Rotate the secrets key"), icon=":material/key:", key="admin.rotate.open"):
        st.write(
            "Re-encrypt every stored credential (connections, alert channels) with a new key, in one "
            "transaction? Back up the key first; other Tributary processes (the scheduler) must be "
            "restarted afterwards to read the new key."
        )
        if st.button(t("Rotate now"), type="primary", key="admin.rotate"):
            with reported_errors():
                opened = workspace()
                count = rotate(opened.engine, db.workspace_dir(), opened.actor)
                reload_vault()
                st.session_state[_DONE] = (
                    f"Re-encrypted {count:,} secret(s) with the new key. Restart the scheduler and any other "
                    "Tributary process so that they read it."
                )
                st.rerun()
