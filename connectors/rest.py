"""The generic REST/JSON connector: any JSON API over HTTP, described by its streams.

A connection (:class:`~connectors._rest_config.RestConfig`) is a base URL, an
auth (none, API key in a header or the query, bearer token, basic, OAuth2
client credentials) and a list of streams, each a path with where its records
sit in a page, how pages follow each other, and optionally the query
parameter that asks for records changed since a point. Everything HTTP
(retries, Retry-After, token refresh, errors without secrets) is the shared
layer's, ``connectors._http``.

Records become columns as the HTTP layer flattens them: nested objects as
dotted columns (``address.city``), lists as JSON text. Chunks keep the columns
of the chunks before them (a field absent from a whole chunk is an empty
column, not a missing one).

Incremental reads (``pushes_down_cursor``): when the dataflow's cursor is a
stream's ``incremental.field``, the engine's start goes into
``incremental.param`` and rows come back ordered by (cursor, key). An API
that says it returns that order (``incremental.ordered``) is streamed page by
page, each chunk sorted; otherwise, and for a cursor the API cannot filter
on, the read gathers its records and sorts them before the first chunk, so
memory grows with what the read returns. Order matters: an interrupted run
resumes from the highest cursor it committed.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, ClassVar

import pandas as pd

from connectors._candidates import cursor_candidates, key_candidates
from connectors._http import (
    HttpClient,
    HttpSettings,
    Page,
    Redactor,
    aligned,
    frames,
    records_frame,
    url_for_message,
    with_origin,
)
from connectors._rest_config import RestConfig, RestIncremental, RestPagination, RestStream, StartFormat
from connectors._sql_types import STRING
from connectors.base import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_SAMPLE_SIZE,
    CheckResult,
    Connector,
    ConnectorConfig,
    ConnectorError,
    CursorRequest,
    FieldInfo,
    StreamInfo,
    StreamNotFoundError,
    infer_field_type,
)

__all__ = ["RestConfig", "RestConnector", "RestIncremental", "RestPagination", "RestStream", "format_start"]

_ORDER = "__tributary_order"


class RestConnector(Connector):
    """Streams of a REST/JSON API, read page by page through the shared HTTP layer."""

    name: ClassVar[str] = "rest"
    title: ClassVar[str] = "REST / JSON API"
    category: ClassVar[str] = "Web APIs"
    description: ClassVar[str] = (
        "Any JSON API over HTTP: API key, bearer, basic or OAuth2 client credentials; "
        "next-link, cursor, offset, page-number or OData paging."
    )
    config_model: ClassVar[type[ConnectorConfig]] = RestConfig
    pushes_down_cursor: ClassVar[bool] = True

    @property
    def settings(self) -> RestConfig:
        """The connection's settings, typed."""
        assert isinstance(self.config, RestConfig)
        return self.config

    # -- the four verbs --------------------------------------------------------
    def check(self) -> CheckResult:
        """Reads the first page of the first stream; says what failed if it cannot."""
        stream = self.settings.streams[0]
        try:
            with self._client() as client:
                page = next(self._pages(client, stream, stream.params), None)
        except ConnectorError as error:
            return CheckResult(False, error.user_message)
        except Exception as error:  # check() reports every failure instead of raising
            redact = Redactor(self.settings.http_auth().secrets())
            return CheckResult(False, redact(f"{stream.name}: unexpected {type(error).__name__}: {error}"))
        count = len(page.records) if page else 0
        where = url_for_message(self.settings.base_url)
        return CheckResult(True, f"Connected to {where}: {stream.name} answered {count} records on page 1.")

    def discover(self) -> list[StreamInfo]:
        """The configured streams, with fields typed from their first page and key and cursor candidates."""
        with self._client() as client:
            return [self._describe(client, stream) for stream in self.settings.streams]

    def sample(
        self, stream: str, limit: int = DEFAULT_SAMPLE_SIZE, options: Mapping[str, Any] | None = None
    ) -> pd.DataFrame:
        """At most ``limit`` records of the stream's first page: one request."""
        spec = self._stream(stream)
        with self._client() as client:
            page = next(self._pages(client, spec, spec.params), None)
        records = list(page.records[:limit]) if page else []
        return with_origin(records_frame(records), spec.name, spec.primary_key, 0)

    def read(
        self,
        stream: str,
        options: Mapping[str, Any] | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        cursor: CursorRequest | None = None,
    ) -> Iterator[pd.DataFrame]:
        """Yields the stream's records in chunks of at most ``chunk_size`` rows, page after page.

        With ``cursor``: records from ``cursor.start`` on when the stream's
        incremental parameter filters that column, ordered by (cursor, key).
        No records: no chunk.
        """
        if chunk_size < 1:
            raise ValueError("chunk_size must be at least 1")
        return self._chunks(self._stream(stream), chunk_size, cursor)

    # -- helpers ---------------------------------------------------------------
    def _chunks(
        self, stream: RestStream, chunk_size: int, cursor: CursorRequest | None
    ) -> Iterator[pd.DataFrame]:
        params = dict(stream.params)
        incremental = stream.incremental
        pushed = cursor is not None and incremental is not None and cursor.column == incremental.field
        if pushed and cursor is not None and incremental is not None and cursor.start is not None:
            params[incremental.param] = format_start(cursor.start, incremental.format, incremental.lookback_s)
        key = tuple(cursor.primary_key) if cursor and cursor.primary_key else tuple(stream.primary_key)
        with self._client() as client:
            pages = (page.records for page in self._pages(client, stream, params))
            chunks: Iterable[pd.DataFrame]
            if cursor is None:
                chunks = frames(pages, chunk_size)
            elif pushed and incremental is not None and incremental.ordered:
                chunks = (ordered(frame, cursor.column, key) for frame in frames(pages, chunk_size))
            else:
                chunks = _sorted_chunks(pages, cursor.column, key, chunk_size)
            columns: list[str] = []
            rows = 0
            for frame in chunks:
                frame = aligned(frame, columns)
                yield with_origin(frame, stream.name, key, rows)
                rows += len(frame)

    def _describe(self, client: HttpClient, stream: RestStream) -> StreamInfo:
        page = next(self._pages(client, stream, stream.params), None)
        frame = records_frame(page.records if page else [])
        fields = tuple(FieldInfo(str(name), infer_field_type(frame[name])) for name in frame.columns)
        keys = tuple(stream.primary_key) or key_candidates(frame, fields)
        cursors = cursor_candidates(fields)
        if stream.incremental:
            cursors = (stream.incremental.field, *(c for c in cursors if c != stream.incremental.field))
        metadata = {
            "path": stream.path,
            "pagination": stream.pagination.type,
            "incremental_field": stream.incremental.field if stream.incremental else None,
        }
        return StreamInfo(stream.name, fields, keys, cursors, metadata)

    def _stream(self, name: str) -> RestStream:
        stream = self.settings.stream(name)
        if stream is None:
            offered = ", ".join(s.name for s in self.settings.streams)
            raise StreamNotFoundError(f"This REST connection has no stream {name!r}; it offers: {offered}.")
        return stream

    def _client(self) -> HttpClient:
        config = self.settings
        settings = HttpSettings(
            read_timeout_s=config.read_timeout_s, max_attempts=config.max_attempts, network=self.network
        )
        return HttpClient(config.base_url, config.http_auth(), settings=settings)

    @staticmethod
    def _pages(client: HttpClient, stream: RestStream, params: Mapping[str, Any]) -> Iterator[Page]:
        return client.pages(
            stream.path,
            object_name=stream.name,
            paginator=stream.pagination.paginator(),
            params=params,
            records_path=stream.records_path or None,
        )


