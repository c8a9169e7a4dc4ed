"""An SFTP server on 127.0.0.1: asyncssh, as the ``sftp_server`` fixture."""

from __future__ import annotations

import asyncio
import hmac
import os
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.storage_servers.common import HOST, INSTALL_HINT, STARTUP_TIMEOUT, _session_server, require_package


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
