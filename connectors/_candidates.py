"""Which sampled columns could be a stream's primary key or cursor: the guesses ``discover()`` offers."""

from __future__ import annotations

import re

import pandas as pd

from connectors.base import FieldInfo

_KEY_EXACT = re.compile(r"^(id|uuid|guid|key)$", re.IGNORECASE)
_KEY_LIKE = re.compile(r"(_id|Id|ID|_key|_uuid|_code|_number|_no|email)$")
_CURSOR_UPDATED = re.compile(r"updated|modified|changed|last_?mod", re.IGNORECASE)
_CURSOR_TIMEY = re.compile(r"(_at|_on|_date|_time|_ts|At|Date|Time|timestamp)$")


def key_candidates(frame: pd.DataFrame, fields: tuple[FieldInfo, ...]) -> tuple[str, ...]:
    """Columns whose sampled values are all present and unique; id-like names first."""
    if frame.empty:
        return ()
    found = [
        f.name
        for f in fields
        if f.type in ("string", "integer") and frame[f.name].notna().all() and frame[f.name].is_unique
    ]
    rank = {n: 0 if _KEY_EXACT.match(n) else 1 if _KEY_LIKE.search(n) else 2 for n in found}
    return tuple(sorted(found, key=lambda n: rank[n]))


def cursor_candidates(fields: tuple[FieldInfo, ...]) -> tuple[str, ...]:
    """Date and timestamp columns, ``updated``/``modified`` names first, then ``*_at`` names."""
    ranked = []
    for f in fields:
        updated, timey = bool(_CURSOR_UPDATED.search(f.name)), bool(_CURSOR_TIMEY.search(f.name))
        if f.type in ("date", "timestamp"):
            ranked.append((0 if updated else 1 if timey else 2, f.name))
        elif f.type in ("integer", "number") and (updated or timey):
            ranked.append((3, f.name))  # epoch seconds or a version counter
    return tuple(name for _, name in sorted(ranked, key=lambda item: item[0]))
