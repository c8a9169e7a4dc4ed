"""Delivering each alert once: queue a row per (event occurrence, channel), claim it, send, record.

- **Once.** ``alert_deliveries.key`` is unique: ``{event key}:{channel id}``.
  Queueing inserts and skips keys that exist (``ON CONFLICT DO NOTHING``), so
  any number of processes may detect the same event.
- **Never twice at once.** Before sending, a process claims a due row with a
  compare-and-set: ``attempts = attempts + 1`` and ``next_attempt_at = now +
  claim time`` where ``id``, ``status = 'pending'``, ``attempts`` and ``next_attempt_at
  <= now`` are still what it read. One process wins; the others see no row changed.
- **Retried.** A failed send waits ``first_retry_s * 2 ** (attempts - 1)`` (capped)
  and gives up, with status ``failed``, after ``max_attempts``. A process that dies
  mid-send leaves the row claimed until the claim time passes, then it is retried:
  at-least-once in that one window, exactly once otherwise.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from core.alerts.channels import ChannelSettings, DeliveryError
from core.errors import TributaryError
from core.store import tables as t

log = logging.getLogger("core.alerts")

#: Keys looked up per query when skipping what is already queued.
_KEY_BATCH = 500


@dataclass(frozen=True)
class DeliveryPolicy:
    """How often and how long a delivery is retried."""

    max_attempts: int = 6
    first_retry_s: float = 60.0
    max_retry_s: float = 3600.0
    #: How long a claimed row stays away from other processes while it is being sent.
    claim_s: float = 300.0
    #: Most rows sent per dispatch, so one call stays short.
    batch: int = 100

    def retry_delay(self, attempts: int) -> timedelta:
        """The wait after the ``attempts``-th failed attempt."""
        return timedelta(seconds=min(self.first_retry_s * 2 ** max(attempts - 1, 0), self.max_retry_s))


@dataclass(frozen=True)
class Queued:
    """A delivery to queue: an event occurrence for one channel."""

    key: str
    channel_id: int
    event: str
    dataflow_id: int | None
    run_id: int | None
    payload: dict[str, Any]


@dataclass
class DispatchReport:
    """What one dispatch did."""

    events: int = 0
    queued: int = 0
    sent: int = 0
    retrying: int = 0
    gave_up: int = 0
    errors: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"{self.events} events, {self.queued} queued, {self.sent} sent, "
            f"{self.retrying} to retry, {self.gave_up} given up"
        )


def queue(engine: Engine, rows: Iterable[Queued], now: datetime) -> int:
    """Inserts the deliveries whose key is new; returns how many were new."""
    rows = list(rows)
    existing: set[str] = set()
    keys = [row.key for row in rows]
    with engine.connect() as conn:
        for start in range(0, len(keys), _KEY_BATCH):
            batch = keys[start : start + _KEY_BATCH]
            column = t.alert_deliveries.c.key
            existing.update(conn.execute(select(column).where(column.in_(batch))).scalars())
    new = [row for row in rows if row.key not in existing]
    inserted = 0
    with engine.begin() as conn:
        for row in new:
            inserted += _insert_or_skip(conn, row, now)
    return inserted


def _insert_or_skip(conn: Connection, row: Queued, now: datetime) -> int:
    values = {
        "key": row.key,
        "channel_id": row.channel_id,
        "event": row.event,
        "dataflow_id": row.dataflow_id,
        "run_id": row.run_id,
        "payload": row.payload,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }
    table = t.alert_deliveries
    if conn.dialect.name == "postgresql":
        statement: Any = (
            postgresql.insert(table).values(**values).on_conflict_do_nothing(index_elements=["key"])
        )
    elif conn.dialect.name == "sqlite":
        statement = sqlite.insert(table).values(**values).on_conflict_do_nothing(index_elements=["key"])
    else:
        try:
            with conn.begin_nested():
                conn.execute(insert(table).values(**values))
            return 1
        except IntegrityError:
            return 0
    return 1 if conn.execute(statement.returning(table.c.id)).first() is not None else 0


def due(engine: Engine, now: datetime, limit: int) -> list[tuple[int, int]]:
    """(id, attempts) of pending deliveries of enabled channels due at ``now``."""
    d, c = t.alert_deliveries, t.alert_channels
    query = (
        select(d.c.id, d.c.attempts)
        .join(c, c.c.id == d.c.channel_id)
        .where(d.c.status == "pending", d.c.next_attempt_at <= now, c.c.enabled == 1)
        .order_by(d.c.id)
        .limit(limit)
    )
    with engine.connect() as conn:
        return [(int(r.id), int(r.attempts)) for r in conn.execute(query)]


def claim(engine: Engine, delivery_id: int, attempts: int, now: datetime, policy: DeliveryPolicy) -> bool:
    """Takes a due delivery for this process; False when another process took it first."""
    d = t.alert_deliveries
    with engine.begin() as conn:
        result = conn.execute(
            update(d)
            .where(
                d.c.id == delivery_id,
                d.c.status == "pending",
                d.c.attempts == attempts,
                d.c.next_attempt_at <= now,
            )
            .values(attempts=attempts + 1, next_attempt_at=now + timedelta(seconds=policy.claim_s))
        )
        return result.rowcount == 1


def send_due(
    engine: Engine,
    channel_of: Callable[[int], tuple[str, ChannelSettings]],
    now: datetime,
    policy: DeliveryPolicy,
    report: DispatchReport,
) -> None:
    """Claims and sends every due delivery; records each outcome."""
    d = t.alert_deliveries
    for delivery_id, attempts in due(engine, now, policy.batch):
        if not claim(engine, delivery_id, attempts, now, policy):
            continue
        attempt = attempts + 1
        with engine.connect() as conn:
            row = conn.execute(
                select(d.c.key, d.c.channel_id, d.c.payload).where(d.c.id == delivery_id)
            ).one()
        try:
            name, channel = channel_of(int(row.channel_id))
        except TributaryError as error:  # a secret the key cannot decrypt, settings that no longer validate
            message = error.user_message
            _record_failure(engine, delivery_id, attempt, message, now, policy, report)
            continue
        try:
            channel.send(dict(row.payload))
        except DeliveryError as error:
            message = channel.explain(error)
            log.warning("Alert %s to channel %s failed (attempt %d): %s", row.key, name, attempt, message)
            _record_failure(engine, delivery_id, attempt, message, now, policy, report)
            continue
        with engine.begin() as conn:
            conn.execute(
                update(d)
                .where(d.c.id == delivery_id, d.c.attempts == attempt)
                .values(status="sent", sent_at=now, next_attempt_at=None, last_error=None)
            )
        report.sent += 1
        log.info("Alert %s sent to channel %s (attempt %d).", row.key, name, attempt)


def _record_failure(
    engine: Engine,
    delivery_id: int,
    attempt: int,
    message: str,
    now: datetime,
    policy: DeliveryPolicy,
    report: DispatchReport,
) -> None:
    d = t.alert_deliveries
    values: Mapping[str, Any]
    if attempt >= policy.max_attempts:
        values = {"status": "failed", "next_attempt_at": None, "last_error": message}
        report.gave_up += 1
    else:
        values = {"next_attempt_at": now + policy.retry_delay(attempt), "last_error": message}
        report.retrying += 1
    report.errors.append(message)
    with engine.begin() as conn:
        conn.execute(update(d).where(d.c.id == delivery_id, d.c.attempts == attempt).values(**values))
