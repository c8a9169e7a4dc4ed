"""Adobe Analytics data feed columns: their types, the hits reports leave out, and the lookup joins.

Types follow Adobe's column reference (``datafeeds-reference``): the
``*_time_gmt`` columns hold Unix seconds (UTC), ``date_time`` the hit's time
in the report suite's time zone (``YYYY-MM-DD HH:MM:SS``, no zone), and the
visit and visitor counters are whole numbers. Identifiers (``hitid_high``,
``post_visid_low``...) are unsigned 64-bit numbers that overflow int64: they
stay text, as do lookup ids and every custom variable. A value that does not
parse as its column's type makes its row malformed, with the reason.

The hits Adobe's reports do not count are left out, as its metric guide
(``datafeeds-calculate``) says to: ``exclude_hit > 0`` (bots, IP and other
exclusions) and ``hit_source`` 5, 8 and 9 (summary rows of Data Sources) and
7 (transaction ID uploads).

Lookups turn ids into names with vectorised joins (``browser`` 497 gets
``browser_name`` "Microsoft Internet Explorer 8"); the multi-valued
``event_list`` and ``plugins`` are joined value by value with pyarrow lists.
"""

from __future__ import annotations

import io
from collections.abc import Collection, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from connectors.base import META_PREFIX, RAW_COLUMN, ROW_ERROR_COLUMN

#: Unix seconds, UTC.
EPOCH_COLUMNS = frozenset({"hit_time_gmt", "cust_hit_time_gmt", "post_cust_hit_time_gmt"})
#: Unix seconds, UTC, where 0 means "none" (a first visit has no last hit).
OPTIONAL_EPOCH_COLUMNS = frozenset(
    {"first_hit_time_gmt", "last_hit_time_gmt", "last_purchase_time_gmt", "visit_start_time_gmt"}
)
#: The report suite's local time, without a zone.
LOCAL_TIME_COLUMNS = frozenset({"date_time"})
INTEGER_COLUMNS = frozenset(
    {
        "visit_num",
        "visit_page_num",
        "hit_source",
        "exclude_hit",
        "new_visit",
        "visid_type",
        "visid_new",
        "daily_visitor",
        "hourly_visitor",
        "weekly_visitor",
        "monthly_visitor",
        "quarterly_visitor",
        "yearly_visitor",
        "last_purchase_num",
        "page_event",
        "post_page_event",
        "duplicate_purchase",
        "browser_height",
        "browser_width",
        "post_browser_height",
        "post_browser_width",
        "mobile_id",
    }
)
#: Hits that identify one hit uniquely together, in Adobe's words (hitid_high + hitid_low, plus the
#: visit and page numbers where a re-sent file repeats some of them).
PRIMARY_KEY = ("hitid_high", "hitid_low", "visit_num", "visit_page_num")
CURSORS = ("hit_time_gmt", "date_time")
#: hit_source values Adobe's reports do not count: Data Sources summaries (5, 8, 9), transaction IDs (7).
UNREPORTED_SOURCES = (5, 7, 8, 9)


def field_type(column: str) -> str:
    """The portable type of a data feed column."""
    if column in EPOCH_COLUMNS or column in OPTIONAL_EPOCH_COLUMNS or column in LOCAL_TIME_COLUMNS:
        return "timestamp"
    return "integer" if column in INTEGER_COLUMNS else "string"


def typed_hits(frame: pd.DataFrame) -> pd.DataFrame:
    """Converts the typed columns; a value that does not parse makes its row malformed, saying which."""
    problems = pd.Series(np.nan, index=frame.index, dtype="str")
    converted: dict[str, pd.Series] = {}
    for column in frame.columns:
        if str(column).startswith(META_PREFIX) or field_type(column) == "string":
            continue
        text = frame[column]
        values, failed = _convert(column, text)
        converted[column] = values.where(~failed)
        if failed.any():
            why = f"{column} is not a {'whole number' if field_type(column) == 'integer' else 'time'}: "
            problems = problems.fillna((why + text.astype("str")).where(failed))
    if not converted:
        return frame
    typed = frame.assign(**converted)
    failed = problems.notna() & frame[ROW_ERROR_COLUMN].isna()
    if failed.any():
        data = [c for c in frame.columns if not str(c).startswith(META_PREFIX)]
        typed.loc[failed, ROW_ERROR_COLUMN] = problems[failed]
        typed.loc[failed, RAW_COLUMN] = _escaped_rows(frame.loc[failed, data])
    return typed


