"""The Marketing Cloud connector against fake auth and REST hosts on loopback."""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
import pytest

from connectors import REGISTRY
from connectors._http import HttpSettings
from connectors.base import (
    ORIGIN_COLUMN,
    AuthenticationError,
    ConnectorError,
    CursorRequest,
    FormatError,
    StreamNotFoundError,
)
from connectors.marketing_cloud import MarketingCloudConnector, flatten, rowset_literal
from tests.http_servers import FakeApi, Reply
from tests.http_servers.echo import echo
from tests.http_servers.marketing_cloud import (
    ROWSET,
    START,
    DataExtension,
    FakeMarketingCloud,
    rest_error,
    subscriber,
    subscribers,
)

FAST = HttpSettings(backoff_initial_s=0.001, backoff_max_s=0.01)
KEY = "Newsletter_Subscribers"
SUBDOMAIN = "mc563885gzs27c5t9-63k636ttgm"


@pytest.fixture
def mc() -> Iterator[FakeMarketingCloud]:
    with FakeApi() as auth, FakeApi() as rest:
        fake = FakeMarketingCloud(auth, rest)
        fake.add(subscribers(23))
        yield fake


def settings(fake: FakeMarketingCloud, **overrides: Any) -> dict[str, Any]:
    return {
        "subdomain": SUBDOMAIN,
        "client_id": fake.client_id,
        "client_secret": fake.client_secret,
        "account_id": fake.account_id,
        "auth_base_url": fake.auth.base_url,
        "data_extensions": KEY,
        **overrides,
    }


def connector(fake: FakeMarketingCloud, **overrides: Any) -> MarketingCloudConnector:
    return MarketingCloudConnector(settings(fake, **overrides), settings=FAST)


def read_all(source: MarketingCloudConnector, stream: str = KEY, **read: Any) -> pd.DataFrame:
    return pd.concat(list(source.read(stream, **read)), ignore_index=True)


def keys(count: int, first: int = 1) -> list[str]:
    return [f"SK{n:05d}" for n in range(first, first + count)]


# -- registry, sign-in and check ----------------------------------------------------------------------------
def test_registered_as_marketing_cloud():
    assert (
        REGISTRY["marketing_cloud"] is MarketingCloudConnector and MarketingCloudConnector.pushes_down_cursor
    )


def test_check_asks_v2_token_with_a_json_body_then_reads_from_the_rest_instance(mc):
    result = connector(mc).check()
    assert result.ok, result.message
    assert (
        f"MID {mc.account_id}" in result.message
        and "'Newsletter_Subscribers' holds 23 rows" in result.message
    )
    (grant,) = mc.auth.requests_to("/v2/token")
    assert grant.header("content-type") == "application/json"
    assert grant.json() == {
        "grant_type": "client_credentials",
        "client_id": mc.client_id,
        "client_secret": mc.client_secret,
        "account_id": mc.account_id,
    }
    (probe,) = mc.rowset_requests()  # on the REST host the token named, not the auth host
    assert probe.header("authorization") == f"Bearer {mc.tokens.issued[0]}"
    assert probe.params == {"$page": "1", "$pageSize": "1"}
    without_mid = connector(mc, account_id=None)
    assert without_mid.check().ok and "account_id" not in mc.auth.requests_to("/v2/token")[-1].json()


def test_the_auth_host_defaults_to_the_tenants_subdomain():
    source = MarketingCloudConnector(
        {"subdomain": SUBDOMAIN, "client_id": "c", "client_secret": "s", "data_extensions": "A, B ,A"}
    )
    assert source.settings.token_url() == f"https://{SUBDOMAIN}.auth.marketingcloudapis.com/v2/token"
    assert source.settings.external_keys() == ["A", "B"]
    for wrong in ({"data_extensions": " , "}, {"subdomain": "mc.evil.com/x"}, {"account_id": "MID-1"}):
        with pytest.raises(ValueError):
            MarketingCloudConnector(
                {
                    "subdomain": SUBDOMAIN,
                    "client_id": "c",
                    "client_secret": "s",
                    "data_extensions": "A",
                    **wrong,
                }
            )


def test_the_token_is_cached_until_it_nearly_expires(mc):
    source = connector(mc)
    with source.open_client() as client:
        assert client.token_payload()["expires_in"] == 1079  # about 18 minutes
        for _ in range(3):
            client.get_json(f"data/v1/customobjectdata/key/{KEY}/rowset", object_name=KEY)
    assert len(mc.auth.requests_to("/v2/token")) == 1


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"client_secret": "not-the-secret"}, "invalid_client: Invalid client ID or client secret."),
        ({"account_id": "999"}, "unauthorized_client: The client is not authorized for that account."),
    ],
)
def test_a_refused_sign_in_fails_the_check_with_the_reason_and_no_retry(mc, overrides, expected):
    result = connector(mc, **overrides).check()
    assert not result.ok and expected in result.message and "HTTP 401" in result.message
    assert "not-the-secret" not in result.message
    assert len(mc.auth.requests) == 1 and mc.rowset_requests() == []


