"""A fake Adobe IMS, API gateway, Campaign Standard and Audience Manager, on :class:`FakeApi` servers.

What it implements, each from the public documentation:

- IMS ``POST /ims/token/v3`` (its own server, as ``ims-na1.adobelogin.com``):
  a form with ``grant_type=client_credentials``, ``client_id``,
  ``client_secret`` and ``scope`` (comma-separated, each one the credential
  holds); answers ``access_token``, ``token_type: bearer``, ``expires_in:
  86399``; OAuth errors ``{"error", "error_description"}`` otherwise
  (developer.adobe.com/developer-console/docs/guides/authentication/ServerToServerAuthentication/IMS).
- The API gateway in front of both APIs (:meth:`FakeIms.gateway`): the
  ``x-api-key`` must be the client id, the bearer token one IMS issued and
  still valid, else ``{"error_code": "403000" | "403003" | "401013",
  "message": ...}`` (401013 "Oauth token is not valid":
  experienceleague.adobe.com/docs/campaign-standard/using/working-with-apis/troubleshooting.html);
  throttling is 429 with ``Retry-After`` and ``{"error_code": "429050",
  "message": "Too many requests"}`` (the code is this fake's own).
- Campaign Standard (:class:`FakeCampaign`) under ``/<tenant>/campaign``:
  ``profileAndServices/profile`` and ``profileAndServices/service`` lists of
  ``{"content": [...], "count": {"href"}, "serverSidePagination": true,
  "next": {"href"}}``; ``_lineCount`` records a page (25 by default), the next
  page at ``next.href`` with a computed ``_lineStart``, no ``next`` on a table
  above the big-table threshold without ``_forcePagination=true``
  (.../working-with-apis/pagination.html); ``_order=<field> asc|desc``
  (.../sorting.html); a service's ``subscriptions`` link listing its
  subscriptions with their ``service`` and ``subscriber``
  (.../retrieving-subscriptions.html); a custom filter
  ``profileAndServicesExt/profile/by<Name>?<param>=<time>`` when one is
  declared (.../filtering.html). Errors of the Campaign application are
  ``{"error": {"code", "message"}}``: the shape follows the documented
  ``error`` node, the codes and texts are this fake's own.
- Audience Manager (:class:`FakeAudienceManager`) under ``/v1``:
  ``traits/`` and ``segments/`` with ``page`` (from 0), ``pageSize`` (10 by
  default), ``sortBy``, ``descending``, ``search`` and ``includeMetrics``;
  with page options the list is wrapped in ``{"total", "page", "pageSize",
  "list"}``, without them it is a bare array
  (experienceleague.adobe.com/docs/audience-manager/user-guide/api-and-sdk-code/rest-apis/aam-api-getting-started.html,
  optional API query parameters); a bad ``sortBy`` is a 400 (this fake's wording).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from tests.http_servers import FakeApi, Fault, Recorded, Reply, Tokens

IMS_PATH = "/ims/token/v3"
CREDENTIAL_SCOPES = frozenset(
    {
        "openid",
        "AdobeID",
        "additional_info.projectedProductContext",
        "read_organizations",
        "audiencemanager_api",
    }
)


def gateway_error(status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> Reply:
    """An answer of Adobe's API gateway."""
    return Reply(status, {"error_code": code, "message": message}, headers=dict(headers or {}))


