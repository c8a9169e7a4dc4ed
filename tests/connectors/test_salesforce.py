"""The Salesforce connector against a fake org: sign-in, discovery, REST and Bulk reads, faults, runs."""

from __future__ import annotations

import base64
import json
import logging
import re
import traceback
import typing
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr, ValidationError

import connectors
from connectors._http import HttpSettings
from connectors.base import (
    DELETED_COLUMN,
    ORIGIN_COLUMN,
    SUGGESTED_IDENTITIES,
    SUGGESTED_MAPPING,
    AuthenticationError,
    ConnectorError,
    CursorRequest,
    FormatError,
    SourceUnreachableError,
    StreamNotFoundError,
)
from connectors.salesforce import SalesforceConfig, SalesforceConnector
from tests.connectors.test_http import pem_of
from tests.connectors.test_http import rsa_key as rsa_key
from tests.http_servers import Recorded, Reply
from tests.http_servers.salesforce import TOKEN_PATH, FakeSalesforce, record_id, sf_error
from tests.http_servers.salesforce_org import EPOCH, SObject, contact_records

FAST = HttpSettings(backoff_initial_s=0.25, backoff_max_s=1.0, max_attempts=3)
LOCATOR_PAGES = re.compile(r"/services/data/v62\.0/query(All)?/01g.*")
CONTACTS = 45  # 7 pages of 7 rows; 3 contacts share each SystemModstamp


@pytest.fixture
def org(rsa_key: rsa.RSAPrivateKey) -> Iterator[FakeSalesforce]:
    with FakeSalesforce(page_size=7, bulk_polls=3, public_key=rsa_key.public_key()) as fake:
        fake.add("Contact", contact_records(CONTACTS, per_stamp=3))
        yield fake


