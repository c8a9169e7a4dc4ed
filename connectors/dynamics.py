"""Microsoft Dynamics 365 (Dataverse Web API): tables read over OData, signed in with Microsoft Entra.

A connection is an environment URL and an app registration's client
credentials (``client_credentials`` grant, scope ``<environment>/.default``;
the app is an application user of the environment with a security role that
reads the tables). Streams are tables, named by their entity set
(``contacts``, ``accounts``); their columns and types come from the table
metadata (``EntityDefinitions``), the primary key is the table's
``PrimaryIdAttribute``, and ``modifiedon``/``createdon`` are cursor candidates.

Reads select the table's readable columns (lookups as ``_<name>_value``),
follow ``@odata.nextLink`` with ``Prefer: odata.maxpagesize``, and push an
incremental cursor down as ``$filter=<cursor> ge <start>`` with
``$orderby=<cursor> asc,<key> asc``. With ``formatted_values`` the service's
display labels (option set names, lookup names, formatted money and dates)
come as ``<column>_formatted`` columns. Date and time columns arrive as UTC
timestamps. Service protection limits (HTTP 429 with ``Retry-After``) are
waited out by the HTTP layer; OData errors become messages naming the table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import pandas as pd
from pydantic import Field, SecretStr, field_validator

from connectors._dynamics_standard import standard_metadata
from connectors._http import (
    ClientCredentialsAuth,
    HttpClient,
    ODataPaginator,
    Paginator,
    SinglePage,
    url_for_message,
)
from connectors._http_connector import ApiConnector, StreamQuery
from connectors.base import (
    ConnectorConfig,
    ConnectorError,
    CursorRequest,
    FieldInfo,
    StreamInfo,
    StreamNotFoundError,
)

__all__ = ["DynamicsConfig", "DynamicsConnector", "odata_literal"]

#: Portable type of each Dataverse AttributeType a query can select; other types
#: (Virtual, PartyList, CalendarRules, ManagedProperty) are not Web API columns.
ATTRIBUTE_TYPES = {
    "String": "string",
    "Memo": "string",
    "EntityName": "string",
    "Uniqueidentifier": "string",
    "Lookup": "string",
    "Customer": "string",
    "Owner": "string",
    "Integer": "integer",
    "BigInt": "integer",
    "Picklist": "integer",
    "State": "integer",
    "Status": "integer",
    "Decimal": "number",
    "Double": "number",
    "Money": "number",
    "Boolean": "boolean",
    "DateTime": "timestamp",
}
_LOOKUPS = frozenset({"Lookup", "Customer", "Owner"})
FORMATTED = "@OData.Community.Display.V1.FormattedValue"
_CURSORS = ("modifiedon", "createdon", "versionnumber")
#: Dataverse returns at most 5,000 rows per page, and per $top.
MAX_PAGE_SIZE = 5000
_TABLE_FIELDS = "LogicalName,EntitySetName,PrimaryIdAttribute"
_COLUMN_FIELDS = "LogicalName,AttributeType,AttributeOf,IsValidForRead"


class DynamicsConfig(ConnectorConfig):
    """Settings of a Dynamics 365 / Dataverse connection (also its form)."""

    environment_url: str = Field(
        ..., description="The environment's URL, such as https://contoso.crm.dynamics.com"
    )
    tenant_id: str = Field(..., description="The Microsoft Entra tenant (directory) id, or its domain")
    client_id: str = Field(..., description="The app registration's application (client) id")
    client_secret: SecretStr = Field(..., description="A client secret of the app registration")
    tables: str = Field(
        "contact,account",
        description="Comma-separated logical names of the tables to list; empty lists every table "
        "(one metadata request per table). Any table can still be read by its entity set name.",
    )
    authority_url: str = Field(
        "https://login.microsoftonline.com",
        description="The Microsoft Entra sign-in host (another cloud: https://login.microsoftonline.us)",
    )
    api_version: str = Field("v9.2", pattern=r"^v\d+\.\d+$", description="The Web API version")
    page_size: int = Field(
        MAX_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE, description="Rows per page (odata.maxpagesize)"
    )
    formatted_values: bool = Field(
        False, description="Also read display labels (option names, lookup names) as <column>_formatted"
    )

    @field_validator("environment_url", "authority_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        scheme, _, host = value.partition("://")
        if scheme not in ("https", "http") or not host:
            raise ValueError("must be a URL starting with https://")
        return value

    @field_validator("tenant_id", "client_id")
    @classmethod
    def _present(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value.strip()

    def table_names(self) -> list[str]:
        """The logical names of the tables to list (empty: every table)."""
        return [name.strip().lower() for name in self.tables.split(",") if name.strip()]


@dataclass(frozen=True)
class _Table:
    """A table as its metadata describes it: names, key, and its columns' portable and Dataverse types."""

    logical_name: str
    entity_set: str
    primary_id: str
    columns: Mapping[str, tuple[str, str]]  # Web API property -> (portable type, AttributeType)

    def kind(self, column: str) -> str:
        return self.columns[column][0]


