"""Real object-storage and SFTP servers on 127.0.0.1, as session-scoped pytest fixtures.

Each fixture starts its server once per test session, on a free loopback port,
and stops it when pytest ends. They never listen on anything but 127.0.0.1.
A test module uses them by importing them (pytest picks up imported fixtures)
and then asks for them by name as usual (``def test_x(s3_server): ...``)::

    from tests.storage_servers import s3_server as s3_server
    from tests.storage_servers import sftp_server as sftp_server

The redundant ``as`` marks a deliberate import: ruff then flags neither the
import (F401) nor each test parameter that shadows it (F811, which a plain
``from tests.storage_servers import s3_server  # noqa: F401`` still gets, once
per test). However many modules import a fixture, its server starts only once
per session.

=================  ============================================  ===========================
fixture            what it yields                                server
=================  ============================================  ===========================
``s3_server``      :class:`S3Endpoint`                           moto's server mode (PyPI)
``azurite_server`` :class:`AzuriteEndpoint`                      Azurite's blob service (npm)
``gcs_server``     :class:`GCSEndpoint`                          gcp-storage-emulator (PyPI)
``sftp_server``    :class:`SFTPEndpoint`                         asyncssh's SFTP server (PyPI)
=================  ============================================  ===========================

Each endpoint has ``url(path)`` (the fsspec URL of a path on it) and
``storage_options`` (the fsspec options that reach it), so a files-connector
test can do ``url_to_fs(server.url("bucket/in"), **server.storage_options)``.
The servers are shared by the whole session: give buckets and containers
unique names (:func:`unique_name`) and create them with :func:`make_bucket`,
:func:`make_container` or :func:`make_gcs_bucket`.

A missing tool or package follows the rule of :mod:`tests.services`: the test
skips with a reason saying how to install it on a bare machine, and fails with
``TRIBUTARY_REQUIRE_SERVICES=1`` (CI sets it). ``.ci/storage-servers.sh``
installs what a fresh machine lacks (Node.js and Azurite); the Python packages
are in requirements-dev.txt.
"""

from __future__ import annotations

import asyncio
import collections
import hmac
import importlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, NoReturn

import pytest

from tests.services import reachable

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


# --------------------------------------------------------------------------- S3 (moto)


@dataclass(frozen=True)
class S3Endpoint:
    """An S3 API on 127.0.0.1 (moto's server mode). Any bucket name works; create it first."""

    endpoint_url: str
    key: str
    secret: str
    region: str = "us-east-1"

    def url(self, path: str) -> str:
        """The fsspec URL of ``bucket/key`` (``s3://bucket/key``)."""
        return f"s3://{path.lstrip('/')}"

    @property
    def storage_options(self) -> dict[str, Any]:
        """Options for s3fs (``fsspec.filesystem("s3", **options)``)."""
        return {
            "key": self.key,
            "secret": self.secret,
            "endpoint_url": self.endpoint_url,
            "client_kwargs": {"region_name": self.region},
        }

    def client(self):
        """A boto3 S3 client for this server."""
        boto3 = require_package("boto3", f"moto[server] brings it: {INSTALL_HINT}")
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.key,
            aws_secret_access_key=self.secret,
            region_name=self.region,
        )


def make_bucket(server: S3Endpoint, name: str, exist_ok: bool = False) -> str:
    """Creates S3 bucket ``name`` on ``server``; returns the name.

    Raises ``FileExistsError`` if it exists, unless ``exist_ok`` (S3 itself, in
    us-east-1, silently accepts creating a bucket you already own).
    """
    client = server.client()
    if name in {bucket["Name"] for bucket in client.list_buckets()["Buckets"]}:
        if exist_ok:
            return name
        raise FileExistsError(f"S3 bucket {name} already exists")
    kwargs: dict[str, Any] = {"Bucket": name}
    if server.region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": server.region}
    client.create_bucket(**kwargs)
    return name


def _start_s3() -> tuple[S3Endpoint, Callable[[], None]]:
    require_package("moto.server", f"moto[server] is needed for the S3 server: {INSTALL_HINT}")
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address=HOST, port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        _wait_until(lambda: reachable(HOST, port), "moto S3 server")
    except BaseException:
        server.stop()
        raise
    return S3Endpoint(endpoint_url=f"http://{host}:{port}", key="testing", secret="testing"), server.stop


@pytest.fixture(scope="session")
def s3_server(pytestconfig: pytest.Config) -> S3Endpoint:
    """An S3 API (moto's server mode) on 127.0.0.1, for the whole session."""
    return _session_server("s3", pytestconfig, _start_s3)


# --------------------------------------------------------------------------- Azure Blob (Azurite)

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


# --------------------------------------------------------------------------- GCS (gcp-storage-emulator)


