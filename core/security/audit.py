"""The audit log: who created, changed or deleted what, when, with the diff.

Secrets never reach it: a secret field's entry says ``"changed"`` (or
``"set"``/``"removed"``), never a value. Rows are written in the same
transaction as the change they describe.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy import Connection, Engine, select

from core.store import tables as t
from core.store.repository import utcnow

if TYPE_CHECKING:
    from core.security.access import Actor

COLUMNS = ["at", "actor", "action", "object_type", "object_name", "diff"]
#: What a secret's change looks like in a diff.
SECRET_CHANGED = "changed"


def record(
    conn: Connection, actor: Actor, action: str, object_type: str, name: str, diff: Mapping[str, Any]
) -> None:
    """Writes one entry in the caller's transaction."""
    conn.execute(
        t.audit_log.insert().values(
            at=utcnow(), actor=actor.name, action=action, object_type=object_type, object_name=name,
            diff=_plain(dict(diff)),
        )
    )  # fmt: skip


def diff(
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    secrets: set[str] = frozenset(),  # type: ignore[assignment]
) -> dict[str, dict[str, Any]]:
    """Field -> {before, after} for the fields that differ (nested mappings by dotted path).

    A secret field shows ``set``/``changed``/``removed``, never a value; both
    sides being equal (or both secrets unchanged) leaves it out.
    """
    flat_before, flat_after = _flatten(before or {}), _flatten(after or {})
    changes: dict[str, dict[str, Any]] = {}
    for key in sorted(set(flat_before) | set(flat_after)):
        old, new = flat_before.get(key), flat_after.get(key)
        if old == new:
            continue
        if key.split(".")[-1] in secrets or key in secrets:
            old, new = (
                ("set" if old is not None else None),
                (
                    SECRET_CHANGED
                    if old is not None and new is not None
                    else ("set" if new is not None else "removed")
                ),
            )
        changes[key] = {"before": old, "after": new}
    return changes


def entries(
    engine: Engine, limit: int = 500, object_type: str | None = None, actor: str | None = None
) -> pd.DataFrame:
    """The newest entries first (at, actor, action, object_type, object_name, diff)."""
    a = t.audit_log
    query = select(a.c.at, a.c.actor, a.c.action, a.c.object_type, a.c.object_name, a.c.diff)
    if object_type:
        query = query.where(a.c.object_type == object_type)
    if actor:
        query = query.where(a.c.actor == actor)
    with engine.connect() as conn:
        rows = conn.execute(query.order_by(a.c.id.desc()).limit(limit)).all()
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame["at"] = pd.to_datetime(frame["at"], utc=True)
    return frame


def _flatten(value: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, item in value.items():
        path = f"{prefix}{key}"
        if isinstance(item, Mapping) and item:
            out.update(_flatten(item, path + "."))
        else:
            out[path] = item
    return out


def _plain(value: Any) -> Any:
    """JSON-safe values (times as ISO text, sets and tuples as lists)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value