class DynamicsConnector(ApiConnector[DynamicsConfig]):
    """Tables of a Dynamics 365 / Dataverse environment, through the Web API."""

    name: ClassVar[str] = "dynamics"
    title: ClassVar[str] = "Microsoft Dynamics 365"
    category: ClassVar[str] = "CRM and marketing automation"
    description: ClassVar[str] = (
        "Dataverse tables (contacts, accounts, leads, custom tables) through the Web API, "
        "signed in with a Microsoft Entra app registration; incremental by modifiedon."
    )
    config_model: ClassVar[type[ConnectorConfig]] = DynamicsConfig

    # -- declared for ApiConnector ---------------------------------------------------
    def open_client(self) -> HttpClient:
        """A client of ``<environment>/api/data/<version>/`` signed in with client credentials."""
        config = self.settings
        auth = ClientCredentialsAuth(
            f"{config.authority_url}/{config.tenant_id}/oauth2/v2.0/token",
            config.client_id,
            config.client_secret.get_secret_value(),
            [f"{config.environment_url}/.default"],
        )
        return HttpClient(
            f"{config.environment_url}/api/data/{config.api_version}/",
            auth,
            settings=self.http_settings,
            headers={"OData-MaxVersion": "4.0", "OData-Version": "4.0"},
        )

    def probe(self, client: HttpClient) -> str:
        """``WhoAmI``: proves the token and that the app is a user of the environment."""
        who = client.get_json("WhoAmI", object_name="signing in") or {}
        where = url_for_message(self.settings.environment_url)
        return (
            f"Connected to {where} as application user {who.get('UserId', '?')} "
            f"(organization {who.get('OrganizationId', '?')})."
        )

    def discover(self) -> list[StreamInfo]:
        """The configured tables (or every one), with columns typed from their metadata."""
        with self.open_client() as client:
            definitions = self._definitions(client)
            wanted = self.settings.table_names()
            if wanted:
                known = {d["LogicalName"] for d in definitions}
                missing = [name for name in wanted if name not in known]
                if missing:
                    raise StreamNotFoundError(
                        f"Dynamics 365 has no table {', '.join(map(repr, missing))} "
                        "(list tables by logical name: contact, account)."
                    )
                definitions = [d for d in definitions if d["LogicalName"] in wanted]
            return [self._describe(self._table_of(client, d)) for d in definitions]

    def sample_query(self, client: HttpClient, stream: str, limit: int) -> StreamQuery:
        """The table's columns, ``$top=<limit>``: one request."""
        table = self._table(client, stream)
        params = {"$select": ",".join(table.columns), "$top": max(1, min(limit, MAX_PAGE_SIZE))}
        return self._query(table, params, SinglePage())

    def read_query(self, client: HttpClient, stream: str, cursor: CursorRequest | None) -> StreamQuery:
        """Every row by primary key; with a cursor, ``$filter=<cursor> ge <start>`` in (cursor, key) order."""
        table = self._table(client, stream)
        params: dict[str, Any] = {"$select": ",".join(table.columns)}
        order = [table.primary_id]
        if cursor is not None:
            if cursor.column not in table.columns:
                offered = ", ".join(c for c in _CURSORS if c in table.columns) or "a date column"
                raise ConnectorError(
                    f"{stream}: the cursor {cursor.column!r} is not a column of the {table.logical_name} "
                    f"table that the Web API can filter on; use {offered}."
                )
            keys = [k for k in cursor.primary_key if k in table.columns and k != cursor.column]
            order = [cursor.column, *(keys or [table.primary_id])]
            if cursor.start is not None:
                literal = odata_literal(cursor.start, table.kind(cursor.column))
                params["$filter"] = f"{cursor.column} ge {literal}"
        params["$orderby"] = ",".join(f"{column} asc" for column in dict.fromkeys(order))
        return self._query(table, params, ODataPaginator(self.settings.page_size))

    # -- helpers -----------------------------------------------------------------------
    def _query(self, table: _Table, params: Mapping[str, Any], paginator: Paginator) -> StreamQuery:
        labels = f'odata.include-annotations="{FORMATTED[1:]}"'
        headers = {"Prefer": labels} if self.settings.formatted_values else {}
        timestamps = tuple(name for name, (kind, _) in table.columns.items() if kind == "timestamp")

        def shape(frame: pd.DataFrame) -> pd.DataFrame:
            return _shape(frame, timestamps)

        return StreamQuery(table.entity_set, params, headers, paginator, "value", (table.primary_id,), shape)

    def _definitions(self, client: HttpClient, filter_: str | None = None) -> list[dict[str, Any]]:
        params = {"$select": _TABLE_FIELDS, **({"$filter": filter_} if filter_ else {})}
        body = client.get_json("EntityDefinitions", object_name="tables", params=params) or {}
        return [d for d in body.get("value", []) if d.get("EntitySetName")]

    def _table(self, client: HttpClient, stream: str) -> _Table:
        quoted = odata_literal(stream, "string")
        found = self._definitions(client, f"EntitySetName eq {quoted} or LogicalName eq {quoted}")
        if not found:
            raise StreamNotFoundError(
                f"Dynamics 365 has no table {stream!r}; name a table by its entity set (contacts, accounts)."
            )
        return self._table_of(client, found[0])

    def _table_of(self, client: HttpClient, definition: Mapping[str, Any]) -> _Table:
        logical = str(definition["LogicalName"])
        body = client.get_json(
            f"EntityDefinitions(LogicalName={odata_literal(logical, 'string')})/Attributes",
            object_name=f"{logical} columns",
            params={"$select": _COLUMN_FIELDS},
        )
        columns: dict[str, tuple[str, str]] = {}
        for attribute in (body or {}).get("value", []):
            kind = str(attribute.get("AttributeType"))
            if (
                kind not in ATTRIBUTE_TYPES
                or attribute.get("AttributeOf")
                or not attribute.get("IsValidForRead", True)
            ):
                continue  # not a Web API column: a virtual label, a lookup's name, a write-only column
            name = str(attribute["LogicalName"])
            columns[f"_{name}_value" if kind in _LOOKUPS else name] = (ATTRIBUTE_TYPES[kind], kind)
        primary = str(definition["PrimaryIdAttribute"])
        if primary in columns:  # the key first, as people look for it
            columns = {primary: columns.pop(primary), **columns}
        return _Table(logical, str(definition["EntitySetName"]), primary, columns)

    def _describe(self, table: _Table) -> StreamInfo:
        fields = [FieldInfo(name, kind) for name, (kind, _) in table.columns.items()]
        if self.settings.formatted_values:
            fields += [FieldInfo(f"{name}_formatted", "string") for name in table.columns]
        cursors = tuple(c for c in _CURSORS if c in table.columns)
        metadata = {
            "logical_name": table.logical_name,
            **standard_metadata(table.logical_name, {f.name for f in fields}),
        }
        return StreamInfo(table.entity_set, tuple(fields), (table.primary_id,), cursors, metadata)