# -- discover and sample -------------------------------------------------------------------------------------
def test_discover_describes_each_configured_data_extension_from_its_first_rows(mc):
    mc.add(DataExtension("Loyalty-Members 2026", {"MemberId": "Text", "JoinedOn": "Date"}, (),
                         [{"MemberId": "M1", "JoinedOn": datetime(2025, 3, 1)}]))  # fmt: skip
    streams = connector(mc, data_extensions=f"{KEY},Loyalty-Members 2026").discover()
    assert [s.name for s in streams] == [KEY, "Loyalty-Members 2026"]
    subscribers_, members = streams
    types = {f.name: f.type for f in subscribers_.fields}
    assert types == {
        "subscriberkey": "string",
        "emailaddress": "string",
        "firstname": "string",
        "points": "integer",
        "optin": "boolean",
        "modifieddate": "timestamp",
    }
    assert subscribers_.primary_key_candidates == ("subscriberkey",)  # the rowset's keys
    assert subscribers_.cursor_candidates == ("modifieddate",)
    assert subscribers_.metadata == {"external_key": KEY, "row_count": 23}
    assert members.primary_key_candidates == ("memberid",) and members.cursor_candidates == ("joinedon",)
    assert mc.rowset_requests()[-1].path == "/data/v1/customobjectdata/key/Loyalty-Members%202026/rowset"


def test_an_unknown_data_extension_is_a_stream_not_found_error_naming_it(mc):
    with pytest.raises(StreamNotFoundError) as caught:
        connector(mc, data_extensions="Nope").discover()
    assert caught.value.user_message.startswith("Nope: not found (HTTP 404")
    assert "10000: Data extension with external key 'Nope' was not found." in caught.value.user_message


def test_sample_is_page_one_with_keys_and_values_flattened(mc):
    frame = connector(mc).sample(KEY, 5)
    assert frame["subscriberkey"].tolist() == keys(5)
    assert list(frame.columns[:6]) == [
        "subscriberkey",
        "emailaddress",
        "firstname",
        "points",
        "optin",
        "modifieddate",
    ]
    assert frame.loc[0, "modifieddate"] == pd.Timestamp(START) and frame.loc[0, "firstname"] == "Zoé1"
    assert frame[ORIGIN_COLUMN].tolist()[:2] == [f"{KEY}#1", f"{KEY}#2"]  # rows of the sample
    (sent,) = mc.rowset_requests()
    assert sent.params == {"$page": "1", "$pageSize": "5"}


def test_flatten_reads_empty_text_as_null_and_types_dates():
    frame = pd.DataFrame(
        {
            "keys.id": ["1", "2", "3"],
            "values.when": ["11/1/2026 10:00:00 AM", "", "12/24/2026 11:30:05 PM"],
            "values.note": ["", "a", "b"],
            "values.mixed": ["11/1/2026 10:00:00 AM", "later", ""],
        },
        dtype="string",
    )
    flat = flatten(frame)
    assert list(flat.columns) == ["id", "when", "note", "mixed"]
    assert flat["when"].tolist()[0] == pd.Timestamp("2026-11-01 10:00:00") and pd.isna(flat["when"][1])
    assert flat["when"].tolist()[2] == pd.Timestamp("2026-12-24 23:30:05")
    assert flat["note"].isna().tolist() == [True, False, False] and flat["mixed"].dtype == "string"


# -- reads ---------------------------------------------------------------------------------------------------
def test_a_full_read_pages_until_links_next_is_gone(mc):
    chunks = list(connector(mc, page_size=5).read(KEY, chunk_size=7))
    assert [len(c) for c in chunks] == [7, 7, 7, 2]
    whole = pd.concat(chunks, ignore_index=True)
    assert whole["subscriberkey"].tolist() == keys(23)
    sent = mc.rowset_requests()
    assert [r.params["$page"] for r in sent] == ["1", "2", "3", "4", "5"]  # no empty page 6
    assert {r.params["$pageSize"] for r in sent} == {"5"} and "$filter" not in sent[0].params
    assert whole[ORIGIN_COLUMN].tolist()[:2] == [f"{KEY}#1", f"{KEY}#2"]  # no key without a cursor request


