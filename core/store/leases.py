"""One dataflow never runs twice at once: a lease row with a fencing token.

A run takes the lease by compare-and-swap on the token, renews it in every
chunk's transaction (and from a heartbeat thread between chunks), and every
commit checks that its token is still the current one: a process that stalled
and lost the lease can no longer write. A lease whose owner died on this host,
or whose expiry passed, may be taken over.

A run spread over workers (``core.executors``) keeps one lease, held and
renewed by its coordinator; each worker commits under the coordinator's
token through a :class:`LeaseFence`, which checks it in the worker's own
transaction with a shared row lock: workers never wait for each other, and
a takeover or :meth:`Lease.rotate` waits for the commits in flight, after
which no worker holding the old token can commit.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy import ColumnElement, Connection, Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from core.errors import LeaseLostError
from core.store import tables as t
from core.store.repository import utcnow

DEFAULT_TTL_S = 120.0
TTL_ENV = "TRIBUTARY_LEASE_TTL_S"


def default_ttl() -> float:
    """The lease time-to-live: ``TRIBUTARY_LEASE_TTL_S`` seconds, or 120.

    A stalled holder keeps others waiting this long before they may take over.
    """
    raw = os.environ.get(TTL_ENV, "").strip()
    try:
        return float(raw) if raw else DEFAULT_TTL_S
    except ValueError:
        return DEFAULT_TTL_S


def _as_utc(value: datetime | None) -> datetime | None:
    # SQLite hands timezone-aware columns back naive; they were written in UTC.
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _owner_is_dead(owner: str | None) -> bool:
    """Whether the owner was a process on this host that no longer exists."""
    if not owner:
        return True
    host, _, rest = owner.partition(":")
    pid_text = rest.split(":", 1)[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class Fence(Protocol):
    """What a commit checks in its transaction: that its run still holds the dataflow's lease."""

    def check(self, conn: Connection) -> None:
        """Raises LeaseLostError, inside the caller's transaction, unless the lease is still held."""


@dataclass(frozen=True)
class LeaseFence:
    """A coordinator's lease as its workers check it: the dataflow, the owner and the token."""

    dataflow_id: int
    owner: str
    token: int

    def check(self, conn: Connection) -> None:
        """Raises LeaseLostError unless the token is still current; holds a shared lock until commit.

        The shared lock (``FOR SHARE`` on PostgreSQL) lets workers commit at
        once, while a renewal, a takeover or a rotation of the token waits for
        their transactions: a commit that passed this check lands before the
        token moves on, and none after.
        """
        row = conn.execute(
            select(t.leases.c.owner, t.leases.c.token)
            .where(t.leases.c.dataflow_id == self.dataflow_id)
            .with_for_update(read=True)
        ).first()
        if row is None or row.owner != self.owner or int(row.token) != self.token:
            raise LeaseLostError(
                "This run lost its lease (it was stopped, or another process took the dataflow over); "
                "the worker's chunk was not written."
            )


