"""Real servers the tests use, and what happens when one is missing.

A test that needs a server calls :func:`require_service`. On a bare machine
it skips with a reason naming the server; with ``TRIBUTARY_REQUIRE_SERVICES=1``
(CI sets it) a missing server fails the test instead, so CI can never go
green by skipping.
"""

from __future__ import annotations

import os
import socket

import pytest

POSTGRES = ("PostgreSQL", "127.0.0.1", 5432)
MARIADB = ("MariaDB", "127.0.0.1", 3306)


def reachable(host: str, port: int, timeout: float = 1.0) -> bool:
    """Whether something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    """Skips (or, in CI, fails) the calling test when the server is not reachable."""
    if reachable(host, port):
        return
    message = f"{name} not reachable on {host}:{port}"
    if os.environ.get("TRIBUTARY_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{message}, and TRIBUTARY_REQUIRE_SERVICES=1 requires it")
    pytest.skip(message)
