"""Adobe Audience Manager: trait and segment definitions through the REST API.

A connection is an Adobe Developer Console credential (IMS, shared with
Campaign: :mod:`connectors._adobe_ims`); with IMS tokens the API lives at
``https://aam.adobe.io/v1`` (``https://aam-beta.adobe.io`` for the beta
environment; ``api.demdex.com`` serves only the deprecated AAM OAuth tokens),
and every call sends ``x-api-key``
(experienceleague.adobe.com/docs/audience-manager/user-guide/api-and-sdk-code/rest-apis/aam-api-getting-started.html).

Streams: ``traits`` (``GET /v1/traits/``) and ``segments``
(``GET /v1/segments/``), keyed by ``sid``. Lists are paged with ``page``
(from 0) and ``pageSize``, wrapped in ``{"total", "page", "pageSize",
"list"}``; an empty or short page is the last. ``includeMetrics=true`` adds
population counts (``uniques1Day``...) when ``include_metrics`` is on.

What the API does not offer, and so this connector does not read:

- a filter by ``updateTime``: the optional list parameters are ``page``,
  ``pageSize``, ``sortBy``, ``descending``, ``search``, ``folderId`` and
  permissions only. Every read lists every trait or segment, and an
  incremental dataflow on ``updateTime`` (epoch milliseconds) is filtered by
  the engine (``pushes_down_cursor`` is off);
- who belongs to a trait or segment: the REST API manages definitions;
  memberships leave Audience Manager through destinations and outbound files.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from connectors._adobe_ims import AdobeImsConfig, ImsApiConnector
from connectors._adobe_streams import WebUrl, described
from connectors._http import HttpClient, PageNumberPaginator
from connectors._http_connector import StreamQuery
from connectors.base import ConnectorConfig, CursorRequest, StreamInfo, StreamNotFoundError

__all__ = ["AudienceManagerConfig", "AudienceManagerConnector"]

KEY = ("sid",)
STREAMS = {"traits": "traits/", "segments": "segments/"}
_DESCRIBE_ROWS = 50


class AudienceManagerConfig(AdobeImsConfig):
    """Settings of an Adobe Audience Manager connection (also its form)."""

    base_url: WebUrl = Field(
        "https://aam.adobe.io", description="The API host (https://aam-beta.adobe.io: beta)"
    )
    page_size: int = Field(200, ge=1, le=5000, description="Records per page (pageSize; the API's own: 10)")
    include_metrics: bool = Field(False, description="Also read population metrics (includeMetrics=true)")

    def api_url(self) -> str:
        """``<base_url>/v1/``."""
        return f"{self.base_url}/v1/"


class AudienceManagerConnector(ImsApiConnector[AudienceManagerConfig]):
    """Traits and segments of an Adobe Audience Manager account; read in full (no date filter)."""

    name: ClassVar[str] = "adobe_audience_manager"
    title: ClassVar[str] = "Adobe Audience Manager"
    category: ClassVar[str] = "Adobe applications"
    description: ClassVar[str] = (
        "Trait and segment definitions of Adobe Audience Manager through its REST API, signed in with an "
        "Adobe Developer Console (IMS) credential; read in full on every run."
    )
    config_model: ClassVar[type[ConnectorConfig]] = AudienceManagerConfig
    pushes_down_cursor: ClassVar[bool] = False

    # -- declared for ApiConnector ---------------------------------------------------
    def probe(self, client: HttpClient) -> str:
        """Counts the traits: proves the token, the API key and the read permission."""
        body = client.get_json("traits/", object_name="traits", params={"page": 0, "pageSize": 1}) or {}
        total = body.get("total", 0) if isinstance(body, dict) else 0
        return f"Connected to Adobe Audience Manager: {total:,} traits."

    def discover(self) -> list[StreamInfo]:
        """Traits and segments, from their first records; updateTime (epoch ms) as their cursor."""
        streams = []
        with self.open_client() as client:
            for name in STREAMS:
                frame = self.sample_through(client, name, _DESCRIBE_ROWS)
                streams.append(described(name, frame, key=KEY, cursors=("updateTime", "createTime")))
        return streams

    def sample_query(self, client: HttpClient, stream: str, limit: int) -> StreamQuery:
        """Page 0 of ``limit`` records."""
        params = {**self._params(stream), "page": 0, "pageSize": max(1, min(limit, 5000))}
        return StreamQuery(STREAMS[stream], params, records_path="list", key=KEY)

    def read_query(self, client: HttpClient, stream: str, cursor: CursorRequest | None) -> StreamQuery:
        """Every record by ``sid`` from page 0 to an empty or short page (the engine applies ``cursor``)."""
        params, size = self._params(stream), self.settings.page_size
        paginator = PageNumberPaginator("page", 0, size, "pageSize")
        return StreamQuery(STREAMS[stream], params, paginator=paginator, records_path="list", key=KEY)

    # -- helpers -----------------------------------------------------------------------
    def _params(self, stream: str) -> dict[str, Any]:
        if stream not in STREAMS:
            offered = ", ".join(STREAMS)
            raise StreamNotFoundError(f"Audience Manager has no stream {stream!r}; it offers: {offered}.")
        params: dict[str, Any] = {"sortBy": "sid"}
        if self.settings.include_metrics:
            params["includeMetrics"] = "true"
        return params
