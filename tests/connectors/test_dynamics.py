"""The Dynamics 365 (Dataverse) connector against a fake Web API and Entra token endpoint on loopback."""

from __future__ import annotations

import logging
import re
import traceback
from datetime import timedelta
from typing import Any

import pandas as pd
import pytest

from connectors import REGISTRY
from connectors._http import HttpSettings
from connectors.base import (
    ORIGIN_COLUMN,
    SUGGESTED_IDENTITIES,
    SUGGESTED_MAPPING,
    AuthenticationError,
    ConnectorError,
    CursorRequest,
    FormatError,
    StreamNotFoundError,
)
from connectors.dynamics import DynamicsConnector, odata_literal
from tests.http_servers import FakeApi, Reply
from tests.http_servers import fake_api as fake_api
from tests.http_servers.dynamics import (
    START,
    FakeDynamics,
    contact,
    contact_id,
    iso,
    odata_error,
    standard_environment,
)
from tests.http_servers.echo import echo

FAST = HttpSettings(backoff_initial_s=0.001, backoff_max_s=0.01)
COLLECTION = FakeDynamics.collection_path()


@pytest.fixture
def dynamics(fake_api: FakeApi) -> FakeDynamics:
    return standard_environment(fake_api, contacts=23)


def settings(fake: FakeDynamics, **overrides: Any) -> dict[str, Any]:
    return {
        "environment_url": fake.environment_url,
        "tenant_id": fake.tenant,
        "client_id": fake.client_id,
        "client_secret": fake.client_secret,
        "authority_url": fake.api.base_url,
        **overrides,
    }


def connector(fake: FakeDynamics, **overrides: Any) -> DynamicsConnector:
    return DynamicsConnector(settings(fake, **overrides), settings=FAST)


def read_all(source: DynamicsConnector, stream: str = "contacts", **read: Any) -> pd.DataFrame:
    return pd.concat(list(source.read(stream, **read)), ignore_index=True)


def pages_of(fake: FakeDynamics) -> list[Any]:
    return fake.api.requests_to(COLLECTION)


# -- registry, sign-in and check ----------------------------------------------------------------------------
def test_registered_as_dynamics():
    assert REGISTRY["dynamics"] is DynamicsConnector and DynamicsConnector.pushes_down_cursor


def test_check_signs_in_with_client_credentials_for_the_environment(dynamics):
    result = connector(dynamics).check()
    assert result.ok, result.message
    assert dynamics.user_id in result.message and dynamics.organization_id in result.message
    (grant,) = dynamics.api.requests_to(dynamics.token_path())
    assert grant.header("content-type") == "application/x-www-form-urlencoded"
    assert grant.form() == {
        "grant_type": "client_credentials",
        "client_id": dynamics.client_id,
        "client_secret": dynamics.client_secret,
        "scope": f"{dynamics.environment_url}/.default",
    }
    (who,) = dynamics.api.requests_to(re.compile(r".*/WhoAmI"))
    assert who.path == "/api/data/v9.2/WhoAmI"
    assert who.header("authorization") == f"Bearer {dynamics.tokens.issued[0]}"
    assert who.header("odata-version") == "4.0" and who.header("odata-maxversion") == "4.0"


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"client_secret": "not-the-secret"}, "invalid_client: AADSTS7000215: Invalid client secret"),
        (
            {"tenant_id": "fabrikam.onmicrosoft.com"},
            "AADSTS90002: Tenant 'fabrikam.onmicrosoft.com' not found",
        ),
        ({"environment_url": "https://other.crm.dynamics.com"}, "AADSTS500011: The resource principal"),
    ],
)
def test_a_refused_sign_in_fails_the_check_with_entras_reason_and_no_retry(dynamics, overrides, expected):
    result = connector(dynamics, **overrides).check()
    assert not result.ok
    assert expected in result.message and "token endpoint refused the credentials" in result.message
    assert "not-the-secret" not in result.message
    assert len(dynamics.api.requests) == 1  # one token request, not retried, no data request


