"""Signing in: the gate on every page, first start, local accounts and lockout, single sign-on, roles in
the pages, cached reads that never cross from one role to another, and signing out."""

from __future__ import annotations

import inspect
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select
from streamlit.runtime.caching.cache_type import CacheType
from streamlit.runtime.caching.cache_utils import CachedFunc
from streamlit.testing.v1 import AppTest

from core.profiles.query import Profiles
from core.profiles.unified import HIDDEN
from core.security.users import MAX_FAILURES
from core.services import Workspace
from core.store import tables as t
from tests.pages.apptest import APP, PASSWORD, account, app, open_page, texts
from ui.auth import oidc_actor, oidc_providers
from ui.state import SIGNED_IN

PAGES = sorted(path.relative_to(APP.parent).as_posix() for path in (APP.parent / "pages").glob("*.py"))
AUTH = {
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": "a cookie secret for tests only",
    "client_id": "tributary",
    "client_secret": "not a real secret",
    "server_metadata_url": "https://accounts.google.com/.well-known/openid-configuration",
}


def _sign_in(at: AppTest, name: str, password: str) -> AppTest:
    at.text_input(key="auth.name").set_value(name)
    at.text_input(key="auth.password").set_value(password)
    return at.button(key="auth.submit").click().run()


def _shown(at: AppTest) -> str:
    """Every text the page sends, but for what a password box holds (the person's own typing)."""
    kinds = ["title", "markdown", "caption", "success", "error", "info", "warning", "exception", "toast"]
    return "\n".join(str(element.proto) for kind in kinds for element in at.get(kind))


def _titles(at: AppTest) -> list[str]:
    return [title.value for title in at.title]


def _frame_with(at: AppTest, *columns: str) -> pd.DataFrame:
    for element in at.dataframe:
        if set(columns) <= set(element.value.columns):
            return element.value
    raise AssertionError(f"no table with columns {columns}")


def _an_email() -> str:
    """An email that links a profile of the demo."""
    i = t.identities
    query = select(i.c.value).where(i.c.namespace == "email").order_by(i.c.value).limit(1)
    with Workspace.open().engine.connect() as conn:
        return str(conn.execute(query).scalar_one())


# -- the gate ----------------------------------------------------------------------
@pytest.mark.parametrize("page", PAGES)
def test_every_page_reached_without_signing_in_shows_the_sign_in_page(page: str) -> None:
    account("admin")  # not a first start
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.switch_page(page).run()  # the page's own address, as a link or a bookmark opens it
    assert not at.exception, at.exception
    assert _titles(at) == ["Sign in"]
    assert at.text_input(key="auth.name") is not None
    assert not at.sidebar.button  # no user, no "Sign out"