def format_start(start: Any, form: StartFormat, lookback_s: int = 0) -> str:
    """The engine's cursor start as a query parameter value, ``lookback_s`` seconds earlier.

    Numbers (epoch seconds or milliseconds, version counters) stay numbers;
    timestamps (the engine passes UTC Timestamps) are written as ISO 8601 with
    ``Z``, a date, or epoch seconds/milliseconds; text that is no timestamp is
    sent as it is.
    """
    if isinstance(start, int | float) and not isinstance(start, bool):
        number = start - lookback_s * (1000 if form == "unix_milliseconds" else 1)
        return str(int(number)) if float(number).is_integer() else repr(float(number))
    try:
        moment = pd.Timestamp(start)
    except (TypeError, ValueError):
        return str(start)
    moment = moment.tz_localize("UTC") if moment.tzinfo is None else moment.tz_convert("UTC")
    moment -= pd.Timedelta(seconds=lookback_s)
    if form == "date":
        return moment.date().isoformat()
    if form == "unix_seconds":
        return str(moment.value // 1_000_000_000)
    if form == "unix_milliseconds":
        return str(moment.value // 1_000_000)
    return moment.isoformat().replace("+00:00", "Z")


def ordered(frame: pd.DataFrame, column: str, key: Sequence[str]) -> pd.DataFrame:
    """The rows sorted by ``column`` compared as timestamps, numbers or text (missing last), then ``key``."""
    if column not in frame.columns or frame.empty:
        return frame
    by = [_ORDER, *(name for name in key if name in frame.columns and name != column)]
    sortable = frame.assign(**{_ORDER: _comparable(frame[column])})
    result = sortable.sort_values(by, kind="stable", na_position="last").drop(columns=_ORDER)
    return result.reset_index(drop=True)


def _comparable(values: pd.Series) -> pd.Series:
    """Cursor values in their natural order: ISO timestamps as instants, numeric text as numbers."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return values
    if pd.api.types.is_datetime64_any_dtype(values):
        return values
    text = values.astype(STRING)
    present = int(text.notna().sum())
    moments = pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601")
    if int(moments.notna().sum()) == present:
        return moments
    numbers = pd.to_numeric(text, errors="coerce")
    return numbers if int(numbers.notna().sum()) == present else text


def _sorted_chunks(
    pages: Iterable[Sequence[Any]], column: str, key: Sequence[str], chunk_size: int
) -> Iterator[pd.DataFrame]:
    """All the records, sorted, then cut: for APIs that do not return the cursor's order."""
    whole = ordered(records_frame(list(itertools.chain.from_iterable(pages))), column, key)
    for start in range(0, len(whole), chunk_size):
        yield whole.iloc[start : start + chunk_size].reset_index(drop=True)
