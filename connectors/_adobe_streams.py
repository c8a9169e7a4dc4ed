"""What the Adobe application connectors share about their streams: how they are described.

(And :data:`WebUrl`, the type of their configs' URL fields.)

A stream is described from a sample of its records (its first page):
fields typed by their values, its key and cursors as the connector knows
them, and, for the standard customer objects, the mapping onto the profile
the mapping studio proposes first (``SUGGESTED_MAPPING`` and
``SUGGESTED_IDENTITIES``), kept to the fields the sample really has.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any

import pandas as pd
from pydantic import AfterValidator

from connectors.base import (
    META_PREFIX,
    SUGGESTED_IDENTITIES,
    SUGGESTED_MAPPING,
    FieldInfo,
    StreamInfo,
    infer_field_type,
)


def http_url(value: str) -> str:
    """The URL without surrounding spaces or trailing slash; a ValueError unless it is http(s)."""
    value = value.strip().rstrip("/")
    if not value.lower().startswith(("https://", "http://")):
        raise ValueError("must be a URL starting with https://")
    return value


#: A config field holding an http(s) URL, kept without its trailing slash.
WebUrl = Annotated[str, AfterValidator(http_url)]


def described(
    name: str,
    sample: pd.DataFrame,
    *,
    key: Sequence[str],
    cursors: Sequence[str] = (),
    mapping: Mapping[str, str] | None = None,
    identities: Mapping[str, str] | None = None,
    **metadata: Any,
) -> StreamInfo:
    """A stream as ``discover()`` tells it, from a sample of its records.

    Args:
        key: the stream's primary key.
        cursors: the columns an incremental read may follow, best first (kept when sampled).
        mapping: attribute path -> column of a standard object; only sampled columns are suggested.
        identities: identity namespace -> attribute path, for the suggested attributes.
        metadata: more ``StreamInfo.metadata`` entries.
    """
    columns = [str(column) for column in sample.columns if not str(column).startswith(META_PREFIX)]
    fields = tuple(FieldInfo(column, infer_field_type(sample[column])) for column in columns)
    if mapping:
        suggested = {path: column for path, column in mapping.items() if column in columns}
        chosen = {space: path for space, path in (identities or {}).items() if path in suggested}
        metadata = {**metadata, SUGGESTED_MAPPING: suggested, SUGGESTED_IDENTITIES: chosen}
    offered = tuple(cursor for cursor in cursors if cursor in columns or sample.empty)
    return StreamInfo(name, fields, tuple(key), offered, metadata)