class FakeIms:
    """IMS on its own server: issues tokens to one credential, and guards the APIs behind the gateway."""

    def __init__(
        self,
        api: FakeApi,
        *,
        client_id: str = "5f2a9c0d1e8b4a7f9d3c6b1a2e4f8d0c",
        client_secret: str = "p8e-ims-client-secret",
        scopes: frozenset[str] = CREDENTIAL_SCOPES,
        tokens: Tokens | None = None,
    ) -> None:
        self.api, self.client_id, self.client_secret, self.scopes = api, client_id, client_secret, scopes
        self.tokens = tokens or Tokens(prefix="eyJhbGciOiJSUzI1NiJ9.ims-", expires_in=86399)
        self.tokens.extra.setdefault("token_type", "bearer")
        self.tokens.unauthorized = gateway_error(401, "401013", "Oauth token is not valid")
        api.route("POST", IMS_PATH, self._token)

    @property
    def token_url(self) -> str:
        return self.api.url(IMS_PATH)

    def grants(self) -> list[Recorded]:
        """The token requests received."""
        return self.api.requests_to(IMS_PATH)

    def gateway(self, org_id: str | None = None) -> Callable[[Recorded], Reply | None]:
        """A route guard: the API key, then the token (and the org id, when one is required)."""

        def guard(request: Recorded) -> Reply | None:
            key = request.header("x-api-key")
            if not key:
                return gateway_error(403, "403000", "Api Key is required")
            if key != self.client_id:
                return gateway_error(403, "403003", "Api Key is invalid")
            refused = self.tokens.guard(request)
            if refused is not None:
                return refused
            if org_id is not None and request.header("x-gw-ims-org-id") != org_id:
                return gateway_error(403, "403025", "Profile is not valid")
            return None

        return guard

    def _token(self, request: Recorded) -> Reply | dict[str, Any]:
        if "application/x-www-form-urlencoded" not in (request.header("content-type") or ""):
            return _oauth_error(400, "invalid_request", "the request must be a form")
        form = request.form()
        if form.get("grant_type") != "client_credentials":
            return _oauth_error(400, "unsupported_grant_type", "unsupported grant_type parameter")
        if form.get("client_id") != self.client_id:
            return _oauth_error(400, "invalid_client", "invalid client_id parameter")
        if form.get("client_secret") != self.client_secret:
            return _oauth_error(401, "invalid_client", "invalid client_secret parameter")
        asked = [scope for scope in form.get("scope", "").split(",") if scope]
        if not asked or not set(asked) <= self.scopes:
            return _oauth_error(400, "invalid_scope", "Invalid scope")
        return self.tokens.issue()


@contextmanager
def behind_ims(**ims_options: Any) -> Iterator[tuple[FakeIms, FakeApi]]:
    """IMS on its own server and an API server for a fake behind the gateway; stopped afterwards."""
    with FakeApi() as ims_api, FakeApi() as api:
        yield FakeIms(ims_api, **ims_options), api


def credential(ims: FakeIms) -> dict[str, str]:
    """A connection's IMS settings for the fake IMS."""
    return {"client_id": ims.client_id, "client_secret": ims.client_secret, "ims_url": ims.token_url}


def _oauth_error(status: int, error: str, description: str) -> Reply:
    return Reply(status, {"error": error, "error_description": description})


def throttle(api: FakeApi, path: str | re.Pattern[str], *, retry_after: str = "1", **when: Any) -> Fault:
    """Answers the next matching requests with the gateway's 429 and ``Retry-After``."""
    reply = gateway_error(429, "429050", "Too many requests", {"Retry-After": retry_after})
    return api.inject(reply, path=path, **when)


