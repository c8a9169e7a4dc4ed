"""Downloads of tabular data as CSV and JSON, neutralised against spreadsheet formula injection.

A cell whose text starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return is read as a formula by Excel, LibreOffice and Google Sheets, so a
quarantined source row such as ``=HYPERLINK("http://evil", "click")`` would
run when an analyst opens the download. Such text gets a leading ``'`` (the
OWASP "CSV injection" advice), which spreadsheets show as plain text.

Both formats are neutralised: the issue asks for it, and a JSON download is
as often pasted or imported into a spreadsheet as read by a program. The JSON
values therefore keep the added quote too; callers that hand JSON to programs
only can pass ``neutralised=False``.

Only text is touched: numbers, booleans, dates and missing values stay as they
are, and text that is a plain number (``-12``, ``+3.5``, ``-1e3``) is left
alone, since a spreadsheet reads it as that number, never as a formula.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

import pandas as pd

#: The first characters that make a spreadsheet read a cell as a formula.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
#: Text a spreadsheet reads as a number: safe, and worth keeping exact.
_PLAIN_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"


def neutralise(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` where every text cell a spreadsheet would run as a formula starts with ``'``.

    Vectorised per column (pandas string methods); non-text columns are returned untouched.
    """
    out = frame.copy()
    for column in out.columns:
        values = out[column]
        if not _may_hold_text(values):
            continue
        try:
            text = values.str
            risky = text.startswith(FORMULA_PREFIXES, na=False) & ~text.fullmatch(_PLAIN_NUMBER, na=False)
        except AttributeError:  # a column without any text (numbers, dates, dicts)
            continue
        risky = risky.astype(bool)
        if risky.any():
            # object dtype keeps the other cells (numbers among text) exactly as they were
            out[column] = values.astype(object).mask(risky, "'" + values[risky].astype(str))
    out.columns = [_neutralised_label(c) for c in out.columns]
    return out


def to_csv_bytes(frame: pd.DataFrame, *, neutralised: bool = True) -> bytes:
    """The frame as UTF-8 CSV (RFC 4180: a header, CRLF line ends, no index).

    CRLF line ends make the writer quote every cell holding a carriage return, so
    a spreadsheet never splits one cell into rows (which would start a new row
    with text that was not neutralised).
    """
    data = neutralise(frame) if neutralised else frame
    return data.to_csv(index=False, lineterminator="\r\n").encode("utf-8")


def to_json_bytes(frame: pd.DataFrame, *, neutralised: bool = True) -> bytes:
    """The frame as a UTF-8 JSON array of objects, one per row; dates in ISO 8601, missing values null."""
    data = neutralise(frame) if neutralised else frame
    records = data.astype(object).where(data.notna(), None).to_dict("records")
    return json.dumps(records, ensure_ascii=False, indent=1, default=_plain).encode("utf-8")


def _plain(value: Any) -> Any:
    """JSON for what ``json`` cannot write itself: times in ISO 8601, numpy scalars as numbers."""
    if isinstance(value, datetime | date | pd.Timestamp):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def _may_hold_text(values: pd.Series) -> bool:
    return pd.api.types.is_string_dtype(values) or pd.api.types.is_object_dtype(values)


def _neutralised_label(label: object) -> object:
    """Column headers are cells too: a source column named ``=cmd`` must not run either."""
    if isinstance(label, str) and label.startswith(FORMULA_PREFIXES):
        return "'" + label
    return label