class Lease:
    """The right to run one dataflow, held by this process until released."""

    def __init__(self, engine: Engine, dataflow_id: int, ttl_s: float | None = None) -> None:
        self.engine = engine
        self.dataflow_id = dataflow_id
        self.ttl = timedelta(seconds=default_ttl() if ttl_s is None else ttl_s)
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.token: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._token_lock = threading.Lock()  # a rotation never races the heartbeat's renewal

    def acquire(self) -> int:
        """Takes the lease or raises LeaseLostError saying who holds it."""
        now = utcnow()
        with self.engine.begin() as c:
            row = (
                c.execute(select(t.leases).where(t.leases.c.dataflow_id == self.dataflow_id))
                .mappings()
                .first()
            )
            if row is None:
                try:
                    c.execute(
                        insert(t.leases).values(
                            dataflow_id=self.dataflow_id,
                            owner=self.owner,
                            token=1,
                            acquired_at=now,
                            expires_at=now + self.ttl,
                        )
                    )
                except IntegrityError:
                    raise self._held_error("another process") from None
                self.token = 1
                return 1
            expires = _as_utc(row["expires_at"])
            free = (
                row["owner"] is None
                or (expires is not None and expires < now)
                or _owner_is_dead(row["owner"])
            )
            if not free:
                raise self._held_error(str(row["owner"]).rsplit(":", 1)[0])
            token = int(row["token"]) + 1
            swapped = c.execute(
                update(t.leases)
                .where(t.leases.c.dataflow_id == self.dataflow_id, t.leases.c.token == row["token"])
                .values(owner=self.owner, token=token, acquired_at=now, expires_at=now + self.ttl)
            ).rowcount
            if swapped != 1:
                raise self._held_error("another process")
        self.token = token
        return token

    def _held_error(self, holder: str) -> LeaseLostError:
        return LeaseLostError(
            f"This dataflow is already running ({holder}); wait for that run to finish.",
            code="already_running",
        )

    def renew(self, conn: Connection) -> None:
        """Extends the lease inside the caller's transaction; raises if it was lost."""
        changed = conn.execute(
            update(t.leases).where(*self._held()).values(expires_at=utcnow() + self.ttl)
        ).rowcount
        if changed != 1:
            raise LeaseLostError(
                "This run lost its lease to another process (it stalled past the lease expiry); "
                "its last chunk was not written."
            )

    def _held(self) -> tuple[ColumnElement[bool], ...]:
        """The lease row while this process holds it: its owner and token."""
        columns = t.leases.c
        return (
            columns.dataflow_id == self.dataflow_id,
            columns.token == self.token,
            columns.owner == self.owner,
        )

    def check(self, conn: Connection) -> None:
        """The :class:`Fence` of this process's own commits: a renewal in their transaction."""
        self.renew(conn)

    def fence(self) -> LeaseFence:
        """What workers check in their commits: this lease's owner and current token."""
        if self.token is None:
            raise LeaseLostError("This run does not hold its lease.")
        return LeaseFence(self.dataflow_id, self.owner, self.token)

    def rotate(self) -> None:
        """Moves the token on and keeps the lease: commits under the old token are refused from now on.

        A coordinator stopping its run calls it to fence off the workers still
        at work; their transactions in flight finish first (see :class:`LeaseFence`).
        """
        with self._token_lock:
            with self.engine.begin() as c:
                moved = c.execute(
                    update(t.leases)
                    .where(*self._held())
                    .values(token=t.leases.c.token + 1, expires_at=utcnow() + self.ttl)
                ).rowcount
            if moved != 1 or self.token is None:
                raise LeaseLostError("This run lost its lease to another process.")
            self.token += 1

    def start_heartbeat(self) -> None:
        """Renews the lease in the background while a long chunk is processed."""
        interval = self.ttl.total_seconds() / 3

        def beat() -> None:
            while not self._stop.wait(interval):
                try:
                    with self._token_lock, self.engine.begin() as c:
                        self.renew(c)
                except LeaseLostError:
                    return
                except Exception:  # a transient store error: the next beat retries
                    continue

        self._thread = threading.Thread(target=beat, name=f"lease-{self.dataflow_id}", daemon=True)
        self._thread.start()

    def release(self) -> None:
        """Stops the heartbeat and frees the lease if this process still holds it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self.token is None:
            return
        with self.engine.begin() as c:
            c.execute(
                update(t.leases)
                .where(t.leases.c.dataflow_id == self.dataflow_id, t.leases.c.token == self.token)
                .values(owner=None, expires_at=utcnow())
            )


def process_owner_prefix() -> str:
    """The start of the owner of every lease this process takes (``host:pid:``)."""
    return f"{socket.gethostname()}:{os.getpid()}:"


def revoke(conn: Connection, dataflow_id: int, owner_prefix: str) -> bool:
    """Takes a lease away from its holder (whose owner starts with ``owner_prefix``).

    The token moves on, so the holder's next renewal, and with it every later
    commit of its run, fails: this fences off a run stuck in a thread that
    cannot be killed. Returns whether such a holder had the lease.
    """
    changed = conn.execute(
        update(t.leases)
        .where(
            t.leases.c.dataflow_id == dataflow_id, t.leases.c.owner.startswith(owner_prefix, autoescape=True)
        )
        .values(owner=None, token=t.leases.c.token + 1, expires_at=utcnow())
    ).rowcount
    return changed == 1
