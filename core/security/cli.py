"""``python -m core users|audit|secrets``: accounts, the audit log, and the secrets key.

Passwords are never arguments (they would sit in the shell's history and the
process list): they are read from an environment variable named with
``--password-env``, or typed at a prompt.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from typing import TYPE_CHECKING

from core.errors import ConfigurationError
from core.security.access import GRANTS, ROLES

if TYPE_CHECKING:
    from core.services import Workspace


def users_parser() -> argparse.ArgumentParser:
    """The ``users`` command's arguments."""
    root = argparse.ArgumentParser(prog="python -m core users", description="Dashboard accounts and roles.")
    sub = root.add_subparsers(dest="action", required=True)
    sub.add_parser("list", help="every account: role, grants, state, last sign-in")
    add = sub.add_parser("add", help="create an account")
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, required=True)
    add.add_argument(
        "--grant", action="append", choices=GRANTS, default=[], help="e.g. personal_data for a viewer"
    )
    how = add.add_mutually_exclusive_group()
    how.add_argument("--password-env", metavar="VAR", help="read the password from this environment variable")
    how.add_argument("--sso", action="store_true", help="no password: signs in through OpenID Connect only")
    change = sub.add_parser("set", help="change an account")
    change.add_argument("name")
    change.add_argument("--role", choices=ROLES)
    change.add_argument("--grant", action="append", choices=GRANTS, help="replaces the grants (repeat it)")
    change.add_argument("--no-grants", action="store_true", help="remove every grant")
    change.add_argument("--disable", action="store_true")
    change.add_argument("--enable", action="store_true")
    change.add_argument("--unlock", action="store_true", help="lift a lockout after failed sign-ins")
    change.add_argument("--password-env", metavar="VAR", help="set a new password from this variable")
    remove = sub.add_parser("remove", help="delete an account")
    remove.add_argument("name")
    return root


def audit_parser() -> argparse.ArgumentParser:
    """The ``audit`` command's arguments."""
    root = argparse.ArgumentParser(prog="python -m core audit", description="Who changed what, newest first.")
    root.add_argument("--type", help="connection, dataflow, user, setting, secrets_key")
    root.add_argument("--limit", type=int, default=100)
    root.add_argument("--json", action="store_true", help="one JSON object per line")
    return root


def secrets_parser() -> argparse.ArgumentParser:
    """The ``secrets`` command's arguments."""
    root = argparse.ArgumentParser(
        prog="python -m core secrets", description="The key that encrypts credentials."
    )
    sub = root.add_subparsers(dest="action", required=True)
    rotate = sub.add_parser("rotate", help="re-encrypt every stored secret with a new key")
    rotate.add_argument(
        "--drop-old", action="store_true", help="remove the older keys from the key file afterwards"
    )
    return root


def users_main(argv: list[str], workspace: Workspace) -> int:
    """Runs one ``users`` action."""
    args = users_parser().parse_args(argv)
    users = workspace.users
    if args.action == "list":
        frame = users.list()
        print("(no accounts yet)" if frame.empty else frame.to_string(index=False))
    elif args.action == "add":
        password = None if args.sso else _password(args.password_env, f"password for {args.name}: ")
        users.create(args.name, password, args.role, args.grant)
        print(f"created {args.name} ({args.role})")
    elif args.action == "set":
        if args.disable and args.enable:
            raise ConfigurationError("--disable and --enable contradict each other")
        grants = [] if args.no_grants else args.grant
        users.update(
            args.name,
            role=args.role,
            grants=grants,
            disabled=True if args.disable else (False if args.enable else None),
            password=_password(args.password_env, "new password: ") if args.password_env else None,
            unlock=args.unlock,
        )
        print(f"updated {args.name}")
    else:
        users.delete(args.name)
        print(f"removed {args.name}")
    return 0


def audit_main(argv: list[str], workspace: Workspace) -> int:
    """Prints the audit log."""
    args = audit_parser().parse_args(argv)
    frame = workspace.audit_log(args.limit, args.type)
    if args.json:
        for row in frame.assign(at=frame["at"].astype(str)).to_dict("records"):
            print(json.dumps(row, ensure_ascii=False, default=str))
    else:
        print("(nothing yet)" if frame.empty else frame.to_string(index=False))
    return 0


def secrets_main(argv: list[str], workspace: Workspace) -> int:
    """Rotates the secrets key."""
    from core.security.keys import rotate
    from core.store import db

    args = secrets_parser().parse_args(argv)
    count = rotate(workspace.engine, db.workspace_dir(), workspace.actor, drop_old=args.drop_old)
    print(f"re-encrypted {count} secret(s) with the newest key")
    return 0


def _password(variable: str | None, prompt: str) -> str:
    if variable:
        if variable not in os.environ:
            raise ConfigurationError(f"the environment variable {variable} is not set")
        return os.environ[variable]
    if not sys.stdin.isatty():
        raise ConfigurationError("no terminal to type a password in: pass --password-env VAR")
    return getpass.getpass(prompt)
