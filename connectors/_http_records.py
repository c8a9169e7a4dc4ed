"""JSON records as DataFrames: nested objects flattened with dots, bounded chunks.

The one shape every HTTP connector gives its records: ``pd.json_normalize``
flattens nested objects into dotted columns (``BillingAddress.city``), lists
become JSON text, and columns take pandas' nullable dtypes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import pandas as pd

from connectors._sql_types import STRING


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


def _json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)