class Waits(list[float]):
    """The connector's sleep: records each wait instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def settings_for(org: FakeSalesforce, flow: str = "username_password", pem: str = "", **more: Any) -> dict:
    c = org.credentials
    by_flow: dict[str, dict[str, Any]] = {
        "client_credentials": {"client_secret": c.client_secret},
        "username_password": {
            "client_secret": c.client_secret,
            "username": c.username,
            "password": c.password,
            "security_token": c.security_token,
        },
        "jwt_bearer": {"username": c.username, "private_key": pem},
        "refresh_token": {"refresh_token": c.refresh_token, "client_secret": c.client_secret},
    }
    return {"login_url": org.base_url, "auth": flow, "client_id": c.client_id, **by_flow[flow], **more}


def connect(org: FakeSalesforce, flow: str = "username_password", waits: Waits | None = None, **more: Any):
    return SalesforceConnector(
        settings_for(org, flow, **more), settings=FAST, sleep=Waits() if waits is None else waits
    )


def ids_of(chunks: list[pd.DataFrame]) -> list[str]:
    return [i for chunk in chunks for i in chunk["Id"].tolist()]


def contact_ids(numbers: range) -> list[str]:
    return [record_id("003", n) for n in numbers]


# -- configuration -------------------------------------------------------------------------------------------
def test_registered_with_a_form_the_dashboard_can_draw():
    assert connectors.REGISTRY["salesforce"] is SalesforceConnector
    assert ("salesforce", "Salesforce") in connectors.CATALOG["CRM and marketing automation"]
    drawable = (str, int, bool, SecretStr)
    for name, info in SalesforceConfig.model_fields.items():
        annotation = info.annotation
        union = typing.get_origin(annotation) in (typing.Union, type(int | None))
        kinds = [a for a in typing.get_args(annotation) if a is not type(None)] if union else [annotation]
        assert all(k in drawable or typing.get_origin(k) is typing.Literal for k in kinds), name
    secrets = {
        n for n, i in SalesforceConfig.model_fields.items() if SecretStr in typing.get_args(i.annotation)
    }
    assert secrets == {"client_secret", "password", "security_token", "private_key", "refresh_token"}


@pytest.mark.parametrize(
    ("flow", "given", "missing"),
    [
        ("client_credentials", {}, "client_secret"),
        ("username_password", {"client_secret": "s", "username": "u"}, "password"),
        ("jwt_bearer", {"username": "u"}, "private_key"),
        ("refresh_token", {"client_secret": "s"}, "refresh_token"),
    ],
)
def test_each_flow_says_which_fields_it_needs(flow, given, missing):
    with pytest.raises(ValidationError, match=f"the {flow} flow needs .*{missing}"):
        SalesforceConfig.model_validate({"auth": flow, "client_id": "ck", **given})


def test_urls_versions_and_jwt_audiences():
    base = {"auth": "refresh_token", "client_id": "ck", "refresh_token": "r"}
    config = SalesforceConfig.model_validate(
        {**base, "api_version": "61", "login_url": "https://acme.my.salesforce.com/"}
    )
    assert (
        config.api_version == "v61.0"
        and config.token_url == "https://acme.my.salesforce.com/services/oauth2/token"
    )
    assert config.audience() == "https://login.salesforce.com"
    sandbox = SalesforceConfig.model_validate(
        {**base, "login_url": "https://acme--uat.sandbox.my.salesforce.com"}
    )
    assert sandbox.audience() == "https://test.salesforce.com"
    with pytest.raises(ValidationError, match="https://"):
        SalesforceConfig.model_validate({**base, "login_url": "http://login.salesforce.com"})
    with pytest.raises(ValidationError, match="API version"):
        SalesforceConfig.model_validate({**base, "api_version": "latest"})


# -- signing in ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("flow", ["client_credentials", "username_password", "jwt_bearer", "refresh_token"])
def test_each_flow_signs_in_and_the_api_is_called_at_the_instance_url(org, rsa_key, flow):
    c = org.credentials
    result = connect(org, flow, pem=pem_of(rsa_key)).check()
    assert result.ok, result.message
    assert result.message.startswith(f"Connected to Salesforce at {org.base_url} (API v62.0);")
    assert "daily API requests left" in result.message
    (grant,) = org.requests_to(TOKEN_PATH)
    form = grant.form()
    expected = {
        "client_credentials": {
            "grant_type": "client_credentials",
            "client_id": c.client_id,
            "client_secret": c.client_secret,
        },
        "username_password": {
            "grant_type": "password",
            "client_id": c.client_id,
            "client_secret": c.client_secret,
            "username": c.username,
            "password": c.password + c.security_token,
        },
        "refresh_token": {
            "grant_type": "refresh_token",
            "refresh_token": c.refresh_token,
            "client_id": c.client_id,
            "client_secret": c.client_secret,
        },
    }
    if flow == "jwt_bearer":  # the fake verified the RS256 signature and the iss/sub/aud/exp claims
        assert set(form) == {"grant_type", "assertion"}
        assert form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    else:
        assert form == expected[flow]
    (limits,) = org.data_requests()
    assert limits.path == "/services/data/v62.0/limits"
    assert limits.header("authorization") == f"Bearer {org.tokens.issued[0]}"


def test_the_check_falls_back_to_the_object_list_for_a_user_who_cannot_see_limits(org):
    forbidden = sf_error(403, "INSUFFICIENT_ACCESS", "insufficient access rights on object id")
    org.inject(forbidden, path="/services/data/v62.0/limits")
    result = connect(org).check()
    assert result.ok and result.message == f"Connected to Salesforce at {org.base_url} (API v62.0)."
    assert [r.path for r in org.data_requests()] == [
        "/services/data/v62.0/limits",
        "/services/data/v62.0/sobjects",
    ]
    org.tokens.reject_all = True  # a revoked session: refused at once, no second try elsewhere
    refused = connect(org).check()
    assert not refused.ok and "INVALID_SESSION_ID" in refused.message
    assert len(org.data_requests()) == 4 and len(org.requests_to(TOKEN_PATH)) == 3


def test_a_jwt_key_pasted_on_one_line_still_signs(org, rsa_key):
    one_line = pem_of(rsa_key).replace("\n", "")  # a browser's one-line box drops the line breaks
    assert connect(org, "jwt_bearer", pem=one_line).check().ok


@pytest.mark.parametrize(
    ("flow", "change", "says"),
    [
        ("username_password", {"password": "wrong-Pa55"}, "check the username, password and security token"),
        (
            "client_credentials",
            {"client_secret": "wrong-secret-9"},
            "invalid_client (check the connected app",
        ),
        ("refresh_token", {"refresh_token": "revoked-refresh-7"}, "grant the connected app access again"),
        (
            "jwt_bearer",
            {"jwt_audience": "https://login.salesforce.com"},
            "invalid_grant (check the certificate",
        ),
    ],
)
def test_refused_credentials_fail_the_check_with_what_to_check_and_no_secret(
    org, rsa_key, flow, change, says
):
    result = connect(org, flow, pem=pem_of(rsa_key), **change).check()
    assert not result.ok
    assert "signing in: the token endpoint refused the credentials (HTTP 400, POST" in result.message
    assert says in result.message
    assert all(str(value) not in result.message for key, value in change.items() if key != "jwt_audience")
    assert len(org.requests_to(TOKEN_PATH)) == 1 and org.data_requests() == []  # refused at once


def test_an_unreachable_login_url_fails_the_check_without_raising():
    config = {
        "login_url": "http://127.0.0.1:9",
        "auth": "client_credentials",
        "client_id": "ck",
        "client_secret": "s",
    }
    result = SalesforceConnector(config, settings=HttpSettings(max_attempts=1)).check()
    assert not result.ok and "could not connect" in result.message


# -- discover, describe, sample ------------------------------------------------------------------------------
def test_discover_lists_queryable_objects_cheaply_standard_ones_first(org):
    streams = connect(org).discover()
    assert [s.name for s in streams] == ["Contact", "Lead", "Account", "Attachment"]  # no ContactChangeEvent
    contact = streams[0]
    assert contact.fields == () and contact.primary_key_candidates == ("Id",)
    assert contact.cursor_candidates == ("SystemModstamp", "LastModifiedDate", "CreatedDate")
    mapping = contact.metadata[SUGGESTED_MAPPING]
    assert mapping["crmId"] == "Id" and mapping["personalEmail.address"] == "Email"
    assert mapping["mobilePhone.number"] == "MobilePhone" and mapping["homeAddress.city"] == "MailingCity"
    assert contact.metadata[SUGGESTED_IDENTITIES] == {
        "crm_id": "crmId",
        "email": "personalEmail.address",
        "phone": "mobilePhone.number",
    }
    assert SUGGESTED_MAPPING not in streams[3].metadata
    assert [r.path for r in org.data_requests()] == ["/services/data/v62.0/sobjects"]  # no describe


def test_stream_info_describes_one_object_with_portable_types(org):
    connector = connect(org)
    contact = connector.stream_info("contact")
    types = {f.name: f.type for f in contact.fields}
    assert (contact.name, types["Id"], types["Birthdate"], types["SystemModstamp"]) == (
        "Contact",
        "string",
        "date",
        "timestamp",
    )
    assert (types["Loyalty_Points__c"], types["HasOptedOutOfEmail"]) == ("number", "boolean")
    assert "MailingAddress" not in types  # compound: its components are the fields
    assert "Body" not in {f.name for f in connector.stream_info("Attachment").fields}  # a file body
    account = connector.stream_info("Account")
    assert {f.type for f in account.fields if f.name == "NumberOfEmployees"} == {"integer"}
    assert "personalEmail.address" not in account.metadata[SUGGESTED_MAPPING]  # no person accounts here
    assert account.metadata[SUGGESTED_IDENTITIES] == {"crm_id": "crmId"}


def test_a_sample_follows_pages_up_to_its_limit_and_an_empty_object_samples_typed_columns(org):
    connector = connect(org)
    sample = connector.sample("Contact", 16)
    assert sample["Id"].tolist() == contact_ids(range(1, 17))
    assert org.soql_sent()[-1].endswith(" FROM Contact LIMIT 16")
    assert len(org.requests_to(LOCATOR_PAGES)) == 2  # pages 2 and 3 of 7 rows, no further
    empty = connector.sample("Lead")
    assert len(empty) == 0 and str(empty["SystemModstamp"].dtype) == "datetime64[us, UTC]"
    assert {"Id", "Email", ORIGIN_COLUMN} <= set(empty.columns)


def test_sample_is_one_limited_query_with_typed_columns(org):
    sample = connect(org).sample("Contact", 5)
    assert len(sample) == 5 and sample["Id"].tolist() == contact_ids(range(1, 6))
    queries = org.requests_to("/services/data/v62.0/query")
    assert len(queries) == 1 and queries[0].params["q"].endswith(" FROM Contact LIMIT 5")
    assert not any(str(c).startswith("attributes") for c in sample.columns)
    assert str(sample["SystemModstamp"].dtype) == "datetime64[us, UTC]"
    assert str(sample["Loyalty_Points__c"].dtype) == "Float64" and str(sample["IsDeleted"].dtype) == "boolean"
    assert sample["Birthdate"].tolist()[0] == "1981-02-02"
    assert sample[ORIGIN_COLUMN].tolist()[0] == f"Contact#{record_id('003', 1)}"


# -- reads ---------------------------------------------------------------------------------------------------
def test_a_full_read_follows_next_records_urls_in_bounded_chunks(org):
    chunks = list(connect(org).read("Contact", chunk_size=10))
    assert [len(c) for c in chunks] == [10, 10, 10, 10, 5]
    assert ids_of(chunks) == contact_ids(range(1, CONTACTS + 1))
    assert len(org.requests_to("/services/data/v62.0/query")) == 2  # the count, then page 1
    count, query = org.soql_sent()
    assert count == "SELECT COUNT() FROM Contact"  # under the bulk threshold: REST
    assert query.startswith("SELECT Id, IsDeleted, AccountId,") and query.endswith(
        " FROM Contact ORDER BY Id"
    )
    assert "MailingAddress" not in query and "MailingCity" in query
    assert len(org.requests_to(LOCATOR_PAGES)) == 6  # pages 2 to 7
    assert not chunks[0][DELETED_COLUMN].any()


def test_an_incremental_read_asks_only_for_rows_from_the_start_ordered_by_cursor_then_id(org):
    start = pd.Timestamp(EPOCH + pd.Timedelta(seconds=5)).tz_convert("UTC")  # ids 16-18 share it
    cursor = CursorRequest("SystemModstamp", start, ("Id",))
    chunks = list(connect(org).read("Contact", chunk_size=8, cursor=cursor))
    assert ids_of(chunks) == contact_ids(range(16, CONTACTS + 1))
    frame = pd.concat(chunks)
    assert frame["SystemModstamp"].is_monotonic_increasing and frame["SystemModstamp"].min() == start
    query = org.soql_sent()[-1]
    assert query.endswith(
        " FROM Contact WHERE SystemModstamp >= 2026-11-02T09:00:05Z ORDER BY SystemModstamp, Id"
    )
    assert org.requests_to("/services/data/v62.0/queryAll")  # deleted records come along


def test_a_large_read_runs_a_bulk_api_query_job_read_in_result_sets(org):
    waits = Waits()
    connector = connect(org, waits=waits, bulk_threshold=40)
    chunks = list(connector.read("Contact", chunk_size=10))
    assert [len(c) for c in chunks] == [10, 10, 10, 10, 5]
    (job,) = org.requests_to("/services/data/v62.0/jobs/query", method="POST")
    body = job.json()
    assert (body["operation"], body["contentType"], body["lineEnding"]) == ("query", "CSV", "LF")
    assert body["query"].endswith(" FROM Contact")  # no ORDER BY: the job may split
    assert waits == [1.0, 2.0]  # InProgress twice, then JobComplete
    results = org.requests_to(re.compile(r".*/jobs/query/750\w+/results"))
    assert [r.params.get("maxRecords") for r in results] == ["10"] * 5
    assert [r.params.get("locator") is None for r in results] == [True, False, False, False, False]
    assert {r.header("accept") for r in results} == {"text/csv"}
    rest = pd.concat(
        list(connect(org, bulk_threshold=None).read("Contact", chunk_size=10)), ignore_index=True
    )
    pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), rest)  # same values, same dtypes
    assert rest["MailingStreet"].iloc[0] == "1 Rue de Rivoli\nBâtiment B"
    assert rest["Description"].iloc[4] == 'Met at the "Salon", 2026'


def test_an_object_too_wide_for_a_rest_url_is_sampled_and_read_through_bulk_api(org):
    wide = tuple((f"Survey_Answer_{n:03d}__c", "string") for n in range(800))
    org.objects["feedback__c"] = SObject("Feedback__c", (("Id", "id"), *wide, ("SystemModstamp", "datetime")))
    org.add(
        "Feedback__c", [{"Id": record_id("a01", n), "Survey_Answer_042__c": f"yes {n}"} for n in (1, 2, 3)]
    )
    connector = connect(org)
    sample = connector.sample("Feedback__c", 2)
    assert sample["Id"].tolist() == [record_id("a01", 1), record_id("a01", 2)]
    chunks = list(connector.read("Feedback__c"))
    assert pd.concat(chunks)["Survey_Answer_042__c"].tolist() == ["yes 1", "yes 2", "yes 3"]
    jobs = [r.json()["query"] for r in org.requests_to("/services/data/v62.0/jobs/query", method="POST")]
    assert [
        len(jobs),
        jobs[0].endswith(" FROM Feedback__c LIMIT 2"),
        jobs[1].endswith(" FROM Feedback__c"),
    ] == [
        2,
        True,
        True,
    ]
    assert org.requests_to(re.compile(r"/services/data/v62\.0/query.*")) == []  # no REST query: no COUNT()


def test_an_incremental_bulk_read_keeps_the_cursor_order_and_reads_deleted_records(org):
    org.delete("Contact", record_id("003", 44))
    start = pd.Timestamp(EPOCH + pd.Timedelta(seconds=12))
    cursor = CursorRequest("SystemModstamp", start, ("Id",))
    chunks = list(connect(org).read("Contact", {"bulk": "always"}, chunk_size=4, cursor=cursor))
    body = org.requests_to("/services/data/v62.0/jobs/query", method="POST")[0].json()
    assert body["operation"] == "queryAll"
    assert body["query"].endswith("WHERE SystemModstamp >= 2026-11-02T09:00:12Z ORDER BY SystemModstamp, Id")
    frame = pd.concat(chunks)
    assert ids_of(chunks)[-1] == record_id("003", 44)  # deleted last: its SystemModstamp moved
    assert frame.set_index("Id")[DELETED_COLUMN].to_dict()[record_id("003", 44)]
    assert frame[DELETED_COLUMN].sum() == 1


def test_a_failed_or_aborted_bulk_job_is_a_clear_error(org):
    org.fail_next_job("InvalidBatch : Failed to process query: too many retries")
    with pytest.raises(SourceUnreachableError) as failed:
        list(connect(org).read("Contact", {"bulk": "always"}))
    assert re.search(
        r"^Contact: the Bulk API 2\.0 query job 750FAKE\d+ failed in Salesforce: InvalidBatch",
        failed.value.user_message,
    )

    org.inject(
        lambda request: {"id": "750X", "state": "Aborted"},
        path=re.compile(r".*/jobs/query/750\w+"),
        method="GET",
    )
    with pytest.raises(ConnectorError, match="was aborted in Salesforce") as aborted:
        list(connect(org).read("Contact", {"bulk": "always"}))
    assert not aborted.value.retriable


def test_deleted_records_are_flagged_only_when_asked_for(org):
    deleted = record_id("003", 2)
    org.delete("Contact", deleted)
    cursor = CursorRequest("SystemModstamp", None, ("Id",))
    flagged = pd.concat(list(connect(org).read("Contact", cursor=cursor)))
    assert flagged.set_index("Id").loc[deleted, DELETED_COLUMN] and flagged[DELETED_COLUMN].sum() == 1
    assert org.requests_to("/services/data/v62.0/queryAll")
    without = pd.concat(list(connect(org).read("Contact", {"include_deleted": False}, cursor=cursor)))
    full = pd.concat(list(connect(org).read("Contact")))
    assert deleted not in set(without["Id"]) and deleted not in set(full["Id"])
    assert len(without) == len(full) == CONTACTS - 1


# -- faults --------------------------------------------------------------------------------------------------
def test_a_token_expiring_mid_paging_is_refreshed_once_and_every_row_read_once(org):
    reader = connect(org).read("Contact", chunk_size=10)
    chunks = [next(reader)]  # pages 1 and 2 read with the first token
    org.tokens.expire_after(1)  # page 3 passes, page 4 finds the session expired
    chunks += list(reader)
    assert ids_of(chunks) == contact_ids(range(1, CONTACTS + 1))
    assert len(org.requests_to(TOKEN_PATH)) == 2
    pages = [(r.path.rsplit("-", 1)[-1], r.header("authorization")) for r in org.requests_to(LOCATOR_PAGES)]
    first, second = (f"Bearer {t}" for t in org.tokens.issued)
    assert pages == [
        ("7", first), ("14", first), ("21", first), ("21", second), ("28", second), ("35", second),
        ("42", second),
    ]  # fmt: skip


def test_429_request_limit_exceeded_waits_as_long_as_retry_after_says(org):
    waits = Waits()
    limited = Reply(
        429,
        [{"message": "ConcurrentRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}],
        headers={"Retry-After": "7"},
    )
    org.inject(limited, path=LOCATOR_PAGES, after=2)
    chunks = list(connect(org, waits=waits).read("Contact", chunk_size=50))
    assert ids_of(chunks) == contact_ids(range(1, CONTACTS + 1))
    assert waits == [7.0]
    assert len(org.requests_to(LOCATOR_PAGES)) == 7  # page 4 twice


def test_403_request_limit_exceeded_is_rate_limiting_not_a_missing_permission(org):
    waits = Waits()
    org.exhaust_api_requests()
    with pytest.raises(SourceUnreachableError) as caught:
        list(connect(org, waits=waits).read("Contact"))
    message = caught.value.user_message
    assert message.startswith("Contact: the service kept rate-limiting requests (HTTP 403, GET")
    assert "after 3 attempts): REQUEST_LIMIT_EXCEEDED (the org's API request limit is reached" in message
    assert caught.value.retriable and waits == [0.25, 0.5]
    assert len(org.data_requests()) == 3


def test_503_then_success(org):
    waits = Waits()
    org.inject(Reply(503, "Service Unavailable"), path=LOCATOR_PAGES, after=1)
    chunks = list(connect(org, waits=waits).read("Contact"))
    assert ids_of(chunks) == contact_ids(range(1, CONTACTS + 1))
    assert waits == [0.25] and len(org.requests_to(LOCATOR_PAGES)) == 7


def test_a_401_a_new_token_does_not_fix_is_an_authentication_error_at_once(org):
    waits = Waits()
    connector = connect(org, waits=waits)
    org.tokens.reject_all = True
    with pytest.raises(AuthenticationError) as caught:
        list(connector.read("Contact"))
    message = caught.value.user_message
    assert message.startswith("Contact: the service refused the credentials (HTTP 401, GET http://127.0.0.1:")
    assert "/sobjects/Contact/describe): INVALID_SESSION_ID (the session expired or was revoked" in message
    assert len(org.requests_to(TOKEN_PATH)) == 2  # the first token and exactly one refresh
    assert len(org.data_requests()) == 2 and waits == []  # no retry storm


def test_a_malformed_json_page_is_a_format_error_naming_the_page(org):
    org.inject(
        Reply(200, b'{"totalSize": 45, "done": false, "records": [{"attrib'), path=LOCATOR_PAGES, after=1
    )
    reader = connect(org).read("Contact", chunk_size=7)
    read = ids_of([next(reader), next(reader)])
    with pytest.raises(FormatError) as caught:
        next(reader)
    assert read == contact_ids(range(1, 15))
    assert re.match(
        r"Contact: GET http://127\.0\.0\.1:\d+/services/data/v62\.0/query/01g\w+-14, page 3 "
        r"answered HTTP 200 with a body that is not valid JSON",
        caught.value.user_message,
    )


def test_unknown_objects_fields_and_bad_names_are_clear_errors(org):
    connector = connect(org)
    with pytest.raises(
        StreamNotFoundError, match=r"Salesforce has no object 'Contactz' that the integration user"
    ):
        connector.sample("Contactz")
    with pytest.raises(StreamNotFoundError, match="is not a Salesforce object name"):
        connector.sample("Contact WHERE Id != null")
    cursor = CursorRequest("Modified_At__c", None, ("Id",))
    with pytest.raises(ConnectorError, match=r"'Modified_At__c' is not a field of Contact .* SystemModstamp"):
        list(connector.read("Contact", cursor=cursor))
    org.inject(
        sf_error(400, "INVALID_FIELD", "No such column 'Loyalty_Points__c' on entity 'Contact'."),
        path="/services/data/v62.0/query",
    )
    with pytest.raises(ConnectorError) as caught:
        connector.sample("Contact")
    assert caught.value.user_message.endswith(
        "INVALID_FIELD (a field is missing, or hidden from the integration user by field-level security): "
        "No such column 'Loyalty_Points__c' on entity 'Contact'."
    )
    assert "HTTP 400" in caught.value.user_message


# -- canary: no secret in any message or log -----------------------------------------------------------------
def echo(status: int):
    """A careless server: its error repeats the request's query, Authorization header and body."""

    def handler(request: Recorded) -> Reply:
        said = f"{request.query} {request.header('authorization')} {request.body.decode()}"
        return sf_error(status, "UNKNOWN_EXCEPTION", said)

    return handler