def test_an_incremental_read_filters_gte_the_start_and_orders_by_cursor_then_key(mc):
    extension = mc.data_extensions[KEY.lower()]
    tied = START + timedelta(minutes=5)
    extension.rows += [subscriber(n, modified=tied) for n in (99, 98, 97)]  # ties stored out of key order
    cursor = CursorRequest("modifieddate", pd.Timestamp(tied, tz="UTC"), ("subscriberkey",))
    whole = read_all(connector(mc, page_size=4), cursor=cursor, chunk_size=5)
    expected = sorted((r for r in extension.rows if r["ModifiedDate"] >= tied),
                      key=lambda r: (r["ModifiedDate"], r["SubscriberKey"]))  # fmt: skip
    assert whole["subscriberkey"].tolist() == [r["SubscriberKey"] for r in expected]
    assert whole["modifieddate"].min() == pd.Timestamp(tied) and whole["modifieddate"].is_monotonic_increasing
    assert whole[ORIGIN_COLUMN].iloc[0] == f"{KEY}#{expected[0]['SubscriberKey']}"
    first = mc.rowset_requests()[0]
    assert first.params["$filter"] == "modifieddate gte '2026-11-01T09:05:00'"
    assert first.params["$orderBy"] == "modifieddate asc,subscriberkey asc"
    everything = read_all(connector(mc), cursor=CursorRequest("modifieddate", None, ("subscriberkey",)))
    assert len(everything) == len(extension.rows) and everything["modifieddate"].is_monotonic_increasing


def test_rowset_literals_keep_the_wall_clock_time_they_were_read_in():
    assert rowset_literal(pd.Timestamp("2026-11-01T10:00:00Z")) == "'2026-11-01T10:00:00'"
    assert rowset_literal(pd.Timestamp("2026-11-01T10:00:00")) == "'2026-11-01T10:00:00'"
    assert rowset_literal(12.0) == "12" and rowset_literal(1.5) == "1.5"
    assert rowset_literal("O'Hara") == "'O''Hara'"


# -- failures -----------------------------------------------------------------------------------------------
def test_a_token_expiring_mid_paging_is_refreshed_once_and_every_row_read_once(mc):
    chunks = connector(mc, page_size=5).read(KEY, chunk_size=5)
    first = next(chunks)
    mc.tokens.expire_after(0)  # the 20-minute token runs out between page 1 and page 2
    whole = pd.concat([first, *chunks], ignore_index=True)
    assert whole["subscriberkey"].tolist() == keys(23)
    assert len(mc.auth.requests_to("/v2/token")) == 2
    sent = mc.rowset_requests()
    assert [r.params["$page"] for r in sent] == ["1", "2", "2", "3", "4", "5"]
    assert [r.header("authorization") for r in sent[1:3]] == [
        f"Bearer {mc.tokens.issued[0]}",
        f"Bearer {mc.tokens.issued[1]}",
    ]


def test_429_is_waited_out_as_retry_after_says(mc):
    mc.throttle(retry_after="1", after=1)
    assert read_all(connector(mc, page_size=10))["subscriberkey"].tolist() == keys(23)
    sent = mc.rowset_requests()
    assert [r.params["$page"] for r in sent] == ["1", "2", "2", "3"]
    assert sent[2].at - sent[1].at >= 1.0


def test_a_503_then_success(mc):
    mc.rest.inject(Reply(503, "<html>Service Unavailable</html>"), path=ROWSET, after=1)
    assert len(read_all(connector(mc, page_size=10))) == 23
    assert len(mc.rowset_requests()) == 4


def test_a_401_a_new_token_does_not_fix_is_an_authentication_error_without_a_retry_storm(mc):
    chunks = connector(mc, page_size=5).read(KEY, chunk_size=5)
    next(chunks)
    mc.tokens.reject_all = True  # the installed package lost its data extension permission
    with pytest.raises(AuthenticationError) as caught:
        next(chunks)
    assert re.match(
        rf"{KEY}: the service refused the credentials \(HTTP 401, GET .*/rowset, page 2\): "
        r"0: Not Authorized$",
        caught.value.user_message,
    )
    assert len(mc.auth.requests_to("/v2/token")) == 2
    assert len(mc.rowset_requests()) == 3


def test_a_malformed_page_is_a_format_error_naming_the_page(mc):
    mc.rest.inject(Reply(200, b'{"count": 23, "items": [{"keys": '), path=ROWSET, after=2)
    with pytest.raises(FormatError) as caught:
        read_all(connector(mc, page_size=5))
    assert re.match(
        rf"{KEY}: GET http://127\.0\.0\.1:\d+/data/v1/customobjectdata/key/{KEY}/rowset, page 3 "
        r"answered HTTP 200 with a body that is not valid JSON",
        caught.value.user_message,
    )
    assert len(mc.rowset_requests()) == 3


