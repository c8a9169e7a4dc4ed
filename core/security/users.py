"""Local accounts: Argon2id password hashes, roles, lockout after repeated failures.

OpenID Connect users (``st.login``) get an account too, without a password,
the first time they sign in, with the role the workspace gives newcomers
(viewer unless ``TRIBUTARY_OIDC_DEFAULT_ROLE`` says otherwise), so that an
admin can raise it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from datetime import timedelta

import pandas as pd
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Connection, Engine, func, select, update

from core.errors import AuthenticationFailedError, ConfigurationError, NotFoundError
from core.security import audit
from core.security.access import GRANTS, ROLES, SYSTEM, Actor, Role
from core.store import tables as t
from core.store.repository import utcnow

#: Failed sign-ins in a row that lock an account, and for how long.
MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
MIN_PASSWORD = 12
ADMIN_USER_ENV = "TRIBUTARY_ADMIN_USER"
ADMIN_PASSWORD_ENV = "TRIBUTARY_ADMIN_PASSWORD"
OIDC_ROLE_ENV = "TRIBUTARY_OIDC_DEFAULT_ROLE"
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,199}$")
_HASHER = PasswordHasher()  # Argon2id with the library's current recommended parameters
#: Verified when the name is unknown, so a wrong name takes as long as a wrong password.
_DUMMY = _HASHER.hash("not a password anyone has")
_REFUSED = "wrong user name or password"


class Users:
    """The workspace's accounts. Changes need an admin (``actor``), except the first admin's creation."""

    def __init__(self, engine: Engine, actor: Actor = SYSTEM) -> None:
        self.engine = engine
        self.actor = actor

    # -- reads ----------------------------------------------------------------
    def count(self) -> int:
        """How many accounts exist (0 on first start)."""
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(t.users)).scalar_one())

    def list(self) -> pd.DataFrame:
        """Every account (never a password hash): username, role, grants, state, last sign-in."""
        self.actor.require("admin", "list users")
        u = t.users
        query = select(
            u.c.username,
            u.c.role,
            u.c.grants,
            u.c.disabled,
            u.c.locked_until,
            u.c.last_login_at,
            u.c.created_at,
        ).order_by(u.c.username)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return pd.DataFrame(
            rows,
            columns=["username", "role", "grants", "disabled", "locked_until", "last_login_at", "created_at"],
        )

    def actor_of(self, username: str) -> Actor:
        """The actor of an existing, enabled account (the command line's ``--as``)."""
        with self.engine.connect() as conn:
            row = _row(conn, username.strip())
        if row is None:
            raise NotFoundError(f"no user named {username.strip()!r}")
        if row["disabled"]:
            raise AuthenticationFailedError(f"the account {username.strip()!r} is disabled")
        return _actor(row)

    # -- signing in -----------------------------------------------------------
    def authenticate(self, username: str, password: str) -> Actor:
        """The actor for a correct name and password; AuthenticationFailedError otherwise.

        Five failures in a row lock the account for 15 minutes (a correct
        password does not open a locked account). The message never says
        whether the name exists.
        """
        name = username.strip()
        refusal = _REFUSED
        with self.engine.begin() as conn:  # failures are committed, then refused
            row = _row(conn, name)
            now = utcnow()
            if row is None or row["password_hash"] is None:
                _verify(_DUMMY, password)
                raise AuthenticationFailedError(_REFUSED)
            locked = row["locked_until"]
            if locked is not None and _aware(locked) > now:
                refusal = (
                    f"this account is locked after {MAX_FAILURES} failed sign-ins; "
                    "try again later or ask an admin"
                )
            elif row["disabled"] or not _verify(row["password_hash"], password):
                failures = int(row["failed_attempts"]) + 1
                values: dict[str, object] = {"failed_attempts": failures}
                if failures >= MAX_FAILURES:
                    values = {"failed_attempts": 0, "locked_until": now + LOCKOUT}
                    audit.record(conn, SYSTEM, "locked", "user", name, {})
                conn.execute(update(t.users).where(t.users.c.id == row["id"]).values(**values))
            else:
                values = {"failed_attempts": 0, "locked_until": None, "last_login_at": now}
                if _HASHER.check_needs_rehash(row["password_hash"]):
                    values["password_hash"] = _HASHER.hash(password)
                conn.execute(update(t.users).where(t.users.c.id == row["id"]).values(**values))
                audit.record(conn, _actor(row), "signed_in", "user", name, {})
                return _actor(row)
        raise AuthenticationFailedError(refusal)

    def sso(self, username: str) -> Actor:
        """The actor of a user signed in through OpenID Connect, created as a newcomer on first sign-in."""
        name = username.strip()
        with self.engine.begin() as conn:
            row = _row(conn, name)
            if row is None:
                role = os.environ.get(OIDC_ROLE_ENV, "viewer").strip() or "viewer"
                _check(name, role, ())
                _insert(conn, name, None, role, ())  # type: ignore[arg-type]
                audit.record(conn, SYSTEM, "created", "user", name, {"role": {"before": None, "after": role}})
                row = _row(conn, name)
                assert row is not None
            if row["disabled"]:
                raise AuthenticationFailedError("this account is disabled; ask an admin")
            conn.execute(update(t.users).where(t.users.c.id == row["id"]).values(last_login_at=utcnow()))
            return _actor(row)

    # -- changes --------------------------------------------------------------
    def create_first_admin(self, username: str, password: str) -> Actor:
        """Creates the first account, an admin; refused once any account exists."""
        with self.engine.begin() as conn:
            if int(conn.execute(select(func.count()).select_from(t.users)).scalar_one()):
                raise ConfigurationError("an admin already exists: sign in, or ask them for an account")
            _check(username.strip(), "admin", (), password)
            _insert(conn, username.strip(), _HASHER.hash(password), "admin", ())
            audit.record(
                conn, Actor(username.strip(), "admin"), "created", "user", username.strip(),
                {"role": {"before": None, "after": "admin"}},
            )  # fmt: skip
        return Actor(username.strip(), "admin")

    def ensure_admin_from_environment(self) -> str | None:
        """Creates the admin ``TRIBUTARY_ADMIN_USER``/``_PASSWORD`` names on first start; returns its name."""
        name = os.environ.get(ADMIN_USER_ENV, "").strip()
        password = os.environ.get(ADMIN_PASSWORD_ENV, "")
        if not name or not password or self.count():
            return None
        self.create_first_admin(name, password)
        return name

    def create(self, username: str, password: str | None, role: Role, grants: Iterable[str] = ()) -> None:
        """Adds an account (no password: it signs in through OpenID Connect only)."""
        self.actor.require("admin", "create users")
        name = username.strip()
        _check(name, role, grants, password)
        with self.engine.begin() as conn:
            if _row(conn, name) is not None:
                raise ConfigurationError(f"a user named {name!r} already exists")
            _insert(conn, name, None if password is None else _HASHER.hash(password), role, grants)
            audit.record(
                conn, self.actor, "created", "user", name,
                {"role": {"before": None, "after": role}, "grants": {"before": None, "after": sorted(grants)},
                 **({"password": {"before": None, "after": "set"}} if password else {})},
            )  # fmt: skip

    def update(
        self,
        username: str,
        *,
        role: Role | None = None,
        grants: Iterable[str] | None = None,
        disabled: bool | None = None,
        password: str | None = None,
        unlock: bool = False,
    ) -> None:
        """Changes an account's role, grants, state or password (an admin; or anyone their own password)."""
        name = username.strip()
        own_password = name == self.actor.name and role is None and grants is None and disabled is None
        if not own_password:
            self.actor.require("admin", "change users")
        with self.engine.begin() as conn:
            row = _row(conn, name)
            if row is None:
                raise NotFoundError(f"no user named {name!r}")
            new_role = role or row["role"]
            new_grants = sorted(grants) if grants is not None else list(row["grants"] or [])
            _check(name, new_role, new_grants, password)
            if row["role"] == "admin" and (new_role != "admin" or disabled) and _admins(conn) <= 1:
                raise ConfigurationError("this is the last admin: make another user admin first")
            values: dict[str, object] = {"role": new_role, "grants": new_grants, "updated_at": utcnow()}
            diff: dict[str, object] = {}
            if new_role != row["role"]:
                diff["role"] = {"before": row["role"], "after": new_role}
            if new_grants != list(row["grants"] or []):
                diff["grants"] = {"before": list(row["grants"] or []), "after": new_grants}
            if disabled is not None and disabled != bool(row["disabled"]):
                values["disabled"] = disabled
                diff["disabled"] = {"before": bool(row["disabled"]), "after": disabled}
            if password is not None:
                values["password_hash"] = _HASHER.hash(password)
                diff["password"] = {"before": "set", "after": "changed"}
            if unlock:
                values.update(failed_attempts=0, locked_until=None)
                diff["locked"] = {"before": row["locked_until"] is not None, "after": False}
            conn.execute(update(t.users).where(t.users.c.id == row["id"]).values(**values))
            if diff:
                audit.record(conn, self.actor, "changed", "user", name, diff)

    def delete(self, username: str) -> None:
        """Removes an account (never the last admin)."""
        self.actor.require("admin", "delete users")
        name = username.strip()
        with self.engine.begin() as conn:
            row = _row(conn, name)
            if row is None:
                raise NotFoundError(f"no user named {name!r}")
            if row["role"] == "admin" and _admins(conn) <= 1:
                raise ConfigurationError("this is the last admin: make another user admin first")
            conn.execute(t.users.delete().where(t.users.c.id == row["id"]))
            audit.record(
                conn, self.actor, "deleted", "user", name, {"role": {"before": row["role"], "after": None}}
            )


def _row(conn: Connection, name: str):  # type: ignore[no-untyped-def]
    return conn.execute(select(t.users).where(t.users.c.username == name)).mappings().first()


def _admins(conn: Connection) -> int:
    u = t.users
    query = select(func.count()).select_from(u).where(u.c.role == "admin", u.c.disabled.is_(False))
    return int(conn.execute(query).scalar_one())


def _insert(
    conn: Connection, name: str, password_hash: str | None, role: Role, grants: Iterable[str]
) -> None:
    now = utcnow()
    conn.execute(
        t.users.insert().values(
            username=name, password_hash=password_hash, role=role, grants=sorted(grants),
            disabled=False, failed_attempts=0, created_at=now, updated_at=now,
        )
    )  # fmt: skip


def _check(name: str, role: str, grants: Iterable[str], password: str | None = None) -> None:
    if not _USERNAME.match(name):
        raise ConfigurationError(
            "a user name starts with a letter or digit and uses letters, digits and . _ @ + - (up to 200)"
        )
    if role not in ROLES:
        raise ConfigurationError(f"role {role!r} is not one of {', '.join(ROLES)}")
    unknown = sorted(set(grants) - set(GRANTS))
    if unknown:
        raise ConfigurationError(f"unknown grant(s) {', '.join(unknown)}; known: {', '.join(GRANTS)}")
    if password is not None and len(password) < MIN_PASSWORD:
        raise ConfigurationError(f"a password needs at least {MIN_PASSWORD} characters")


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _actor(row) -> Actor:  # type: ignore[no-untyped-def]
    return Actor(row["username"], row["role"], frozenset(row["grants"] or ()))


def _aware(value):  # type: ignore[no-untyped-def]
    stamp = pd.Timestamp(value)
    return (stamp if stamp.tzinfo else stamp.tz_localize("UTC")).to_pydatetime()