# -- Campaign Standard ---------------------------------------------------------------------------------------
def campaign_time(moment: datetime) -> str:
    """A time as Campaign writes it: ``2026-11-01 10:00:05.000Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def campaign_error(status: int, code: str, message: str) -> Reply:
    """An error of the Campaign application (not of the gateway)."""
    return Reply(status, {"error": {"code": code, "message": message}})


class FakeCampaign:
    """A Campaign Standard instance: profiles, services and their subscriptions, behind the gateway."""

    SORTABLE = frozenset(
        {"PKey", "email", "lastName", "firstName", "created", "lastModified", "name", "label"}
    )

    def __init__(self, api: FakeApi, ims: FakeIms, *, tenant: str = "acme", big_table: int = 100_000) -> None:
        self.api, self.ims, self.tenant, self.big_table = api, ims, tenant, big_table
        self.profiles: list[dict[str, Any]] = []
        self.services: list[dict[str, Any]] = []
        self.subscriptions: dict[str, list[dict[str, Any]]] = {}  # service PKey -> its subscriptions
        self.custom_filter: tuple[str, str] | None = None  # (by<Name>, its parameter) on profiles
        root = f"/{tenant}/campaign"
        self.root = root
        guard = ims.gateway()
        api.route(
            "GET", f"{root}/profileAndServices/profile", lambda r: self._list(r, self.profiles), guard=guard
        )
        api.route(
            "GET", f"{root}/profileAndServices/service", lambda r: self._list(r, self.services), guard=guard
        )
        api.route("GET", re.compile(rf"{root}/profileAndServices/service/([^/]+)/subscriptions/?"),
                  self._subscriptions, guard=guard)  # fmt: skip
        api.route(
            "GET", re.compile(rf"{root}/profileAndServicesExt/profile/(by\w+)"), self._filtered, guard=guard
        )

    def url(self, path: str) -> str:
        return self.api.url(f"{self.root}/{path}")

    def list_requests(self, what: str = "profile") -> list[Recorded]:
        return self.api.requests_to(re.compile(rf"{self.root}/profileAndServices(Ext)?/{what}.*"))

    # -- data ---------------------------------------------------------------------------
    def add_profile(self, number: int, modified: datetime) -> dict[str, Any]:
        key = f"@prof{number:05d}"
        profile = {
            "PKey": key,
            "email": f"member{number}@example.com",
            "firstName": f"Zoé{number}",
            "lastName": f"Martin{number}",
            "birthDate": f"19{70 + number % 30}-0{1 + number % 9}-1{number % 10}",
            "mobilePhone": f"+3361234{number:04d}",
            "gender": "female" if number % 2 else "male",
            "location": {"city": "Lyon", "zipCode": f"690{number % 10:02d}", "countryCode": "FR"},
            "created": campaign_time(modified - timedelta(days=30)),
            "lastModified": campaign_time(modified),
            "href": self.url(f"profileAndServices/profile/{key}"),
            "subscriptions": {"href": self.url(f"profileAndServices/profile/{key}/subscriptions/")},
        }
        self.profiles.append(profile)
        return profile

    def add_service(self, name: str, subscribers: list[dict[str, Any]]) -> dict[str, Any]:
        key = f"@svc-{name}"
        service = {
            "PKey": key,
            "name": name,
            "label": f"{name} newsletter",
            "messageType": "email",
            "mode": "newsletter",
            "created": "2026-01-05 09:00:00.000Z",
            "lastModified": "2026-01-05 09:00:00.000Z",
            "href": self.url(f"profileAndServices/service/{key}"),
            "subscriptions": {"href": self.url(f"profileAndServices/service/{key}/subscriptions/")},
        }
        self.services.append(service)
        self.subscriptions[key] = [
            {
                "PKey": f"@sub-{name}-{profile['PKey'][1:]}",
                "created": "2026-02-01 08:00:00.000Z",
                "service": {k: service[k] for k in ("PKey", "href", "label", "name")},
                "serviceName": name,
                "subscriber": {k: profile[k] for k in ("PKey", "email", "firstName", "lastName", "href")},
            }
            for profile in subscribers
        ]
        return service

    # -- routes -------------------------------------------------------------------------
    def _subscriptions(self, request: Recorded) -> Reply | dict[str, Any]:
        key = request.match.group(1) if request.match else ""
        if key not in self.subscriptions:
            return campaign_error(404, "404", f"No service with the key '{key}'.")
        return self._list(request, self.subscriptions[key])

    def _filtered(self, request: Recorded) -> Reply | dict[str, Any]:
        name = request.match.group(1) if request.match else ""
        if self.custom_filter is None or name != self.custom_filter[0]:
            return campaign_error(400, "400", f"The filter '{name}' is not defined on the profile resource.")
        since = request.params.get(self.custom_filter[1])
        if since is None:
            return campaign_error(
                400, "400", f"The filter '{name}' needs its parameter '{self.custom_filter[1]}'."
            )
        return self._list(request, [p for p in self.profiles if p["lastModified"] >= since])

    def _list(self, request: Recorded, rows: list[dict[str, Any]]) -> Reply | dict[str, Any]:
        params = request.params
        try:
            size = int(params.get("_lineCount", "25"))
            start = _line_start(params.get("_lineStart"))
        except ValueError:
            return campaign_error(400, "400", "_lineCount and _lineStart must come from the API.")
        order = params.get("_order")
        if order:
            field, _, direction = order.partition(" ")
            if field not in self.SORTABLE or direction.strip() not in ("", "asc", "desc"):
                return campaign_error(400, "400", f"The field '{field}' cannot be sorted.")
            rows = sorted(rows, key=lambda row: row.get(field) or "", reverse=direction.strip() == "desc")
        body: dict[str, Any] = {
            "content": rows[start : start + size],
            "count": {"href": self.api.url(request.path + "/_count")},
            "serverSidePagination": True,
        }
        forced = params.get("_forcePagination") == "true"
        if start + size < len(rows) and (forced or len(rows) <= self.big_table):
            following = {**params, "_lineCount": str(size), "_lineStart": _token(start + size)}
            body["next"] = {"href": self.api.url(request.path) + "?" + urlencode(following)}
        return body


def _token(offset: int) -> str:
    return "@" + base64.urlsafe_b64encode(f"line:{offset}".encode()).decode().rstrip("=")


def _line_start(token: str | None) -> int:
    if not token:
        return 0
    text = base64.urlsafe_b64decode(token[1:] + "=" * (-len(token[1:]) % 4)).decode()
    if not text.startswith("line:"):
        raise ValueError(token)
    return int(text[5:])


# -- Audience Manager ----------------------------------------------------------------------------------------
AAM_START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z


class FakeAudienceManager:
    """An Audience Manager account's traits and segments, behind the gateway."""

    def __init__(self, api: FakeApi, ims: FakeIms) -> None:
        self.api, self.ims = api, ims
        self.traits: list[dict[str, Any]] = []
        self.segments: list[dict[str, Any]] = []
        guard = ims.gateway()
        api.route("GET", re.compile(r"/v1/traits/?"), lambda r: self._list(r, self.traits), guard=guard)
        api.route("GET", re.compile(r"/v1/segments/?"), lambda r: self._list(r, self.segments), guard=guard)

    def add_trait(self, sid: int, updated_ms: int) -> dict[str, Any]:
        trait = _definition(sid, updated_ms, name=f"Visited pricing {sid}", description="Rule-based trait",
                            traitType="RULE_BASED_TRAIT", integrationCode=f"tr-{sid}", folderId=12,
                            traitRule=f'page=="pricing-{sid}"', ttl=120)  # fmt: skip
        self.traits.append(trait)
        return trait

    def add_segment(self, sid: int, updated_ms: int) -> dict[str, Any]:
        segment = _definition(sid, updated_ms, name=f"Pricing visitors {sid}", description="",
                              integrationCode=f"seg-{sid}", folderId=34, segmentRule=f"{sid}T")  # fmt: skip
        self.segments.append(segment)
        return segment

    def list_requests(self, what: str = "traits") -> list[Recorded]:
        return self.api.requests_to(re.compile(rf"/v1/{what}/?"))

    def _list(self, request: Recorded, rows: list[dict[str, Any]]) -> Reply | Any:
        params = request.params
        if params.get("search"):
            rows = [row for row in rows if any(params["search"] in str(value) for value in row.values())]
        sort = params.get("sortBy")
        if sort:
            if rows and sort not in rows[0]:
                return Reply(400, {"code": "400", "message": f"Cannot sort by '{sort}'."})
            rows = sorted(rows, key=lambda row: row[sort], reverse=params.get("descending") == "true")
        if params.get("includeMetrics") == "true":
            rows = [{**row, "uniques1Day": row["sid"] % 97, "uniques30Day": row["sid"] % 997} for row in rows]
        if "page" not in params and "pageSize" not in params:
            return rows
        page, size = int(params.get("page", "0")), int(params.get("pageSize", "10"))
        return {
            "total": len(rows),
            "page": page,
            "pageSize": size,
            "list": rows[page * size : (page + 1) * size],
        }


def _definition(sid: int, updated_ms: int, **fields: Any) -> dict[str, Any]:
    """A trait or segment as the API lists it: the fields both have, then the kind's own."""
    common = {"sid": sid, "pid": 1099, "status": "ACTIVE", "dataSourceId": 5, "crUID": 158, "upUID": 158}
    return {**common, **fields, "createTime": AAM_START_MS, "updateTime": updated_ms}