def odata_literal(value: Any, kind: str) -> str:
    """A value as an OData literal of a column of portable type ``kind``.

    Timestamps in UTC with ``Z`` (``2026-11-01T10:00:00Z``), numbers and
    booleans bare, text in single quotes with quotes doubled.
    """
    if kind == "timestamp":
        moment = pd.Timestamp(value)
        moment = moment.tz_localize("UTC") if moment.tzinfo is None else moment.tz_convert("UTC")
        return moment.isoformat().replace("+00:00", "Z")
    if kind in ("integer", "number") and not isinstance(value, str | bool):
        number = float(value)
        return str(int(number)) if number.is_integer() else repr(number)
    if kind == "boolean":
        return "true" if value in (True, "true", "True", 1) else "false"
    return "'" + str(value).replace("'", "''") + "'"


def _shape(frame: pd.DataFrame, timestamps: Sequence[str]) -> pd.DataFrame:
    """Drops OData bookkeeping (``@odata.etag``), names labels ``<column>_formatted``, types timestamps."""
    names = [str(name) for name in frame.columns]
    labels = {name: name[: -len(FORMATTED)] + "_formatted" for name in names if name.endswith(FORMATTED)}
    dropped = [name for name in names if "@" in name and name not in labels]
    frame = frame.drop(columns=dropped).rename(columns=labels)
    present = [name for name in timestamps if name in frame.columns]
    if not present:
        return frame
    return frame.assign(
        **{name: pd.to_datetime(frame[name], utc=True, format="ISO8601", errors="coerce") for name in present}
    )
