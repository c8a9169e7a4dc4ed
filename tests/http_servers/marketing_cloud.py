"""A fake Salesforce Marketing Cloud (Engagement): its auth server and REST data extension rowsets.

On two :class:`FakeApi` servers, as a tenant has two hosts
(``<subdomain>.auth.marketingcloudapis.com`` and
``<subdomain>.rest.marketingcloudapis.com``):

- ``POST /v2/token`` on the auth server: a JSON body with
  ``grant_type=client_credentials``, ``client_id``, ``client_secret`` and an
  optional ``account_id`` (the business unit's MID); answers
  ``access_token``, ``token_type``, ``expires_in`` (1079 s: tokens live 20
  minutes), ``scope``, ``soap_instance_url`` and ``rest_instance_url`` (the
  REST server's URL); OAuth errors ``{"error", "error_description",
  "error_uri"}`` for refused credentials
  (developer.salesforce.com/docs/marketing/marketing-cloud/guide/access-token-s2s.html).
- ``GET /data/v1/customobjectdata/key/{key}/rowset`` on the REST server, the
  data extension rowset by external key: ``$page`` (from 1), ``$pageSize``
  (2,500 at most), ``$orderBy`` (``Field asc|desc``, several comma-separated),
  ``$filter`` (``Field op 'value'`` with ``eq neq lt lte gt gte like``,
  ``and``/``or``, parentheses); answers ``count``, ``page``, ``pageSize``,
  ``links.self``/``links.next`` (no ``next`` on the last page) and ``items``
  of ``{"keys": {...}, "values": {...}}``, field names lower-cased and every
  value as text, dates as ``M/D/YYYY h:mm:ss AM`` and nulls as ``""``. The
  current REST reference does not list this read route (its documented
  listing of data extensions is SOAP's ``Retrieve`` of ``DataExtension``, not
  faked); the path, ``items`` and ``count`` follow the FuelSDK's REST object
  for data extension rows (github.com/salesforce-marketingcloud/FuelSDK-Java,
  ``ETDataExtensionRow``), the rest the responses integrators publish.
- Errors as the REST API writes them: ``{"message", "errorcode",
  "documentation"}``; an expired or refused token is HTTP 401 ``Not
  Authorized`` (errorcode 0), a bad value 400 (errorcode 10005)
  (developer.salesforce.com/docs/marketing/marketing-cloud/guide/error-handling.html);
  throttling is 429 ``Rate limit exceeded`` (errorcode 50100) with
  ``Retry-After``
  (developer.salesforce.com/docs/marketing/marketing-cloud/guide/rate-limiting-errors.html).
  The texts of the 400/404 rowset errors are this fake's own wording.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote as unquote_url

from tests.http_servers import FakeApi, Fault, Recorded, Reply, Tokens
from tests.http_servers.filters import FilterError, Row, parse_filter, sort_key, unquote

MAX_PAGE_SIZE = 2500
ROWSET = re.compile(r"/data/v1/customobjectdata/key/([^/]+)/rowset/?")
_OPERATORS = {"eq": "eq", "neq": "ne", "lt": "lt", "lte": "le", "gt": "gt", "gte": "ge", "like": "like"}
_DATE_FORMATS = ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d", "%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y")
SCOPE = "data_extensions_read data_extensions_write list_and_subscribers_read"


@dataclass
class DataExtension:
    """A data extension: fields by name with their Marketing Cloud type, primary key fields, rows.

    Row values are Python values (``datetime`` for Date fields, naive: the
    account's local time, as Marketing Cloud stores them).
    """

    key: str
    fields: dict[str, str]  # Name -> Text | Number | Decimal | Date | Boolean | EmailAddress | Phone
    primary_key: tuple[str, ...] = ()
    rows: list[dict[str, Any]] = field(default_factory=list)
    object_id: str = field(default_factory=lambda: str(uuid.uuid4()))


class FakeMarketingCloud:
    """A tenant on two :class:`FakeApi` servers: ``auth`` (``v2/token``) and ``rest`` (the rowsets)."""

    def __init__(
        self,
        auth: FakeApi,
        rest: FakeApi,
        *,
        client_id: str = "4jsvhu4b8k1xkyc9o4fqz3dn",
        client_secret: str = "mc-client-secret",
        account_id: str = "514009876",
        tokens: Tokens | None = None,
    ) -> None:
        self.auth, self.rest = auth, rest
        self.client_id, self.client_secret, self.account_id = client_id, client_secret, account_id
        self.tokens = tokens or Tokens(prefix="eyJhbGciOiJIUzI1NiJ9.mc-access-", expires_in=1079)
        self.tokens.extra.update(
            {
                "scope": SCOPE,
                "soap_instance_url": self.rest.url("/soap/"),
                "rest_instance_url": self.rest.url("/"),
            }
        )
        self.tokens.unauthorized = Reply(401, rest_error("Not Authorized", 0))
        self.data_extensions: dict[str, DataExtension] = {}
        self.auth.route("POST", "/v2/token", self._token)
        self.rest.route("GET", ROWSET, self._rowset, guard=self.tokens.guard)

    # -- declaring ---------------------------------------------------------------------
    def add(self, extension: DataExtension) -> DataExtension:
        """Adds (or replaces) a data extension; keys are case-insensitive, as Marketing Cloud's are."""
        self.data_extensions[extension.key.lower()] = extension
        return extension

    def rowset_requests(self) -> list[Recorded]:
        """The rowset requests received, in order."""
        return self.rest.requests_to(ROWSET)

    def throttle(self, *, retry_after: str = "1", times: int = 1, after: int = 0) -> Fault:
        """Answers the next rowset requests with a 429 and ``Retry-After``."""
        body = {**rest_error("Rate limit exceeded", 50100), "retryAfter": int(retry_after)}
        reply = Reply(429, body, headers={"Retry-After": retry_after})
        return self.rest.inject(reply, path=ROWSET, times=times, after=after)

    # -- auth --------------------------------------------------------------------------
    def _token(self, request: Recorded) -> Reply | dict[str, Any]:
        if "application/json" not in (request.header("content-type") or ""):
            return _oauth_error(400, "invalid_request", "The request body must be JSON.")
        try:
            body = request.json()
        except ValueError:
            return _oauth_error(400, "invalid_request", "The request body is not valid JSON.")
        if body.get("grant_type") != "client_credentials":
            return _oauth_error(400, "unsupported_grant_type", "Use grant_type client_credentials.")
        if body.get("client_id") != self.client_id or body.get("client_secret") != self.client_secret:
            return _oauth_error(401, "invalid_client", "Invalid client ID or client secret.")
        if body.get("account_id") not in (None, "", self.account_id):
            return _oauth_error(401, "unauthorized_client", "The client is not authorized for that account.")
        return self.tokens.issue()

    # -- rowsets -------------------------------------------------------------------------
    def _rowset(self, request: Recorded) -> Reply | dict[str, Any]:
        key = unquote_url(request.match.group(1)) if request.match else ""
        extension = self.data_extensions.get(key.lower())
        if extension is None:
            return Reply(404, rest_error(f"Data extension with external key '{key}' was not found.", 10000))
        params = {name.lower(): value for name, value in request.params.items()}
        try:
            page = int(params.get("$page", "1"))
            size = min(int(params.get("$pagesize", str(MAX_PAGE_SIZE))), MAX_PAGE_SIZE)
            if page < 1 or size < 1:
                raise ValueError
        except ValueError:
            return Reply(400, rest_error("$page and $pageSize must be positive whole numbers.", 10005))
        names = {name.lower(): name for name in extension.fields}
        try:
            rows = list(extension.rows)
            if params.get("$filter"):
                predicate = parse_filter(
                    params["$filter"],
                    operators=_OPERATORS,
                    field=lambda name: _field(name, names, extension),
                    literal=lambda name, raw: _literal(raw, extension.fields[name]),
                )
                rows = [row for row in rows if predicate(row)]
            order = _order(params.get("$orderby"), names)
        except FilterError as error:
            return Reply(400, rest_error(str(error), 10005))
        if order:
            rows.sort(key=sort_key(order))
        items = [_item(extension, row) for row in rows[(page - 1) * size : page * size]]
        token = str(uuid.uuid4())
        links = {"self": f"/v1/customobjectdata/token/{token}/rowset?$page={page}"}
        if page * size < len(rows):
            links["next"] = f"/v1/customobjectdata/token/{token}/rowset?$page={page + 1}"
        return {
            "links": links,
            "requestToken": token,
            "tokenExpireDateUtc": (datetime.now(UTC) + timedelta(minutes=20)).strftime("%Y-%m-%dT%H:%M:%S"),
            "customObjectId": extension.object_id,
            "customObjectKey": extension.key,
            "pageSize": size,
            "page": page,
            "count": len(rows),
            "top": 0,
            "items": items,
        }


def rest_error(message: str, code: int) -> dict[str, Any]:
    """The REST API's error body."""
    return {"message": message, "errorcode": code, "documentation": ""}


def _oauth_error(status: int, error: str, description: str) -> Reply:
    return Reply(
        status,
        {
            "error": error,
            "error_description": description,
            "error_uri": "https://developer.salesforce.com/docs",
        },
    )


def _item(extension: DataExtension, row: Row) -> dict[str, Any]:
    """A row as the rowset writes it: keys apart from values, names lower-cased, values as text."""
    keys = {name.lower(): _text(row.get(name)) for name in extension.primary_key}
    values = {
        name.lower(): _text(row.get(name)) for name in extension.fields if name not in extension.primary_key
    }
    return {"keys": keys, "values": values}


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        hour = value.hour % 12 or 12
        return (
            f"{value.month}/{value.day}/{value.year} {hour}:{value:%M:%S} {'AM' if value.hour < 12 else 'PM'}"
        )
    if isinstance(value, bool):
        return "True" if value else "False"
    return str(value)


def _field(name: str, names: Mapping[str, str], extension: DataExtension) -> tuple[str, Callable[[Row], Any]]:
    real = names.get(name.lower())
    if real is None:
        raise FilterError(f"Field '{name}' is not a field of data extension '{extension.key}'.")
    kind = extension.fields[real]

    def value(row: Row) -> Any:
        found = row.get(real)
        return found.casefold() if isinstance(found, str) and kind not in ("Number", "Decimal") else found

    return real, value


def _literal(raw: str, kind: str) -> Any:
    text = unquote(raw)
    value = raw if text is None else text
    if kind == "Date":
        for form in _DATE_FORMATS:
            try:
                return datetime.strptime(value, form)
            except ValueError:
                continue
        raise FilterError(f"'{value}' is not a date.")
    if kind in ("Number", "Decimal"):
        try:
            return float(value)
        except ValueError:
            raise FilterError(f"'{value}' is not a number.") from None
    if kind == "Boolean":
        return value.lower() in ("true", "1")
    if text is None:
        raise FilterError(f"The text value {raw} must be in single quotes.")
    return text.casefold()


def _order(orderby: str | None, names: Mapping[str, str]) -> list[tuple[Callable[[Row], Any], bool]]:
    order = []
    for part in (orderby or "").split(","):
        words = part.split()
        if not words:
            continue
        real = names.get(words[0].lower())
        direction = words[1].lower() if len(words) > 1 else "asc"
        if real is None or direction not in ("asc", "desc") or len(words) > 2:
            raise FilterError(f"Cannot order by '{part.strip()}'.")
        order.append(((lambda row, name=real: row.get(name)), direction == "desc"))
    return order


# -- sample data --------------------------------------------------------------------------
START = datetime(2026, 11, 1, 9, 0)
SUBSCRIBER_FIELDS = {
    "SubscriberKey": "Text",
    "EmailAddress": "EmailAddress",
    "FirstName": "Text",
    "Points": "Number",
    "OptIn": "Boolean",
    "ModifiedDate": "Date",
}


def subscriber(number: int, modified: datetime | None = None) -> dict[str, Any]:
    """The ``number``-th sample subscriber; two share each ModifiedDate (ties), unless given."""
    return {
        "SubscriberKey": f"SK{number:05d}",
        "EmailAddress": f"sub{number}@example.com",
        "FirstName": f"Zoé{number}",
        "Points": number * 10,
        "OptIn": number % 2 == 0,
        "ModifiedDate": modified or START + timedelta(minutes=number // 2),
    }


def subscribers(count: int, key: str = "Newsletter_Subscribers") -> DataExtension:
    """A data extension of ``count`` subscribers keyed by SubscriberKey."""
    return DataExtension(
        key, dict(SUBSCRIBER_FIELDS), ("SubscriberKey",), [subscriber(n) for n in range(1, count + 1)]
    )
