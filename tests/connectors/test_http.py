"""The shared HTTP layer against a fake API on loopback: auth, retries, paging, errors, redaction."""

from __future__ import annotations

import base64
import json
import logging
import re
import socket
import traceback
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import quote, quote_plus

import pandas as pd
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from connectors._http import (
    ApiKeyAuth,
    BasicAuth,
    BearerTokenAuth,
    ClientCredentialsAuth,
    CursorPaginator,
    HttpAuth,
    HttpClient,
    HttpSettings,
    JwtBearerAuth,
    NextUrlPaginator,
    NoAuth,
    ODataPaginator,
    OffsetPaginator,
    PageNumberPaginator,
    PasswordGrantAuth,
    RefreshTokenAuth,
    find_records,
    frames,
    read_chunks,
    records_frame,
    retry_after_seconds,
    vendor_error_text,
)
from connectors.base import (
    ORIGIN_COLUMN,
    ROW_ERROR_COLUMN,
    AuthenticationError,
    ConnectorError,
    FormatError,
    SourceUnreachableError,
    StreamNotFoundError,
)
from tests.http_servers import FakeApi, Recorded, Reply, Tokens
from tests.http_servers import fake_api as fake_api

TOKEN_PATH = "/oauth2/token"
FAST = {"backoff_initial_s": 0.001, "backoff_max_s": 0.01}


def make_client(api: FakeApi, auth: HttpAuth | None = None, **settings: Any) -> HttpClient:
    return HttpClient(api.base_url, auth, settings=HttpSettings(**{**FAST, **settings}))


def contacts(count: int) -> list[dict[str, Any]]:
    return [
        {"id": i, "email": f"user{i}@example.com", "address": {"city": "Paris", "zip": f"750{i:02d}"}}
        for i in range(1, count + 1)
    ]


def cursor_collection(records: list[dict[str, Any]], size: int) -> Callable[[Recorded], Any]:
    """A collection paged by an opaque cursor: ``{"data": [...], "next": "<cursor>" | null}``."""

    def handler(request: Recorded) -> Any:
        start = int(request.params.get("cursor", "0"))
        end = start + size
        return {"data": records[start:end], "next": str(end) if end < len(records) else None}

    return handler