def test_rest_errors_are_clear_messages(mc):
    with pytest.raises(ConnectorError) as caught:
        list(connector(mc).read(KEY, cursor=CursorRequest("NoSuchField", "x")))
    message = caught.value.user_message
    assert message.startswith(f"{KEY}: the service rejected the request (HTTP 400")
    assert message.endswith(f"10005: Field 'NoSuchField' is not a field of data extension '{KEY}'.")


# -- no secret in any message or log -------------------------------------------------------------------------
CANARY_SECRET = "CANARY-mc/secret+Zq9"


@pytest.mark.parametrize("scenario", ["wrong_secret", "refused_token", "failing_service", "malformed_page"])
def test_canary_no_secret_or_token_in_any_message_or_log(caplog, scenario):
    caplog.set_level(logging.DEBUG)
    with FakeApi() as auth, FakeApi() as rest:
        fake = FakeMarketingCloud(auth, rest, client_secret=CANARY_SECRET)
        fake.add(subscribers(12))
        fake.tokens.prefix = "CANARY-access-"
        secret = "wrong-CANARY-secret-1" if scenario == "wrong_secret" else CANARY_SECRET
        source = connector(fake, client_secret=secret, page_size=5)
        if scenario in ("refused_token", "failing_service"):
            status = 401 if scenario == "refused_token" else 503
            careless = echo(status, lambda said: rest_error(said, 10000), CANARY_SECRET)
            fake.rest.inject(careless, path=ROWSET, times=None, after=1)  # the check's probe passes
        elif scenario == "malformed_page":
            fake.rest.inject(Reply(200, b'{"items": ['), path=ROWSET, after=2)
        texts = [source.check().message]
        with pytest.raises(ConnectorError) as caught:
            read_all(source)
    texts += [caught.value.user_message, "".join(traceback.format_exception(caught.value))]
    texts += [record.getMessage() for record in caplog.records]
    assert [t for t in texts if "CANARY" in t] == []
    if scenario in ("refused_token", "failing_service"):
        assert fake.tokens.issued and caught.value.user_message.count("***") == 2  # echoed, masked


# -- a run killed mid-paging, then run again -----------------------------------------------------------
def test_a_run_killed_mid_paging_then_rerun_ingests_every_subscriber_exactly_once(workspace, mc):
    mc.add(subscribers(60))
    workspace.save_connection("sfmc", "marketing_cloud", settings(mc, page_size=10))
    workspace.save_dataflow(
        "newsletter",
        {
            "source": {"connection": "sfmc", "stream": KEY},
            "sync": {"mode": "incremental", "cursor": "modifieddate", "primary_key": ["subscriberkey"],
                     "chunk_size": 25},
            "mapping": {"crmId": "subscriberkey", "personalEmail.address": "emailaddress",
                        "loyalty.points": "to_int(points)", "updatedAt": "modifieddate"},
            "identities": {"email": "personalEmail.address"},
        },
    )  # fmt: skip
    outage: list[Any] = []

    def fail_after_the_first_chunk(summary: Any) -> None:
        if summary.chunks == 1 and not outage:
            failure = Reply(400, rest_error("Generic exception.", 10000))
            outage.append(mc.rest.inject(failure, path=ROWSET, times=None))

    broken = workspace.run("newsletter", progress=fail_after_the_first_chunk)
    assert broken.status == "failed" and "Generic exception" in (broken.error_message or "")
    assert mc.client_secret not in (broken.error_message or "")
    assert workspace.record_count("newsletter") == 25
    outage[0].times = 0

    rerun = workspace.run("newsletter")
    assert rerun.status == "succeeded", rerun.error_message
    # it resumed at the last committed date: subscribers 24 and 25 share it and are not read twice
    assert mc.rowset_requests()[-4].params["$filter"] == "modifieddate gte '2026-11-01T09:12:00'"
    assert (rerun.received, rerun.ingested) == (35, 35)
    records = workspace.records("newsletter", limit=None)
    assert len(records) == 60 and records["_source_key"].is_unique
    assert set(records["crmId"]) == set(keys(60))

    mc.data_extensions[KEY.lower()].rows[4]["ModifiedDate"] = START + timedelta(hours=2)
    again = workspace.run("newsletter")
    assert (again.received, again.ingested) == (1, 1) and workspace.record_count("newsletter") == 60
