"""A fake Salesforce org on loopback: OAuth 2.0 flows, REST describe and SOQL, Bulk API 2.0 query jobs.

Built on :class:`~tests.http_servers.FakeApi` (so faults, recorded requests
and token expiry work as for any fake API), it answers what the Salesforce
connector asks, as the public documentation describes it:

- **OAuth token endpoint** ``POST /services/oauth2/token`` for the username-
  password, client credentials, refresh token and JWT bearer grants, each
  checking the form fields its grant sends (help.salesforce.com, "OAuth 2.0
  Username-Password Flow for Special Scenarios", "OAuth 2.0 Client Credentials
  Flow for Server-to-Server Integration", "OAuth 2.0 Refresh Token Flow for
  Renewed Sessions", "OAuth 2.0 JWT Bearer Flow for Server-to-Server
  Integration"; the terms in "Connected App and OAuth Terms"). The JWT's
  RS256 signature is verified with the test's public key and its ``iss``,
  ``sub``, ``aud`` and ``exp`` claims checked. Answers carry
  ``access_token``, ``instance_url`` (this server), ``id``, ``token_type``,
  ``issued_at`` and, for grants with a client secret, ``signature``
  (HMAC-SHA256 of id + issued_at); no ``expires_in``, as Salesforce sends none.
  Refusals are ``{"error": "invalid_grant", "error_description": ...}`` with 400.
- **REST API** (developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/):
  ``GET /services/data/vXX.X/`` (resources_discoveryresource.htm),
  ``limits`` (resources_limits.htm), ``sobjects`` (resources_describeGlobal.htm),
  ``sobjects/{name}/describe`` (resources_sobject_describe.htm),
  ``query?q=`` and ``queryAll?q=`` (resources_query.htm, resources_queryall.htm,
  dome_query.htm) over the SOQL subset of :mod:`tests.http_servers.salesforce_soql`,
  paged by ``nextRecordsUrl`` (``/query/<locator>-<offset>``) with ``done`` and
  ``totalSize``; the batch is ``page_size`` records (Salesforce's default is
  2,000), or the ``Sforce-Query-Options: batchSize=`` header's
  (headers_queryoptions.htm). ``query`` leaves out deleted records,
  ``queryAll`` returns them with ``IsDeleted = true``. Records carry an
  ``attributes`` object; dateTimes read ``2026-11-02T09:00:00.123+0000``.
- **Bulk API 2.0 query jobs** (developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/):
  ``POST /jobs/query`` (query_create_job.htm), ``GET /jobs/query/{id}``
  (query_get_one_job.htm) moving UploadComplete → InProgress → JobComplete
  over ``bulk_polls`` polls (or Failed, see :meth:`fail_next_job`),
  ``GET /jobs/query/{id}/results?maxRecords=&locator=`` (query_get_job_results.htm):
  CSV with a header row, ``Sforce-NumberOfRecords`` and ``Sforce-Locator``
  (the string ``null`` after the last set), ``PATCH`` to abort
  (query_abort_job.htm). COUNT() and compound fields are refused, as
  Bulk API 2.0 refuses them (queries.htm).
- **Errors** as Salesforce words them (errorcodes.htm): ``[{"message": ...,
  "errorCode": ...}]`` with INVALID_SESSION_ID (401, an expired token: see
  ``tokens``), MALFORMED_QUERY, INVALID_FIELD, INVALID_TYPE (400), NOT_FOUND (404);
  :meth:`exhaust_api_requests` answers REQUEST_LIMIT_EXCEEDED with 403.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import re
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.http_servers import FakeApi, Fault, Recorded, Reply, Tokens
from tests.http_servers.salesforce_org import SObject, record_id, standard_objects, with_defaults
from tests.http_servers.salesforce_soql import Query, SoqlError, parse, run

TOKEN_PATH = "/services/oauth2/token"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ORG_ID, USER_ID = "00D000000000001EAA", "005000000000001AAA"


def sf_error(status: int, code: str, message: str) -> Reply:
    """A Salesforce REST error answer: a list of ``{"message", "errorCode"}``."""
    return Reply(status, [{"message": message, "errorCode": code}])


def oauth_error(error: str, description: str, status: int = 400) -> Reply:
    """An OAuth token endpoint refusal."""
    return Reply(status, {"error": error, "error_description": description})


@dataclass
class Credentials:
    """What the org accepts: the connected app, the integration user, a refresh token."""

    client_id: str = "3MVG9FAKE.consumer-key"
    client_secret: str = "consumer-secret-1F2E"
    username: str = "integration@acme.example"
    password: str = "Pa55-word!x"
    security_token: str = "SecTok123"
    refresh_token: str = "5Aep861FAKE.refresh-token"


@dataclass
class _Job:
    id: str
    operation: str
    object: str
    query: Query
    rows: list[dict[str, Any]]
    state: str = "UploadComplete"
    polls: int = 0
    failure: str | None = None


class FakeSalesforce(FakeApi):
    """A Salesforce org on 127.0.0.1; see the module docstring.

    Args:
        api_version: the one version served (others answer 404 NOT_FOUND).
        page_size: records per REST query page.
        bulk_polls: status requests before a Bulk API job is JobComplete.
        public_key: the connected app's certificate key (JWT bearer).
    """

    def __init__(
        self,
        *,
        api_version: str = "v62.0",
        page_size: int = 2000,
        bulk_polls: int = 2,
        public_key: rsa.RSAPublicKey | None = None,
    ) -> None:
        super().__init__()
        self.api_version, self.page_size, self.bulk_polls = api_version, page_size, bulk_polls
        self.public_key = public_key
        self.credentials = Credentials()
        self.jwt_audience = self.base_url  # the login URL the connector is given
        self.tokens = Tokens(
            prefix=f"{ORG_ID}!AQ4AQFAKE.token-",
            expires_in=None,
            unauthorized=Reply(
                401, [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
            ),
        )
        self.daily_api_requests = 15_000
        self.objects = {obj.name.lower(): obj for obj in standard_objects()}
        self.now = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
        self._data_lock = threading.Lock()
        self._cursors: dict[str, tuple[list[dict[str, Any]], int]] = {}
        self._jobs: dict[str, _Job] = {}
        self._numbers = itertools.count(1)
        self._failures: list[str] = []
        self._routes_for_version()

    # -- the org's data ----------------------------------------------------------------------------------
    def add(self, object_name: str, records: Iterable[Mapping[str, Any]]) -> list[str]:
        """Adds records (typed values; missing fields are null) and returns their ids."""
        obj = self._object(object_name)
        rows = with_defaults(obj, records, self.now)
        with self._data_lock:
            obj.records.extend(rows)
        return [row["Id"] for row in rows]

    def tick(self, seconds: float = 1.0) -> datetime:
        """Moves the org's clock on; returns the new time."""
        self.now += timedelta(seconds=seconds)
        return self.now

    def update(self, object_name: str, record: str, **changes: Any) -> None:
        """Changes a record the way a user would: LastModifiedDate and SystemModstamp move to now."""
        stamp = self.tick()
        with self._data_lock:
            row = self._row(object_name, record)
            row.update(changes, LastModifiedDate=stamp, SystemModstamp=stamp)

    def delete(self, object_name: str, record: str) -> None:
        """Sends a record to the Recycle Bin: IsDeleted becomes true and SystemModstamp moves."""
        stamp = self.tick()
        with self._data_lock:
            self._row(object_name, record).update(IsDeleted=True, SystemModstamp=stamp)

    def exhaust_api_requests(self, retry_after: str | None = None, times: int | None = None) -> Fault:
        """Answers API requests with 403 REQUEST_LIMIT_EXCEEDED (the org's 24-hour allocation is used up)."""
        reply = sf_error(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
        if retry_after is not None:
            reply = Reply(reply.status, reply.body, headers={"Retry-After": retry_after})
        return self.inject(reply, path=re.compile(r"/services/data/.*"), times=times)

    def fail_next_job(self, message: str) -> None:
        """The next Bulk API query job ends in state Failed with this error message."""
        self._failures.append(message)

    def data_requests(self) -> list[Recorded]:
        """The requests to the REST and Bulk APIs (not the token endpoint), in order."""
        return self.requests_to(re.compile(r"/services/data/.*"))

    def soql_sent(self) -> list[str]:
        """The SOQL of every query, queryAll and Bulk API job received, in order."""
        sent = []
        for request in self.data_requests():
            if "q" in request.params:
                sent.append(request.params["q"])
            elif request.method == "POST" and request.path.endswith("/jobs/query"):
                sent.append(request.json()["query"])
        return sent

    # -- routes ------------------------------------------------------------------------------------------
    def _routes_for_version(self) -> None:
        data = re.escape(f"/services/data/{self.api_version}")
        guard = self.tokens.guard
        self.route("POST", TOKEN_PATH, self._token)
        self.route("GET", re.compile(data + "/?"), self._resources, guard=guard)
        self.route("GET", re.compile(data + "/limits/?"), self._limits, guard=guard)
        self.route("GET", re.compile(data + "/sobjects/?"), self._sobjects, guard=guard)
        self.route("GET", re.compile(data + r"/sobjects/(\w+)/describe/?"), self._describe, guard=guard)
        self.route("GET", re.compile(data + r"/(query|queryAll)/?"), self._query, guard=guard)
        self.route("GET", re.compile(data + r"/(query|queryAll)/(01g\w+)-(\d+)"), self._more, guard=guard)
        self.route("POST", re.compile(data + "/jobs/query"), self._create_job, guard=guard)
        self.route("GET", re.compile(data + r"/jobs/query/(750\w+)"), self._job_info, guard=guard)
        self.route("PATCH", re.compile(data + r"/jobs/query/(750\w+)"), self._abort_job, guard=guard)
        self.route("GET", re.compile(data + r"/jobs/query/(750\w+)/results"), self._results, guard=guard)
        not_found = sf_error(404, "NOT_FOUND", "The requested resource does not exist")
        for method in ("GET", "POST", "PATCH"):
            self.route(method, re.compile(r"/services/.*"), lambda request: not_found)

    # -- OAuth -------------------------------------------------------------------------------------------
    def _token(self, request: Recorded) -> Reply | dict[str, Any]:
        form = request.form()
        grant = form.get("grant_type")
        refused = {
            "password": self._password_grant,
            "client_credentials": self._client_credentials_grant,
            "refresh_token": self._refresh_token_grant,
            JWT_GRANT: self._jwt_grant,
        }.get(
            grant or "",
            lambda request, form: oauth_error("unsupported_grant_type", "grant type not supported"),
        )(request, form)
        if refused is not None:
            return refused
        issued = self.tokens.issue()
        issued_at = str(int(time.time() * 1000))
        identity = f"{self.base_url}/id/{ORG_ID}/{USER_ID}"
        payload = {**issued, "instance_url": self.base_url, "id": identity, "issued_at": issued_at}
        payload["scope"] = "api refresh_token"
        if grant != JWT_GRANT:
            digest = hmac.new(
                self.credentials.client_secret.encode(), (identity + issued_at).encode(), hashlib.sha256
            ).digest()
            payload["signature"] = base64.b64encode(digest).decode()
        return payload

    def _client(
        self, request: Recorded, form: Mapping[str, str], secret_required: bool = True
    ) -> Reply | None:
        """Checks the connected app's credentials, in the form or an HTTP Basic header."""
        client_id, secret = form.get("client_id"), form.get("client_secret")
        scheme, _, encoded = (request.header("authorization") or "").partition(" ")
        if scheme.lower() == "basic":
            client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
        if client_id != self.credentials.client_id:
            return oauth_error("invalid_client_id", "client identifier invalid")
        if (secret_required or secret is not None) and secret != self.credentials.client_secret:
            return oauth_error("invalid_client", "invalid client credentials")
        return None

    def _password_grant(self, request: Recorded, form: Mapping[str, str]) -> Reply | None:
        expected = self.credentials.password + self.credentials.security_token
        if {"username", "password"} - set(form):
            return oauth_error("invalid_request", "username and password are required")
        refused = self._client(request, form)
        if refused is None and (
            form["username"] != self.credentials.username or form["password"] != expected
        ):
            return oauth_error("invalid_grant", "authentication failure")
        return refused

    def _client_credentials_grant(self, request: Recorded, form: Mapping[str, str]) -> Reply | None:
        return self._client(request, form)

    def _refresh_token_grant(self, request: Recorded, form: Mapping[str, str]) -> Reply | None:
        refused = self._client(request, form, secret_required=False)
        if refused is None and form.get("refresh_token") != self.credentials.refresh_token:
            return oauth_error("invalid_grant", "expired access/refresh token")
        return refused

    def _jwt_grant(self, request: Recorded, form: Mapping[str, str]) -> Reply | None:
        parts = form.get("assertion", "").split(".")
        if len(parts) != 3 or self.public_key is None:
            return oauth_error("invalid_grant", "invalid assertion")
        try:
            header, claims = (json.loads(_unb64(part)) for part in parts[:2])
            self.public_key.verify(
                _unb64(parts[2]), f"{parts[0]}.{parts[1]}".encode(), padding.PKCS1v15(), hashes.SHA256()
            )
        except (InvalidSignature, ValueError):
            return oauth_error("invalid_grant", "invalid assertion")
        now = time.time()
        if header.get("alg") != "RS256":
            return oauth_error("invalid_grant", "invalid assertion")
        if claims.get("iss") != self.credentials.client_id:
            return oauth_error("invalid_client_id", "client identifier invalid")
        if claims.get("aud") != self.jwt_audience:
            return oauth_error("invalid_grant", "audience is invalid")
        if claims.get("sub") != self.credentials.username:
            return oauth_error("invalid_grant", "user hasn't approved this consumer")
        if not isinstance(claims.get("exp"), int) or not now < claims["exp"] <= now + 300:
            return oauth_error("invalid_grant", "expired authorization code")
        return None

    # -- REST --------------------------------------------------------------------------------------------
    def _resources(self, request: Recorded) -> dict[str, str]:
        data = f"/services/data/{self.api_version}"
        names = ("sobjects", "query", "queryAll", "limits", "jobs")
        return {name: f"{data}/{'jobs/query' if name == 'jobs' else name}" for name in names}

    def _limits(self, request: Recorded) -> dict[str, Any]:
        used = len(self.data_requests())
        return {
            "DailyApiRequests": {"Max": self.daily_api_requests, "Remaining": self.daily_api_requests - used},
            "DailyBulkV2QueryJobs": {"Max": 10_000, "Remaining": 10_000 - len(self._jobs)},
        }

    def _sobjects(self, request: Recorded) -> dict[str, Any]:
        return {
            "encoding": "UTF-8",
            "maxBatchSize": 200,
            "sobjects": [obj.summary() for _, obj in sorted(self.objects.items())],
        }

    def _describe(self, request: Recorded) -> Reply | dict[str, Any]:
        assert request.match is not None
        obj = self.objects.get(request.match.group(1).lower())
        if obj is None:
            return sf_error(404, "NOT_FOUND", "The requested resource does not exist")
        return obj.describe()

    def _query(self, request: Recorded) -> Reply | dict[str, Any]:
        assert request.match is not None
        every = request.match.group(1) == "queryAll"
        try:
            query = self._parse(request.params.get("q", ""))
        except SoqlError as error:
            return sf_error(400, error.code, error.message)
        found = self._select(query, every)
        if query.count:
            return {"totalSize": len(found), "done": True, "records": []}
        obj = self._object(query.object)
        rows = [self._rest_record(obj, row, query.fields) for row in found]
        options = request.header("sforce-query-options") or ""
        asked = re.search(r"batchSize=(\d+)", options)
        batch = min(self.page_size, int(asked.group(1))) if asked else self.page_size
        cursor = f"01gFAKE{next(self._numbers):08d}"
        self._cursors[cursor] = (rows, batch)
        return self._page(request.match.group(1), cursor, 0)

    def _more(self, request: Recorded) -> Reply | dict[str, Any]:
        assert request.match is not None
        kind, cursor, offset = request.match.groups()
        if cursor not in self._cursors:
            return sf_error(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return self._page(kind, cursor, int(offset))

    def _page(self, kind: str, cursor: str, offset: int) -> dict[str, Any]:
        rows, batch = self._cursors[cursor]
        end = offset + batch
        body: dict[str, Any] = {"totalSize": len(rows), "done": end >= len(rows), "records": rows[offset:end]}
        if end < len(rows):
            body["nextRecordsUrl"] = f"/services/data/{self.api_version}/{kind}/{cursor}-{end}"
        return body

    # -- Bulk API 2.0 ------------------------------------------------------------------------------------
    def _create_job(self, request: Recorded) -> Reply | dict[str, Any]:
        body = request.json()
        operation = body.get("operation")
        if operation not in ("query", "queryAll"):
            return sf_error(400, "INVALIDJOB", f"Invalid operation: {operation}")
        if body.get("contentType", "CSV") != "CSV":
            return sf_error(400, "INVALIDJOB", "Only CSV is supported for query jobs")
        try:
            query = self._parse(body.get("query", ""))
        except SoqlError as error:
            return sf_error(400, error.code, error.message)
        obj = self._object(query.object)
        compound = [name for name in query.fields if obj.types[name] == "address"]
        if query.count or compound:
            what = "Aggregate queries" if query.count else f"Compound fields ({', '.join(compound)})"
            return sf_error(400, "INVALIDJOB", f"{what} are not supported by Bulk API 2.0 query jobs")
        job_id = f"750FAKE{next(self._numbers):011d}"
        rows = [
            {name: obj.value(row, name) for name in query.fields}
            for row in self._select(query, operation == "queryAll")
        ]
        job = _Job(job_id, operation, obj.name, query, rows)
        if self._failures:
            job.failure = self._failures.pop(0)
        self._jobs[job_id] = job
        return self._job_body(job)

    def _job_info(self, request: Recorded) -> Reply | dict[str, Any]:
        job = self._job(request)
        if job is None:
            return sf_error(404, "NOT_FOUND", "The requested resource does not exist")
        if job.state in ("UploadComplete", "InProgress"):
            job.polls += 1
            if job.polls >= self.bulk_polls:
                job.state = "Failed" if job.failure else "JobComplete"
            else:
                job.state = "InProgress"
        return self._job_body(job)

    def _abort_job(self, request: Recorded) -> Reply | dict[str, Any]:
        job = self._job(request)
        if job is None:
            return sf_error(404, "NOT_FOUND", "The requested resource does not exist")
        if request.json().get("state") == "Aborted" and job.state in ("UploadComplete", "InProgress"):
            job.state = "Aborted"
        return self._job_body(job)

    def _results(self, request: Recorded) -> Reply:
        job = self._job(request)
        if job is None:
            return sf_error(404, "NOT_FOUND", "The requested resource does not exist")
        if job.state != "JobComplete":
            return sf_error(400, "INVALIDJOB", f"Job {job.id} is not complete: {job.state}")
        locator = request.params.get("locator")
        offset = int(base64.b64decode(locator).decode()) if locator else 0
        size = int(request.params.get("maxRecords", len(job.rows) or 1))
        page = job.rows[offset : offset + size]
        end = offset + len(page)
        following = base64.b64encode(str(end).encode()).decode() if end < len(job.rows) else "null"
        obj = self._object(job.object)
        lines = [",".join(f'"{name}"' for name in job.query.fields)]
        lines += [
            ",".join(_csv_value(row[name], obj.types[name]) for name in job.query.fields) for row in page
        ]
        headers = {
            "Content-Type": "text/csv",
            "Sforce-NumberOfRecords": str(len(page)),
            "Sforce-Locator": following,
        }
        return Reply(200, "\n".join(lines) + "\n", headers=headers)

    def _job(self, request: Recorded) -> _Job | None:
        assert request.match is not None
        return self._jobs.get(request.match.group(1))

    def _job_body(self, job: _Job) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": job.id,
            "operation": job.operation,
            "object": job.object,
            "createdById": USER_ID,
            "createdDate": "2026-11-20T08:00:00.000+0000",
            "systemModstamp": "2026-11-20T08:00:00.000+0000",
            "state": job.state,
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": float(self.api_version.removeprefix("v")),
            "lineEnding": "LF",
            "columnDelimiter": "COMMA",
        }
        if job.state == "JobComplete":
            body.update(numberRecordsProcessed=len(job.rows), retries=0, totalProcessingTime=42)
        if job.state == "Failed":
            body["errorMessage"] = job.failure
        return body

    # -- helpers -----------------------------------------------------------------------------------------
    def _object(self, name: str) -> SObject:
        return self.objects[name.lower()]

    def _row(self, object_name: str, record: str) -> dict[str, Any]:
        return next(row for row in self._object(object_name).records if row["Id"] == record)

    def _parse(self, soql: str) -> Query:
        def describe(name: str) -> Mapping[str, Any] | None:
            obj = self.objects.get(name.lower())
            return obj.describe() if obj is not None and obj.queryable else None

        return parse(soql, describe)

    def _select(self, query: Query, every: bool) -> list[Mapping[str, Any]]:
        with self._data_lock:
            rows = [dict(row) for row in self._object(query.object).records]
        return run(query, rows if every else [row for row in rows if not row.get("IsDeleted")])

    def _rest_record(self, obj: SObject, row: Mapping[str, Any], fields: Iterable[str]) -> dict[str, Any]:
        record: dict[str, Any] = {
            "attributes": {
                "type": obj.name,
                "url": f"/services/data/{self.api_version}/sobjects/{obj.name}/{row['Id']}",
            }
        }
        for name in fields:
            record[name] = _json_value(obj.value(row, name))
        return record


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _csv_value(value: Any, kind: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, datetime):
        text = value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    elif hasattr(value, "isoformat"):
        text = value.isoformat()
    else:
        text = str(value)
    return '"' + text.replace('"', '""') + '"'


def _unb64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


__all__ = ["Credentials", "FakeSalesforce", "record_id", "sf_error"]
