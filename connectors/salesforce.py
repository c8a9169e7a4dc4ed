"""Salesforce: objects (Contact, Lead, Account, custom objects) read with SOQL, over REST or Bulk API 2.0.

A connection signs in through a connected app with one OAuth 2.0 flow
(:class:`~connectors._salesforce_config.SalesforceConfig`); the token
answer's ``instance_url`` is where the API lives. Streams are the objects
the user can query, named by API name.

- ``discover`` lists them with one request (``GET sobjects``): describing
  every object of a real org takes hundreds of requests, so fields are left
  empty there. :meth:`SalesforceConnector.stream_info` describes one object;
  ``sample`` and ``read`` describe the object they read (once per connector).
  Contact, Lead and Account carry the mapping and identities the studio
  proposes (``_salesforce_standard``).
- ``sample``: ``SELECT <fields> FROM <object> LIMIT n`` over REST.
- ``read``: every selectable field, ``ORDER BY Id``; with the engine's cursor,
  ``WHERE <cursor> >= <start> ORDER BY <cursor>, Id`` (the cursor is pushed
  down; ``SystemModstamp`` is the first candidate). Incremental reads use
  ``queryAll`` so that deleted records come back with ``IsDeleted`` set,
  which the chunk's DELETED_COLUMN reports to the engine (option
  ``include_deleted``). REST pages follow ``nextRecordsUrl``; a read of more
  rows than ``bulk_threshold`` (one ``COUNT()`` request decides), or a stream
  with ``bulk: always``, runs a Bulk API 2.0 query job instead
  (``_salesforce_bulk``), whose CSV sets are typed like REST pages.

Errors name the object and the HTTP status, carry Salesforce's errorCode with
what to check (``_salesforce_errors``), and never a secret: the HTTP layer
masks every configured secret and issued token. REQUEST_LIMIT_EXCEEDED (a 403)
is treated as rate limiting: waited out, then a retriable error.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, ClassVar

import pandas as pd

from connectors._http import (
    HttpClient,
    HttpSettings,
    NextUrlPaginator,
    read_chunks,
    url_for_message,
    with_origin,
)
from connectors._http_connector import ApiConnector, StreamQuery
from connectors._salesforce_bulk import Operation, bulk_query
from connectors._salesforce_config import SalesforceConfig, SalesforceOptions, api_base
from connectors._salesforce_errors import error_parser, is_request_limit
from connectors._salesforce_schema import (
    CURSOR_FIELDS,
    DELETED_FIELD,
    KEY,
    SObjectSchema,
    fits_in_url,
    select_statement,
    soql_literal,
    typed_chunk,
)
from connectors._salesforce_standard import STANDARD_OBJECTS, suggestions
from connectors.base import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_SAMPLE_SIZE,
    AuthenticationError,
    ConnectorConfig,
    ConnectorError,
    CursorRequest,
    StreamInfo,
    StreamNotFoundError,
    StreamOptions,
)

__all__ = ["SalesforceConfig", "SalesforceConnector", "SalesforceOptions"]

log = logging.getLogger("connectors.salesforce")
_OBJECT_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
#: Rows per REST page at most (Salesforce's batch); a sample never asks for more.
REST_BATCH = 2000


@dataclass(frozen=True)
class _Plan:
    """What a read asks for: its filter and order, and whether deleted records come too."""

    where: str | None
    order: tuple[str, ...]
    operation: Operation
    ordered_by_cursor: bool

    def statement(self, schema: SObjectSchema, *, bulk: bool = False) -> str:
        # An ORDER BY stops Bulk API 2.0 from splitting a job: only a cursor read needs the order.
        order = self.order if self.ordered_by_cursor or not bulk else ()
        return select_statement(schema, where=self.where, order=order)


class SalesforceConnector(ApiConnector[SalesforceConfig]):
    """Objects of a Salesforce org, read with SOQL through the REST API or Bulk API 2.0.

    Args:
        config: the connection's settings.
        settings: the HTTP client's timeouts and retries (a seam for tests).
        sleep: how retries and Bulk API polls wait (a seam for tests).
    """

    name: ClassVar[str] = "salesforce"
    title: ClassVar[str] = "Salesforce"
    category: ClassVar[str] = "CRM and marketing automation"
    description: ClassVar[str] = (
        "Contacts, leads, accounts and any object through SOQL, over REST or Bulk API 2.0; "
        "OAuth client credentials, username-password, JWT bearer or refresh token; "
        "incremental by SystemModstamp, deletions included."
    )
    config_model: ClassVar[type[ConnectorConfig]] = SalesforceConfig
    options_model: ClassVar[type[StreamOptions]] = SalesforceOptions

    def __init__(
        self,
        config: ConnectorConfig | Mapping[str, Any],
        *,
        settings: HttpSettings | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(config, settings=settings)
        self._sleep = sleep
        self._auth = self.settings.http_auth()  # one token serves every verb of this connector
        self._schemas: dict[str, SObjectSchema] = {}

    @property
    def data_path(self) -> str:
        """``/services/data/<version>``: where the REST resources are, on the instance."""
        return f"/services/data/{self.settings.api_version}"

    # -- declared for ApiConnector ---------------------------------------------------
    def open_client(self) -> HttpClient:
        """A client signed in at the login URL, then pointed at the token answer's ``instance_url``."""
        config = self.settings
        client = HttpClient(
            config.login_url,
            self._auth,
            settings=self.http_settings,
            error_parser=error_parser(config.auth),
            rate_limited=is_request_limit,
            sleep=self._sleep,
        )
        try:
            instance = client.token_payload().get("instance_url")
            client.base_url = api_base(str(instance or ""))
        except ValueError:
            client.close()
            raise AuthenticationError(
                f"signing in: the token answer of {url_for_message(config.token_url)} has no usable "
                "instance_url (an https URL of the org)."
            ) from None
        except BaseException:
            client.close()
            raise
        return client

    def probe(self, client: HttpClient) -> str:
        """``GET limits`` (or the object list, for a user who may not see limits): proves API access."""
        instance = url_for_message(client.base_url).rstrip("/")
        where = f"Salesforce at {instance} (API {self.settings.api_version})"
        try:
            limits = client.get_json(f"{self.data_path}/limits", object_name="API limits") or {}
        except (AuthenticationError, StreamNotFoundError) as error:
            if "(HTTP 401," in error.user_message:
                raise  # refused even after a new token: the object list would be refused too
            # limits need "View Setup and Configuration"; the object list proves API access without it
            client.get_json(f"{self.data_path}/sobjects", object_name="objects")
            return f"Connected to {where}."
        daily = limits.get("DailyApiRequests") or {}
        if "Remaining" in daily and "Max" in daily:
            return (
                f"Connected to {where}; {daily['Remaining']:,} of {daily['Max']:,} daily API requests left."
            )
        return f"Connected to {where}."

    def discover(self) -> list[StreamInfo]:
        """Every object the user can query, from one request; Contact, Lead and Account first.

        Fields are left empty (describe one object with :meth:`stream_info`); the
        key is ``Id``, the cursor candidates the audit fields, and standard
        objects carry their suggested mapping and identities.
        """
        with self.open_client() as client:
            body = client.get_json(f"{self.data_path}/sobjects", object_name="objects") or {}
        entries = [
            entry
            for entry in body.get("sobjects", [])
            if entry.get("queryable") and not entry.get("deprecatedAndHidden") and entry.get("name")
        ]
        first = {name: rank for rank, name in enumerate(STANDARD_OBJECTS)}
        entries.sort(key=lambda entry: first.get(entry["name"], len(first)))
        return [
            StreamInfo(
                str(entry["name"]),
                (),
                (KEY,),
                CURSOR_FIELDS,
                {
                    "label": entry.get("label"),
                    "custom": bool(entry.get("custom")),
                    **suggestions(str(entry["name"])),
                },
            )
            for entry in entries
        ]

    def stream_info(self, stream: str) -> StreamInfo:
        """One object described: its fields with portable types, its key and cursor candidates."""
        with self.open_client() as client:
            schema = self._schema(client, stream)
        metadata = {"label": schema.label, "custom": schema.custom, **suggestions(schema.name, schema.fields)}
        return StreamInfo(schema.name, schema.field_infos(), schema.key, schema.cursor_candidates(), metadata)

    def sample(
        self, stream: str, limit: int = DEFAULT_SAMPLE_SIZE, options: Mapping[str, Any] | None = None
    ) -> pd.DataFrame:
        """At most ``limit`` records: a LIMIT query, its pages followed until the limit.

        Salesforce may answer fewer records per page than asked for when an
        object has many fields, so one page is not always the whole sample; a
        query too long for a URL runs as a Bulk API 2.0 job.
        """
        with self.open_client() as client:
            schema = self._schema(client, stream)
            soql = str(self.sample_query(client, stream, limit).params["q"])
            size = max(limit, 1)
            chunks = self._records(client, stream, schema, soql, "query", size, bulk=not fits_in_url(soql))
            first = next(chunks, None)
        if first is None:
            return with_origin(typed_chunk(pd.DataFrame(), schema), stream, schema.key, 0)
        return first

    def sample_query(self, client: HttpClient, stream: str, limit: int) -> StreamQuery:
        """``SELECT <fields> FROM <object> LIMIT n``."""
        schema = self._schema(client, stream)
        soql = select_statement(schema, limit=max(1, min(limit, REST_BATCH)))
        return self._rest_query(schema, soql, "query")

    def read_query(self, client: HttpClient, stream: str, cursor: CursorRequest | None) -> StreamQuery:
        """The REST read with default options (``read`` also weighs Bulk API 2.0 and the stream's options)."""
        schema = self._schema(client, stream)
        plan = self._plan(schema, SalesforceOptions.model_validate({}), cursor)
        return self._rest_query(schema, plan.statement(schema), plan.operation)

    # -- the read ----------------------------------------------------------------------
    def read(
        self,
        stream: str,
        options: Mapping[str, Any] | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        cursor: CursorRequest | None = None,
    ) -> Iterator[pd.DataFrame]:
        """Yields the object's records in chunks of at most ``chunk_size`` rows.

        Without ``cursor``: every record, by Id. With it: records whose cursor is
        at least ``cursor.start``, by (cursor, Id), deleted ones included (with
        DELETED_COLUMN set) unless the stream's ``include_deleted`` is off. Large
        reads go through Bulk API 2.0 (see the module docstring). No records: no chunk.
        """
        if chunk_size < 1:
            raise ValueError("chunk_size must be at least 1")
        parsed = self.parse_options(options)
        assert isinstance(parsed, SalesforceOptions)
        return self._read(stream, parsed, chunk_size, cursor)

    def _read(
        self, stream: str, options: SalesforceOptions, chunk_size: int, cursor: CursorRequest | None
    ) -> Iterator[pd.DataFrame]:
        with self.open_client() as client:
            schema = self._schema(client, stream)
            plan = self._plan(schema, options, cursor)
            bulk = self._through_bulk(client, schema, plan, options)
            soql = plan.statement(schema, bulk=bulk)
            yield from self._records(client, stream, schema, soql, plan.operation, chunk_size, bulk=bulk)

    def _records(
        self,
        client: HttpClient,
        stream: str,
        schema: SObjectSchema,
        soql: str,
        operation: Operation,
        chunk_size: int,
        *,
        bulk: bool,
    ) -> Iterator[pd.DataFrame]:
        """The query's records in typed chunks: REST pages, or a Bulk API 2.0 job's result sets."""
        if not bulk:
            query = self._rest_query(schema, soql, operation)
            pages = (page.records for page in self._pages(client, stream, query))
            yield from read_chunks(
                pages, stream=stream, key=query.key, chunk_size=chunk_size, shape=query.shape
            )
            return
        sets = bulk_query(
            client,
            self.data_path,
            object_name=stream,
            soql=soql,
            operation=operation,
            columns=list(schema.fields),
            max_records=chunk_size,
            sleep=self._sleep,
        )
        rows = 0
        for text in sets:
            if len(text):
                yield with_origin(typed_chunk(text, schema), stream, schema.key, rows)
                rows += len(text)

    def _plan(self, schema: SObjectSchema, options: SalesforceOptions, cursor: CursorRequest | None) -> _Plan:
        deleted = cursor is not None and options.include_deleted and DELETED_FIELD in schema.fields
        operation: Operation = "queryAll" if deleted else "query"
        if cursor is None:
            return _Plan(None, schema.key, operation, False)
        column = schema.field_named(cursor.column)
        keys = [schema.field_named(name) for name in cursor.primary_key]
        if column is None or None in keys:
            unknown = cursor.column if column is None else cursor.primary_key[keys.index(None)]
            raise ConnectorError(
                f"{schema.name}: {unknown!r} is not a field of {schema.name} that can be read; "
                f"cursor candidates: {', '.join(schema.cursor_candidates()) or 'none'}."
            )
        ties = [key for key in keys if key and key != column]
        if not ties and KEY in schema.fields and column != KEY:
            ties = [KEY]
        order = (column, *ties)
        where = None
        if cursor.start is not None:
            where = f"{column} >= {soql_literal(cursor.start, schema.fields[column])}"
        return _Plan(where, order, operation, True)

    def _through_bulk(
        self, client: HttpClient, schema: SObjectSchema, plan: _Plan, options: SalesforceOptions
    ) -> bool:
        """Whether this read runs a Bulk API 2.0 job: asked for, too long for a URL, or over the threshold."""
        if options.bulk != "auto":
            return options.bulk == "always"
        if not fits_in_url(plan.statement(schema)):
            log.info(
                "%s: %d fields make the query too long for REST; using Bulk API 2.0",
                schema.name,
                len(schema.fields),
            )
            return True
        threshold = self.settings.bulk_threshold
        if threshold is None:
            return False
        counted = client.get_json(
            f"{self.data_path}/{plan.operation}",
            object_name=schema.name,
            params={"q": select_statement(schema, where=plan.where, count=True)},
        )
        total = int((counted or {}).get("totalSize") or 0)
        log.info("%s: %d rows to read (Bulk API 2.0 above %d)", schema.name, total, threshold)
        return total > threshold

    # -- helpers -----------------------------------------------------------------------
    def _schema(self, client: HttpClient, stream: str) -> SObjectSchema:
        """The object's describe (read once per connector)."""
        if not _OBJECT_NAME.fullmatch(stream):
            raise StreamNotFoundError(
                f"{stream!r} is not a Salesforce object name: objects are named by API name "
                "(Contact, Lead, Invoice__c)."
            )
        known = self._schemas.get(stream.lower())
        if known is not None:
            return known
        try:
            body = client.get_json(f"{self.data_path}/sobjects/{stream}/describe", object_name=stream)
        except StreamNotFoundError as error:
            raise StreamNotFoundError(
                f"Salesforce has no object {stream!r} that the integration user can see (objects are "
                f"named by API name: Contact, Invoice__c). {error.user_message}"
            ) from None
        if not isinstance(body, dict) or "name" not in body:
            raise StreamNotFoundError(f"{stream}: Salesforce answered no describe for this object.")
        if body.get("queryable") is False:
            raise StreamNotFoundError(f"{stream}: Salesforce does not allow queries on this object.")
        schema = SObjectSchema.from_describe(body)
        self._schemas[stream.lower()] = schema
        return schema

    def _rest_query(self, schema: SObjectSchema, soql: str, operation: Operation) -> StreamQuery:
        return StreamQuery(
            f"{self.data_path}/{operation}",
            {"q": soql},
            paginator=NextUrlPaginator("nextRecordsUrl"),
            records_path="records",
            key=schema.key,
            shape=partial(typed_chunk, schema=schema),
        )
