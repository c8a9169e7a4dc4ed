"""Admin page: accounts (add, role and grants, disable, password, delete, never the last admin), the audit
log by type with secrets only ever "changed", and the secrets key rotation."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from streamlit.testing.v1 import AppTest

from core.errors import AuthenticationFailedError
from core.services import Workspace
from tests.pages.apptest import PASSWORD, open_page, texts

PAGE = "pages/admin.py"
SECRETS = ("first-secret-value-123", "second-secret-value-456")


def _users(at: AppTest) -> pd.DataFrame:
    return next(f.value for f in at.dataframe if "username" in f.value.columns).set_index("username")


def _shown(at: AppTest) -> str:
    kinds = ["title", "markdown", "caption", "success", "error", "info", "warning", "exception"]
    parts = [str(element.proto) for kind in kinds for element in at.get(kind)]
    return "\n".join(parts + [frame.value.to_csv() for frame in at.dataframe])


def _add(at: AppTest, name: str, role: str, *, sso: bool = False, password: str = PASSWORD) -> AppTest:
    at.text_input(key="admin.add.name").set_value(name)
    at.selectbox(key="admin.add.role").set_value(role)
    at.checkbox(key="admin.add.sso").set_value(sso)
    if not sso:
        at.text_input(key="admin.add.password").set_value(password)
        at.text_input(key="admin.add.again").set_value(password)
    return at.button(key="admin.add.save").click().run()


def _save_connection(password: str) -> None:
    config = {"host": "db.internal", "database": "shop", "username": "shop", "password": password}
    Workspace.open().save_connection("shop", "postgres", config)


def test_an_admin_adds_changes_disables_and_deletes_accounts(empty_store: Path) -> None:
    at = open_page(PAGE)
    assert not at.exception and not at.error, texts(at.error)
    assert [tab.label for tab in at.tabs] == ["Users", "Audit log", "Secrets key"]
    assert _users(at).at["admin", "role"] == "admin"

    _add(at, "pat", "editor", password="short")
    assert "at least 12 characters" in texts(at.error)
    _add(at, "pat", "editor")
    assert not at.exception
    assert "Added **pat** (editor)." in texts(at.success)
    assert _users(at).at["pat", "role"] == "editor"
    assert PASSWORD not in _shown(at)

    _add(at, "Sam@Example.com", "viewer", sso=True)
    assert "Added **sam@example.com** (viewer, single sign-on)." in texts(at.success)
    users = Workspace.open().users
    try:
        users.authenticate("sam@example.com", "")
        raise AssertionError("an SSO-only account has no password")
    except AuthenticationFailedError:
        pass

    at.selectbox(key="admin.user").set_value("pat").run()
    at.selectbox(key="admin.role.pat").set_value("viewer")
    at.checkbox(key="admin.grant.pat").check()
    at.button(key="admin.edit.save").click().run()
    assert "Saved **pat**: viewer." in texts(at.success)
    assert users.actor_of("pat").grants == frozenset({"personal_data"})

    at.button(key="admin.toggle").click().run()
    assert "Disabled **pat**." in texts(at.success) and bool(_users(at).at["pat", "disabled"])
    at.button(key="admin.toggle").click().run()
    assert "Enabled **pat**." in texts(at.success) and not bool(_users(at).at["pat", "disabled"])

    new_password = "a brand new password"
    at.text_input(key="admin.password.password").set_value(new_password)
    at.text_input(key="admin.password.again").set_value(new_password)
    at.button(key="admin.password.save").click().run()
    assert "Set a new password for **pat**." in texts(at.success)
    assert users.authenticate("pat", new_password).name == "pat"

    at.button(key="admin.delete").click().run()
    assert "Deleted **pat**." in texts(at.success)
    assert "pat" not in _users(at).index


def test_the_last_admin_cannot_be_removed_or_demoted(empty_store: Path) -> None:
    at = open_page(PAGE)
    at.selectbox(key="admin.user").set_value("admin").run()
    at.button(key="admin.delete").click().run()
    assert "this is the last admin: make another user admin first" in texts(at.error)
    at.selectbox(key="admin.role.admin").set_value("viewer")
    at.button(key="admin.edit.save").click().run()
    assert "this is the last admin" in texts(at.error)
    assert Workspace.open().users.actor_of("admin").role == "admin"


def test_the_audit_log_filters_by_type_and_shows_secrets_only_as_changed(empty_store: Path) -> None:
    at = open_page(PAGE)  # creates the admin account
    for secret in SECRETS:
        _save_connection(secret)
    at.run()
    at.selectbox(key="admin.audit.type").set_value("connection").run()
    entries = next(f.value for f in at.dataframe if "object_type" in f.value.columns)
    assert set(entries["object_type"]) == {"connection"}
    assert list(entries["action"]) == ["changed", "created"]  # newest first
    assert "password: set → changed" in entries["diff"].iloc[0]
    shown = _shown(at)
    assert not any(secret in shown for secret in SECRETS)

    at.selectbox(key="admin.audit.type").set_value("user").run()
    entries = next(f.value for f in at.dataframe if "object_type" in f.value.columns)
    assert set(entries["object_type"]) == {"user"} and "admin" in set(entries["object_name"])


def test_rotating_the_secrets_key_re_encrypts_every_secret_and_keeps_them_readable(empty_store: Path) -> None:
    from ui.state import _opened

    at = open_page(PAGE)
    _save_connection(SECRETS[0])
    before = (empty_store / "secret.key").read_bytes().splitlines()
    at.button(key="admin.rotate").click().run()
    assert not at.exception and not at.error, texts(at.error)
    assert "Re-encrypted 1 secret(s) with the new key." in texts(at.success)
    after = (empty_store / "secret.key").read_bytes().splitlines()
    assert len(after) == len(before) + 1 and after[1:] == before  # the new key first, the old kept
    assert Workspace.open().connector("shop").config.password.get_secret_value() == SECRETS[0]
    token = Workspace.open().store.secret_tokens(Workspace.open().store.connection_row("shop")["id"])[
        "password"
    ]
    assert _opened().vault.decrypt(token).get_secret_value() == SECRETS[0]  # this dashboard reads it too
    assert "rotated" in set(Workspace.open().audit_log(object_type="secrets_key")["action"])
