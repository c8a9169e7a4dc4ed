"""What every storage-server fixture shares: the missing-tool rule, unique names, one server per session."""

from __future__ import annotations

import importlib
import os
import secrets
import shutil
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any, NoReturn

import pytest

HOST = "127.0.0.1"
"""The only address any of these servers listens on."""

STARTUP_TIMEOUT = 30.0
"""Seconds a server may take to start before the fixture gives up (they take one or two)."""

INSTALL_HINT = "pip install -r requirements-dev.txt"
SERVERS_SCRIPT = ".ci/storage-servers.sh"


# --------------------------------------------------------------------------- missing tools


def unavailable(message: str) -> NoReturn:
    """Skips the calling test, or fails it when ``TRIBUTARY_REQUIRE_SERVICES=1`` (as in CI)."""
    if os.environ.get("TRIBUTARY_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{message}, and TRIBUTARY_REQUIRE_SERVICES=1 requires it", pytrace=False)
    pytest.skip(message)


def require_tool(name: str, reason: str) -> str:
    """The path of program ``name`` on PATH; skips (or, in CI, fails) the test if there is none.

    ``reason`` says what needs it and how to install it; it ends up in the skip message.
    """
    path = shutil.which(name)
    if path is None:
        unavailable(f"{name} not found on PATH: {reason}")
    return path


def require_package(module: str, reason: str) -> ModuleType:
    """Imports ``module``; skips (or, in CI, fails) the test if it is not installed."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        unavailable(f"Python package {module} not importable ({error}): {reason}")


def unique_name(prefix: str = "t") -> str:
    """A fresh bucket/container name, valid on S3, Azure and GCS (lower case, digits, dashes)."""
    return f"{prefix}-{secrets.token_hex(6)}"


# --------------------------------------------------------------------------- one server per session

_STARTED: dict[str, Any] = {}
"""kind -> endpoint, or the skip/fail outcome of starting it, for the rest of the session."""


def _session_server(kind: str, config: pytest.Config, start: Callable[[], tuple[Any, Callable[[], None]]]):
    """The running server of ``kind``, started on first use and stopped when pytest ends.

    Pytest makes one fixture definition per module that imports a fixture, and a
    session-scoped fixture is cached per definition: without this, each importing
    module would start its own server. Starting fails the same way for every test.
    """
    if kind not in _STARTED:
        try:
            endpoint, stop = start()
        except (pytest.skip.Exception, pytest.fail.Exception) as outcome:
            _STARTED[kind] = outcome
            raise
        _STARTED[kind] = endpoint

        def cleanup() -> None:
            _STARTED.pop(kind, None)
            stop()

        config.add_cleanup(cleanup)
    started = _STARTED[kind]
    if isinstance(started, pytest.skip.Exception | pytest.fail.Exception):
        raise started
    return started


def _wait_until(ready: Callable[[], bool], what: str, timeout: float = STARTUP_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not come up within {timeout:.0f}s")
        time.sleep(0.05)
