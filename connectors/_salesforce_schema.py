"""Salesforce objects as Tributary reads them: describes, portable types, SOQL, and typed chunks.

A describe's field types map onto Tributary's portable types (below).
Compound fields (``MailingAddress``, geolocations) are never selected: their
components are plain fields, and Bulk API 2.0 refuses them; neither are
base64 file bodies (a URL in REST answers, refused by Bulk API).

Both read paths, REST pages of JSON and Bulk API CSV sets, end in
:func:`typed_chunk`, so a column has the same dtype whichever path read it:
text (ids, picklists, phones, dates as ``YYYY-MM-DD``, times) as strings,
int/long as Int64, double/currency/percent as Float64, booleans as
"boolean", dateTimes as UTC timestamps.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

import pandas as pd

from connectors._sql_types import STRING
from connectors.base import DELETED_COLUMN, FieldInfo

#: Describe ``type`` -> portable type; unknown types are read as text.
SALESFORCE_TYPES: Mapping[str, str] = {
    "id": "string",
    "reference": "string",
    "string": "string",
    "textarea": "string",
    "picklist": "string",
    "multipicklist": "string",
    "combobox": "string",
    "phone": "string",
    "email": "string",
    "url": "string",
    "encryptedstring": "string",
    "time": "string",
    "anyType": "string",
    "boolean": "boolean",
    "int": "integer",
    "long": "integer",
    "double": "number",
    "currency": "number",
    "percent": "number",
    "date": "date",
    "datetime": "timestamp",
    "complexvalue": "json",
    "json": "json",
}
#: Describe types no query selects: compound fields and file bodies.
UNSELECTED_TYPES = frozenset({"address", "location", "base64"})
#: Cursor candidates, best first: SystemModstamp also moves on system changes and deletions.
CURSOR_FIELDS = ("SystemModstamp", "LastModifiedDate", "CreatedDate")
KEY = "Id"
DELETED_FIELD = "IsDeleted"
#: The longest SOQL sent in a REST URL (URIs stop at 16,384 bytes); longer queries go to Bulk API 2.0.
MAX_URL_SOQL = 15_000


@dataclass(frozen=True)
class SObjectSchema:
    """An object as its describe says: canonical name, label, and its selectable fields' describe types."""

    name: str
    label: str
    fields: Mapping[str, str]
    custom: bool = False

    @classmethod
    def from_describe(cls, body: Mapping[str, Any]) -> SObjectSchema:
        """The schema of a ``sobjects/<name>/describe`` answer."""
        fields = {
            str(f["name"]): str(f.get("type", "string"))
            for f in body.get("fields", [])
            if f.get("type") not in UNSELECTED_TYPES
        }
        return cls(
            str(body["name"]), str(body.get("label") or body["name"]), fields, bool(body.get("custom"))
        )

    @property
    def key(self) -> tuple[str, ...]:
        """The primary key: ``Id`` (every object but a few system views has it)."""
        return (KEY,) if KEY in self.fields else ()

    def portable(self, field: str) -> str:
        """A field's portable type."""
        return SALESFORCE_TYPES.get(self.fields[field], "string")

    def field_named(self, name: str) -> str | None:
        """The canonical spelling of a field (SOQL names ignore case), or None."""
        return next((field for field in self.fields if field.lower() == name.lower()), None)

    def field_infos(self) -> tuple[FieldInfo, ...]:
        """The fields with their portable types."""
        return tuple(FieldInfo(name, self.portable(name)) for name in self.fields)

    def cursor_candidates(self) -> tuple[str, ...]:
        """The standard audit fields it has, then its other dateTime fields."""
        standard = [name for name in CURSOR_FIELDS if name in self.fields]
        others = [n for n in self.fields if self.portable(n) == "timestamp" and n not in CURSOR_FIELDS]
        return (*standard, *others)