def read_ids(client: HttpClient, **pages: Any) -> list[int]:
    return [record["id"] for page in client.pages(object_name="contacts", **pages) for record in page.records]


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem_of(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


# -- auth handshakes -----------------------------------------------------------------------------------------
def test_no_auth_sends_no_credentials(fake_api):
    fake_api.route("GET", "/v1/ping", lambda r: {"ok": True})
    assert make_client(fake_api, NoAuth()).get_json("/v1/ping", object_name="ping") == {"ok": True}
    sent = fake_api.requests_to("/v1/ping")[0]
    assert sent.header("authorization") is None and sent.query == {}


def test_api_key_in_a_header(fake_api):
    fake_api.route("GET", "/v1/ping", lambda r: {"ok": True})
    make_client(fake_api, ApiKeyAuth("X-API-Key", "k-123")).get_json("/v1/ping", object_name="ping")
    assert fake_api.requests_to("/v1/ping")[0].header("x-api-key") == "k-123"


def test_api_key_in_the_query_is_set_once_even_when_a_next_link_echoes_it(fake_api):
    def handler(request: Recorded) -> Any:
        if request.params.get("page") == "2":
            return {"items": [{"id": 2}], "next": None}
        return {"items": [{"id": 1}], "next": "/v1/items?page=2&api_key=k-123"}

    fake_api.route("GET", "/v1/items", handler)
    client = make_client(fake_api, ApiKeyAuth("api_key", "k-123", location="query"))
    ids = read_ids(client, url="/v1/items", paginator=NextUrlPaginator("next"), records_path="items")
    assert ids == [1, 2]
    assert [r.query["api_key"] for r in fake_api.requests_to("/v1/items")] == [["k-123"], ["k-123"]]


def test_bearer_token_and_basic_auth_headers(fake_api):
    fake_api.route("GET", "/v1/ping", lambda r: {"ok": True})
    make_client(fake_api, BearerTokenAuth("pat-42")).get_json("/v1/ping", object_name="ping")
    make_client(fake_api, BasicAuth("ana", "s3cr:et")).get_json("/v1/ping", object_name="ping")
    bearer, basic = fake_api.requests_to("/v1/ping")
    assert bearer.header("authorization") == "Bearer pat-42"
    scheme, _, encoded = basic.header("authorization").partition(" ")
    assert scheme == "Basic" and base64.b64decode(encoded).decode() == "ana:s3cr:et"


def oauth_api(api: FakeApi, tokens: Tokens | None = None) -> Tokens:
    tokens = tokens or Tokens()
    api.token_route(TOKEN_PATH, tokens)
    api.route("GET", "/v1/ping", lambda r: {"ok": True}, guard=tokens.guard)
    return tokens


def test_client_credentials_in_the_form_body(fake_api):
    tokens = oauth_api(fake_api)
    auth = ClientCredentialsAuth(fake_api.url(TOKEN_PATH), "app-1", "sec-1", ["read", "write"])
    make_client(fake_api, auth).get_json("/v1/ping", object_name="ping")
    grant = fake_api.requests_to(TOKEN_PATH)[0]
    assert grant.header("content-type") == "application/x-www-form-urlencoded"
    assert grant.form() == {
        "grant_type": "client_credentials",
        "client_id": "app-1",
        "client_secret": "sec-1",
        "scope": "read write",
    }
    assert grant.header("authorization") is None
    assert fake_api.requests_to("/v1/ping")[0].header("authorization") == f"Bearer {tokens.issued[0]}"


def test_client_credentials_with_http_basic_client_authentication(fake_api):
    oauth_api(fake_api)
    auth = ClientCredentialsAuth(fake_api.url(TOKEN_PATH), "app-1", "sec-1", client_auth="basic")
    make_client(fake_api, auth).get_json("/v1/ping", object_name="ping")
    grant = fake_api.requests_to(TOKEN_PATH)[0]
    assert grant.form() == {"grant_type": "client_credentials"}
    assert grant.header("authorization") == "Basic " + base64.b64encode(b"app-1:sec-1").decode()


def test_client_credentials_as_a_json_body_with_extra_fields(fake_api):
    oauth_api(fake_api, Tokens(extra={"rest_instance_url": "https://rest.example.com/"}))
    auth = ClientCredentialsAuth(
        fake_api.url(TOKEN_PATH), "app-1", "sec-1", body_format="json", extra_fields={"account_id": "5100"}
    )
    client = make_client(fake_api, auth)
    assert client.token_payload()["rest_instance_url"] == "https://rest.example.com/"
    grant = fake_api.requests_to(TOKEN_PATH)[0]
    assert grant.header("content-type") == "application/json"
    assert grant.json() == {
        "grant_type": "client_credentials",
        "client_id": "app-1",
        "client_secret": "sec-1",
        "account_id": "5100",
    }


def test_refresh_token_grant_keeps_a_rotated_refresh_token(fake_api):
    tokens = Tokens()
    rotations = iter(["refresh-2", "refresh-3"])
    fake_api.route("POST", TOKEN_PATH, lambda r: {**tokens.issue(), "refresh_token": next(rotations)})
    fake_api.route("GET", "/v1/ping", lambda r: {"ok": True}, guard=tokens.guard)
    auth = RefreshTokenAuth(fake_api.url(TOKEN_PATH), "app-1", "refresh-1", client_secret="sec-1")
    client = make_client(fake_api, auth)
    client.get_json("/v1/ping", object_name="ping")
    tokens.expire_after(0)
    client.get_json("/v1/ping", object_name="ping")  # a 401, then a refresh with the rotated token
    first, second = (r.form() for r in fake_api.requests_to(TOKEN_PATH))
    assert first == {
        "grant_type": "refresh_token",
        "refresh_token": "refresh-1",
        "client_id": "app-1",
        "client_secret": "sec-1",
    }
    assert second["refresh_token"] == "refresh-2"
    assert "refresh-2" in auth.secrets() and "refresh-1" in auth.secrets()


def test_salesforce_username_password_flow(fake_api):
    oauth_api(fake_api, Tokens(expires_in=None, extra={"instance_url": "https://acme.my.salesforce.com"}))
    auth = PasswordGrantAuth(
        fake_api.url(TOKEN_PATH), "consumer-key", "consumer-secret", "ana@acme.com", "pw", "TOK"
    )
    client = make_client(fake_api, auth)
    client.get_json("/v1/ping", object_name="ping")
    assert fake_api.requests_to(TOKEN_PATH)[0].form() == {
        "grant_type": "password",
        "client_id": "consumer-key",
        "client_secret": "consumer-secret",
        "username": "ana@acme.com",
        "password": "pwTOK",
    }
    assert client.token_payload()["instance_url"] == "https://acme.my.salesforce.com"


def test_jwt_bearer_assertion_is_signed_with_rs256(fake_api, rsa_key):
    oauth_api(fake_api)
    auth = JwtBearerAuth(
        fake_api.url(TOKEN_PATH),
        pem_of(rsa_key),
        "consumer-key",
        "ana@acme.com",
        "https://login.salesforce.com",
    )
    make_client(fake_api, auth).get_json("/v1/ping", object_name="ping")
    form = fake_api.requests_to(TOKEN_PATH)[0].form()
    assert set(form) == {"grant_type", "assertion"}
    assert form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    header, claims, signature = form["assertion"].split(".")

    def decode(part: str) -> bytes:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))

    rsa_key.public_key().verify(  # raises InvalidSignature if the assertion was not signed with the key
        decode(signature), f"{header}.{claims}".encode(), padding.PKCS1v15(), hashes.SHA256()
    )
    assert json.loads(decode(header)) == {"alg": "RS256", "typ": "JWT"}
    payload = json.loads(decode(claims))
    assert (payload["iss"], payload["sub"], payload["aud"]) == (
        "consumer-key",
        "ana@acme.com",
        "https://login.salesforce.com",
    )
    assert payload["exp"] - payload["iat"] == 180


@pytest.mark.parametrize(
    "mangle",
    [
        lambda pem: pem.replace("\n", ""),
        lambda pem: pem.replace("\n", "\\n"),
        lambda pem: pem.replace("\n", " "),
    ],
    ids=["one line (a browser's text box)", "escaped line breaks (an environment variable)", "spaces"],
)
def test_a_pem_key_that_lost_its_line_breaks_still_signs(fake_api, rsa_key, mangle):
    oauth_api(fake_api)
    mangled = mangle(pem_of(rsa_key))
    auth = JwtBearerAuth(
        fake_api.url(TOKEN_PATH), mangled, "ck", "ana@acme.com", "https://login.salesforce.com"
    )
    make_client(fake_api, auth).get_json("/v1/ping", object_name="ping")
    header, claims, signature = fake_api.requests_to(TOKEN_PATH)[0].form()["assertion"].split(".")
    rsa_key.public_key().verify(
        base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)),
        f"{header}.{claims}".encode(),
        padding.PKCS1v15(),
        hashes.SHA256(),
    )
    body_lines = [line for line in pem_of(rsa_key).splitlines() if not line.startswith("-----")]
    assert set(body_lines) <= set(auth.secrets())  # masked line by line, as a multi-line key is


def test_a_key_that_is_not_pem_is_an_authentication_error_that_does_not_quote_it(fake_api):
    oauth_api(fake_api)
    auth = JwtBearerAuth(fake_api.url(TOKEN_PATH), "not-a-key-CANARY", "iss", "sub", "aud")
    with pytest.raises(AuthenticationError, match="PEM") as caught:
        make_client(fake_api, auth).get_json("/v1/ping", object_name="ping")
    assert "CANARY" not in caught.value.user_message and caught.value.user_message.startswith("ping: ")
    assert fake_api.requests_to(TOKEN_PATH) == []


