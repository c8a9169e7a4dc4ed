"""Page-test fixtures: one demo workspace for the session, fresh Streamlit caches for each test.

Pages need a signed-in user: tests open them with ``tests.pages.apptest.open_page``,
which signs one in (an admin unless ``as_user`` says otherwise).

The demo (a connection, two dataflows, their first runs) is built by the
first page that opens the workspace; later tests reuse it. Tests that write
(a connection, a run) add to it in ways the others' assertions allow.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st


def _clear_caches() -> None:
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture(scope="session")
def demo_workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A workspace folder and SQLite store for the whole page-test session."""
    folder = tmp_path_factory.mktemp("dashboard") / "workspace"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TRIBUTARY_WORKSPACE", str(folder))
        patch.setenv("TRIBUTARY_DATABASE_URL", f"sqlite:///{folder / 'tributary.db'}")
        patch.delenv("TRIBUTARY_SECRET_KEY", raising=False)
        patch.delenv("TRIBUTARY_DEMO", raising=False)
        _clear_caches()
        yield folder
        _clear_caches()


@pytest.fixture(autouse=True)
def fresh_caches(demo_workspace: Path) -> Iterator[None]:
    """Every test starts with empty caches, so it sees the store as it is now."""
    _clear_caches()
    yield
    _clear_caches()


@pytest.fixture
def empty_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A store of its own, without the demo and without any account: a first start."""
    folder = tmp_path / "workspace"
    monkeypatch.setenv("TRIBUTARY_WORKSPACE", str(folder))
    monkeypatch.setenv("TRIBUTARY_DATABASE_URL", f"sqlite:///{folder / 'tributary.db'}")
    monkeypatch.setenv("TRIBUTARY_DEMO", "0")
    _clear_caches()
    yield folder
    _clear_caches()
