"""Local accounts: Argon2id hashes, first admin, lockout, roles and grants, and their audit trail."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from core.errors import AuthenticationFailedError, ConfigurationError, PermissionDeniedError
from core.security import Actor, Users
from core.security.users import MAX_FAILURES
from core.services import Workspace
from core.store import tables as t
from core.store.repository import utcnow

PASSWORD = "correct horse battery"


@pytest.fixture
def users(workspace: Workspace) -> Users:
    workspace.users.create_first_admin("ada", PASSWORD)
    return Users(workspace.engine, Actor("ada", "admin"))


def test_the_first_admin_is_created_once_and_passwords_are_stored_as_argon2_hashes(workspace) -> None:
    assert workspace.users.count() == 0
    actor = workspace.users.create_first_admin("ada", PASSWORD)
    assert actor == Actor("ada", "admin")
    with pytest.raises(ConfigurationError, match="an admin already exists"):
        workspace.users.create_first_admin("eve", PASSWORD)
    with workspace.engine.connect() as c:
        stored = c.execute(select(t.users.c.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def test_the_first_admin_can_come_from_the_environment(workspace, monkeypatch) -> None:
    monkeypatch.setenv("TRIBUTARY_ADMIN_USER", "ops")
    monkeypatch.setenv("TRIBUTARY_ADMIN_PASSWORD", PASSWORD)
    assert workspace.users.ensure_admin_from_environment() == "ops"
    assert workspace.users.ensure_admin_from_environment() is None  # only on first start
    assert workspace.users.authenticate("ops", PASSWORD).role == "admin"


def test_sign_in_refuses_a_wrong_password_or_name_with_the_same_message(users) -> None:
    assert users.authenticate(" ada ", PASSWORD) == Actor("ada", "admin")
    messages = set()
    for name, password in (("ada", "wrong password!!"), ("nobody", PASSWORD)):
        with pytest.raises(AuthenticationFailedError) as caught:
            users.authenticate(name, password)
        messages.add(caught.value.user_message)
    assert messages == {"wrong user name or password"}


def test_repeated_failures_lock_the_account_until_an_admin_unlocks_it(users) -> None:
    users.create("bob", PASSWORD, "editor")
    for _ in range(MAX_FAILURES):
        with pytest.raises(AuthenticationFailedError):
            users.authenticate("bob", "not his password")
    with pytest.raises(AuthenticationFailedError, match="locked"):
        users.authenticate("bob", PASSWORD)  # the right password does not open a locked account
    users.update("bob", unlock=True)
    assert users.authenticate("bob", PASSWORD).role == "editor"


def test_a_lock_expires(users, workspace) -> None:
    users.create("bob", PASSWORD, "editor")
    with workspace.engine.begin() as c:
        c.execute(
            update(t.users)
            .values(locked_until=utcnow() - timedelta(seconds=1))
            .where(t.users.c.username == "bob")
        )
    assert users.authenticate("bob", PASSWORD).name == "bob"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda u: u.create("x y", PASSWORD, "viewer"), "a user name starts"),
        (lambda u: u.create("carl", "short", "viewer"), "at least 12 characters"),
        (lambda u: u.create("carl", PASSWORD, "owner"), "role 'owner' is not one of"),
        (lambda u: u.create("carl", PASSWORD, "viewer", ["everything"]), "unknown grant"),
        (lambda u: u.create("ada", PASSWORD, "viewer"), "already exists"),
        (lambda u: u.update("ada", role="viewer"), "last admin"),
        (lambda u: u.update("ada", disabled=True), "last admin"),
        (lambda u: u.delete("ada"), "last admin"),
    ],
)
def test_account_changes_that_do_not_hold_say_why(users, call, message) -> None:
    with pytest.raises(ConfigurationError, match=message):
        call(users)


def test_only_admins_manage_accounts_but_anyone_changes_their_own_password(users, workspace) -> None:
    users.create("vic", PASSWORD, "viewer")
    as_vic = Users(workspace.engine, Actor("vic", "viewer"))
    for call in (
        lambda: as_vic.create("mallory", PASSWORD, "admin"),
        lambda: as_vic.update("vic", role="admin"),
        lambda: as_vic.update("ada", password="taken over now!"),
        lambda: as_vic.delete("ada"),
        lambda: as_vic.list(),
    ):
        with pytest.raises(PermissionDeniedError, match="needs the admin role"):
            call()
    as_vic.update("vic", password="a new long password")
    assert users.authenticate("vic", "a new long password").role == "viewer"


def test_a_disabled_account_cannot_sign_in_and_the_list_never_shows_hashes(users) -> None:
    users.create("bob", PASSWORD, "editor", ["personal_data"])
    users.update("bob", disabled=True)
    with pytest.raises(AuthenticationFailedError):
        users.authenticate("bob", PASSWORD)
    listed = users.list()
    assert list(listed["username"]) == ["ada", "bob"]
    assert "password_hash" not in listed.columns
    assert listed.set_index("username").loc["bob", "grants"] == ["personal_data"]


def test_sso_users_get_a_newcomer_account_on_first_sign_in(users, monkeypatch) -> None:
    assert users.sso("zoe@example.com") == Actor("zoe@example.com", "viewer")
    users.update("zoe@example.com", role="editor")
    assert users.sso("zoe@example.com").role == "editor"
    with pytest.raises(AuthenticationFailedError):
        users.authenticate("zoe@example.com", "")  # no password: OpenID Connect only
    monkeypatch.setenv("TRIBUTARY_OIDC_DEFAULT_ROLE", "editor")
    assert users.sso("yan@example.com").role == "editor"


def test_account_changes_and_sign_ins_are_audited_without_secrets(users, workspace) -> None:
    users.create("bob", PASSWORD, "viewer")
    users.update("bob", role="editor", password="another long password")
    users.authenticate("bob", "another long password")
    log = workspace.audit_log()
    rows = log[log["object_name"] == "bob"]
    assert rows["action"].tolist() == ["signed_in", "changed", "created"]
    changed = rows.iloc[1]
    assert changed["actor"] == "ada"
    assert changed["diff"]["role"] == {"before": "viewer", "after": "editor"}
    assert changed["diff"]["password"] == {"before": "set", "after": "changed"}
    assert PASSWORD not in str(log.to_dict()) and "another long password" not in str(log.to_dict())