# -- token caching and refresh -------------------------------------------------------------------------------
def test_the_token_is_cached_until_expires_in_runs_out(fake_api):
    oauth_api(fake_api, Tokens(expires_in=600))
    now = [1_000.0]
    auth = ClientCredentialsAuth(fake_api.url(TOKEN_PATH), "app", "sec", clock=lambda: now[0])
    client = make_client(fake_api, auth)
    for _ in range(3):
        client.get_json("/v1/ping", object_name="ping")
    assert len(fake_api.requests_to(TOKEN_PATH)) == 1
    now[0] += 600 - 60 + 1  # past expires_in less the margin (60 s)
    client.get_json("/v1/ping", object_name="ping")
    assert len(fake_api.requests_to(TOKEN_PATH)) == 2
    assert len(fake_api.requests_to("/v1/ping")) == 4  # refreshed ahead of time: no 401 was needed


def test_a_token_without_expires_in_is_kept_until_a_401(fake_api):
    tokens = oauth_api(fake_api, Tokens(expires_in=None))
    now = [0.0]
    auth = ClientCredentialsAuth(fake_api.url(TOKEN_PATH), "app", "sec", clock=lambda: now[0])
    client = make_client(fake_api, auth)
    client.get_json("/v1/ping", object_name="ping")
    now[0] += 10 * 24 * 3600
    client.get_json("/v1/ping", object_name="ping")
    assert len(fake_api.requests_to(TOKEN_PATH)) == 1
    tokens.expire_after(0)
    client.get_json("/v1/ping", object_name="ping")
    assert len(fake_api.requests_to(TOKEN_PATH)) == 2
    assert [r.header("authorization") for r in fake_api.requests_to("/v1/ping")][-2:] == [
        f"Bearer {tokens.issued[0]}",
        f"Bearer {tokens.issued[1]}",
    ]


def test_a_token_expiring_mid_paging_is_refreshed_once_and_the_same_page_read_again(fake_api):
    tokens = Tokens(
        uses=2, unauthorized=Reply(401, [{"message": "Session expired", "errorCode": "INVALID_SESSION_ID"}])
    )
    fake_api.token_route(TOKEN_PATH, tokens)
    fake_api.route("GET", "/v1/contacts", cursor_collection(contacts(8), 2), guard=tokens.guard)
    client = make_client(fake_api, ClientCredentialsAuth(fake_api.url(TOKEN_PATH), "app", "sec"))
    ids = read_ids(
        client, url="/v1/contacts", paginator=CursorPaginator("next", "cursor"), records_path="data"
    )
    assert ids == list(range(1, 9))
    assert len(fake_api.requests_to(TOKEN_PATH)) == 2
    pages = fake_api.requests_to("/v1/contacts")
    # pages 1, 2 with the first token; page 3 refused, then read again with the second
    assert [r.params.get("cursor") for r in pages] == [None, "2", "4", "4", "6"]
    assert [r.header("authorization") for r in pages] == [
        f"Bearer {tokens.issued[t]}" for t in (0, 0, 0, 1, 1)
    ]


def test_a_401_that_a_new_token_does_not_fix_fails_at_once(fake_api):
    tokens = oauth_api(
        fake_api,
        Tokens(
            unauthorized=Reply(
                401,
                {"error": {"code": "0x80072560", "message": "The user is not a member of the organization."}},
            )
        ),
    )
    tokens.reject_all = True
    client = make_client(fake_api, ClientCredentialsAuth(fake_api.url(TOKEN_PATH), "app", "sec"))
    with pytest.raises(AuthenticationError) as caught:
        client.get_json("/v1/ping", object_name="contacts")
    message = caught.value.user_message
    assert message.startswith("contacts: ") and "HTTP 401" in message
    assert "0x80072560: The user is not a member of the organization." in message
    assert len(fake_api.requests_to(TOKEN_PATH)) == 2  # the first token and exactly one refresh
    assert len(fake_api.requests_to("/v1/ping")) == 2  # and nothing after the second refusal


def test_a_401_on_a_static_credential_is_not_retried(fake_api):
    fake_api.route("GET", "/v1/ping", lambda r: Reply(401, {"message": "Bad credentials"}))
    with pytest.raises(AuthenticationError, match="Bad credentials"):
        make_client(fake_api, BearerTokenAuth("pat")).get_json("/v1/ping", object_name="ping")
    assert len(fake_api.requests) == 1


def test_a_refused_grant_is_an_authentication_error_with_the_oauth_error_and_not_retried(fake_api):
    fake_api.route(
        "POST",
        TOKEN_PATH,
        lambda r: Reply(400, {"error": "invalid_grant", "error_description": "authentication failure"}),
    )
    auth = PasswordGrantAuth(fake_api.url(TOKEN_PATH), "ck", "cs", "ana@acme.com", "wrong")
    with pytest.raises(AuthenticationError) as caught:
        make_client(fake_api, auth).get_json("/v1/ping", object_name="Account")
    message = caught.value.user_message
    assert message.startswith("Account: signing in: the token endpoint refused the credentials (HTTP 400")
    assert message.endswith("invalid_grant: authentication failure")
    assert len(fake_api.requests) == 1


def test_a_token_endpoint_that_fails_once_is_retried(fake_api):
    oauth_api(fake_api)
    fake_api.inject(Reply(503, "busy"), path=TOKEN_PATH)
    client = make_client(fake_api, ClientCredentialsAuth(fake_api.url(TOKEN_PATH), "app", "sec"))
    assert client.get_json("/v1/ping", object_name="ping") == {"ok": True}
    assert len(fake_api.requests_to(TOKEN_PATH)) == 2


