"""The vault: keys outside the database, file mode, wrong keys, rotation."""

from __future__ import annotations

import os
import stat

import pytest
from cryptography.fernet import Fernet

from core.errors import ConfigurationError
from core.secrets import Vault


def test_key_file_is_created_private_and_reused(tmp_path):
    first = Vault.from_environment(tmp_path)
    token = first.encrypt("s3cr3t-value")
    mode = stat.S_IMODE(os.stat(tmp_path / "secret.key").st_mode)
    assert mode == 0o600
    assert b"s3cr3t-value" not in token
    assert Vault.from_environment(tmp_path).decrypt(token).get_secret_value() == "s3cr3t-value"


def test_environment_key_wins(tmp_path, monkeypatch):
    key = Fernet.generate_key()
    monkeypatch.setenv("TRIBUTARY_SECRET_KEY", key.decode())
    token = Vault.from_environment(tmp_path).encrypt("x")
    assert not (tmp_path / "secret.key").exists()
    assert Fernet(key).decrypt(token) == b"x"


def test_wrong_key_gives_a_clear_error_without_the_secret(tmp_path):
    token = Vault([Fernet.generate_key()]).encrypt("hunter2")
    with pytest.raises(ConfigurationError) as caught:
        Vault([Fernet.generate_key()]).decrypt(token)
    assert "cannot be decrypted" in caught.value.user_message
    assert "hunter2" not in str(caught.value)


def test_malformed_key_is_a_configuration_error():
    with pytest.raises(ConfigurationError, match="not a valid Fernet key"):
        Vault([b"short"])


def test_rotation_re_encrypts_with_the_newest_key():
    old, new = Fernet.generate_key(), Fernet.generate_key()
    token = Vault([old]).encrypt("v")
    rotated = Vault([new, old]).rotate(token)
    assert Vault([new]).decrypt(rotated).get_secret_value() == "v"
