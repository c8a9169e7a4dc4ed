"""Azure Blob storage on 127.0.0.1: Azurite (from npm), as the ``azurite_server`` fixture."""

from __future__ import annotations

import collections
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.services import reachable
from tests.storage_servers.common import (
    HOST,
    INSTALL_HINT,
    SERVERS_SCRIPT,
    STARTUP_TIMEOUT,
    _session_server,
    _wait_until,
    require_package,
    require_tool,
    unavailable,
)

AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
"""Azurite's well-known development account and key (public; they only open Azurite)."""


def tools_cache_dir() -> Path:
    """Where .ci/storage-servers.sh installs test tools: $TRIBUTARY_TEST_CACHE or ~/.cache/tributary-test."""
    return Path(os.environ.get("TRIBUTARY_TEST_CACHE") or Path.home() / ".cache" / "tributary-test")


@dataclass(frozen=True)
class AzuriteEndpoint:
    """Azure Blob storage on 127.0.0.1 (Azurite) with its development account."""

    blob_endpoint: str
    account_name: str = AZURITE_ACCOUNT
    account_key: str = AZURITE_KEY

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={self.account_name};"
            f"AccountKey={self.account_key};BlobEndpoint={self.blob_endpoint};"
        )

    def url(self, path: str) -> str:
        """The fsspec URL of ``container/blob`` (``az://container/blob``)."""
        return f"az://{path.lstrip('/')}"

    @property
    def storage_options(self) -> dict[str, Any]:
        """Options for adlfs (``fsspec.filesystem("az", **options)``)."""
        return {"connection_string": self.connection_string}

    def service_client(self):
        """An azure-storage-blob ``BlobServiceClient`` for this server."""
        blob = require_package("azure.storage.blob", f"azure-storage-blob is needed: {INSTALL_HINT}")
        return blob.BlobServiceClient.from_connection_string(self.connection_string)


def make_container(server: AzuriteEndpoint, name: str, exist_ok: bool = False) -> str:
    """Creates blob container ``name`` on ``server``; returns the name."""
    from azure.core.exceptions import ResourceExistsError

    try:
        server.service_client().create_container(name)
    except ResourceExistsError:
        if not exist_ok:
            raise
    return name


def azurite_command() -> str:
    """The ``azurite-blob`` program: on PATH, else the one .ci/storage-servers.sh installs."""
    on_path = shutil.which("azurite-blob")
    if on_path:
        return on_path
    cached = tools_cache_dir() / "azurite" / "node_modules" / ".bin" / "azurite-blob"
    if cached.exists():
        return str(cached)
    unavailable(
        "Azurite (azurite-blob) not found on PATH nor under "
        f"{cached.parent}: run `bash {SERVERS_SCRIPT}` (or `npm install -g azurite`)"
    )


class _OutputTail:
    """Reads a child's output in a thread (so its pipe never fills), keeping the last lines."""

    def __init__(self, stream) -> None:
        self.lines: collections.deque[str] = collections.deque(maxlen=200)
        self.changed = threading.Condition()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        for line in stream:
            with self.changed:
                self.lines.append(line.rstrip())
                self.changed.notify_all()

    def wait_for(self, pattern: re.Pattern[str], process: subprocess.Popen, timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                for line in self.lines:
                    if found := pattern.search(line):
                        return found
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"Azurite did not start (exit code {process.poll()}):\n{self.text()}")
                self.changed.wait(0.1)

    def text(self) -> str:
        return "\n".join(self.lines)


def _die_with_parent() -> None:
    """In the child, before exec: Linux sends it SIGTERM if pytest dies without stopping it."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the cleanup at pytest's end still stops it
        pass


def _stop_process(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)  # Azurite closes cleanly on SIGINT
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def _start_azurite(location: Path) -> tuple[AzuriteEndpoint, Callable[[], None]]:
    require_tool("node", f"Node.js runs Azurite: run `bash {SERVERS_SCRIPT}` (or apt-get install nodejs npm)")
    command = azurite_command()
    require_package("azure.storage.blob", f"azure-storage-blob creates containers: {INSTALL_HINT}")
    process = subprocess.Popen(
        [
            command,
            "--blobHost",
            HOST,
            "--blobPort",
            "0",  # Azurite picks a free port and says which
            "--location",
            str(location),
            "--silent",
            "--skipApiVersionCheck",
            "--loose",
            "--disableTelemetry",  # else it reports to an Azure host: no traffic off this machine
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=_die_with_parent,
    )
    try:
        output = _OutputTail(process.stdout)
        found = output.wait_for(re.compile(r"listens on http://127\.0\.0\.1:(\d+)"), process, STARTUP_TIMEOUT)
        port = int(found.group(1))
        _wait_until(lambda: reachable(HOST, port), "Azurite")
    except BaseException:
        _stop_process(process)
        raise
    return AzuriteEndpoint(blob_endpoint=f"http://{HOST}:{port}/{AZURITE_ACCOUNT}"), lambda: _stop_process(
        process
    )


@pytest.fixture(scope="session")
def azurite_server(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> AzuriteEndpoint:
    """Azure Blob storage (Azurite, from npm) on 127.0.0.1, for the whole session."""
    return _session_server(
        "azurite", pytestconfig, lambda: _start_azurite(tmp_path_factory.mktemp("azurite"))
    )
