"""Adobe Commerce (and Magento Open Source): customers, their addresses, orders and order items over REST.

A connection is a store's URL and one way to sign in: an integration's
access token (System > Extensions > Integrations, sent as a bearer token), or
an admin user whose token ``POST /rest/V1/integration/admin/token`` answers
(fetched again once when the API answers 401; an admin with two-factor
authentication cannot sign in this way).

Streams read two search endpoints
(developer.adobe.com/commerce/webapi/rest/use-rest/performing-searches/):

- ``customers`` and ``customer_addresses`` from ``GET /rest/V1/customers/search``;
  addresses are each customer's ``addresses``, one row each, with the
  customer's ``updated_at`` as ``customer_updated_at``;
- ``orders`` and ``order_items`` from ``GET /rest/V1/orders``; items are each
  order's ``items``, with the order's ``updated_at`` as ``order_updated_at``
  (developer.adobe.com/commerce/webapi/rest/tutorials/orders/).

Reads follow ``searchCriteria`` in windows (:mod:`connectors._commerce_api`):
a full read by ``entity_id``, an incremental read (``pushes_down_cursor``)
by ``updated_at`` (or ``created_at``) ``gteq`` the start, then ``entity_id``,
so rows come in (cursor, key) order and a record changed mid-read is never
skipped. Commerce writes times in UTC without a zone (``2026-11-01 10:00:05``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar, Literal

import httpx
from pydantic import Field, SecretStr, model_validator

from connectors._adobe_streams import WebUrl, described
from connectors._commerce_api import (
    CURRENT_PAGE,
    ENTITY_ID,
    PAGE_SIZE,
    AdminTokenAuth,
    SearchWindows,
    commerce_error_text,
    commerce_time,
)
from connectors._http import BearerTokenAuth, HttpAuth, HttpClient
from connectors._http_connector import ApiConnector, StreamQuery
from connectors.base import (
    ConnectorConfig,
    ConnectorError,
    CursorRequest,
    StreamInfo,
    StreamNotFoundError,
)

__all__ = ["AdobeCommerceConfig", "AdobeCommerceConnector"]

#: Commerce refuses larger pages by default (Stores > Configuration > Services > Web API Input Limits).
MAX_PAGE_SIZE = 300
_DESCRIBE_ROWS = 50
#: The identity namespace of Commerce customer ids: not a CRM id, so not ``crm_id`` (one per profile).
CUSTOMER_ID_NAMESPACE = "commerce_customer_id"


class AdobeCommerceConfig(ConnectorConfig):
    """Settings of an Adobe Commerce connection (also its form)."""

    base_url: WebUrl = Field(
        ..., description="The store's URL, https://shop.example.com (REST is at /rest/V1)"
    )
    store_code: str = Field(
        "", pattern=r"^[a-z0-9_]*$", description="A store view code for /rest/<code>/V1; empty: the default"
    )
    auth: Literal["integration_token", "admin_token"] = Field(
        "integration_token", description="An integration's access token, or an admin user's sign-in"
    )
    access_token: SecretStr | None = Field(
        None, description="integration_token: the integration's access token"
    )
    username: str | None = Field(None, description="admin_token: the admin user name")
    password: SecretStr | None = Field(None, description="admin_token: the admin user's password")
    page_size: int = Field(
        100, ge=1, le=MAX_PAGE_SIZE, description="Records per page (searchCriteria[pageSize])"
    )

    @model_validator(mode="after")
    def _complete_auth(self) -> AdobeCommerceConfig:
        needed = ("access_token",) if self.auth == "integration_token" else ("username", "password")
        missing = [name for name in needed if not getattr(self, name)]
        if missing:
            raise ValueError(f"auth {self.auth} needs {' and '.join(missing)}")
        return self

    def api_url(self) -> str:
        """``<base_url>/rest[/<store_code>]/V1/``."""
        store = f"{self.store_code}/" if self.store_code else ""
        return f"{self.base_url}/rest/{store}V1/"

    def http_auth(self) -> HttpAuth:
        """A bearer integration token, or the admin token flow."""
        if self.auth == "integration_token" and self.access_token:
            return BearerTokenAuth(self.access_token.get_secret_value())
        password = self.password.get_secret_value() if self.password else ""
        return AdminTokenAuth(self.api_url() + "integration/admin/token", self.username or "", password)


@dataclass(frozen=True)
class _Stream:
    """A stream: its search endpoint, the records' id field, and for a child stream the list it unnests."""

    path: str
    record_key: str
    children: str | None = None
    child_key: str | None = None
    #: child column -> the parent's field it copies (the child's cursor).
    parent_fields: Mapping[str, str] = field(default_factory=dict)
    mapping: Mapping[str, str] = field(default_factory=dict)
    identities: Mapping[str, str] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, ...]:
        return (self.child_key or self.record_key,)

    @property
    def cursors(self) -> tuple[str, ...]:
        return tuple(self.parent_fields) if self.children else ("updated_at", "created_at")


