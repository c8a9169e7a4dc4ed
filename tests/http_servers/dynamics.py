"""A fake Microsoft Dataverse (Dynamics 365) Web API and Microsoft Entra token endpoint, on :class:`FakeApi`.

What it implements, each from the public documentation:

- Entra ``POST /{tenant}/oauth2/v2.0/token``, client credentials grant: form
  fields ``client_id``, ``client_secret``, ``grant_type=client_credentials``,
  ``scope=<environment>/.default``; ``AADSTS`` errors for an unknown tenant,
  application, secret or resource; answers ``token_type``, ``expires_in``,
  ``ext_expires_in``, ``access_token``
  (learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow).
- ``GET /api/data/v9.2/WhoAmI``
  (learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/whoami).
- Table metadata: ``EntityDefinitions`` with ``$select`` and ``$filter``, and
  ``EntityDefinitions(LogicalName='contact')/Attributes`` with ``$select``; an
  option set's label is a ``Virtual`` attribute and a lookup's name a
  ``String`` one, both with ``AttributeOf`` set and neither a Web API column
  (learn.microsoft.com/power-apps/developer/data-platform/webapi/query-metadata-web-api).
- Entity set queries over in-memory rows: ``$select`` (the primary key always
  comes too, with ``@odata.etag``), ``$filter`` with ``eq ne gt ge lt le``,
  ``and``/``or`` and parentheses over dates (bare ``2026-11-01T10:00:00Z``
  literals), text (quoted, compared case-insensitively), numbers, booleans and
  null, ``$orderby`` on several columns, ``$top``; unknown columns and
  mistyped literals are OData errors ``{"error": {"code": "0x80060888",
  "message": ...}}`` (learn.microsoft.com/power-apps/developer/data-platform/webapi/query-data-web-api,
  .../webapi/query/filter-rows, .../webapi/query/order-rows, .../webapi/compose-http-requests-handle-errors).
- Server-driven paging: ``Prefer: odata.maxpagesize=N`` (5,000 at most and by
  default; ``$top`` takes no paging), ``@odata.nextLink`` carrying the query
  and a ``$skiptoken`` paging cookie that resumes after the last row's sort
  values, ``Preference-Applied`` naming the preferences honoured
  (learn.microsoft.com/power-apps/developer/data-platform/webapi/query/page-results).
- Formatted values: with ``Prefer: odata.include-annotations=
  "OData.Community.Display.V1.FormattedValue"`` (or ``"*"``), each non-null
  option set, boolean, lookup, money, number and date value gets a
  ``<column>@OData.Community.Display.V1.FormattedValue`` label
  (learn.microsoft.com/power-apps/developer/data-platform/webapi/query/select-columns#formatted-values).
- An expired or refused token: HTTP 401 with an empty body and
  ``WWW-Authenticate: Bearer authorization_uri=..., resource_id=...``.
- Service protection limits: :meth:`FakeDynamics.throttle` answers 429 with
  ``Retry-After`` and error ``0x80072322``
  (learn.microsoft.com/power-apps/developer/data-platform/api-limits).
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode
from urllib.parse import unquote as url_unquote

from tests.http_servers import FakeApi, Fault, Recorded, Reply, Tokens
from tests.http_servers.filters import FilterError, Row, parse_filter, sort_key, unquote

API = r"/api/data/v9\.[0-2]"
MAX_PAGE_SIZE = 5000
FORMATTED = "OData.Community.Display.V1.FormattedValue"
_LOOKUPS = {"Lookup", "Customer", "Owner"}
_NOT_COLUMNS = {"Virtual", "PartyList", "CalendarRules", "ManagedProperty"}
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?")
_NUMBER = re.compile(r"-?\d+(\.\d+)?")
_GUID = re.compile(r"[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
_KNOWN_OPTIONS = {"$select", "$filter", "$orderby", "$top", "$skiptoken"}


@dataclass
class Table:
    """A Dataverse table: its metadata and rows (keyed by Web API column names: lookups as ``_x_value``).

    Attributes:
        attributes: logical name -> AttributeType, in metadata order (helper attributes included).
        attribute_of: helper attribute -> the attribute it belongs to (``gendercodename`` -> ``gendercode``).
        labels: column -> value -> formatted label (option sets, lookups' names).
    """

    logical_name: str
    entity_set: str
    primary_id: str
    attributes: dict[str, str]
    attribute_of: dict[str, str] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)
    labels: dict[str, dict[Any, str]] = field(default_factory=dict)
    metadata_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def columns(self) -> dict[str, str]:
        """Web API column -> AttributeType: what ``$select``, ``$filter`` and ``$orderby`` accept."""
        return {
            (f"_{name}_value" if kind in _LOOKUPS else name): kind
            for name, kind in self.attributes.items()
            if kind not in _NOT_COLUMNS and name not in self.attribute_of
        }


class FakeDynamics:
    """Entra sign-in and a Dataverse environment on a :class:`FakeApi` (its base URL: the environment URL)."""

    def __init__(
        self,
        api: FakeApi,
        *,
        tenant: str = "contoso.onmicrosoft.com",
        client_id: str = "11111111-2222-3333-4444-555555555555",
        client_secret: str = "entra-client-secret",
        tokens: Tokens | None = None,
    ) -> None:
        self.api, self.tenant, self.client_id, self.client_secret = api, tenant, client_id, client_secret
        self.environment_url = api.base_url
        self.tokens = tokens or Tokens(
            prefix="eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.dataverse-",
            expires_in=3599,
            extra={"ext_expires_in": 3599},
        )
        self.tokens.unauthorized = Reply(
            401,
            b"",
            headers={
                "WWW-Authenticate": f"Bearer authorization_uri=https://login.microsoftonline.com/{tenant}"
                f"/oauth2/authorize, resource_id={self.environment_url}/"
            },
        )
        self.tables: dict[str, Table] = {}
        self.user_id, self.organization_id = str(uuid.uuid4()), str(uuid.uuid4())
        guard = self.tokens.guard
        api.route("POST", re.compile(r"/([^/]+)/oauth2/v2\.0/token"), self._token)
        api.route("GET", re.compile(rf"{API}/WhoAmI"), self._who_am_i, guard=guard)
        api.route("GET", re.compile(rf"{API}/EntityDefinitions"), self._definitions, guard=guard)
        api.route(
            "GET",
            re.compile(rf"{API}/EntityDefinitions\(LogicalName='([^']*)'\)/Attributes"),
            self._attributes,
            guard=guard,
        )
        api.route("GET", re.compile(rf"{API}/([A-Za-z_][A-Za-z0-9_]*)"), self._collection, guard=guard)

    # -- declaring ---------------------------------------------------------------------
    def add_table(self, table: Table) -> Table:
        """Adds (or replaces) a table."""
        self.tables[table.logical_name] = table
        return table

    def throttle(self, *, retry_after: str = "1", times: int = 1, after: int = 0) -> Fault:
        """Answers the next entity set queries with a service protection 429 (requests per 5 minutes)."""
        body = odata_error(
            "0x80072322", "Number of requests exceeded the limit of 6000 over time window of 300 seconds."
        )
        return self.api.inject(
            Reply(429, body, headers={"Retry-After": retry_after}),
            method="GET",
            path=self.collection_path(),
            times=times,
            after=after,
        )

    @staticmethod
    def collection_path() -> re.Pattern[str]:
        """The paths of entity set queries (for ``requests_to`` and ``inject``)."""
        return re.compile(rf"{API}/(?!EntityDefinitions|WhoAmI)[A-Za-z_][A-Za-z0-9_]*")

    def token_path(self) -> str:
        """The path of the tenant's token endpoint."""
        return f"/{self.tenant}/oauth2/v2.0/token"

    # -- Entra ---------------------------------------------------------------------------
    def _token(self, request: Recorded) -> Reply | dict[str, Any]:
        tenant = request.match.group(1) if request.match else ""
        form = request.form() if "form-urlencoded" in (request.header("content-type") or "") else {}
        if tenant != self.tenant:
            return _entra(400, "invalid_request", 90002, f"Tenant '{tenant}' not found.")
        if form.get("grant_type") != "client_credentials":
            return _entra(
                400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type."
            )
        if form.get("client_id") != self.client_id:
            return _entra(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{form.get('client_id')}' was not found in the directory.",
            )
        if form.get("client_secret") != self.client_secret:
            return _entra(
                401,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is the "
                "client secret value, not the client secret ID.",
            )
        scope = form.get("scope")
        if not scope:
            return _entra(
                400,
                "invalid_request",
                900144,
                "The request body must contain the following parameter: 'scope'.",
            )
        if scope != f"{self.environment_url}/.default":
            return _entra(
                400,
                "invalid_resource",
                500011,
                f"The resource principal named {scope.removesuffix('/.default')} "
                "was not found in the tenant.",
            )
        return self.tokens.issue()

    # -- Web API ------------------------------------------------------------------------
    def _who_am_i(self, request: Recorded) -> dict[str, Any]:
        return {
            "@odata.context": f"{self.environment_url}/api/data/v9.2/"
            "$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse",
            "BusinessUnitId": str(uuid.uuid5(uuid.NAMESPACE_URL, self.environment_url)),
            "UserId": self.user_id,
            "OrganizationId": self.organization_id,
        }

    def _definitions(self, request: Recorded) -> Reply | dict[str, Any]:
        rows = [
            {
                "LogicalName": t.logical_name,
                "EntitySetName": t.entity_set,
                "PrimaryIdAttribute": t.primary_id,
                "MetadataId": t.metadata_id,
            }
            for t in self.tables.values()
        ]
        kinds = dict.fromkeys(("LogicalName", "EntitySetName", "PrimaryIdAttribute", "MetadataId"), "String")
        try:
            found = _query_rows(rows, kinds, request.params, "EntityMetadata", key=None)
        except FilterError as error:
            return Reply(400, odata_error("0x80060888", str(error)))
        return {"@odata.context": self._context("EntityDefinitions", request), "value": found}

    def _attributes(self, request: Recorded) -> Reply | dict[str, Any]:
        logical = request.match.group(1) if request.match else ""
        table = self.tables.get(logical)
        if table is None:
            return Reply(
                404, odata_error("0x80040217", f"Could not find an entity with LogicalName = {logical}.")
            )
        rows = [
            {
                "@odata.type": f"#Microsoft.Dynamics.CRM.{kind}AttributeMetadata",
                "LogicalName": name,
                "AttributeType": kind,
                "AttributeOf": table.attribute_of.get(name),
                "IsValidForRead": True,
                "MetadataId": str(uuid.uuid5(uuid.NAMESPACE_OID, f"{logical}.{name}")),
            }
            for name, kind in table.attributes.items()
        ]
        kinds = dict.fromkeys(("LogicalName", "AttributeType", "AttributeOf", "MetadataId"), "String")
        kinds["IsValidForRead"] = "Boolean"
        try:
            found = _query_rows(
                rows, kinds, request.params, "AttributeMetadata", key=None, always=("@odata.type",)
            )
        except FilterError as error:
            return Reply(400, odata_error("0x80060888", str(error)))
        return {
            "@odata.context": self._context(f"EntityDefinitions('{table.metadata_id}')/Attributes", request),
            "value": found,
        }

    def _collection(self, request: Recorded) -> Reply | dict[str, Any]:
        segment = request.match.group(1) if request.match else ""
        table = next((t for t in self.tables.values() if t.entity_set == segment), None)
        if table is None:
            return Reply(404, odata_error("0x80060888", f"Resource not found for the segment '{segment}'."))
        unknown = [name for name in request.params if name.startswith("$") and name not in _KNOWN_OPTIONS]
        if unknown:
            return Reply(
                400, odata_error("0x80060888", f"The query parameter '{unknown[0]}' is not supported.")
            )
        prefer = _preferences(request.header("prefer"))
        columns = table.columns()
        try:
            ordered = _query_rows(
                table.rows, columns, request.params, f"Microsoft.Dynamics.CRM.{table.logical_name}",
                key=table.primary_id, project=False,
            )  # fmt: skip
        except FilterError as error:
            return Reply(400, odata_error("0x80060888", str(error)))
        applied: list[str] = []
        following: str | None = None
        if "$top" in request.params:
            page_rows = ordered[: int(request.params["$top"])]
        else:
            size = MAX_PAGE_SIZE
            asked = prefer.get("odata.maxpagesize")
            if asked and asked.isdigit() and 0 < int(asked) <= MAX_PAGE_SIZE:
                size = int(asked)
                applied.append(f"odata.maxpagesize={size}")
            order = _order(request.params.get("$orderby"), columns, table.primary_id)
            key = sort_key([(_value_of(name, columns[name]), descending) for name, descending in order])
            token = request.params.get("$skiptoken")
            if token:
                last = _cookie_values(token)
                ordered = [row for row in ordered if key(row) > key(last)]
            page_rows = ordered[:size]
            if len(ordered) > size:
                last_row = page_rows[-1]
                number = int(_cookie_page(token)) + 1 if token else 2
                following = self._next_link(table, request, {n: last_row.get(n) for n, _ in order}, number)
        annotations = prefer.get("odata.include-annotations", "").strip('"')
        labelled = annotations in ("*", FORMATTED) or annotations.startswith("OData.Community.Display.V1.")
        if annotations and labelled:
            applied.append(f'odata.include-annotations="{annotations}"')
        selected = _selected(request.params.get("$select"), columns, table.primary_id)
        records = [self._record(table, row, selected, labelled) for row in page_rows]
        body: dict[str, Any] = {"@odata.context": self._context(table.entity_set, request), "value": records}
        if following:
            body["@odata.nextLink"] = following
        headers = {"OData-Version": "4.0", **({"Preference-Applied": ",".join(applied)} if applied else {})}
        return Reply(200, body, headers=headers)

    # -- helpers -------------------------------------------------------------------------
    def _record(self, table: Table, row: Row, selected: Sequence[str], labelled: bool) -> dict[str, Any]:
        columns = table.columns()
        record: dict[str, Any] = {"@odata.etag": f'W/"{row.get("versionnumber", 1)}"'}
        for name in selected:
            value = row.get(name)
            if labelled and value is not None:
                label = _label(table, name, columns[name], value)
                if label is not None:
                    record[f"{name}@{FORMATTED}"] = label
            record[name] = value
        return record

    def _next_link(self, table: Table, request: Recorded, last: Mapping[str, Any], number: int) -> str:
        """The query as asked, with a paging cookie: Dataverse resumes after the last row's sort values."""
        values = base64.urlsafe_b64encode(json.dumps(last, default=str).encode()).decode()
        cookie = f'<cookie pagenumber="{number}" pagingcookie="{quote(values)}" istracking="False" />'
        params = {k: v for k, v in request.params.items() if k != "$skiptoken"}
        params["$skiptoken"] = cookie
        query = urlencode(params, quote_via=quote, safe="$,'()")
        return f"{self.environment_url}{request.path.rsplit('/', 1)[0]}/{table.entity_set}?{query}"

    def _context(self, what: str, request: Recorded) -> str:
        select = request.params.get("$select")
        return f"{self.environment_url}/api/data/v9.2/$metadata#{what}" + (f"({select})" if select else "")


def odata_error(code: str, message: str) -> dict[str, Any]:
    """Dataverse's error body."""
    return {"error": {"code": code, "message": message}}


def _entra(status: int, error: str, code: int, text: str) -> Reply:
    """An Entra ID token error (RFC 6749 section 5.2, with Entra's AADSTS code and trace fields)."""
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    return Reply(
        status,
        {
            "error": error,
            "error_description": f"AADSTS{code}: {text} Trace ID: {uuid.uuid4()} Timestamp: {now}",
            "error_codes": [code],
            "timestamp": now,
            "trace_id": str(uuid.uuid4()),
            "correlation_id": str(uuid.uuid4()),
            "error_uri": "https://login.microsoftonline.com/error?code=" + str(code),
        },
    )


def _preferences(header: str | None) -> dict[str, str]:
    """``Prefer: a=1,b="x"`` as {"a": "1", "b": '"x"'}."""
    found: dict[str, str] = {}
    for part in re.split(r",(?=(?:[^\"]*\"[^\"]*\")*[^\"]*$)", header or ""):
        name, _, value = part.strip().partition("=")
        if name:
            found[name.strip()] = value.strip()
    return found


def _query_rows(
    rows: Sequence[Row],
    kinds: Mapping[str, str],
    params: Mapping[str, str],
    type_name: str,
    *,
    key: str | None,
    always: Sequence[str] = (),
    project: bool = True,
) -> list[Any]:
    """Rows filtered and ordered; projected by ``$select`` (with ``MetadataId``) when ``project``."""
    for name in (params.get("$select") or "").split(","):
        if name and name not in kinds:
            raise FilterError(f"Could not find a property named '{name}' on type '{type_name}'.")
    found = list(rows)
    if params.get("$filter"):
        predicate = parse_filter(
            params["$filter"],
            operators={name: name for name in ("eq", "ne", "gt", "ge", "lt", "le")},
            field=lambda name: _field(name, kinds, type_name),
            literal=lambda name, raw: _literal(raw, kinds[name]),
        )
        found = [row for row in found if predicate(row)]
    order = _order(params.get("$orderby"), kinds, key)
    if order:
        found.sort(key=sort_key([(_value_of(name, kinds[name]), descending) for name, descending in order]))
    if not project:
        return found
    selected = [n for n in (params.get("$select") or "").split(",") if n] or list(kinds)
    return [
        {
            **{a: row.get(a) for a in always},
            **{n: row.get(n) for n in selected},
            "MetadataId": row["MetadataId"],
        }
        for row in found
    ]


def _selected(select: str | None, columns: Mapping[str, str], primary_id: str) -> list[str]:
    names = [name for name in (select or "").split(",") if name] or list(columns)
    return names if primary_id in names else [*names, primary_id]


def _order(orderby: str | None, kinds: Mapping[str, str], key: str | None) -> list[tuple[str, bool]]:
    """``$orderby`` as (column, descending) pairs, the primary key last (paging needs a total order)."""
    order: list[tuple[str, bool]] = []
    for part in (orderby or "").split(","):
        words = part.split()
        if not words:
            continue
        if words[0] not in kinds or len(words) > 2 or (len(words) == 2 and words[1] not in ("asc", "desc")):
            raise FilterError(f"Could not order by '{part.strip()}'.")
        order.append((words[0], len(words) == 2 and words[1] == "desc"))
    if key and key not in {name for name, _ in order}:
        order.append((key, False))
    return order


def _field(name: str, kinds: Mapping[str, str], type_name: str) -> tuple[str, Callable[[Row], Any]]:
    if name not in kinds:
        raise FilterError(f"Could not find a property named '{name}' on type '{type_name}'.")
    return name, _value_of(name, kinds[name])


def _value_of(name: str, kind: str) -> Callable[[Row], Any]:
    """A row's value as Dataverse compares it: dates as instants, text case-insensitively."""

    def value(row: Row) -> Any:
        found = row.get(name)
        if found is None:
            return None
        if kind == "DateTime":
            return _instant(str(found))
        if kind in ("String", "Memo", "EntityName", "Uniqueidentifier") or kind in _LOOKUPS:
            return str(found).casefold()
        return found

    return value


def _literal(raw: str, kind: str) -> Any:
    """An OData literal for a column of AttributeType ``kind``; a literal of another type is an error."""
    if raw == "null":
        return None
    text = unquote(raw)
    if kind == "DateTime":
        if text is not None or not _DATETIME.fullmatch(raw):
            edm = "Edm.String" if text is not None else "an unknown type"
            raise FilterError(f"The binary operator is not defined for Edm.DateTimeOffset and {edm} ({raw}).")
        return _instant(raw)
    if kind in ("String", "Memo", "EntityName"):
        if text is None:
            raise FilterError(
                f"A binary operator with incompatible types was detected: Edm.String and {raw}."
            )
        return text.casefold()
    if kind == "Uniqueidentifier" or kind in _LOOKUPS:
        if not _GUID.fullmatch(raw):
            raise FilterError(f"Unrecognized 'Edm.Guid' literal '{raw}'.")
        return raw.casefold()
    if kind == "Boolean":
        if raw not in ("true", "false"):
            raise FilterError(f"Unrecognized 'Edm.Boolean' literal '{raw}'.")
        return raw == "true"
    if not _NUMBER.fullmatch(raw):
        raise FilterError(f"A binary operator with incompatible types was detected: Edm.Int32 and {raw}.")
    return float(raw) if "." in raw else int(raw)


def _instant(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _label(table: Table, name: str, kind: str, value: Any) -> str | None:
    """The formatted value Dataverse annotates a value with, or None for plain text."""
    if name in table.labels:
        return table.labels[name].get(value)
    if kind == "Boolean":
        return "Yes" if value else "No"
    if kind == "Money":
        return f"${float(value):,.2f}"
    if kind in ("Integer", "BigInt", "Decimal", "Double"):
        return f"{value:,}"
    if kind == "DateTime":
        moment = _instant(str(value))
        if "T" not in str(value):
            return f"{moment.month}/{moment.day}/{moment.year}"
        return f"{moment.month}/{moment.day}/{moment.year} {moment.strftime('%I:%M %p').lstrip('0')}"
    return None


def _cookie_values(token: str) -> dict[str, Any]:
    found = re.search(r'pagingcookie="([^"]*)"', token)
    if not found:
        raise FilterError(f"The $skiptoken {token!r} is not a paging cookie.")
    return json.loads(base64.urlsafe_b64decode(url_unquote(found.group(1))))


def _cookie_page(token: str) -> str:
    found = re.search(r'pagenumber="(\d+)"', token)
    return found.group(1) if found else "1"


# -- sample data ------------------------------------------------------------------------
CONTACT_ATTRIBUTES = {
    "contactid": "Uniqueidentifier",
    "firstname": "String",
    "lastname": "String",
    "fullname": "String",
    "emailaddress1": "String",
    "mobilephone": "String",
    "telephone2": "String",
    "address1_city": "String",
    "address1_country": "String",
    "birthdate": "DateTime",
    "gendercode": "Picklist",
    "gendercodename": "Virtual",
    "donotemail": "Boolean",
    "creditlimit": "Money",
    "parentcustomerid": "Customer",
    "parentcustomeridname": "String",
    "statecode": "State",
    "createdon": "DateTime",
    "modifiedon": "DateTime",
    "versionnumber": "BigInt",
    "entityimage": "Virtual",
}
ACCOUNT_ATTRIBUTES = {
    "accountid": "Uniqueidentifier",
    "name": "String",
    "emailaddress1": "String",
    "telephone1": "String",
    "address1_city": "String",
    "statecode": "State",
    "createdon": "DateTime",
    "modifiedon": "DateTime",
    "versionnumber": "BigInt",
}
ACCOUNT_IDS = [f"a0000000-0000-0000-0000-{i:012d}" for i in range(1, 4)]
START = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def contact_id(number: int) -> str:
    """The contactid of the ``number``-th sample contact."""
    return f"c0000000-0000-0000-0000-{number:012d}"


def iso(moment: datetime) -> str:
    """A Dataverse date and time: UTC, to the second, with ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def contact(number: int, modified: datetime | None = None) -> dict[str, Any]:
    """The ``number``-th sample contact; two contacts share each modifiedon (ties), unless given."""
    modified = modified or START + timedelta(minutes=number // 2)
    first, last = f"Ana{number}", f"O'Neil{number}"
    return {
        "contactid": contact_id(number),
        "firstname": first,
        "lastname": last,
        "fullname": f"{first} {last}",
        "emailaddress1": f"Ana.{number}@Example.com",
        "mobilephone": f"+4477009{number:05d}",
        "telephone2": None if number % 3 else f"+4420794{number:05d}",
        "address1_city": "Paris" if number % 2 else "London",
        "address1_country": "France" if number % 2 else "United Kingdom",
        "birthdate": f"19{60 + number % 40}-0{1 + number % 9}-1{number % 10}",
        "gendercode": 1 + number % 2,
        "donotemail": number % 4 == 0,
        "creditlimit": 1000.5 * number,
        "_parentcustomerid_value": ACCOUNT_IDS[number % len(ACCOUNT_IDS)],
        "statecode": 0,
        "createdon": iso(START - timedelta(days=30, minutes=number)),
        "modifiedon": iso(modified),
        "versionnumber": 1_000 + number,
    }


def contacts_table(count: int) -> Table:
    """The standard contact table with ``count`` sample contacts."""
    return Table(
        "contact",
        "contacts",
        "contactid",
        dict(CONTACT_ATTRIBUTES),
        {"gendercodename": "gendercode", "parentcustomeridname": "parentcustomerid"},
        [contact(number) for number in range(1, count + 1)],
        {
            "gendercode": {1: "Male", 2: "Female"},
            "statecode": {0: "Active", 1: "Inactive"},
            "_parentcustomerid_value": {aid: f"Account {n}" for n, aid in enumerate(ACCOUNT_IDS, 1)},
        },
    )


def accounts_table() -> Table:
    """The standard account table with a few accounts."""
    rows = [
        {
            "accountid": aid,
            "name": f"Account {n}",
            "emailaddress1": f"info@account{n}.example.com",
            "telephone1": f"+3314000000{n}",
            "address1_city": "Lyon",
            "statecode": 0,
            "createdon": iso(START - timedelta(days=60)),
            "modifiedon": iso(START + timedelta(hours=n)),
            "versionnumber": 500 + n,
        }
        for n, aid in enumerate(ACCOUNT_IDS, 1)
    ]
    return Table(
        "account",
        "accounts",
        "accountid",
        dict(ACCOUNT_ATTRIBUTES),
        rows=rows,
        labels={"statecode": {0: "Active"}},
    )


def system_users_table() -> Table:
    """A table the connection does not list by default (only its metadata matters)."""
    return Table(
        "systemuser",
        "systemusers",
        "systemuserid",
        {"systemuserid": "Uniqueidentifier", "fullname": "String"},
    )


def standard_environment(api: FakeApi, contacts: int = 0, **options: Any) -> FakeDynamics:
    """A fake environment with contacts, accounts and system users."""
    fake = FakeDynamics(api, **options)
    fake.add_table(contacts_table(contacts))
    fake.add_table(accounts_table())
    fake.add_table(system_users_table())
    return fake