def select_statement(
    schema: SObjectSchema,
    *,
    where: str | None = None,
    order: Sequence[str] = (),
    limit: int | None = None,
    count: bool = False,
) -> str:
    """``SELECT <every field> | COUNT() FROM <object> [WHERE ...] [ORDER BY ...] [LIMIT n]``."""
    selected = "COUNT()" if count else ", ".join(schema.fields)
    parts = [f"SELECT {selected} FROM {schema.name}"]
    if where:
        parts.append(f"WHERE {where}")
    if order and not count:
        parts.append("ORDER BY " + ", ".join(dict.fromkeys(order)))
    if limit is not None:
        parts.append(f"LIMIT {limit}")
    return " ".join(parts)


def fits_in_url(soql: str) -> bool:
    """Whether the query can travel in a REST query URL."""
    return len(quote_plus(soql)) <= MAX_URL_SOQL


def soql_literal(value: Any, describe_type: str) -> str:
    """A value as a SOQL literal for a field of that describe type.

    DateTimes are written in UTC to the second (``2026-11-02T09:00:00Z``): a
    start with milliseconds is floored, so a ``>=`` filter reads a few rows of
    that second again, which the engine drops as already seen. Dates are
    ``YYYY-MM-DD``, numbers and booleans bare, text quoted with backslash
    escapes (SOQL and SOSL Reference, "Quoted String Escape Sequences").
    """
    kind = SALESFORCE_TYPES.get(describe_type, "string")
    if kind in ("timestamp", "date"):
        moment = pd.Timestamp(value)
        moment = moment.tz_localize("UTC") if moment.tzinfo is None else moment.tz_convert("UTC")
        if kind == "date":
            return moment.date().isoformat()
        return moment.floor("s").strftime("%Y-%m-%dT%H:%M:%SZ")
    if kind in ("integer", "number") and not isinstance(value, str | bool):
        number = float(value)
        return str(int(number)) if number.is_integer() else repr(number)
    if kind == "boolean":
        return "true" if str(value).lower() in ("true", "1") else "false"
    escaped = str(value).replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n").replace("\r", "\\r")
    return f"'{escaped}'"


def typed_chunk(frame: pd.DataFrame, schema: SObjectSchema) -> pd.DataFrame:
    """The object's fields, in describe order, typed by their portable type (vectorised, column by column).

    Columns the records did not carry (all null in a JSON page) come back empty
    but typed; anything else (``attributes``) is dropped. When the object has
    ``IsDeleted``, DELETED_COLUMN carries it, so the engine removes the records
    a ``queryAll`` reports deleted.
    """
    columns = {}
    for name in schema.fields:
        values = frame[name] if name in frame.columns else pd.Series(pd.NA, index=frame.index, dtype=STRING)
        columns[name] = _CONVERTERS[schema.portable(name)](values)
    typed = pd.DataFrame(columns, index=frame.index)
    if DELETED_FIELD in typed.columns:
        typed[DELETED_COLUMN] = typed[DELETED_FIELD].fillna(False).astype(bool)
    return typed


def _text(values: pd.Series) -> pd.Series:
    return values.astype(STRING)


def _integers(values: pd.Series) -> pd.Series:
    if pd.api.types.is_integer_dtype(values):
        return values.astype("Int64")
    return pd.to_numeric(values.astype(STRING), errors="coerce").astype("Int64")


def _numbers(values: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return values.astype("Float64")
    return pd.to_numeric(values.astype(STRING), errors="coerce").astype("Float64")


def _booleans(values: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(values):
        return values.astype("boolean")
    return (values.astype(STRING).str.lower() == "true").astype("boolean")


def _timestamps(values: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(values):
        moments = values.dt.tz_convert("UTC") if values.dt.tz is not None else values.dt.tz_localize("UTC")
    else:  # REST: 2026-11-02T09:00:00.123+0000; Bulk API CSV: 2026-11-02T09:00:00.123Z
        moments = pd.to_datetime(values.astype(STRING), utc=True, format="ISO8601", errors="coerce")
    return moments.astype("datetime64[us, UTC]")


_CONVERTERS = {
    "string": _text,
    "date": _text,  # ISO text: it profiles as a date and maps onto date attributes as it is
    "json": _text,
    "integer": _integers,
    "number": _numbers,
    "boolean": _booleans,
    "timestamp": _timestamps,
}