def _convert(column: str, text: pd.Series) -> tuple[pd.Series, pd.Series]:
    """The column's values in its type, and which present values failed to convert."""
    present = text.notna()
    if column in LOCAL_TIME_COLUMNS:
        stamps = pd.to_datetime(text, format="%Y-%m-%d %H:%M:%S", errors="coerce")
        return stamps, present & stamps.isna()
    numbers = pd.to_numeric(text, errors="coerce").astype("float64")
    failed = present & (numbers.isna() | (numbers % 1 != 0))
    if column in INTEGER_COLUMNS:
        return numbers.where(~failed).astype("Int64"), failed
    if column in OPTIONAL_EPOCH_COLUMNS:
        numbers = numbers.where(numbers != 0)
    return pd.to_datetime(numbers, unit="s", utc=True), failed


def _escaped_rows(data: pd.DataFrame) -> pd.Series:
    """Rows as Adobe wrote them: values escaped again and joined by tabs (for RAW_COLUMN)."""
    columns = [
        pa.array(
            data[c]
            .astype("str")
            .fillna("")
            .str.replace("\\", "\\\\", regex=False)
            .str.replace("\t", "\\\t", regex=False)
            .str.replace("\n", "\\\n", regex=False),
            type=pa.string(),
        )
        for c in data.columns
    ]
    joined = pc.binary_join_element_wise(*columns, "\t") if columns else pa.array([""] * len(data))
    return pd.Series(joined.to_pylist(), index=data.index, dtype="str")


def reported_hits(frame: pd.DataFrame) -> pd.DataFrame:
    """Drops the hits Adobe's reports leave out (``exclude_hit > 0``, ``hit_source`` 5, 7, 8, 9).

    Malformed rows stay, whatever their values: they are quarantined, never silently dropped.
    """
    keep = frame[ROW_ERROR_COLUMN].notna()
    reported = pd.Series(True, index=frame.index)
    if "exclude_hit" in frame:
        reported &= ~(frame["exclude_hit"].astype("Int64").fillna(0) > 0)
    if "hit_source" in frame:
        reported &= ~frame["hit_source"].astype("Int64").isin(UNREPORTED_SOURCES).fillna(False)
    keep |= reported
    return frame if keep.all() else frame[keep]


@dataclass(frozen=True)
class LookupJoin:
    """A column added from a lookup file: its name, the lookup, the hit column of ids it reads."""

    column: str
    lookup: str
    source: str
    many: bool = False  # the source holds a comma-separated list of ids


LOOKUP_JOINS: tuple[LookupJoin, ...] = (
    LookupJoin("browser_name", "browser.tsv", "browser"),
    LookupJoin("browser_type", "browser_type.tsv", "browser"),
    LookupJoin("color_depth", "color_depth.tsv", "color"),
    LookupJoin("connection_type_name", "connection_type.tsv", "connection_type"),
    LookupJoin("country_name", "country.tsv", "country"),
    LookupJoin("event_names", "event.tsv", "event_list", many=True),
    LookupJoin("post_event_names", "event.tsv", "post_event_list", many=True),
    LookupJoin("javascript_version", "javascript_version.tsv", "javascript"),
    LookupJoin("language_name", "languages.tsv", "language"),
    LookupJoin("os_name", "operating_systems.tsv", "os"),
    LookupJoin("plugin_names", "plugins.tsv", "plugins", many=True),
    LookupJoin("ref_type_name", "referrer_type.tsv", "ref_type"),
    LookupJoin("resolution_name", "resolution.tsv", "resolution"),
    LookupJoin("search_engine_name", "search_engines.tsv", "search_engine"),
    LookupJoin("post_search_engine_name", "search_engines.tsv", "post_search_engine"),
)
#: The lookup files a delivery carries.
LOOKUP_FILES = frozenset(join.lookup for join in LOOKUP_JOINS)


