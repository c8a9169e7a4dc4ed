"""Credentials vault: Fernet encryption with the key kept outside the database.

The key comes from ``TRIBUTARY_SECRET_KEY`` (one key, or several separated by
commas, newest first, for rotation), or from ``secret.key`` in the workspace
folder, created on first use with mode 0600. Plain values never leave this
module except to the connector that needs them.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import SecretStr

from core.errors import ConfigurationError

KEY_ENV = "TRIBUTARY_SECRET_KEY"


def load_or_create_key_file(path: Path) -> list[bytes]:
    """Reads the keys in ``path`` (one per line), creating it with mode 0600 if absent."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(Fernet.generate_key() + b"\n")
    return [line.strip() for line in path.read_bytes().splitlines() if line.strip()]


class Vault:
    """Encrypts and decrypts secret values with one or more Fernet keys."""

    def __init__(self, keys: list[bytes], reload: Callable[[], list[bytes]] | None = None) -> None:
        self._fernet = _fernet(keys)
        #: Reads the keys again (the key file), for a process that outlives a key rotation.
        self._reload = reload

    @classmethod
    def from_environment(cls, workspace: Path) -> Vault:
        """The vault for this process: ``TRIBUTARY_SECRET_KEY`` or the workspace key file."""
        env = os.environ.get(KEY_ENV, "").strip()
        if env:
            return cls([part.strip().encode() for part in env.split(",") if part.strip()])
        path = workspace / "secret.key"
        return cls(load_or_create_key_file(path), reload=lambda: load_or_create_key_file(path))

    def encrypt(self, value: SecretStr | str) -> bytes:
        """Encrypts a secret value."""
        plain = value.get_secret_value() if isinstance(value, SecretStr) else value
        if self._reload is not None:  # always the newest key, even after a rotation by another process
            self._fernet = _fernet(self._reload())
        return self._fernet.encrypt(plain.encode("utf-8"))

    def decrypt(self, token: bytes) -> SecretStr:
        """Decrypts a stored secret; a wrong key gives a clear, secret-free error."""
        try:
            return SecretStr(self._fernet.decrypt(token).decode("utf-8"))
        except InvalidToken:
            if self._reload is not None:  # the key file may have been rotated since this process read it
                with contextlib.suppress(InvalidToken, ConfigurationError):
                    self._fernet = _fernet(self._reload())
                    return SecretStr(self._fernet.decrypt(token).decode("utf-8"))
            raise ConfigurationError(
                "A stored credential cannot be decrypted with the configured secret key. "
                "Use the key the workspace was created with (TRIBUTARY_SECRET_KEY or workspace/secret.key)."
            ) from None

    def rotate(self, token: bytes) -> bytes:
        """Re-encrypts a token with the newest key."""
        return self._fernet.rotate(token)


def _fernet(keys: list[bytes]) -> MultiFernet:
    if not keys:
        raise ConfigurationError("No secret key is configured: set TRIBUTARY_SECRET_KEY.")
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except ValueError:
        raise ConfigurationError(
            "The secret key is not a valid Fernet key (32 url-safe base64-encoded bytes)."
        ) from None