# -- retries -------------------------------------------------------------------------------------------------
def test_429_waits_as_long_as_retry_after_says(fake_api):
    fake_api.route("GET", "/v1/ping", lambda r: {"ok": True})
    fake_api.inject(Reply(429, {"message": "slow down"}, headers={"Retry-After": "1"}), path="/v1/ping")
    assert make_client(fake_api).get_json("/v1/ping", object_name="ping") == {"ok": True}
    refused, served = fake_api.requests_to("/v1/ping")
    assert served.at - refused.at >= 1.0  # the backoff alone is milliseconds


def test_retry_after_is_capped_by_the_longest_wait_allowed(fake_api):
    fake_api.route("GET", "/v1/ping", lambda r: {"ok": True})
    fake_api.inject(Reply(429, headers={"Retry-After": "3600"}), path="/v1/ping")
    make_client(fake_api, max_retry_after_s=0.05).get_json("/v1/ping", object_name="ping")
    refused, served = fake_api.requests_to("/v1/ping")
    assert 0.05 <= served.at - refused.at < 1.0


def test_retry_after_as_seconds_or_an_http_date():
    assert retry_after_seconds("7") == 7.0
    later = datetime.now(UTC) + timedelta(seconds=30)
    assert 25 <= retry_after_seconds(format_datetime(later, usegmt=True)) <= 30
    assert retry_after_seconds(format_datetime(datetime(2000, 1, 1, tzinfo=UTC), usegmt=True)) == 0.0
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


def test_503_once_then_success(fake_api):
    fake_api.route("GET", "/v1/ping", lambda r: {"ok": True})
    fake_api.inject(Reply(503, "Service Unavailable"), path="/v1/ping")
    assert make_client(fake_api).get_json("/v1/ping", object_name="ping") == {"ok": True}
    assert len(fake_api.requests_to("/v1/ping")) == 2


def test_a_server_that_keeps_failing_is_unreachable_after_the_last_attempt(fake_api):
    fake_api.route("GET", "/v1/ping", lambda r: Reply(502, {"message": "upstream down"}))
    with pytest.raises(SourceUnreachableError) as caught:
        make_client(fake_api, max_attempts=3).get_json("/v1/ping", object_name="contacts")
    assert caught.value.retriable
    assert re.search(
        r"^contacts: .*HTTP 502, GET http://127\.0\.0\.1:\d+/v1/ping after 3 attempts\): upstream down$",
        caught.value.user_message,
    )
    assert len(fake_api.requests_to("/v1/ping")) == 3


def test_a_dropped_connection_is_retried(fake_api):
    fake_api.route("GET", "/v1/ping", lambda r: {"ok": True})
    fake_api.inject(Reply(drop=True), path="/v1/ping")
    assert make_client(fake_api).get_json("/v1/ping", object_name="ping") == {"ok": True}
    assert len(fake_api.requests_to("/v1/ping")) == 2


def test_a_read_timeout_is_retried_then_unreachable(fake_api):
    fake_api.route("GET", "/v1/ping", lambda r: Reply(200, {"ok": True}, delay_s=0.5))
    with pytest.raises(SourceUnreachableError, match=r"^ping: timed out \(GET .*/v1/ping\): ReadTimeout"):
        make_client(fake_api, read_timeout_s=0.05, max_attempts=2).get_json("/v1/ping", object_name="ping")
    assert len(fake_api.requests_to("/v1/ping")) == 2


def test_a_refused_connection_is_unreachable():
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = HttpClient(f"http://127.0.0.1:{port}", settings=HttpSettings(**FAST, max_attempts=2))
    with pytest.raises(
        SourceUnreachableError, match=r"^contacts: could not connect \(GET http://127\.0\.0\.1"
    ):
        client.get_json("/v1/contacts", object_name="contacts")


@pytest.mark.parametrize(
    ("status", "error", "text"),
    [
        (400, ConnectorError, "the service rejected the request"),
        (403, AuthenticationError, "access denied; the credentials lack a permission it needs"),
        (404, StreamNotFoundError, "not found"),
    ],
)
def test_client_errors_are_not_retried(fake_api, status, error, text):
    body = [{"message": "sObject type 'Acount' is not supported.", "errorCode": "INVALID_TYPE"}]
    fake_api.route("GET", "/v1/Acount", lambda r: Reply(status, body))
    with pytest.raises(error) as caught:
        make_client(fake_api).get_json("/v1/Acount", object_name="Acount")
    assert type(caught.value) is error and not caught.value.retriable
    assert caught.value.user_message.startswith(f"Acount: {text} (HTTP {status}, GET http://127.0.0.1:")
    assert caught.value.user_message.endswith("INVALID_TYPE: sObject type 'Acount' is not supported.")
    assert len(fake_api.requests) == 1