@dataclass(frozen=True)
class GCSEndpoint:
    """The GCS JSON API on 127.0.0.1 (gcp-storage-emulator, in memory). Needs no credentials."""

    endpoint_url: str
    project: str = "test-project"

    def url(self, path: str) -> str:
        """The fsspec URL of ``bucket/object`` (``gs://bucket/object``)."""
        return f"gs://{path.lstrip('/')}"

    @property
    def storage_options(self) -> dict[str, Any]:
        """Options for gcsfs (``fsspec.filesystem("gs", **options)``).

        ``retry_timeout=0``: gcsfs 2026.10's (default-on) experimental file system asks
        the Storage Control gRPC API for each bucket's layout before each operation,
        retrying for 60 s; the emulator has no gRPC API, so make that probe give up
        at once (gcsfs then falls back to the JSON API). Older gcsfs ignores it.
        ``GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT=false``, set before gcsfs is imported,
        turns the probe off altogether.
        """
        return {
            "endpoint_url": self.endpoint_url,
            "project": self.project,
            "token": "anon",
            "retry_timeout": 0,
        }

    def request(self, method: str, path: str, body: bytes | None = None, **headers: str) -> bytes:
        """One JSON API call (``path`` from ``/storage/v1/...`` or ``/upload/...``); returns the body."""
        request = urllib.request.Request(self.endpoint_url + path, data=body, method=method, headers=headers)
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.read()

    def put_object(self, bucket: str, name: str, data: bytes) -> None:
        """Uploads ``data`` as object ``name`` of ``bucket``."""
        query = urllib.parse.urlencode({"uploadType": "media", "name": name})
        self.request("POST", f"/upload/storage/v1/b/{bucket}/o?{query}", data)

    def get_object(self, bucket: str, name: str) -> bytes:
        """The content of object ``name`` of ``bucket``."""
        return self.request("GET", f"/storage/v1/b/{bucket}/o/{urllib.parse.quote(name, safe='')}?alt=media")


def make_gcs_bucket(server: GCSEndpoint, name: str, exist_ok: bool = False) -> str:
    """Creates GCS bucket ``name`` on ``server``; returns the name."""
    query = urllib.parse.urlencode({"project": server.project})
    body = json.dumps({"name": name}).encode()
    try:
        server.request("POST", f"/storage/v1/b?{query}", body, **{"Content-Type": "application/json"})
    except urllib.error.HTTPError as error:
        if not (exist_ok and error.code == 409):
            raise
    return name


def _start_gcs() -> tuple[GCSEndpoint, Callable[[], None]]:
    require_package("gcp_storage_emulator.server", f"gcp-storage-emulator is the GCS server: {INSTALL_HINT}")
    from gcp_storage_emulator.server import create_server

    # Port 0 and reading the bound port back: the emulator binds in its own thread and,
    # were the port taken, would wait forever for a server that never starts.
    server = create_server(HOST, 0, in_memory=True)
    server.start()
    try:
        try:
            port = server._api._httpd.server_address[1]  # no public accessor in gcp-storage-emulator
        except AttributeError as error:  # only if the emulator's internals change
            raise RuntimeError("cannot tell gcp-storage-emulator's port; check its pinned version") from error
        _wait_until(lambda: reachable(HOST, port), "gcp-storage-emulator")
    except BaseException:
        server.stop()
        raise
    return GCSEndpoint(endpoint_url=f"http://{HOST}:{port}"), server.stop


@pytest.fixture(scope="session")
def gcs_server(pytestconfig: pytest.Config) -> GCSEndpoint:
    """The GCS JSON API (gcp-storage-emulator, in memory) on 127.0.0.1, for the whole session."""
    return _session_server("gcs", pytestconfig, _start_gcs)


# --------------------------------------------------------------------------- SFTP (asyncssh)


@dataclass(frozen=True)
class SFTPEndpoint:
    """An SFTP server on 127.0.0.1 serving folder ``root`` as ``/``, for one user.

    The user logs in with ``password`` or with the throwaway key ``private_key``
    (RSA, PEM "RSA PRIVATE KEY"; ``private_key_encrypted`` is the same key under
    ``private_key_passphrase``; ``private_key_path`` is a file with the plain one).
    ``known_hosts_line`` / ``known_hosts_path`` hold the server's host key for
    ``[127.0.0.1]:port``. Shell and exec requests are refused: SFTP only.
    """

    host: str
    port: int
    username: str
    password: str
    private_key: str
    private_key_encrypted: str
    private_key_passphrase: str
    public_key: str
    root: Path
    known_hosts_line: str
    known_hosts_path: Path
    private_key_path: Path
    host_key_fingerprint: str

    def url(self, path: str) -> str:
        """The fsspec URL of ``path`` on the server (``sftp://user@127.0.0.1:port/path``)."""
        return f"sftp://{self.username}@{self.host}:{self.port}/{path.lstrip('/')}"

    @property
    def storage_options(self) -> dict[str, Any]:
        """Options for sshfs (``fsspec.filesystem("sftp", **options)``): password login, host key checked."""
        return {
            "host": self.host,
            "port": self.port,
            "username": self.username,
            "password": self.password,
            "known_hosts": str(self.known_hosts_path),
        }