@pytest.mark.parametrize("page", ["pages/runs.py", "pages/admin.py", "pages/sources.py"])
def test_a_first_deep_link_after_a_restart_shows_the_sign_in_page_too(
    page: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from streamlit.runtime.pages_manager import PagesManager

    monkeypatch.setattr(PagesManager, "uses_pages_directory", True)  # a fresh server: legacy pages/ mode
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.switch_page(page).run()
    assert not at.exception, at.exception
    assert _titles(at) == ["Sign in"]


def test_signing_in_at_a_page_address_opens_that_page() -> None:
    account("editor")
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.switch_page("pages/runs.py").run()
    _sign_in(at, "editor", PASSWORD)
    assert not at.exception, at.exception
    assert _titles(at) == ["Runs"]
    assert "**editor** · editor" in texts(at.sidebar.markdown)


# -- first start and local accounts ------------------------------------------------
def test_first_start_creates_the_admin_and_signs_them_in(empty_store: Path) -> None:
    at = app(as_user=None).run()
    assert _titles(at) == ["Sign in"]
    first_start = texts(at.info)
    assert "First start" in first_start and "this machine only" in first_start
    assert "TRIBUTARY_ADMIN_USER" in texts(at.caption)

    at.text_input(key="auth.first.name").set_value("ada")
    at.text_input(key="auth.first.password").set_value("twelve chars long")
    at.text_input(key="auth.first.again").set_value("twelve chars lung")
    at.button(key="auth.first.save").click().run()
    assert "The two passwords differ" in texts(at.error)
    assert Workspace.open().users.count() == 0

    at.text_input(key="auth.first.name").set_value("ada")
    at.text_input(key="auth.first.password").set_value("too short")
    at.text_input(key="auth.first.again").set_value("too short")
    at.button(key="auth.first.save").click().run()
    assert "at least 12 characters" in texts(at.error)

    at.text_input(key="auth.first.name").set_value("ada")
    at.text_input(key="auth.first.password").set_value(PASSWORD)
    at.text_input(key="auth.first.again").set_value(PASSWORD)
    at.button(key="auth.first.save").click().run()
    assert not at.exception, at.exception
    assert _titles(at) == ["Overview"]
    assert "**ada** · admin" in texts(at.sidebar.markdown)
    assert PASSWORD not in _shown(at)
    assert Workspace.open().users.authenticate("ada", PASSWORD).role == "admin"

    later = app(as_user=None).run()  # the next visitor signs in: no second "first admin"
    assert later.text_input(key="auth.name") is not None
    assert not [box for box in later.text_input if box.key == "auth.first.name"]


def test_an_unattended_install_creates_the_admin_from_the_environment(
    empty_store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRIBUTARY_ADMIN_USER", "ops")
    monkeypatch.setenv("TRIBUTARY_ADMIN_PASSWORD", PASSWORD)
    at = app(as_user=None).run()
    assert not [box for box in at.text_input if box.key == "auth.first.name"]
    _sign_in(at, "ops", PASSWORD)
    assert _titles(at) == ["Overview"] and "**ops** · admin" in texts(at.sidebar.markdown)


def test_a_wrong_password_is_refused_with_a_message_that_never_echoes_it() -> None:
    account("editor")
    at = _sign_in(app(as_user=None).run(), "editor", "not the password at all")
    assert not at.exception
    assert _titles(at) == ["Sign in"]
    assert "Wrong user name or password." in texts(at.error)
    assert "not the password at all" not in _shown(at)
    assert at.get("form")[0].proto.form.clear_on_submit  # the browser empties the form after each try

    at = _sign_in(app(as_user=None).run(), "nobody-here", PASSWORD)
    assert "Wrong user name or password." in texts(at.error)  # the same words: names are not revealed


def test_five_failures_lock_the_account_with_a_clear_message() -> None:
    name = "locky"
    account(name, "viewer", ())
    at = app(as_user=None).run()
    for _ in range(MAX_FAILURES):
        _sign_in(at, name, "guessing the password")
        assert "Wrong user name or password." in texts(at.error)
    _sign_in(at, name, PASSWORD)  # even the right password: locked
    assert _titles(at) == ["Sign in"]
    assert f"This account is locked after {MAX_FAILURES} failed sign-ins" in texts(at.error)
    assert "ask an admin" in texts(at.error)

    admin = open_page("pages/admin.py")
    admin.selectbox(key="admin.user").set_value(name).run()
    admin.button(key="admin.unlock").click().run()
    assert f"Unlocked **{name}**" in texts(admin.success)
    assert _titles(_sign_in(app(as_user=None).run(), name, PASSWORD)) == ["Overview"]


def test_signing_out_clears_the_session() -> None:
    at = open_page("pages/runs.py")
    at.toggle(key="runs.failures").set_value(True).run()
    assert at.session_state[SIGNED_IN] == "admin" and at.session_state["runs.failures"] is True
    at.sidebar.button(key="auth.sign_out").click().run()
    assert not at.exception, at.exception
    assert _titles(at) == ["Sign in"]
    assert SIGNED_IN not in at.session_state and "runs.failures" not in at.session_state


def test_a_disabled_account_is_signed_out_at_its_next_click() -> None:
    account("short-lived", "editor", ())
    at = open_page("pages/overview.py", as_user="short-lived")
    Workspace.open().users.update("short-lived", disabled=True)
    at.run()
    assert _titles(at) == ["Sign in"]
    assert "removed or disabled" in texts(at.error)
    Workspace.open().users.delete("short-lived")


# -- roles in the pages ------------------------------------------------------------
def test_viewers_and_editors_cannot_open_the_admin_page() -> None:
    for user in ("viewer", "editor"):
        at = open_page(as_user=user)
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            at.switch_page("pages/admin.py")  # not in their navigation
        direct = app(as_user=user)
        direct.switch_page("pages/admin.py").run()  # its address, typed
        assert not direct.exception
        assert "Admins can open Admin." in texts(direct.info)
        assert not direct.get("tabs") and not [f for f in direct.dataframe if "username" in f.value.columns]


def test_a_viewer_sees_no_editor_pages_and_is_told_why() -> None:
    at = open_page(as_user="viewer")
    assert "**viewer** · viewer" in texts(at.sidebar.markdown)
    assert "Sources, Preview, Mapping and Alerts are for editors and admins" in texts(at.sidebar.caption)
    for page in ("pages/sources.py", "pages/preview.py", "pages/mapping.py", "pages/alerts.py"):
        with pytest.raises(ValueError):
            at.switch_page(page)
    direct = app(as_user="viewer")
    direct.switch_page("pages/sources.py").run()
    assert "Editors and admins can open Sources." in texts(direct.info)
    assert not direct.get("form")


def test_a_viewer_sees_dataflows_and_runs_with_the_actions_disabled() -> None:
    at = open_page("pages/dataflows.py", as_user="viewer")
    assert not at.exception and not at.error, texts(at.error)
    assert "Editors and admins can run, schedule and create dataflows." in texts(at.caption)
    assert at.button(key="dataflows.run").disabled
    assert at.button(key="dataflows.schedule.save").disabled
    with pytest.raises(Exception, match="disabled"):
        at.button(key="dataflows.run").click()

    runs = open_page("pages/runs.py", as_user="viewer")
    assert not runs.exception and not runs.error, texts(runs.error)
    groups = [frame.value for frame in runs.dataframe if {"code", "rows"} <= set(frame.value.columns)]
    if not groups:
        pytest.skip("the demo's runs quarantined nothing")
    assert "examples" not in groups[0].columns  # they quote source rows
    assert "can see and download quarantined rows" in texts(runs.caption)
    assert not runs.get("download_button")


def test_a_viewer_granted_personal_data_sees_quarantined_rows_but_cannot_replay() -> None:
    at = open_page("pages/runs.py", as_user="granted")
    assert not at.exception and not at.error, texts(at.error)
    if not at.get("download_button"):
        pytest.skip("the demo's runs quarantined nothing")
    assert "examples" in _frame_with(at, "code", "rows").columns
    assert at.button(key="runs.replay").disabled
    assert "Editors and admins can replay runs." in texts(at.caption)


def test_a_viewers_profile_shows_hidden_personal_values_and_no_export() -> None:
    email = _an_email()
    at = open_page("pages/profiles.py", as_user="viewer")
    at.selectbox(key="profiles.namespace").set_value("email").run()
    at.text_input(key="profiles.value").set_value(email).run()
    assert not at.exception and not at.error, texts(at.error)
    attributes = _frame_with(at, "attribute", "value").set_index("attribute")["value"]
    assert attributes["personalEmail.address"] == HIDDEN
    identities = _frame_with(at, "namespace", "value", "dataflow")
    assert set(identities.loc[identities["namespace"] == "email", "value"]) == {HIDDEN}
    graph = at.get("graphviz_chart")[0].proto.spec
    assert email not in _shown(at) + graph + "".join(f.value.to_csv() for f in at.dataframe)
    assert f'"v:email:{HIDDEN}:' in graph and f'"v:email:{HIDDEN}"' not in graph  # one hidden node per record
    assert not at.get("download_button")
    assert "can export profiles" in texts(at.caption)
    assert at.button(key="profiles.rules.save").disabled  # identity rules are an admin's


# -- cached reads ------------------------------------------------------------------
def test_a_viewer_never_gets_an_admins_cached_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    """The caches are shared by every session of the server: each read is keyed by the actor."""
    email = _an_email()
    merged: list[str] = []
    original = Profiles.get

    def counted(self: Profiles, profile_id: str, policy: str | None = None):  # type: ignore[no-untyped-def]
        merged.append(self.workspace.actor.role)
        return original(self, profile_id, policy)

    monkeypatch.setattr(Profiles, "get", counted)

    def profile_as(user: str) -> pd.Series:
        at = open_page("pages/profiles.py", as_user=user)
        at.selectbox(key="profiles.namespace").set_value("email").run()
        at.text_input(key="profiles.value").set_value(email).run()
        assert not at.exception, at.exception
        return _frame_with(at, "attribute", "value").set_index("attribute")["value"]

    assert profile_as("admin")["personalEmail.address"] == email
    assert profile_as("admin")["personalEmail.address"] == email
    assert merged == ["admin"]  # the second look came from the cache: the cache is shared
    assert profile_as("viewer")["personalEmail.address"] == HIDDEN
    assert merged == ["admin", "viewer"]  # merged again for the viewer, never served the admin's


def test_every_cached_read_in_ui_is_keyed_by_the_actor() -> None:
    import importlib

    ui = APP.parent / "ui"
    cached = {}
    for path in sorted(ui.glob("*.py")):
        module = importlib.import_module(f"ui.{path.stem}")
        for name, value in vars(module).items():
            if isinstance(value, CachedFunc) and value._info.cache_type == CacheType.DATA:
                cached[f"{module.__name__}.{name}"] = value._info.func
    assert len(cached) >= 20
    unkeyed = [
        name for name, func in cached.items() if next(iter(inspect.signature(func).parameters)) != "actor"
    ]
    assert unkeyed == []


# -- single sign-on ----------------------------------------------------------------
def test_single_sign_on_offers_the_provider_and_maps_st_user_to_an_account(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    account("admin")
    at = app(as_user=None)
    at.secrets["auth"] = AUTH
    at.user = {"is_logged_in": False}
    at.run()
    assert [button.label for button in at.button if button.key == "auth.oidc.default"] == [
        "Sign in with Google"
    ]
    assert at.text_input(key="auth.name") is not None  # local accounts still sign in

    monkeypatch.setenv("TRIBUTARY_OIDC_DEFAULT_ROLE", "editor")
    at.user = {"is_logged_in": True, "email": "Olga.Newcomer@Example.com", "email_verified": True}
    at.run()
    assert not at.exception, at.exception
    assert _titles(at) == ["Overview"]
    assert "**olga.newcomer@example.com** · editor" in texts(at.sidebar.markdown).replace("\\", "")
    assert Workspace.open().users.actor_of("olga.newcomer@example.com").role == "editor"

    at.sidebar.button(key="auth.sign_out").click().run()  # st.logout(): the provider's cookie goes too
    assert at.user.get("is_logged_in") is False
    assert _titles(at) == ["Sign in"]


def test_single_sign_on_refuses_an_unverified_email(monkeypatch: pytest.MonkeyPatch) -> None:
    account("admin")
    at = app(as_user=None)
    at.secrets["auth"] = AUTH
    at.user = {"is_logged_in": True, "email": "admin", "email_verified": False}
    at.run()
    assert _titles(at) == ["Sign in"]
    assert "has not verified your email address" in texts(at.error)


def test_the_oidc_glue_maps_an_identity_to_an_actor(empty_store: Path) -> None:
    users = Workspace.open().users
    users.create_first_admin("ada", PASSWORD)
    newcomer = oidc_actor(users, {"is_logged_in": True, "email": " Bob@Example.com ", "name": "Bob"})
    assert (newcomer.name, newcomer.role) == ("bob@example.com", "viewer")
    users.update("bob@example.com", role="editor")
    assert oidc_actor(users, {"is_logged_in": True, "email": "bob@example.com"}).role == "editor"
    with pytest.raises(Exception, match="no email"):
        oidc_actor(users, {"is_logged_in": True, "sub": "1234"})
    with pytest.raises(Exception, match="not signed in"):
        oidc_actor(users, {"email": "bob@example.com"})
    users.update("bob@example.com", disabled=True)
    with pytest.raises(Exception, match="disabled"):
        oidc_actor(users, {"is_logged_in": True, "email": "bob@example.com"})


def test_no_secrets_file_means_no_single_sign_on() -> None:
    assert oidc_providers() == {}  # outside a run, without .streamlit/secrets.toml: no error either
