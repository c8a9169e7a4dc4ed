"""Salesforce Marketing Cloud (Engagement): data extensions read through the REST rowset API.

A connection is a tenant's subdomain and a server-to-server API integration
of an installed package (client id and secret, optionally the business
unit's MID as ``account_id``). ``POST /v2/token`` on the tenant's auth host
answers a token (cached until ``expires_in``, about 18 minutes, runs out, and
refreshed once on a 401, also mid-paging) and the tenant's
``rest_instance_url``, which every read goes to.

Streams are data extensions, named by external key. Marketing Cloud lists
data extensions only through its SOAP API, so a connection names the ones it
reads (``data_extensions``); their fields, primary key and types come from
their first page. Rows come from ``GET
/data/v1/customobjectdata/key/{key}/rowset`` page by page (``$page``,
``$pageSize``, until ``links.next`` is gone), each item's ``keys`` and
``values`` flattened into columns named as the API writes them (lower case).
Marketing Cloud writes every value as text; empty text is read as null, and
dates (``11/1/2026 10:00:00 AM``, the account's local time, no zone) as
timestamps without a zone.

Incremental reads (``pushes_down_cursor``) filter ``<field> gte '<start>'``
and order by ``<field> asc`` then the primary key. The start is written back
in the same wall-clock time it was read in, so no time zone is ever guessed.
"""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import quote

import pandas as pd
from pydantic import Field, SecretStr, field_validator

from connectors._candidates import cursor_candidates, key_candidates
from connectors._http import ClientCredentialsAuth, HttpClient, PageNumberPaginator, records_frame
from connectors._http_connector import ApiConnector, StreamQuery
from connectors._sql_types import STRING
from connectors.base import (
    ConnectorConfig,
    ConnectorError,
    CursorRequest,
    FieldInfo,
    StreamInfo,
    infer_field_type,
)

__all__ = ["MarketingCloudConfig", "MarketingCloudConnector", "rowset_literal"]

#: The rowset API's largest page.
MAX_PAGE_SIZE = 2500
#: How Marketing Cloud writes a date in a rowset: ``11/1/2026 10:00:00 AM``.
_US_DATE = r"\d{1,2}/\d{1,2}/\d{4} \d{1,2}:\d{2}:\d{2} [AP]M"
_US_DATE_FORMAT = "%m/%d/%Y %I:%M:%S %p"
_DESCRIBE_ROWS = 200


