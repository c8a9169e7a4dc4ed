"""The command line with a user context (``--as``), accounts, the audit log, and key rotation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from core.__main__ import main
from core.secrets import Vault
from core.services import Workspace
from core.store import tables as t

PASSWORD = "correct horse battery"


@pytest.fixture
def accounts(workspace: Workspace, tmp_path: Path, monkeypatch) -> Workspace:
    workspace.users.create_first_admin("ada", PASSWORD)
    monkeypatch.setenv("VIC_PASSWORD", PASSWORD)
    assert main(["users", "add", "vic", "--role", "viewer", "--password-env", "VIC_PASSWORD"]) == 0
    assert main(["users", "add", "zoe@example.com", "--role", "editor", "--sso"]) == 0
    return workspace


def test_users_are_added_listed_and_changed_from_the_command_line(accounts, capsys) -> None:
    capsys.readouterr()
    assert main(["users", "list"]) == 0
    out = capsys.readouterr().out
    assert "vic" in out and "zoe@example.com" in out and PASSWORD not in out and "argon2" not in out
    assert main(["users", "set", "vic", "--grant", "personal_data"]) == 0
    assert accounts.users.actor_of("vic").grants == frozenset({"personal_data"})
    assert main(["users", "add", "eve", "--role", "viewer", "--password-env", "NOT_SET"]) == 2
    assert "NOT_SET is not set" in capsys.readouterr().err


def test_acting_as_a_viewer_the_command_line_changes_nothing(accounts, tmp_path, capsys) -> None:
    folder = tmp_path / "source"
    folder.mkdir()
    (folder / "a.csv").write_text("id,email\n1,a@x.fr\n")
    config = tmp_path / "flow.yml"
    config.write_text(f"connections:\n  files:\n    connector: files\n    config: {{url: {folder}}}\n")
    capsys.readouterr()
    assert main(["--as", "vic", "apply", str(config)]) == 2
    assert "vic (viewer) may not save connections" in capsys.readouterr().err
    assert accounts.connections().empty
    assert main(["--as", "vic", "users", "add", "mallory", "--role", "admin", "--sso"]) == 2
    assert main(["--as", "vic", "audit"]) == 2
    assert main(["--as", "nobody", "runs"]) == 2
    assert "no user named 'nobody'" in capsys.readouterr().err
    assert main(["--as", "zoe@example.com", "apply", str(config)]) == 0  # an editor may


def test_the_audit_log_names_who_changed_what_and_never_a_secret(accounts, tmp_path, capsys) -> None:
    accounts.as_actor(accounts.users.actor_of("zoe@example.com")).save_connection(
        "db",
        "postgres",
        {"host": "127.0.0.1", "database": "shop", "username": "u", "password": "s3cr3t-canary"},
    )
    accounts.save_connection(
        "db",
        "postgres",
        {"host": "db.internal", "database": "shop", "username": "u", "password": "n3w-canary"},
    )
    capsys.readouterr()
    assert main(["audit", "--type", "connection", "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(e["actor"], e["action"]) for e in lines] == [
        ("tributary", "changed"),
        ("zoe@example.com", "created"),
    ]
    assert lines[0]["diff"]["config.host"] == {"before": "127.0.0.1", "after": "db.internal"}
    assert lines[0]["diff"]["config.password"] == {"before": "set", "after": "changed"}
    assert "canary" not in json.dumps(lines)


def test_key_rotation_re_encrypts_every_secret_with_a_new_key(accounts, workspace_dir, monkeypatch) -> None:
    monkeypatch.delenv("TRIBUTARY_SECRET_KEY", raising=False)
    accounts.save_connection(
        "db", "postgres", {"host": "h", "database": "d", "username": "u", "password": "rotate-me"}
    )
    running = Vault.from_environment(workspace_dir)  # a process started before the rotation
    before_keys = (workspace_dir / "secret.key").read_bytes()
    with accounts.engine.connect() as c:
        before = c.execute(select(t.secrets.c.ciphertext)).scalar_one()
    assert main(["secrets", "rotate", "--drop-old"]) == 0
    after_keys = (workspace_dir / "secret.key").read_bytes()
    assert after_keys != before_keys and len(after_keys.splitlines()) == 1
    with accounts.engine.connect() as c:
        after = c.execute(select(t.secrets.c.ciphertext)).scalar_one()
    assert after != before
    fresh = Vault.from_environment(workspace_dir)  # only the new key now
    assert fresh.decrypt(after).get_secret_value() == "rotate-me"
    assert Workspace.open().connector("db").config.password.get_secret_value() == "rotate-me"  # type: ignore[attr-defined]
    assert running.decrypt(after).get_secret_value() == "rotate-me"  # it re-reads the key file
    assert fresh.decrypt(running.encrypt("new")).get_secret_value() == "new"  # and encrypts with the new key
    assert main(["--as", "vic", "secrets", "rotate"]) == 2