def test_a_response_the_vendor_means_as_rate_limiting_is_retried_then_unreachable(fake_api):
    limited = [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
    fake_api.route("GET", "/v1/ping", lambda r: {"ok": True})
    fake_api.inject(Reply(403, limited, headers={"Retry-After": "2"}), path="/v1/ping", times=2)
    waits: list[float] = []
    client = HttpClient(
        fake_api.base_url,
        settings=HttpSettings(**FAST, max_attempts=3),
        rate_limited=lambda response: "REQUEST_LIMIT_EXCEEDED" in response.text,
        sleep=waits.append,
    )
    assert client.get_json("/v1/ping", object_name="ping") == {"ok": True}
    assert waits == [2.0, 2.0] and len(fake_api.requests_to("/v1/ping")) == 3

    always = fake_api.inject(Reply(403, limited), path="/v1/ping", times=None)
    with pytest.raises(SourceUnreachableError) as caught:
        client.get_json("/v1/ping", object_name="Contact")
    assert caught.value.retriable and len(fake_api.requests_to("/v1/ping")) == 6
    assert caught.value.user_message.startswith(
        "Contact: the service kept rate-limiting requests (HTTP 403, GET"
    )
    assert caught.value.user_message.endswith(
        "after 3 attempts): REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded."
    )

    always.times = 0  # a 403 the predicate does not recognise is still refused access, not retried
    fake_api.inject(
        Reply(403, [{"message": "No access", "errorCode": "INSUFFICIENT_ACCESS"}]), path="/v1/ping"
    )
    with pytest.raises(AuthenticationError, match="access denied"):
        client.get_json("/v1/ping", object_name="Contact")
    assert len(fake_api.requests_to("/v1/ping")) == 7


def test_a_malformed_json_page_is_a_format_error_naming_the_page(fake_api):
    handler = cursor_collection(contacts(6), 2)
    fake_api.route("GET", "/v1/contacts", handler)
    fake_api.inject(Reply(200, b'{"data": [{"id": 3'), path="/v1/contacts", after=1)
    client = make_client(fake_api, ApiKeyAuth("api_key", "k-secret-1", location="query"))
    read: list[int] = []
    with pytest.raises(FormatError) as caught:
        for page in client.pages(
            "/v1/contacts",
            object_name="contacts",
            paginator=CursorPaginator("next", "cursor"),
            records_path="data",
        ):
            read.extend(r["id"] for r in page.records)
    assert read == [1, 2]
    message = caught.value.user_message
    assert re.match(
        r"contacts: GET http://127\.0\.0\.1:\d+/v1/contacts, page 2 answered HTTP 200 "
        r"with a body that is not valid JSON",
        message,
    )
    assert "k-secret-1" not in message and "cursor=" not in message
    assert len(fake_api.requests_to("/v1/contacts")) == 2  # not retried


# -- pagination strategies -----------------------------------------------------------------------------------
def test_next_url_in_the_body_relative_to_the_page(fake_api):
    records = contacts(5)

    def handler(request: Recorded) -> Any:
        start = int(request.match.group(1) or 0)
        nxt = f"/services/data/v60.0/query/01g-{start + 2}" if start + 2 < 5 else None
        return {"records": records[start : start + 2], "done": nxt is None, "nextRecordsUrl": nxt}

    fake_api.route("GET", re.compile(r"/services/data/v60\.0/query(?:/01g-(\d+))?"), handler)
    client = make_client(fake_api)
    ids = read_ids(
        client, url="/services/data/v60.0/query", params={"q": "SELECT Id FROM Contact"},
        paginator=NextUrlPaginator("nextRecordsUrl"), records_path="records",
    )  # fmt: skip
    assert ids == [1, 2, 3, 4, 5]
    sent = fake_api.requests_to(re.compile(r"/services/.*"))
    assert [r.path for r in sent] == [
        "/services/data/v60.0/query",
        "/services/data/v60.0/query/01g-2",
        "/services/data/v60.0/query/01g-4",
    ]
    assert sent[0].params == {"q": "SELECT Id FROM Contact"} and sent[1].query == {}


def test_next_url_from_the_link_header(fake_api):
    def handler(request: Recorded) -> Any:
        page = int(request.params.get("page", "1"))
        link = {"Link": f'<{fake_api.url("/v1/users")}?page={page + 1}>; rel="next", <x>; rel="last"'}
        return Reply(200, [{"id": page}], headers=link if page < 3 else {})

    fake_api.route("GET", "/v1/users", handler)
    assert read_ids(make_client(fake_api), url="/v1/users", paginator=NextUrlPaginator()) == [1, 2, 3]


def test_cursor_pagination_sends_the_cursor_back_with_the_static_params(fake_api):
    fake_api.route("GET", "/v1/contacts", cursor_collection(contacts(5), 2))
    ids = read_ids(
        make_client(fake_api), url="/v1/contacts", params={"status": "active"},
        paginator=CursorPaginator("next", "cursor"), records_path="data",
    )  # fmt: skip
    assert ids == [1, 2, 3, 4, 5]
    assert [r.params for r in fake_api.requests_to("/v1/contacts")] == [
        {"status": "active"},
        {"status": "active", "cursor": "2"},
        {"status": "active", "cursor": "4"},
    ]


def test_offset_pagination_stops_on_a_short_page(fake_api):
    records = contacts(7)

    def handler(request: Recorded) -> Any:
        offset, limit = int(request.params["offset"]), int(request.params["limit"])
        return {"results": records[offset : offset + limit]}

    fake_api.route("GET", "/v1/contacts", handler)
    ids = read_ids(
        make_client(fake_api), url="/v1/contacts", paginator=OffsetPaginator(3), records_path="results"
    )
    assert ids == list(range(1, 8))
    assert [r.params["offset"] for r in fake_api.requests_to("/v1/contacts")] == ["0", "3", "6"]


def test_page_number_pagination_stops_on_an_empty_or_short_page(fake_api):
    records = contacts(4)

    def handler(request: Recorded) -> Any:
        page, size = int(request.params["page"]), int(request.params.get("per_page", "2"))
        return {"items": records[(page - 1) * size : page * size]}

    fake_api.route("GET", "/v1/contacts", handler)
    client = make_client(fake_api)
    assert read_ids(client, url="/v1/contacts", paginator=PageNumberPaginator(), records_path="items") == [
        1,
        2,
        3,
        4,
    ]
    assert [r.params["page"] for r in fake_api.requests_to("/v1/contacts")] == ["1", "2", "3"]  # 3 was empty
    sized = PageNumberPaginator(page_size=3, size_param="per_page")
    assert read_ids(client, url="/v1/contacts", paginator=sized, records_path="items") == [1, 2, 3, 4]
    assert [r.params["page"] for r in fake_api.requests_to("/v1/contacts")][3:] == ["1", "2"]  # 2 was short


def test_odata_next_link_and_max_page_size(fake_api):
    records = contacts(5)

    def handler(request: Recorded) -> Any:
        skip = int(request.params.get("$skiptoken", "0"))
        size = int(request.header("prefer").removeprefix("odata.maxpagesize="))
        body: dict[str, Any] = {"@odata.context": "$metadata#contacts", "value": records[skip : skip + size]}
        if skip + size < len(records):
            body["@odata.nextLink"] = fake_api.url(f"/api/data/v9.2/contacts?$skiptoken={skip + size}")
        return body

    fake_api.route("GET", "/api/data/v9.2/contacts", handler)
    ids = read_ids(
        make_client(fake_api),
        url="/api/data/v9.2/contacts",
        paginator=ODataPaginator(2),
        records_path="value",
    )
    assert ids == [1, 2, 3, 4, 5]
    sent = fake_api.requests_to("/api/data/v9.2/contacts")
    assert [r.params.get("$skiptoken") for r in sent] == [None, "2", "4"]
    assert {r.header("prefer") for r in sent} == {"odata.maxpagesize=2"}


def test_odata_max_page_size_joins_the_preferences_a_stream_already_asks_for(fake_api):
    fake_api.route("GET", "/api/data/v9.2/contacts", lambda r: {"value": [{"id": 1}]})
    labels = 'odata.include-annotations="OData.Community.Display.V1.FormattedValue"'
    ids = read_ids(
        make_client(fake_api),
        url="/api/data/v9.2/contacts",
        headers={"prefer": labels, "X-Other": "kept"},
        paginator=ODataPaginator(3),
        records_path="value",
    )
    sent = fake_api.requests_to("/api/data/v9.2/contacts")[0]
    assert ids == [1]
    assert sent.header("prefer") == f"{labels},odata.maxpagesize=3" and sent.header("x-other") == "kept"


def test_page_number_pagination_stops_when_the_next_marker_is_gone(fake_api):
    records = contacts(4)

    def handler(request: Recorded) -> Any:
        page, size = int(request.params["$page"]), int(request.params["$pageSize"])
        more = page * size < len(records)
        links = {"self": f"?$page={page}", **({"next": f"?$page={page + 1}"} if more else {})}
        return {"links": links, "items": records[(page - 1) * size : page * size]}

    fake_api.route("GET", "/v1/rowset", handler)
    paginator = PageNumberPaginator("$page", 1, 2, "$pageSize", more_path="links.next")
    assert read_ids(make_client(fake_api), url="/v1/rowset", paginator=paginator, records_path="items") == [
        1,
        2,
        3,
        4,
    ]
    assert [r.params["$page"] for r in fake_api.requests_to("/v1/rowset")] == ["1", "2"]  # no empty page 3


def test_read_chunks_keep_earlier_columns_and_carry_origins():
    pages = [[{"id": 1, "a": "x"}, {"id": 2}], [{"id": 3, "b": True}], [{"a": "y"}]]
    chunks = list(
        read_chunks(iter(pages), stream="things", key=("id",), chunk_size=2, shape=lambda f: f.assign(n=1))
    )
    assert [len(c) for c in chunks] == [2, 2]
    first, second = chunks
    assert list(first.columns[:3]) == ["id", "a", "n"]
    assert list(second.columns[:4]) == ["id", "a", "n", "b"]  # "a" kept, though page 2 lacks it
    assert first[ORIGIN_COLUMN].tolist() == ["things#1", "things#2"]
    assert second[ORIGIN_COLUMN].tolist() == ["things#3", "things#"]  # a record without its key
    assert second[ROW_ERROR_COLUMN].isna().all()
    assert list(read_chunks(iter([[]]), stream="things", key=(), chunk_size=2)) == []


def test_a_pagination_that_does_not_advance_stops_with_a_format_error(fake_api):
    fake_api.route("GET", "/v1/loop", lambda r: {"data": [{"id": 1}], "next": "same"})
    client = make_client(fake_api)
    with pytest.raises(FormatError, match="pagination does not advance"):
        list(
            client.pages(
                "/v1/loop",
                object_name="loop",
                paginator=CursorPaginator("next", "cursor"),
                records_path="data",
            )
        )
    assert len(fake_api.requests_to("/v1/loop")) == 2


@pytest.mark.parametrize(
    ("body", "path", "expected"),
    [
        ([{"id": 1}, {"id": 2}], None, [{"id": 1}, {"id": 2}]),
        ({"id": 1}, None, [{"id": 1}]),
        ({"data": {"items": [{"id": 1}]}}, "data.items", [{"id": 1}]),
        ({"data": {"items": [{"id": 1}, {"id": 2}]}}, "$.data.items[*]", [{"id": 1}, {"id": 2}]),
        ({"data": {}}, "data.items", []),
        ({"data": {"items": None}}, "data.items", []),
        (None, "data", []),
    ],
)
def test_find_records(body, path, expected):
    assert find_records(body, path) == expected


def test_a_bad_records_path_names_itself():
    with pytest.raises(ValueError, match=r"'data\.\[' is not a JSON path"):
        find_records({}, "data.[")


# -- records as frames ---------------------------------------------------------------------------------------
def test_records_are_flattened_with_dots_and_lists_kept_as_json():
    frame = records_frame(
        [
            {
                "Id": "001",
                "BillingAddress": {"city": "Paris", "geo": {"lat": 48.8}},
                "tags": ["a", "b"],
                "n": 1,
            },
            {"Id": "002", "BillingAddress": None, "tags": [], "n": None, "extra": True},
        ]
    )
    assert list(frame.columns) == [
        "Id",
        "tags",
        "n",
        "BillingAddress.city",
        "BillingAddress.geo.lat",
        "BillingAddress",
        "extra",
    ]
    assert frame["BillingAddress.city"].tolist()[0] == "Paris"
    assert frame["tags"].tolist() == ['["a", "b"]', "[]"]
    assert str(frame["n"].dtype) == "Int64" and frame["n"].isna().tolist() == [False, True]
    assert str(frame["extra"].dtype) == "boolean"


def test_frames_recut_pages_into_bounded_chunks():
    pages = [[{"id": i} for i in range(start, start + 3)] for start in range(0, 15, 3)]
    chunks = list(frames(iter(pages), chunk_size=4))
    assert [len(c) for c in chunks] == [4, 4, 4, 3]
    assert pd.concat(chunks)["id"].tolist() == list(range(15))
    assert list(frames(iter([[], []]), chunk_size=4)) == []


# -- vendor error texts --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}],
            "INVALID_SESSION_ID: Session expired or invalid",
        ),
        (
            {"error": {"code": "0x80040217", "message": "contact With Id = 9 Does Not Exist"}},
            "0x80040217: contact With Id = 9 Does Not Exist",
        ),
        (
            {"error": "invalid_client", "error_description": "Invalid client credentials"},
            "invalid_client: Invalid client credentials",
        ),
        ({"error": "invalid_grant"}, "invalid_grant"),
        ({"message": "Not Authorized", "errorcode": 0, "documentation": ""}, "0: Not Authorized"),
        ({"errors": [{"detail": "Field 'x' is unknown"}]}, "Field 'x' is unknown"),
        ({"title": "Bad Request", "status": 400}, "Bad Request"),
        (
            {"odata.error": {"code": "", "message": {"lang": "en-US", "value": "Resource not found"}}},
            "Resource not found",
        ),
        ("plain words\nsecond line", "plain words"),
        ("<html><body>Bad gateway</body></html>", None),
        ("", None),
    ],
)
def test_vendor_error_texts(body, expected):
    import httpx

    content = body if isinstance(body, str) else json.dumps(body)
    assert vendor_error_text(httpx.Response(400, content=content.encode())) == expected


