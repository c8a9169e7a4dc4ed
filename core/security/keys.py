"""Secrets key rotation: every stored secret re-encrypted with the newest key, in one transaction.

Keys come from ``TRIBUTARY_SECRET_KEY`` (comma separated, newest first) or the
workspace's ``secret.key`` file (one per line, newest first). With the file,
:func:`rotate` adds a new key in front itself; with the variable, the
operator puts the new key first, runs the rotation, then removes the old one.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet
from sqlalchemy import Engine, select, update

from core.secrets import KEY_ENV, Vault
from core.security import audit
from core.security.access import Actor
from core.store import tables as t

#: The columns holding ciphertext: (table, key column, ciphertext column).
ENCRYPTED = (
    (t.secrets, t.secrets.c.id, t.secrets.c.ciphertext),
    (t.alert_channels, t.alert_channels.c.id, t.alert_channels.c.secret),
)


def rotate(engine: Engine, workspace: Path, actor: Actor, *, drop_old: bool = False) -> int:
    """Re-encrypts every stored secret with the newest key; returns how many were re-encrypted.

    With the key file, a new key is generated and written first (older keys
    kept after it, so nothing becomes unreadable if the rotation stops); with
    ``drop_old``, the older keys are removed from the file once every secret
    is re-encrypted. With the environment variable, the first key is the new one.
    """
    actor.require("admin", "rotate the secrets key")
    path = workspace / "secret.key"
    from_env = bool(os.environ.get(KEY_ENV, "").strip())
    if not from_env:
        old = (
            [line.strip() for line in path.read_bytes().splitlines() if line.strip()] if path.exists() else []
        )
        _write_keys(path, [Fernet.generate_key(), *old])
    vault = Vault.from_environment(workspace)
    count = 0
    with engine.begin() as conn:
        for table, key, column in ENCRYPTED:
            for row_id, token in conn.execute(select(key, column).where(column.is_not(None))).all():
                conn.execute(update(table).where(key == row_id).values({column.name: vault.rotate(token)}))
                count += 1
        audit.record(
            conn, actor, "rotated", "secrets_key", "workspace", {"secrets": {"before": None, "after": count}}
        )
    if drop_old and not from_env:
        newest = path.read_bytes().splitlines()[0].strip()
        _write_keys(path, [newest])
    return count


def _write_keys(path: Path, keys: list[bytes]) -> None:
    """Replaces the key file atomically, readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(b"\n".join(keys) + b"\n")
    os.replace(temporary, path)