_PERSON = {"person.firstName": "firstname", "person.lastName": "lastname", "crmId": "customer_id"}
_IDENTITIES = {CUSTOMER_ID_NAMESPACE: "crmId", "email": "personalEmail.address"}
STREAMS: Mapping[str, _Stream] = {
    "customers": _Stream(
        "customers/search",
        "id",
        mapping={
            **_PERSON,
            "crmId": "id",
            "person.middleName": "middlename",
            "person.birthDate": "dob",
            "personalEmail.address": "email",
            "consents.marketing.email": "extension_attributes.is_subscribed",
            "createdAt": "created_at",
            "updatedAt": "updated_at",
        },
        identities=_IDENTITIES,
    ),
    "customer_addresses": _Stream(
        "customers/search",
        "id",
        children="addresses",
        child_key="id",
        parent_fields={"customer_updated_at": "updated_at"},
        mapping={
            **_PERSON,
            "homeAddress.city": "city",
            "homeAddress.postalCode": "postcode",
            "homeAddress.region": "region.region",
            "homeAddress.countryCode": "country_id",
            "homePhone.number": "telephone",
            "updatedAt": "customer_updated_at",
        },
        identities=_IDENTITIES,
    ),
    "orders": _Stream(
        "orders",
        ENTITY_ID,
        mapping={
            **{path: f"customer_{column}" for path, column in _PERSON.items() if path != "crmId"},
            "crmId": "customer_id",
            "personalEmail.address": "customer_email",
            "order.id": "increment_id",
            "order.total": "grand_total",
            "order.currency": "order_currency_code",
            "order.placedAt": "created_at",
            "order.status": "status",
            "order.itemCount": "total_item_count",
            "updatedAt": "updated_at",
        },
        identities=_IDENTITIES,
    ),
    "order_items": _Stream(
        "orders",
        ENTITY_ID,
        children="items",
        child_key="item_id",
        parent_fields={"order_updated_at": "updated_at"},
    ),
}


class AdobeCommerceConnector(ApiConnector[AdobeCommerceConfig]):
    """Customers, addresses, orders and order items of an Adobe Commerce store, over its REST API."""

    name: ClassVar[str] = "adobe_commerce"
    title: ClassVar[str] = "Adobe Commerce"
    category: ClassVar[str] = "Adobe applications"
    description: ClassVar[str] = (
        "Customers, addresses, orders and order items of an Adobe Commerce (Magento) store through its "
        "REST API, signed in with an integration or admin token; incremental by updated_at."
    )
    config_model: ClassVar[type[ConnectorConfig]] = AdobeCommerceConfig

    # -- declared for ApiConnector ---------------------------------------------------
    def open_client(self) -> HttpClient:
        """A client of the store's ``/rest/V1`` API, its errors read as Commerce writes them."""
        config = self.settings
        return HttpClient(
            config.api_url(),
            config.http_auth(),
            settings=self.http_settings,
            error_parser=commerce_error_text,
        )

    def probe(self, client: HttpClient) -> str:
        """Counts the customers: proves the token and the customer read permission."""
        params = {PAGE_SIZE: 1, CURRENT_PAGE: 1}
        body = client.get_json("customers/search", object_name="customers", params=params) or {}
        host = httpx.URL(self.settings.base_url).host
        return f"Connected to Adobe Commerce at {host}: {body.get('total_count', 0):,} customers."

    def discover(self) -> list[StreamInfo]:
        """The four streams, described from their first records, with standard mappings onto the profile."""
        with self.open_client() as client:
            return [self._describe(client, name) for name in STREAMS]

    def sample_query(self, client: HttpClient, stream: str, limit: int) -> StreamQuery:
        """The first ``limit`` records by entity id: one page."""
        return self._query(stream, None, max(1, min(limit, MAX_PAGE_SIZE)))

    def read_query(self, client: HttpClient, stream: str, cursor: CursorRequest | None) -> StreamQuery:
        """Every record by entity id; with a cursor, from its start in (cursor, entity id) order."""
        return self._query(stream, cursor, self.settings.page_size)

    # -- helpers -----------------------------------------------------------------------
    def _query(self, stream: str, cursor: CursorRequest | None, page_size: int) -> StreamQuery:
        spec = _spec(stream)
        order, start = ENTITY_ID, None
        if cursor is not None:
            order = spec.parent_fields.get(cursor.column, cursor.column)
            if cursor.column not in spec.cursors:
                raise ConnectorError(
                    f"{stream} can be read incrementally by {' or '.join(spec.cursors)}, "
                    f"not by {cursor.column!r}."
                )
            start = None if cursor.start is None else commerce_time(cursor.start)
        windows = SearchWindows(
            stream,
            order,
            start,
            page_size,
            record_key=spec.record_key,
            children=spec.children,
            parent_fields=spec.parent_fields,
        )
        return StreamQuery(spec.path, paginator=windows, records=windows.records, key=spec.key)

    def _describe(self, client: HttpClient, stream: str) -> StreamInfo:
        spec = _spec(stream)
        frame = self.sample_through(client, stream, _DESCRIBE_ROWS)
        return described(
            stream,
            frame,
            key=spec.key,
            cursors=spec.cursors,
            mapping=spec.mapping,
            identities=spec.identities,
            endpoint=f"/rest/V1/{spec.path}",
        )


def _spec(stream: str) -> _Stream:
    try:
        return STREAMS[stream]
    except KeyError:
        offered = ", ".join(STREAMS)
        raise StreamNotFoundError(f"Adobe Commerce has no stream {stream!r}; it offers: {offered}.") from None