def test_a_vendor_error_parser_plugs_in(fake_api):
    fake_api.route("GET", "/v1/ping", lambda r: Reply(400, {"fault": {"faultstring": "Rate plan exceeded"}}))
    client = HttpClient(
        fake_api.base_url, error_parser=lambda response: response.json()["fault"]["faultstring"]
    )
    with pytest.raises(ConnectorError, match=r"ping: .*\(HTTP 400, GET .*\): Rate plan exceeded$"):
        client.get_json("/v1/ping", object_name="ping")


# -- canary: no secret in any message or log -----------------------------------------------------------------
CANARY = {
    "client_secret": "CANARY-client-secret-7f3a",
    "password": "CANARY-pass/word+9&x=1",
    "security_token": "CANARY-sectoken-44aa",
    "api_key": "CANARY-api/key+51c2",
    "refresh_token": "CANARY-refresh-e81d",
    "bearer": "CANARY-bearer-0b9e",
}
ACCESS_PREFIX = "CANARY-access-token-"


def echo(status: int) -> Callable[[Recorded], Reply]:
    """A careless vendor: its error echoes the query, the Authorization header and the body it received."""

    def handler(request: Recorded) -> Reply:
        authorization = request.header("authorization")
        said = f"query={request.query} authorization={authorization} body={request.body.decode()}"
        return Reply(status, {"error": {"code": "Echo", "message": said + " " + "x" * 400}})

    return handler