class _SFTPThread:
    """An asyncssh SFTP server running in its own thread and event loop."""

    def __init__(self, asyncssh: ModuleType, root: Path, username: str, password: str, client_key) -> None:
        self.asyncssh = asyncssh
        self.root = root
        self.username = username
        self.password = password
        self.authorized = client_key.export_public_key("openssh")
        self.host_key = asyncssh.generate_private_key("ssh-ed25519")
        self.connections: set = set()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="sftp-server", daemon=True)
        self.acceptor = None

    def start(self) -> int:
        self.thread.start()
        self.acceptor = asyncio.run_coroutine_threadsafe(self._listen(), self.loop).result(STARTUP_TIMEOUT)
        return self.acceptor.get_port()

    def stop(self) -> None:
        try:
            if self.acceptor is not None:
                asyncio.run_coroutine_threadsafe(self._close(), self.loop).result(10)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            if not self.thread.is_alive():
                self.loop.close()

    async def _listen(self):
        asyncssh, outer = self.asyncssh, self

        class Server(asyncssh.SSHServer):
            def connection_made(self, conn) -> None:
                self.conn = conn
                outer.connections.add(conn)

            def connection_lost(self, exc) -> None:
                outer.connections.discard(self.conn)

            def begin_auth(self, username: str) -> bool:
                return True  # every user must authenticate

            def password_auth_supported(self) -> bool:
                return True

            def validate_password(self, username: str, password: str) -> bool:
                return username == outer.username and hmac.compare_digest(password, outer.password)

            def public_key_auth_supported(self) -> bool:
                return True

            def validate_public_key(self, username: str, key) -> bool:
                return username == outer.username and key.export_public_key("openssh") == outer.authorized

        root = os.fsencode(self.root)
        return await asyncssh.listen(
            HOST,
            0,
            server_host_keys=[self.host_key],
            server_factory=Server,
            sftp_factory=lambda chan: asyncssh.SFTPServer(chan, chroot=root),
            allow_scp=False,
            keepalive_interval=0,
        )

    async def _close(self) -> None:
        self.acceptor.close()
        await self.acceptor.wait_closed()
        for conn in list(self.connections):
            conn.close()
            await conn.wait_closed()


def _start_sftp(folder: Path) -> tuple[SFTPEndpoint, Callable[[], None]]:
    asyncssh = require_package("asyncssh", f"asyncssh is the SFTP server: {INSTALL_HINT}")
    root = folder / "root"
    root.mkdir()
    client_key = asyncssh.generate_private_key("ssh-rsa", key_size=2048)
    passphrase = secrets.token_hex(8)
    server = _SFTPThread(asyncssh, root, "tributary", secrets.token_urlsafe(12), client_key)
    try:
        port = server.start()
    except BaseException:
        server.stop()
        raise
    host_public = server.host_key.export_public_key("openssh").decode().split()
    known_hosts_line = f"[{HOST}]:{port} {host_public[0]} {host_public[1]}"
    known_hosts_path = folder / "known_hosts"
    known_hosts_path.write_text(known_hosts_line + "\n")
    private_key = client_key.export_private_key("pkcs1-pem").decode()
    private_key_path = folder / "id_rsa"
    with os.fdopen(os.open(private_key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as handle:
        handle.write(private_key)
    endpoint = SFTPEndpoint(
        host=HOST,
        port=port,
        username=server.username,
        password=server.password,
        private_key=private_key,
        private_key_encrypted=client_key.export_private_key("pkcs1-pem", passphrase=passphrase).decode(),
        private_key_passphrase=passphrase,
        public_key=client_key.export_public_key("openssh").decode().strip(),
        root=root,
        known_hosts_line=known_hosts_line,
        known_hosts_path=known_hosts_path,
        private_key_path=private_key_path,
        host_key_fingerprint=server.host_key.get_fingerprint(),
    )
    return endpoint, server.stop


@pytest.fixture(scope="session")
def sftp_server(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> SFTPEndpoint:
    """An SFTP server (asyncssh) on 127.0.0.1 serving a temporary folder, for the whole session."""
    return _session_server("sftp", pytestconfig, lambda: _start_sftp(tmp_path_factory.mktemp("sftp")))
