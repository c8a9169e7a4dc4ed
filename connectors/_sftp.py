"""SFTP servers holding the files: login, host key policy and the sshfs session."""

from __future__ import annotations

import re
from typing import Any, ClassVar, Literal
from urllib.parse import unquote, urlsplit

from fsspec import AbstractFileSystem
from pydantic import Field, SecretStr, model_validator

from connectors._storages import CONNECT_TIMEOUT_S, ErrorRule, StorageConfig, secret_text
from connectors.base import AuthenticationError, ConnectorError, SourceUnreachableError

_PEM = re.compile(r"(-----BEGIN [A-Z0-9 ]+-----)(.*?)(-----END [A-Z0-9 ]+-----)", re.DOTALL)


def pem_text(text: str) -> str:
    """A PEM block with its line breaks, even when a one-line form box flattened them to spaces."""
    text = text.replace("\\n", "\n").strip()
    match = _PEM.search(text)
    if match is None or "\n" in match.group(2).strip():
        return text + "\n"
    body = "\n".join(match.group(2).split())
    return f"{match.group(1)}\n{body}\n{match.group(3)}\n"


class SftpConfig(StorageConfig):
    """A folder on an SFTP server, with a password or a private key, and a host key policy."""

    protocol: ClassVar[str] = "sftp"
    schemes: ClassVar[tuple[str, ...]] = ("sftp", "ssh")
    example: ClassVar[str] = "sftp://host[:port]/path"
    error_rules: ClassVar[tuple[ErrorRule, ...]] = (
        (("HostKeyNotVerifiable",), AuthenticationError, "{host_key_problem}"),
        (("KeyImportError",), ConnectorError, "private_key cannot be read ({err}): is the passphrase right?"),
        (
            ("PermissionDenied",),
            AuthenticationError,
            "{host}:{port} refused the login of {user!r}: wrong password or key.",
        ),
        (
            ("ConnectionRefusedError", "gaierror", "TimeoutError", "ConnectionLost"),
            SourceUnreachableError,
            "Cannot reach the SFTP server {host}:{port}: {err}",
        ),
    )

    url: str = Field(description="sftp://host[:port]/path")
    username: str | None = Field(None, description="Or in the URL: sftp://user@host/path")
    password: SecretStr | None = None
    private_key: SecretStr | None = Field(None, description="The private key's text (PEM or OpenSSH).")
    passphrase: SecretStr | None = Field(None, description="Only if the private key is encrypted.")
    host_key_policy: Literal["strict", "accept_new", "ignore"] = Field(
        "strict",
        description="strict: the server's key must be in known_hosts; accept_new: also accept a "
        "server known_hosts does not list; ignore: never check (unsafe).",
    )
    known_hosts: str | None = Field(
        None, description="The server's known_hosts line(s), e.g. from ssh-keyscan -p PORT HOST"
    )

    @model_validator(mode="after")
    def _login(self) -> SftpConfig:
        if not self.login():
            raise ValueError("username is required (or give it in the URL: sftp://user@host/path)")
        if self.host_key_policy == "strict" and not (self.known_hosts or "").strip():
            raise ValueError("known_hosts is required with host_key_policy strict (ssh-keyscan prints it)")
        return self

    def root(self) -> str:
        """The absolute path of the folder on the server."""
        return "/" + urlsplit(self.url).path.strip("/")

    def host(self) -> tuple[str, int]:
        """The server's host name and port."""
        parts = urlsplit(self.url)
        return parts.hostname or "", parts.port or 22

    def login(self) -> str:
        """The user name: the field, else the URL's."""
        return self.username or unquote(urlsplit(self.url).username or "")

    def storage_options(self) -> dict[str, Any]:
        """sshfs/asyncssh options: only the given credentials; no agent, no ~/.ssh file is read."""
        import asyncssh

        key = secret_text(self.private_key)
        host, port = self.host()
        return {
            "host": host,
            "port": port,
            "username": self.login(),
            "password": secret_text(self.password),
            "client_keys": (
                [asyncssh.import_private_key(pem_text(key), secret_text(self.passphrase))] if key else None
            ),
            "agent_path": None,
            "config": None,
            "connect_timeout": CONNECT_TIMEOUT_S,
            "skip_instance_cache": True,
            **self._host_key_options(),
        }

    def _host_key_options(self) -> dict[str, Any]:
        """asyncssh's ``known_hosts`` (and, for accept_new, a client accepting unlisted hosts)."""
        import asyncssh

        if self.host_key_policy == "ignore":
            return {"known_hosts": None}
        trusted = asyncssh.import_known_hosts(self.known_hosts or "")
        if self.host_key_policy == "strict":
            return {"known_hosts": trusted}
        listed = {"host": False}

        def lookup(host: str, addr: str, port: int | None) -> Any:
            found = trusted.match(host, addr, port)
            listed["host"] = any(found[index] for index in (0, 1, 3, 5))
            return found

        class AcceptNew(asyncssh.SSHClient):
            """Trusts the key of a server known_hosts does not list; a listed one must match."""

            def validate_host_public_key(self, host: str, addr: str, port: int, key: Any) -> bool:
                return not listed["host"]

        return {"known_hosts": lookup, "client_factory": AcceptNew}

    def filesystem(self) -> tuple[AbstractFileSystem, str]:
        """An SFTP session over sshfs (asyncssh); it connects and logs in now."""
        from sshfs import SSHFileSystem

        options = self.storage_options()
        return SSHFileSystem(options.pop("host"), **options), self.root()

    def open_options(self, block_size: int) -> dict[str, Any]:
        """sshfs reads exactly the bytes asked for, pipelined: there is no block cache to size."""
        return {}

    def endpoint(self) -> tuple[str, int] | None:
        """The SSH server."""
        return self.host()

    def _listed(self) -> bool:
        """Whether known_hosts has an entry for the server."""
        import asyncssh

        host, port = self.host()
        found = asyncssh.import_known_hosts(self.known_hosts or "").match(host, host, port)
        return any(found[index] for index in (0, 1, 3, 5))

    def check_note(self, fs: AbstractFileSystem) -> str:
        """With accept_new, the line that pins the key of a server known_hosts did not list."""
        if self.host_key_policy != "accept_new" or self._listed():
            return ""
        key = fs.client.get_server_host_key()  # type: ignore[attr-defined]
        host, port = self.host()
        name = host if port == 22 else f"[{host}]:{port}"
        line = f"{name} {key.export_public_key('openssh').decode().strip()}"
        return f" Its host key was accepted as new: add this line to known_hosts to pin it: {line}"

    def _message_fields(self) -> dict[str, Any]:
        """The server, the login and what is wrong with its host key, for messages."""
        host, port = self.host()
        if self._listed():
            problem = (
                f"The host key of {host}:{port} does not match known_hosts: the server's key changed, "
                "or this is not the expected server. Ask its administrator before updating known_hosts."
            )
        else:
            problem = (
                f"{host}:{port} is not in known_hosts: add the line `ssh-keyscan -p {port} {host}` prints "
                "(check its fingerprint), or set host_key_policy to accept_new."
            )
        return {"host": host, "port": port, "user": self.login(), "host_key_problem": problem}