class MarketingCloudConfig(ConnectorConfig):
    """Settings of a Marketing Cloud connection (also its form)."""

    subdomain: str = Field(
        ...,
        pattern=r"^[A-Za-z0-9-]+$",
        description="The tenant's subdomain, as in https://<subdomain>.auth.marketingcloudapis.com",
    )
    client_id: str = Field(..., description="The API integration's client id (Setup > Installed Packages)")
    client_secret: SecretStr = Field(..., description="The API integration's client secret")
    data_extensions: str = Field(
        ...,
        description="Comma-separated external keys of the data extensions to read (Marketing Cloud "
        "lists data extensions only through its SOAP API)",
    )
    account_id: str | None = Field(
        None, pattern=r"^\d*$", description="The business unit's MID, when it is not the package's own"
    )
    auth_base_url: str | None = Field(
        None,
        description="The authentication base URI, when not https://<subdomain>.auth.marketingcloudapis.com",
    )
    page_size: int = Field(MAX_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE, description="Rows per page ($pageSize)")

    @field_validator("data_extensions")
    @classmethod
    def _some_keys(cls, value: str) -> str:
        if not [key for key in value.split(",") if key.strip()]:
            raise ValueError("name at least one data extension by its external key")
        return value

    @field_validator("auth_base_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        if not value or not value.strip():
            return None
        value = value.strip().rstrip("/")
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be a URL starting with https://")
        return value

    def external_keys(self) -> list[str]:
        """The data extensions' external keys, in the order given."""
        return list(dict.fromkeys(key.strip() for key in self.data_extensions.split(",") if key.strip()))

    def token_url(self) -> str:
        """The ``v2/token`` endpoint of the tenant's auth host."""
        base = self.auth_base_url or f"https://{self.subdomain}.auth.marketingcloudapis.com"
        return f"{base}/v2/token"


class MarketingCloudConnector(ApiConnector[MarketingCloudConfig]):
    """Data extensions of a Marketing Cloud tenant, through the REST rowset API."""

    name: ClassVar[str] = "marketing_cloud"
    title: ClassVar[str] = "Salesforce Marketing Cloud"
    category: ClassVar[str] = "CRM and marketing automation"
    description: ClassVar[str] = (
        "Data extensions of a Marketing Cloud Engagement tenant through the REST API, signed in "
        "with an installed package's API integration; incremental by a date field."
    )
    config_model: ClassVar[type[ConnectorConfig]] = MarketingCloudConfig

    # -- declared for ApiConnector ---------------------------------------------------
    def open_client(self) -> HttpClient:
        """A client signed in through ``v2/token``, its base URL the token's ``rest_instance_url``."""
        config = self.settings
        auth = ClientCredentialsAuth(
            config.token_url(),
            config.client_id,
            config.client_secret.get_secret_value(),
            body_format="json",
            extra_fields={"account_id": config.account_id} if config.account_id else None,
        )
        client = HttpClient(auth=auth, settings=self.http_settings)
        try:
            payload = client.token_payload()
        except BaseException:
            client.close()
            raise
        rest = str(
            payload.get("rest_instance_url") or f"https://{config.subdomain}.rest.marketingcloudapis.com"
        )
        client.base_url = rest.rstrip("/") + "/"
        return client

    def probe(self, client: HttpClient) -> str:
        """Reads one row of the first data extension: proves the token and the read permission."""
        key = self.settings.external_keys()[0]
        body = client.get_json(_rowset(key), object_name=key, params={"$page": 1, "$pageSize": 1}) or {}
        mid = f" (MID {self.settings.account_id})" if self.settings.account_id else ""
        return (
            f"Connected to Marketing Cloud{mid}: data extension {key!r} holds {body.get('count', 0):,} rows."
        )

    def discover(self) -> list[StreamInfo]:
        """The configured data extensions, with fields, keys and cursor candidates from their first rows."""
        with self.open_client() as client:
            return [self._describe(client, key) for key in self.settings.external_keys()]

    def sample_query(self, client: HttpClient, stream: str, limit: int) -> StreamQuery:
        """The first ``limit`` rows: page 1 of ``limit`` rows."""
        size = max(1, min(limit, MAX_PAGE_SIZE))
        return StreamQuery(
            _rowset(stream), {"$page": 1, "$pageSize": size}, records_path="items", shape=flatten
        )

    def read_query(self, client: HttpClient, stream: str, cursor: CursorRequest | None) -> StreamQuery:
        """Every row, page by page; with a cursor, ``<field> gte '<start>'`` ordered by (field, key)."""
        params: dict[str, Any] = {}
        key = tuple(cursor.primary_key) if cursor else ()
        if cursor is not None:
            order = dict.fromkeys([cursor.column, *key])
            params["$orderBy"] = ",".join(f"{name} asc" for name in order)
            if cursor.start is not None:
                params["$filter"] = f"{cursor.column} gte {rowset_literal(cursor.start)}"
        paginator = PageNumberPaginator(
            "$page", 1, self.settings.page_size, "$pageSize", more_path="links.next"
        )
        return StreamQuery(_rowset(stream), params, {}, paginator, "items", key, flatten)

    # -- helpers -----------------------------------------------------------------------
    def _describe(self, client: HttpClient, key: str) -> StreamInfo:
        body = client.get_json(
            _rowset(key), object_name=key, params={"$page": 1, "$pageSize": _DESCRIBE_ROWS}
        )
        items = list((body or {}).get("items") or [])
        frame = flatten(records_frame(items))
        fields = tuple(FieldInfo(str(name), infer_field_type(frame[name])) for name in frame.columns)
        primary = tuple(str(name) for name in (items[0].get("keys") or {})) if items else ()
        metadata = {"external_key": key, "row_count": (body or {}).get("count")}
        keys = primary or key_candidates(frame, fields)
        return StreamInfo(key, fields, keys, cursor_candidates(fields), metadata)


def flatten(frame: pd.DataFrame) -> pd.DataFrame:
    """Rowset items as columns: ``keys.x`` and ``values.y`` become ``x`` and ``y``; "" is null; dates typed.

    Vectorised per column: a text column whose every non-empty value is a
    Marketing Cloud date becomes datetime64 (no zone: the account's local time).
    """
    names = {str(name): str(name).partition(".")[2] or str(name) for name in frame.columns}
    clashing = {name for name in names.values() if list(names.values()).count(name) > 1}
    if clashing:
        raise ConnectorError(f"The rowset names {', '.join(sorted(clashing))} both as a key and a value.")
    frame = frame.rename(columns=names)
    converted: dict[str, pd.Series] = {}
    for name in frame.columns:
        values = frame[name]
        if not (pd.api.types.is_string_dtype(values) or pd.api.types.is_object_dtype(values)):
            continue
        text = values.astype(STRING)
        text = text.mask(text == "")
        present = text.dropna()
        if not present.empty and present.str.fullmatch(_US_DATE).all():
            converted[name] = pd.to_datetime(text, format=_US_DATE_FORMAT)
        else:
            converted[name] = text
    return frame.assign(**converted) if converted else frame


def rowset_literal(value: Any) -> str:
    """The engine's cursor start as a rowset filter value.

    Timestamps are written as the wall-clock time they were read in
    (``'2026-11-01T10:00:00'``): the values carry no zone, and the engine's
    UTC is only their label. Numbers stay bare; text is quoted, quotes doubled.
    """
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    if isinstance(value, pd.Timestamp) or hasattr(value, "isoformat"):
        moment = pd.Timestamp(value)
        if moment.tzinfo is not None:
            moment = moment.tz_convert("UTC").tz_localize(None)
        return f"'{moment.strftime('%Y-%m-%dT%H:%M:%S')}'"
    return "'" + str(value).replace("'", "''") + "'"


def _rowset(key: str) -> str:
    return f"data/v1/customobjectdata/key/{quote(key, safe='')}/rowset"