def decode_text(data: bytes) -> str:
    """A feed's text file: UTF-8, else ISO-8859-1 (Adobe's older feeds), which decodes any byte."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("iso-8859-1")


def lookup_table(data: bytes) -> pd.Series:
    """A lookup file (``id<TAB>name`` lines, no header) as names indexed by id."""
    lines = pd.Series(decode_text(data).splitlines(), dtype="str")
    parts = lines.str.split("\t", n=2, expand=True)
    if parts.shape[1] < 2:
        return pd.Series(dtype="str")
    table = pd.Series(parts[1].to_numpy(), index=parts[0].str.strip().to_numpy(), dtype="str")
    return table[~table.index.duplicated(keep="first")]


def joins_for(columns: Collection[str], wanted: bool | Collection[str]) -> list[LookupJoin]:
    """The joins that apply to a delivery's columns: all of them (True), none, or those named."""
    if isinstance(wanted, bool):
        chosen = LOOKUP_JOINS if wanted else ()
    else:
        chosen = tuple(join for join in LOOKUP_JOINS if join.column in wanted)
    return [join for join in chosen if join.source in columns]


def join_lookups(
    frame: pd.DataFrame, joins: list[LookupJoin], tables: Mapping[str, pd.Series]
) -> pd.DataFrame:
    """Adds each join's column: the names of the ids (a list of names for lists), null when unknown."""
    added: dict[str, pd.Series] = {}
    for join in joins:
        table = tables.get(join.lookup)
        ids = frame[join.source].astype("str")
        if table is None or table.empty:
            added[join.column] = pd.Series(np.nan, index=frame.index, dtype="str")
        elif join.many:
            added[join.column] = _names_of_lists(ids, table)
        else:
            positions = table.index.get_indexer(ids.str.strip())
            names = pd.Series(table.to_numpy()[positions], index=frame.index, dtype="str")
            added[join.column] = names.where(positions >= 0)
    return frame.assign(**added) if added else frame


def _names_of_lists(ids: pd.Series, table: pd.Series) -> pd.Series:
    """``1,200`` -> ``Purchase,Custom Event 1``; an unknown id stays as it is."""
    values = pa.array(ids, type=pa.string())
    if isinstance(values, pa.ChunkedArray):  # pyarrow-backed pandas strings
        values = values.combine_chunks()
    lists = pc.split_pattern(values, ",")
    flat = pc.utf8_trim_whitespace(pc.list_flatten(lists))
    keys = pa.array(table.index.to_numpy(), type=pa.string())
    found = pc.take(pa.array(table.to_numpy(), type=pa.string()), pc.index_in(flat, value_set=keys))
    names = pc.coalesce(found, flat)
    rebuilt = pa.ListArray.from_arrays(lists.offsets, names, mask=lists.is_null())
    joined = pc.binary_join(rebuilt, ",")
    return pd.Series(joined.to_pandas(), index=ids.index, dtype="str")


def read_lookups(files: Mapping[str, bytes]) -> dict[str, pd.Series]:
    """The lookup tables among a delivery's side files, by file name."""
    return {name: lookup_table(data) for name, data in files.items() if name in LOOKUP_FILES}


def column_headers(data: bytes) -> list[str]:
    """The hit data's column names, from ``column_headers.tsv`` (one tab-separated line)."""
    first = io.StringIO(decode_text(data).lstrip("\ufeff")).readline().rstrip("\r\n")
    return [name.strip() for name in first.split("\t")] if first.strip() else []