def test_settings_are_validated():
    valid = {
        "environment_url": "https://c.crm.dynamics.com",
        "tenant_id": "t",
        "client_id": "c",
        "client_secret": "s",
    }
    with pytest.raises(ValueError, match="https://"):
        DynamicsConnector({**valid, "environment_url": "contoso.crm.dynamics.com"})
    with pytest.raises(ValueError, match="less than or equal to 5000"):
        DynamicsConnector({**valid, "page_size": 10_000})
    assert DynamicsConnector(
        {**valid, "environment_url": "https://c.crm.dynamics.com/"}
    ).settings.environment_url == ("https://c.crm.dynamics.com")


# -- discover ---------------------------------------------------------------------------------------------
def test_discover_lists_the_configured_tables_with_columns_typed_from_metadata(dynamics):
    streams = {s.name: s for s in connector(dynamics).discover()}
    assert set(streams) == {"contacts", "accounts"}  # systemusers is not listed by default
    contacts = streams["contacts"]
    types = {f.name: f.type for f in contacts.fields}
    assert next(iter(types)) == "contactid"
    assert (types["modifiedon"], types["birthdate"], types["gendercode"]) == (
        "timestamp",
        "timestamp",
        "integer",
    )
    assert (types["donotemail"], types["creditlimit"], types["versionnumber"]) == (
        "boolean",
        "number",
        "integer",
    )
    assert types["_parentcustomerid_value"] == "string"  # a lookup, as the Web API names it
    # a picklist's label, a lookup's name and an image are attributes, not columns
    assert not {"gendercodename", "parentcustomeridname", "entityimage", "parentcustomerid"} & set(types)
    assert contacts.primary_key_candidates == ("contactid",)
    assert contacts.cursor_candidates == ("modifiedon", "createdon", "versionnumber")
    assert contacts.metadata["logical_name"] == "contact"
    sent = dynamics.api.requests_to("/api/data/v9.2/EntityDefinitions")[0]
    assert sent.params == {"$select": "LogicalName,EntitySetName,PrimaryIdAttribute"}
    attributes = dynamics.api.requests_to(
        "/api/data/v9.2/EntityDefinitions(LogicalName='contact')/Attributes"
    )
    assert attributes[0].params["$select"].startswith("LogicalName,AttributeType")


def test_every_table_when_none_are_named_and_a_clear_error_for_an_unknown_one(dynamics):
    assert {s.name for s in connector(dynamics, tables="").discover()} == {
        "contacts",
        "accounts",
        "systemusers",
    }
    with pytest.raises(StreamNotFoundError, match=r"no table 'lead'"):
        connector(dynamics, tables="contact, Lead").discover()


def test_standard_tables_suggest_their_mapping_and_identities(dynamics):
    from core.mapping.schema import ProfileSchema

    paths = set(ProfileSchema.default().paths)
    streams = {s.name: s for s in connector(dynamics).discover()}
    mapping = streams["contacts"].metadata[SUGGESTED_MAPPING]
    assert mapping["person.firstName"] == "firstname" and mapping["personalEmail.address"] == "emailaddress1"
    assert (mapping["crmId"], mapping["updatedAt"], mapping["mobilePhone.number"]) == (
        "contactid",
        "modifiedon",
        "mobilephone",
    )
    assert mapping["homeAddress.city"] == "address1_city" and "person.gender" not in mapping
    assert streams["contacts"].metadata[SUGGESTED_IDENTITIES] == {
        "crm_id": "crmId",
        "email": "personalEmail.address",
        "phone": "mobilePhone.number",
    }
    account = streams["accounts"].metadata
    assert account[SUGGESTED_MAPPING]["crmId"] == "accountid"
    assert account[SUGGESTED_IDENTITIES] == {"crm_id": "crmId", "email": "personalEmail.address"}
    fields = {f.name for f in streams["contacts"].fields}
    for stream in streams.values():
        assert set(stream.metadata[SUGGESTED_MAPPING]) <= paths
    assert set(mapping.values()) <= fields  # only columns the table offers
    labelled = {s.name: s for s in connector(dynamics, formatted_values=True).discover()}
    assert labelled["contacts"].metadata[SUGGESTED_MAPPING]["person.gender"] == "gendercode_formatted"
    assert not connector(dynamics, tables="systemuser").discover()[0].metadata.get(SUGGESTED_MAPPING)