def canary_auths(api: FakeApi, pem: str) -> dict[str, HttpAuth]:
    token_url = api.url(TOKEN_PATH)
    return {
        "api_key_header": ApiKeyAuth("X-API-Key", CANARY["api_key"]),
        "api_key_query": ApiKeyAuth("api_key", CANARY["api_key"], location="query"),
        "bearer": BearerTokenAuth(CANARY["bearer"]),
        "basic": BasicAuth("ana", CANARY["password"]),
        "client_credentials": ClientCredentialsAuth(token_url, "app", CANARY["client_secret"]),
        "client_credentials_basic": ClientCredentialsAuth(
            token_url, "app", CANARY["client_secret"], client_auth="basic"
        ),
        "refresh_token": RefreshTokenAuth(token_url, "app", CANARY["refresh_token"], CANARY["client_secret"]),
        "password": PasswordGrantAuth(
            token_url, "ck", CANARY["client_secret"], "ana", CANARY["password"], CANARY["security_token"]
        ),
        "jwt_bearer": JwtBearerAuth(token_url, pem, "ck", "ana", "https://login.example.com"),
    }


def forms_of(secret: str) -> set[str]:
    raw = secret.encode()
    encoded = {base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()}
    return {secret, quote(secret, safe=""), quote_plus(secret)} | encoded | {e.rstrip("=") for e in encoded}


@pytest.mark.parametrize(
    "scenario",
    ["refused_401", "rejected_400", "failing_503", "token_refused", "malformed_page", "unreachable"],
)
def test_canary_no_secret_in_any_message_or_log(fake_api, rsa_key, caplog, scenario):
    caplog.set_level(logging.DEBUG)
    pem = pem_of(rsa_key)
    tokens = Tokens(prefix=ACCESS_PREFIX)
    if scenario == "token_refused":
        fake_api.route("POST", TOKEN_PATH, echo(400))
    else:
        fake_api.token_route(TOKEN_PATH, tokens)
    data = {"refused_401": echo(401), "rejected_400": echo(400), "failing_503": echo(503)}.get(scenario)
    malformed = scenario in ("malformed_page", "token_refused")  # static auths fail on the data then
    if malformed:
        fake_api.route("GET", "/v1/contacts", cursor_collection(contacts(4), 2))
    else:
        fake_api.route("GET", "/v1/contacts", data)
    base = fake_api.base_url
    if scenario == "unreachable":
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = f"http://127.0.0.1:{probe.getsockname()[1]}"
    texts, masked = [], 0
    for name, auth in canary_auths(fake_api, pem).items():
        client = HttpClient(base, auth, settings=HttpSettings(**FAST, max_attempts=2))
        if malformed:
            fake_api.inject(Reply(200, b'{"data": ['), path="/v1/contacts", after=1)
        with pytest.raises(ConnectorError) as caught:
            list(
                client.pages(
                    "/v1/contacts",
                    object_name="contacts",
                    paginator=CursorPaginator("next", "cursor"),
                    records_path="data",
                )
            )
        message = caught.value.user_message
        assert message.startswith("contacts: "), (name, message)
        masked += "***" in message
        texts += [message, str(caught.value), "".join(traceback.format_exception(caught.value))]
    texts += [record.getMessage() for record in caplog.records]
    issued = [t for t in tokens.issued]
    secrets = [*CANARY.values(), *issued, "ana:" + CANARY["password"], "app:" + CANARY["client_secret"]]
    secrets += [line for line in pem.splitlines() if not line.startswith("-----")]
    leaks = {secret for secret in secrets for text in texts for form in forms_of(secret) if form in text}
    assert leaks == set()
    assert all("CANARY" not in text for text in texts)
    if scenario in ("refused_401", "rejected_400", "failing_503", "token_refused"):
        assert masked >= 5  # the vendor's echo was kept, its secrets masked: the canary was really exposed
    if scenario in ("refused_401", "failing_503"):
        assert issued  # tokens were issued, and echoed back