def forms_of(secret: str) -> set[str]:
    from urllib.parse import quote, quote_plus

    raw = secret.encode()
    encoded = {base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()}
    return {secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1]} | encoded


@pytest.mark.parametrize("flow", ["client_credentials", "username_password", "jwt_bearer", "refresh_token"])
def test_canary_secrets_never_reach_messages_or_logs(org, rsa_key, caplog, flow):
    caplog.set_level(logging.DEBUG)
    pem = pem_of(rsa_key)
    canary = {
        "client_secret": "CANARY-secret+1/x",
        "password": "CANARY-pw&2=y",
        "security_token": "CANARY-tok3",
    }
    canary["refresh_token"] = "CANARY-refresh-4"
    org.credentials.client_secret, org.credentials.password = canary["client_secret"], canary["password"]
    org.credentials.security_token, org.credentials.refresh_token = (
        canary["security_token"],
        canary["refresh_token"],
    )
    texts = []
    connector = connect(org, flow, pem=pem)
    for status in (401, 400, 503):
        careless = org.inject(echo(status), path=re.compile(r"/services/data/.*"), times=None)
        texts.append(connector.check().message)
        with pytest.raises(ConnectorError) as caught:
            list(connector.read("Contact"))
        texts += [caught.value.user_message, "".join(traceback.format_exception(caught.value))]
        careless.times = 0
    org.inject(echo(400), path=TOKEN_PATH, times=None)
    refused = SalesforceConnector(settings_for(org, flow, pem=pem), settings=FAST, sleep=Waits())
    texts.append(refused.check().message)
    texts += [record.getMessage() for record in caplog.records]
    secrets = [*canary.values(), *org.tokens.issued]
    secrets += [line for line in pem.splitlines() if line and not line.startswith("-----")]
    leaks = {s for s in secrets for text in texts for form in forms_of(s) if form in text}
    assert leaks == set() and not any("CANARY" in text for text in texts)
    assert sum("***" in text for text in texts) >= 4  # the echoes were there, masked