# -- sample and reads ---------------------------------------------------------------------------------------
def test_sample_is_one_request_with_top(dynamics):
    frame = connector(dynamics).sample("contacts", 5)
    assert len(frame) == 5 and frame["contactid"].tolist() == [contact_id(n) for n in range(1, 6)]
    (sent,) = pages_of(dynamics)
    assert sent.params["$top"] == "5" and "$skiptoken" not in sent.params
    assert sent.params["$select"].split(",")[:3] == ["contactid", "firstname", "lastname"]
    assert "@odata.etag" not in frame.columns
    assert frame[ORIGIN_COLUMN].iloc[0] == f"contacts#{contact_id(1)}"


def test_a_full_read_follows_next_links_with_the_page_size_asked_for(dynamics):
    chunks = list(connector(dynamics, page_size=5).read("contacts", chunk_size=7))
    assert [len(c) for c in chunks] == [7, 7, 7, 2]
    whole = pd.concat(chunks, ignore_index=True)
    assert whole["contactid"].tolist() == [contact_id(n) for n in range(1, 24)]  # each once, by key
    sent = pages_of(dynamics)
    assert len(sent) == 5  # 23 rows, 5 a page
    assert {r.header("prefer") for r in sent} == {"odata.maxpagesize=5"}
    assert sent[0].params["$orderby"] == "contactid asc" and "$skiptoken" not in sent[0].params
    assert all(
        "$skiptoken" in r.params and r.params["$select"] == sent[0].params["$select"] for r in sent[1:]
    )
    assert str(whole["modifiedon"].dtype) == "datetime64[us, UTC]"
    assert whole.loc[0, "modifiedon"] == pd.Timestamp(START)


def test_an_incremental_read_pushes_the_cursor_down_and_keeps_its_order(dynamics):
    table = dynamics.tables["contact"]
    tied = START + timedelta(minutes=8)
    table.rows += [contact(n, modified=tied) for n in (99, 98, 97)]  # ties stored out of key order
    start = pd.Timestamp(START + timedelta(minutes=8))
    cursor = CursorRequest("modifiedon", start, ("contactid",))
    whole = read_all(connector(dynamics, page_size=4), cursor=cursor, chunk_size=5)
    expected = sorted(
        (r for r in table.rows if pd.Timestamp(r["modifiedon"]) >= start),
        key=lambda r: (r["modifiedon"], r["contactid"]),
    )
    assert whole["contactid"].tolist() == [r["contactid"] for r in expected]
    assert whole["modifiedon"].min() == start and whole["modifiedon"].is_monotonic_increasing
    first = pages_of(dynamics)[0]
    assert first.params["$filter"] == "modifiedon ge 2026-11-01T09:08:00Z"
    assert first.params["$orderby"] == "modifiedon asc,contactid asc"
    everything = read_all(connector(dynamics), cursor=CursorRequest("modifiedon", None, ("contactid",)))
    assert len(everything) == len(table.rows) and everything["modifiedon"].is_monotonic_increasing
    assert "$filter" not in pages_of(dynamics)[-1].params


def test_a_cursor_that_is_not_a_column_is_a_clear_error(dynamics):
    with pytest.raises(
        ConnectorError, match=r"^contacts: the cursor 'gendercode_formatted' is not a column.*modifiedon"
    ):
        list(connector(dynamics).read("contacts", cursor=CursorRequest("gendercode_formatted", None)))


def test_odata_literals():
    assert odata_literal(pd.Timestamp("2026-11-01T10:00:00+02:00"), "timestamp") == "2026-11-01T08:00:00Z"
    assert odata_literal("2026-11-01 10:00:00", "timestamp") == "2026-11-01T10:00:00Z"
    assert odata_literal(1042.0, "integer") == "1042" and odata_literal(1.5, "number") == "1.5"
    assert odata_literal("O'Neil", "string") == "'O''Neil'" and odata_literal(True, "boolean") == "true"


