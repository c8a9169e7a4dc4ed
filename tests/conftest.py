"""Shared fixtures: an isolated workspace (store, key, data folder) per test."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.services import Workspace


@pytest.fixture
def workspace_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh workspace folder, with the store and key inside it."""
    folder = tmp_path / "workspace"
    monkeypatch.setenv("TRIBUTARY_WORKSPACE", str(folder))
    monkeypatch.setenv("TRIBUTARY_DATABASE_URL", f"sqlite:///{folder / 'tributary.db'}")
    monkeypatch.delenv("TRIBUTARY_SECRET_KEY", raising=False)
    return folder


@pytest.fixture
def workspace(workspace_dir: Path) -> Workspace:
    """An open, empty workspace."""
    return Workspace.open()