# -- runs through the engine ---------------------------------------------------------------------------------
def save_contacts_flow(workspace, org: FakeSalesforce, chunk_size: int = 10) -> None:
    workspace.save_connection("crm", "salesforce", settings_for(org))
    workspace.save_dataflow(
        "sf_contacts",
        {
            "source": {"connection": "crm", "stream": "Contact"},
            "sync": {
                "mode": "incremental",
                "cursor": "SystemModstamp",
                "primary_key": ["Id"],
                "chunk_size": chunk_size,
            },
            "mapping": {
                "crmId": "Id",
                "person.firstName": "FirstName",
                "personalEmail.address": "lower(Email)",
                "updatedAt": "LastModifiedDate",
            },
            "identities": {"crm_id": "crmId", "email": "personalEmail.address"},
            "quality": [{"expect_column_values_to_not_be_null": {"column": "crmId"}}],
        },
    )


def test_a_run_killed_after_its_first_chunk_then_run_again_ingests_each_contact_once(workspace, org):
    save_contacts_flow(workspace, org)

    def die_after_the_first_commit(summary) -> None:
        if summary.chunks == 1:
            raise RuntimeError("worker killed")

    broken = workspace.run("sf_contacts", progress=die_after_the_first_commit)
    assert broken.status == "failed" and broken.ingested == 10
    assert workspace.record_count("sf_contacts") == 10
    rerun = workspace.run("sf_contacts")
    assert rerun.status == "succeeded", rerun.error_message
    # it went on from the committed chunk: contact 10's SystemModstamp again, minus contact 10 itself
    assert (rerun.received, rerun.ingested) == (CONTACTS - 10, CONTACTS - 10)
    records = workspace.records("sf_contacts", limit=None)
    assert len(records) == CONTACTS and records["_source_key"].is_unique
    assert set(records["crmId"]) == set(contact_ids(range(1, CONTACTS + 1)))
    assert (
        records.set_index("crmId").loc[record_id("003", 1), "personalEmail.address"]
        == "ana.lima1@example.com"
    )
    assert workspace.run("sf_contacts").received == 0  # nothing changed since


def test_a_contact_deleted_in_salesforce_leaves_the_dataset_on_the_next_incremental_run(workspace, org):
    save_contacts_flow(workspace, org, chunk_size=50)
    assert workspace.run("sf_contacts").ingested == CONTACTS
    gone, changed = record_id("003", 5), record_id("003", 7)
    org.delete("Contact", gone)
    org.update("Contact", changed, Email="New.Address@Example.com")
    again = workspace.run("sf_contacts")
    assert again.status == "succeeded", again.error_message
    assert (again.received, again.ingested, again.deleted) == (2, 1, 1)
    records = workspace.records("sf_contacts", limit=None).set_index("crmId")
    assert len(records) == CONTACTS - 1 and gone not in records.index
    assert records.loc[changed, "personalEmail.address"] == "new.address@example.com"
    assert workspace.connection_spec("crm").config["password"] == "********"
