"""Adobe Campaign Standard: profiles, services and subscriptions through its REST API.

A connection is an Adobe Developer Console credential (IMS, shared with
Audience Manager: :mod:`connectors._adobe_ims`) and the Campaign instance's
organisation id in the API's URL, ``https://mc.adobe.io/<tenant>/campaign``
(``<tenant>-mkt-stage`` for a stage instance). Every call sends the bearer
token and ``x-api-key``
(experienceleague.adobe.com/docs/campaign-standard/using/working-with-apis/get-started-apis.html).

Streams:

- ``profiles``: ``GET profileAndServices/profile``;
- ``services``: ``GET profileAndServices/service``;
- ``subscriptions``: for each service, ``GET`` its ``subscriptions`` link
  (``profileAndServices/service/<PKey>/subscriptions/``): one row per
  subscription, with its ``service`` and ``subscriber``.

Lists come ``_lineCount`` records a page; the next page is the URL in the
page's ``next.href``, asked for with ``_forcePagination=true`` (without it, a
table above 100,000 records has no ``next``) (.../pagination.html).

Incremental reads (``pushes_down_cursor``) ask for ``_order=<cursor> asc``
(.../sorting.html). Campaign offers no date filter on profiles out of the
box (``byEmail``, ``byText``... only: .../filtering.html), so a read starts
at the first profile and the engine drops the ones it has; a custom filter
defined on the profile resource (``profileAndServicesExt/profile/by<Name>``
taking the start as a parameter, ``lastModified`` at or after it) makes Campaign
send only what changed: name it in ``modified_since_filter``. Subscriptions
are read in full (no order, no date): use a full-refresh dataflow.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar

import pandas as pd
from pydantic import Field

from connectors._adobe_ims import AdobeImsConfig, ImsApiConnector
from connectors._adobe_streams import WebUrl, described
from connectors._http import HttpClient, NextUrlPaginator, read_chunks, with_origin
from connectors._http_connector import StreamQuery
from connectors.base import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_SAMPLE_SIZE,
    ConnectorConfig,
    ConnectorError,
    CursorRequest,
    StreamInfo,
    StreamNotFoundError,
)

__all__ = ["AdobeCampaignConfig", "AdobeCampaignConnector", "campaign_time"]

KEY = ("PKey",)
PROFILES, SERVICES, SUBSCRIPTIONS = "profiles", "services", "subscriptions"
_PATHS = {PROFILES: "profileAndServices/profile", SERVICES: "profileAndServices/service"}
_DESCRIBE_ROWS = 50
MAX_PAGE_SIZE = 1000
_NEXT = NextUrlPaginator("next.href")

#: A Campaign profile's fields -> profile attributes (the resource's standard fields).
PROFILE_MAPPING = {
    "person.firstName": "firstName",
    "person.middleName": "middleName",
    "person.lastName": "lastName",
    "person.birthDate": "birthDate",
    "person.gender": "gender",
    "personalEmail.address": "email",
    "mobilePhone.number": "mobilePhone",
    "homePhone.number": "phone",
    "preferredLanguage": "preferredLanguage",
    "homeAddress.street1": "location.address1",
    "homeAddress.street2": "location.address2",
    "homeAddress.city": "location.city",
    "homeAddress.postalCode": "location.zipCode",
    "homeAddress.region": "location.stateCode",
    "homeAddress.countryCode": "location.countryCode",
    "createdAt": "created",
    "updatedAt": "lastModified",
}
SUBSCRIBER_MAPPING = {
    "personalEmail.address": "subscriber.email",
    "person.firstName": "subscriber.firstName",
    "person.lastName": "subscriber.lastName",
}
IDENTITIES = {"email": "personalEmail.address", "phone": "mobilePhone.number"}


class AdobeCampaignConfig(AdobeImsConfig):
    """Settings of an Adobe Campaign Standard connection (also its form)."""

    tenant: str = Field(
        ...,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="The instance's id in mc.adobe.io/<tenant>/campaign (<tenant>-mkt-stage: its stage)",
    )
    base_url: WebUrl = Field("https://mc.adobe.io", description="The API host")
    page_size: int = Field(
        100, ge=1, le=MAX_PAGE_SIZE, description="Records per page (_lineCount; Campaign's own: 25)"
    )
    modified_since_filter: str | None = Field(
        None,
        pattern=r"^$|^[A-Za-z][A-Za-z0-9_]*$",
        description="A custom profile filter (byLastModified) selecting profiles modified at or after "
        "its parameter; none: profiles are read in lastModified order and the engine drops the known ones",
    )
    modified_since_param: str = Field(
        "since", pattern=r"^[A-Za-z][A-Za-z0-9_]*$", description="The custom filter's parameter"
    )

    def api_url(self) -> str:
        """``<base_url>/<tenant>/campaign/``."""
        return f"{self.base_url}/{self.tenant}/campaign/"


class AdobeCampaignConnector(ImsApiConnector[AdobeCampaignConfig]):
    """Profiles, services and subscriptions of an Adobe Campaign Standard instance."""

    name: ClassVar[str] = "adobe_campaign"
    title: ClassVar[str] = "Adobe Campaign"
    category: ClassVar[str] = "Adobe applications"
    description: ClassVar[str] = (
        "Profiles, services and subscriptions of Adobe Campaign Standard through its REST API, signed in "
        "with an Adobe Developer Console (IMS) credential; incremental by lastModified."
    )
    config_model: ClassVar[type[ConnectorConfig]] = AdobeCampaignConfig

    # -- declared for ApiConnector ---------------------------------------------------
    def probe(self, client: HttpClient) -> str:
        """Reads one profile: proves the token, the API key and the tenant."""
        client.get_json(_PATHS[PROFILES], object_name=PROFILES, params={"_lineCount": 1})
        return f"Connected to Adobe Campaign {self.settings.tenant}: profiles are readable."

    def discover(self) -> list[StreamInfo]:
        """Profiles (with their standard mapping), services and subscriptions, from their first records."""
        with self.open_client() as client:
            profiles, services, subscriptions = (
                self._first(client, stream, _DESCRIBE_ROWS) for stream in (PROFILES, SERVICES, SUBSCRIPTIONS)
            )
            changed = ("lastModified", "created")
            return [
                described(PROFILES, profiles, key=KEY, cursors=changed, mapping=PROFILE_MAPPING,
                          identities=IDENTITIES),
                described(SERVICES, services, key=KEY, cursors=changed),
                described(SUBSCRIPTIONS, subscriptions, key=KEY, mapping=SUBSCRIBER_MAPPING,
                          identities=IDENTITIES),
            ]  # fmt: skip

    def sample_query(self, client: HttpClient, stream: str, limit: int) -> StreamQuery:
        """The first ``limit`` records: one page of ``_lineCount`` records."""
        return StreamQuery(_path(stream), _list_params(limit), records_path="content", key=KEY)

    def read_query(self, client: HttpClient, stream: str, cursor: CursorRequest | None) -> StreamQuery:
        """Every record, page after page; with a cursor, ordered by it (and filtered by the custom filter)."""
        path, params = _path(stream), _list_params(self.settings.page_size)
        if cursor is not None:
            params["_order"] = f"{cursor.column} asc"
            since = self.settings.modified_since_filter
            if stream == PROFILES and since and cursor.column == "lastModified" and cursor.start is not None:
                path = f"profileAndServicesExt/profile/{since}"
                params[self.settings.modified_since_param] = campaign_time(cursor.start)
        return StreamQuery(path, params, paginator=_NEXT, records_path="content", key=KEY)

    # -- subscriptions: every service's, one service after another --------------------------
    def sample(
        self, stream: str, limit: int = DEFAULT_SAMPLE_SIZE, options: Mapping[str, Any] | None = None
    ) -> pd.DataFrame:
        """At most ``limit`` records from the start of the stream (subscriptions: the first services')."""
        if stream != SUBSCRIPTIONS:
            return super().sample(stream, limit, options)
        with self.open_client() as client:
            return self._first(client, stream, limit)

    def read(
        self,
        stream: str,
        options: Mapping[str, Any] | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        cursor: CursorRequest | None = None,
    ) -> Iterator[pd.DataFrame]:
        """The stream's records in chunks; subscriptions only in full (they have no order to resume by)."""
        if stream != SUBSCRIPTIONS:
            return super().read(stream, options, chunk_size, cursor)
        if cursor is not None:
            raise ConnectorError(
                "subscriptions can only be read in full: Campaign neither filters nor orders a service's "
                "subscriptions. Use a full-refresh dataflow."
            )
        if chunk_size < 1:
            raise ValueError("chunk_size must be at least 1")
        return self._subscription_chunks(chunk_size)

    def _subscription_chunks(self, chunk_size: int) -> Iterator[pd.DataFrame]:
        with self.open_client() as client:
            pages = self._subscription_pages(client, self.settings.page_size)
            yield from read_chunks(pages, stream=SUBSCRIPTIONS, key=KEY, chunk_size=chunk_size)

    def _subscription_pages(self, client: HttpClient, size: int) -> Iterator[Sequence[Any]]:
        services = client.pages(
            _PATHS[SERVICES], object_name=SERVICES, paginator=_NEXT, params=_list_params(size),
            records_path="content",
        )  # fmt: skip
        for page in services:
            for service in page.records:
                link = (service.get("subscriptions") or {}).get("href")
                url = link or f"{_PATHS[SERVICES]}/{service.get('PKey')}/subscriptions/"
                listed = client.pages(
                    url, object_name=SUBSCRIPTIONS, paginator=_NEXT, params=_list_params(size),
                    records_path="content",
                )  # fmt: skip
                yield from (subscriptions.records for subscriptions in listed)

    def _first(self, client: HttpClient, stream: str, limit: int) -> pd.DataFrame:
        """The stream's first ``limit`` records as a frame, through ``client``."""
        size = max(1, min(limit, MAX_PAGE_SIZE))
        if stream != SUBSCRIPTIONS:
            return self.sample_through(client, stream, size)
        pages = self._subscription_pages(client, size)
        first = next(read_chunks(pages, stream=stream, key=KEY, chunk_size=size), None)
        return first if first is not None else with_origin(pd.DataFrame(), stream, KEY, 0)


def campaign_time(value: Any) -> str:
    """A cursor start as Campaign writes times: ``2026-11-01 10:00:05.123Z`` (UTC)."""
    moment = pd.Timestamp(value)
    moment = moment.tz_localize("UTC") if moment.tzinfo is None else moment.tz_convert("UTC")
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _list_params(size: int) -> dict[str, Any]:
    return {"_lineCount": size, "_forcePagination": "true"}


def _path(stream: str) -> str:
    if stream not in _PATHS:
        offered = ", ".join([*_PATHS, SUBSCRIPTIONS])
        raise StreamNotFoundError(f"Adobe Campaign has no stream {stream!r}; it offers: {offered}.")
    return _PATHS[stream]
