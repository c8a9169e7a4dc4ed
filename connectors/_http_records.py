"""JSON records as DataFrames: nested objects flattened with dots, bounded chunks.

The one shape every HTTP connector gives its records: ``pd.json_normalize``
flattens nested objects into dotted columns (``BillingAddress.city``), lists
become JSON text, and columns take pandas' nullable dtypes. :func:`read_chunks`
turns a read's pages into the chunks the engine takes: bounded, each with the
columns of the chunks before it, and with the bookkeeping columns.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import pandas as pd

from connectors._sql_types import STRING, with_bookkeeping

#: Reshapes a chunk of flattened records (renames, drops, converts columns); vectorised.
Shape = Callable[[pd.DataFrame], pd.DataFrame]


def records_frame(records: Sequence[Any]) -> pd.DataFrame:
    """JSON records as a DataFrame.

    Nested objects are flattened into dotted columns (``BillingAddress.city``)
    by ``pd.json_normalize``; lists (and objects left whole, such as empty ones)
    become JSON text; columns get pandas' nullable dtypes (Int64, Float64,
    boolean, string), and a column with no value at all is a string column.
    Records that are not objects become one ``value`` column.
    """
    if not records:
        return pd.DataFrame()
    if not isinstance(records[0], dict):
        frame = pd.DataFrame({"value": pd.Series(list(records), dtype=object)})
    else:
        frame = pd.json_normalize(list(records), sep=".")
    for name in [name for name, dtype in frame.dtypes.items() if pd.api.types.is_object_dtype(dtype)]:
        nested = frame[name].map(type).isin([list, dict])
        if nested.any():
            frame.loc[nested, name] = frame.loc[nested, name].map(_json_text)
    frame = frame.convert_dtypes()
    empty = frame.columns[frame.isna().all()]
    return frame.astype(dict.fromkeys(empty, STRING)) if len(empty) else frame


def frames(pages: Iterable[Sequence[Any]], chunk_size: int) -> Iterator[pd.DataFrame]:
    """Re-cuts pages of records into DataFrames of at most ``chunk_size`` rows (none for no records)."""
    if chunk_size < 1:
        raise ValueError("chunk_size must be at least 1")
    buffer: list[Any] = []
    for records in pages:
        buffer.extend(records)
        while len(buffer) >= chunk_size:
            yield records_frame(buffer[:chunk_size])
            del buffer[:chunk_size]
    if buffer:
        yield records_frame(buffer)


def read_chunks(
    pages: Iterable[Sequence[Any]],
    *,
    stream: str,
    key: Sequence[str],
    chunk_size: int,
    shape: Shape | None = None,
) -> Iterator[pd.DataFrame]:
    """A read's chunks from its pages of records: bounded, reshaped, aligned, with bookkeeping.

    Each chunk keeps the columns of the chunks before it (a field absent from a
    whole chunk is an empty column, not a missing one) and carries
    ORIGIN_COLUMN by ``key`` (or by row number in this read when the records
    lack it). No records: no chunk.
    """
    columns: list[str] = []
    rows = 0
    for frame in frames(pages, chunk_size):
        frame = aligned(shape(frame) if shape else frame, columns)
        yield with_origin(frame, stream, key, rows)
        rows += len(frame)


def aligned(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The chunk with the columns of the chunks before it (empty when absent), new ones after them.

    ``columns`` is the running list of columns seen; it grows with the chunk's new ones.
    """
    known = set(columns)
    columns.extend(str(name) for name in frame.columns if name not in known)
    missing = [name for name in columns if name not in frame.columns]
    if missing:
        frame = frame.assign(**{name: pd.Series(pd.NA, index=frame.index, dtype=STRING) for name in missing})
    return frame[columns]


def with_origin(frame: pd.DataFrame, stream: str, key: Sequence[str], first_row: int) -> pd.DataFrame:
    """Adds the bookkeeping columns; ORIGIN_COLUMN by ``key`` when the records carry it, else by row."""
    present = [name for name in key if name in frame.columns]
    return with_bookkeeping(frame, stream, present if len(present) == len(key) else (), first_row)


def _json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)