def test_formatted_values_come_as_formatted_columns(dynamics):
    whole = read_all(connector(dynamics, formatted_values=True, page_size=10))
    first = whole.iloc[0]
    assert (first["gendercode"], first["gendercode_formatted"]) == (2, "Female")
    assert first["_parentcustomerid_value_formatted"] == "Account 2"
    assert first["creditlimit_formatted"] == "$1,000.50" and first["donotemail_formatted"] == "No"
    assert not [c for c in whole.columns if "@" in c]
    preferences = {r.header("prefer") for r in pages_of(dynamics)}
    assert preferences == {
        'odata.include-annotations="OData.Community.Display.V1.FormattedValue",odata.maxpagesize=10'
    }
    plain = read_all(connector(dynamics))
    assert not [c for c in plain.columns if c.endswith("_formatted")]


# -- failures -----------------------------------------------------------------------------------------------
def test_a_token_expiring_mid_paging_is_refreshed_once_and_every_row_read_once(dynamics):
    chunks = connector(dynamics, page_size=5).read("contacts", chunk_size=5)
    first = next(chunks)
    dynamics.tokens.expire_after(0)  # the session ends between page 1 and page 2
    whole = pd.concat([first, *chunks], ignore_index=True)
    assert whole["contactid"].tolist() == [contact_id(n) for n in range(1, 24)]
    assert len(dynamics.api.requests_to(dynamics.token_path())) == 2
    sent = pages_of(dynamics)
    assert len(sent) == 6 and sent[1].params == sent[2].params  # page 2 refused, then read again
    assert [r.header("authorization") for r in sent[1:3]] == [
        f"Bearer {dynamics.tokens.issued[0]}",
        f"Bearer {dynamics.tokens.issued[1]}",
    ]


def test_service_protection_429_is_waited_out_as_retry_after_says(dynamics):
    dynamics.throttle(retry_after="1", after=1)  # page 2 is throttled once
    whole = read_all(connector(dynamics, page_size=10))
    assert len(whole) == 23 and whole["contactid"].is_unique
    sent = pages_of(dynamics)
    assert len(sent) == 4
    assert sent[2].at - sent[1].at >= 1.0  # the backoff alone is milliseconds
    assert sent[2].params == sent[1].params


def test_a_503_then_success(dynamics):
    dynamics.api.inject(Reply(503, "Service Unavailable"), path=COLLECTION, after=1)
    assert len(read_all(connector(dynamics, page_size=10))) == 23
    assert len(pages_of(dynamics)) == 4


def test_a_401_a_new_token_does_not_fix_is_an_authentication_error_without_a_retry_storm(dynamics):
    chunks = connector(dynamics, page_size=5).read("contacts", chunk_size=5)
    next(chunks)
    dynamics.tokens.reject_all = True  # the application user was removed from the environment
    with pytest.raises(AuthenticationError) as caught:
        next(chunks)
    message = caught.value.user_message
    assert re.match(
        r"contacts: the service refused the credentials \(HTTP 401, GET .*/v9\.2/contacts, page 2\)", message
    )
    assert len(dynamics.api.requests_to(dynamics.token_path())) == 2  # the first token, one refresh
    assert len(pages_of(dynamics)) == 3  # page 1, page 2 refused twice, nothing after


def test_a_malformed_page_is_a_format_error_naming_the_page(dynamics):
    dynamics.api.inject(Reply(200, b'{"value": [{"contactid": "c0'), path=COLLECTION, after=1)
    with pytest.raises(FormatError) as caught:
        read_all(connector(dynamics, page_size=5))
    assert re.match(
        r"contacts: GET http://127\.0\.0\.1:\d+/api/data/v9\.2/contacts, page 2 answered HTTP 200 "
        r"with a body that is not valid JSON",
        caught.value.user_message,
    )
    assert len(pages_of(dynamics)) == 2  # not retried


def test_odata_errors_are_clear_messages(dynamics):
    with pytest.raises(StreamNotFoundError, match=r"no table 'contactz'"):
        connector(dynamics).sample("contactz")
    dynamics.api.inject(
        Reply(400, odata_error("0x80060888", "Could not find a property named 'foo' on type 'contact'.")),
        path=COLLECTION,
    )
    with pytest.raises(ConnectorError) as caught:
        connector(dynamics).sample("contacts")
    assert caught.value.user_message.startswith("contacts: the service rejected the request (HTTP 400")
    assert caught.value.user_message.endswith(
        "0x80060888: Could not find a property named 'foo' on type 'contact'."
    )