# -- for Adobe: comma-separated scopes, gateway error codes, bare-string tokens, a records hook --------------
def test_client_credentials_scopes_can_be_joined_with_commas(fake_api):
    oauth_api(fake_api)
    auth = ClientCredentialsAuth(
        fake_api.url(TOKEN_PATH), "app", "s3cret", ["openid", "AdobeID"], scope_separator=","
    )
    make_client(fake_api, auth).get_json("/v1/ping", object_name="ping")
    assert fake_api.requests_to(TOKEN_PATH)[0].form()["scope"] == "openid,AdobeID"
    spaced = ClientCredentialsAuth(fake_api.url(TOKEN_PATH), "app", "s3cret", ["a.read", "b.read"])
    assert spaced.token_request().form == {
        "grant_type": "client_credentials",
        "client_id": "app",
        "client_secret": "s3cret",
        "scope": "a.read b.read",  # the RFC 6749 default stays
    }


def test_an_api_gateway_error_code_is_quoted_before_its_message():
    import httpx

    body = json.dumps({"error_code": "401013", "message": "Oauth token is not valid"}).encode()
    assert vendor_error_text(httpx.Response(401, content=body)) == "401013: Oauth token is not valid"


@pytest.mark.parametrize(("answer", "token"), [('"adm-token-1"', "adm-token-1"), ('""', None), ("42", None)])
def test_a_token_endpoint_answering_a_bare_json_string(fake_api, answer, token):
    from connectors._http import OAuth2Auth, TokenRequest

    class AdminToken(OAuth2Auth):
        def token_request(self) -> TokenRequest:
            return TokenRequest(json_body={"username": "ana", "password": "pw-123"})

    fake_api.route("POST", "/token", lambda r: Reply(200, answer))
    fake_api.route("GET", "/v1/ping", lambda r: {"ok": True})
    client = make_client(fake_api, AdminToken(fake_api.url("/token")))
    if token is None:
        with pytest.raises(FormatError, match="did not answer a JSON object"):
            client.get_json("/v1/ping", object_name="ping")
        return
    client.get_json("/v1/ping", object_name="ping")
    assert fake_api.requests_to("/v1/ping")[0].header("authorization") == f"Bearer {token}"
    assert token in client.auth.secrets()


def test_a_stream_query_can_pick_its_records_from_each_page(fake_api):
    from dataclasses import replace

    from connectors._http import Page, SinglePage
    from connectors._http_connector import ApiConnector, StreamQuery
    from connectors.base import ConnectorConfig

    def lines(page: Page) -> list[dict[str, Any]]:
        return [{**line, "order": item["id"]} for item in page.body["items"] for line in item["lines"]]

    class NestedApi(ApiConnector[ConnectorConfig]):
        """Records nested in each page's items (``items[].lines[]``), picked by a ``records`` hook."""

        name, title, category, config_model = "nested", "Nested", "Web APIs", ConnectorConfig

        def open_client(self) -> HttpClient:
            return make_client(fake_api)

        def probe(self, client: HttpClient) -> str:
            return "ok"

        def discover(self) -> list[Any]:
            return []

        def sample_query(self, client: HttpClient, stream: str, limit: int) -> StreamQuery:
            params = {"page": 1, "size": 1}
            return StreamQuery(
                "/v1/orders", params, paginator=SinglePage(), records=lines, key=("sku", "order")
            )

        def read_query(self, client: HttpClient, stream: str, cursor: Any) -> StreamQuery:
            paginator = PageNumberPaginator("page", 1, 2, "size")  # counts the items: 2 a page
            query = StreamQuery("/v1/orders", paginator=paginator, records_path="items", records=lines)
            return replace(query, key=("sku", "order"))

    orders = [{"id": n, "lines": [{"sku": f"A{n}"}, {"sku": f"B{n}"}]} for n in range(1, 6)]

    def handler(request: Recorded) -> Any:
        page, size = int(request.params["page"]), int(request.params["size"])
        return {"items": orders[(page - 1) * size : page * size]}

    fake_api.route("GET", "/v1/orders", handler)
    source = NestedApi({})
    chunks = list(source.read("orders", chunk_size=4))
    assert [len(chunk) for chunk in chunks] == [4, 4, 2]
    whole = pd.concat(chunks, ignore_index=True)
    assert whole["sku"].tolist() == [f"{kind}{n}" for n in range(1, 6) for kind in "AB"]
    assert whole[ORIGIN_COLUMN].tolist()[:2] == ["orders#A1,1", "orders#B1,1"]
    assert source.sample("orders", limit=1)["sku"].tolist() == ["A1"]
    with source.open_client() as client:  # several samples through one client (one sign-in)
        twice = [source.sample_through(client, "orders", 1)[ORIGIN_COLUMN].item() for _ in range(2)]
    assert twice == ["orders#A1,1", "orders#A1,1"] and len(fake_api.requests_to("/v1/orders")) == 6