# -- no secret in any message or log -------------------------------------------------------------------------
CANARY_SECRET = "CANARY-entra~secret+7Qz/9"


@pytest.mark.parametrize("scenario", ["wrong_secret", "refused_token", "failing_service", "malformed_page"])
def test_canary_no_secret_or_token_in_any_message_or_log(fake_api, caplog, scenario):
    caplog.set_level(logging.DEBUG)
    fake = standard_environment(fake_api, contacts=12, client_secret=CANARY_SECRET)
    fake.tokens.prefix = "CANARY-access-"
    secret = "wrong-CANARY-secret-1" if scenario == "wrong_secret" else CANARY_SECRET
    source = connector(fake, client_secret=secret, page_size=5)
    if scenario in ("refused_token", "failing_service"):
        status = 401 if scenario == "refused_token" else 503
        fake_api.inject(
            echo(status, lambda said: odata_error("Echo", said), CANARY_SECRET), path=COLLECTION, times=None
        )
    elif scenario == "malformed_page":
        fake_api.inject(Reply(200, b'{"value": ['), path=COLLECTION, after=1)
    texts = [source.check().message]
    with pytest.raises(ConnectorError) as caught:
        read_all(source)
    texts += [caught.value.user_message, "".join(traceback.format_exception(caught.value))]
    texts += [record.getMessage() for record in caplog.records]
    leaked = [t for t in texts if "CANARY" in t]
    assert leaked == []
    if scenario in ("refused_token", "failing_service"):
        assert fake.tokens.issued and caught.value.user_message.count("***") == 2  # echoed, masked


# -- a run killed mid-paging, then run again -----------------------------------------------------------
def test_a_run_killed_mid_paging_then_rerun_ingests_every_contact_exactly_once(workspace, fake_api):
    fake = standard_environment(fake_api, contacts=60)
    workspace.save_connection("crm", "dynamics", settings(fake, page_size=10))
    workspace.save_dataflow(
        "crm_contacts",
        {
            "source": {"connection": "crm", "stream": "contacts"},
            "sync": {"mode": "incremental", "cursor": "modifiedon", "primary_key": ["contactid"],
                     "chunk_size": 25},
            "mapping": {"crmId": "contactid", "personalEmail.address": "lower(emailaddress1)",
                        "person.firstName": "firstname", "updatedAt": "modifiedon"},
            "identities": {"email": "personalEmail.address", "crm_id": "crmId"},
        },
    )  # fmt: skip
    outage: list[Any] = []

    def fail_after_the_first_chunk(summary: Any) -> None:
        if summary.chunks == 1 and not outage:
            failure = Reply(400, odata_error("0x80040216", "An unexpected error occurred."))
            outage.append(fake_api.inject(failure, path=COLLECTION, times=None))

    broken = workspace.run("crm_contacts", progress=fail_after_the_first_chunk)
    assert broken.status == "failed" and "0x80040216" in (broken.error_message or "")
    assert (
        CANARY_SECRET not in (broken.error_message or "") and fake.client_secret not in broken.error_message
    )
    assert workspace.record_count("crm_contacts") == 25  # the committed chunk stays
    outage[0].times = 0  # the service is back

    rerun = workspace.run("crm_contacts")
    assert rerun.status == "succeeded", rerun.error_message
    # it resumed at the last committed modifiedon: contacts 24 and 25 share it and are not read twice
    last_committed = iso(START + timedelta(minutes=12))
    assert pages_of(fake)[-4].params["$filter"] == f"modifiedon ge {last_committed}"
    assert (rerun.received, rerun.ingested) == (35, 35)
    records = workspace.records("crm_contacts", limit=None)
    assert len(records) == 60 and records["_source_key"].is_unique
    assert set(records["crmId"]) == {contact_id(n) for n in range(1, 61)}

    fake.tables["contact"].rows[4]["modifiedon"] = iso(START + timedelta(hours=2))  # contact 5 changes
    again = workspace.run("crm_contacts")
    assert (again.received, again.ingested) == (1, 1) and workspace.record_count("crm_contacts") == 60
