"""The Adobe Campaign Standard connector, and the IMS sign-in it shares, against fakes on loopback."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest
from pydantic import ValidationError

from connectors import REGISTRY
from connectors._adobe_ims import AdobeImsAuth
from connectors.adobe_campaign import AdobeCampaignConnector, campaign_time
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
from tests.connectors.adobe_support import (
    CANARY_SCENARIOS,
    FAST,
    apply_example,
    assert_nothing_leaks,
    break_for_canary,
    documented_example,
    fail_after_the_first_chunk,
    followed_by,
    waited_for_retry_after,
)
from tests.connectors.adobe_support import (
    read_all as read_frames,
)
from tests.http_servers import Reply
from tests.http_servers.adobe import FakeCampaign, FakeIms, behind_ims, campaign_error, credential, throttle

START = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
ORG = "A1B2C3D4E5F6A7B8C9D0E1F2@AdobeOrg"
PROFILE_LIST = re.compile(r"/acme/campaign/profileAndServices/profile")


@dataclass
class Adobe:
    ims: FakeIms
    campaign: FakeCampaign


def profiles_with_ties(campaign: FakeCampaign, count: int) -> list[dict[str, Any]]:
    """Profiles modified two to a minute, stored out of lastModified order."""
    return [campaign.add_profile(number, START + timedelta(minutes=(number * 7 % count) // 2))
            for number in range(1, count + 1)]  # fmt: skip


@pytest.fixture
def adobe() -> Iterator[Adobe]:
    with behind_ims() as (ims, api):
        campaign = FakeCampaign(api, ims, big_table=10)  # a "large" table: no next link without forcing it
        members = profiles_with_ties(campaign, 23)
        campaign.add_service("News", members[:7])
        campaign.add_service("Offers", [])
        campaign.add_service("Events", members[5:16])
        yield Adobe(ims, campaign)


def settings(adobe: Adobe, **overrides: Any) -> dict[str, Any]:
    return {
        **credential(adobe.ims),
        "tenant": adobe.campaign.tenant,
        "base_url": adobe.campaign.api.base_url,
        "page_size": 5,
        **overrides,
    }


def connector(adobe: Adobe, **overrides: Any) -> AdobeCampaignConnector:
    return AdobeCampaignConnector(settings(adobe, **overrides), settings=FAST)


def read_all(source: AdobeCampaignConnector, stream: str = "profiles", **read: Any) -> pd.DataFrame:
    return read_frames(source, stream, **read)


def pkeys(rows: list[dict[str, Any]]) -> list[str]:
    return [row["PKey"] for row in rows]


# -- IMS and the gateway -------------------------------------------------------------------------------------
def test_registered_in_the_adobe_catalog_with_cursor_push_down():
    assert REGISTRY["adobe_campaign"] is AdobeCampaignConnector and AdobeCampaignConnector.pushes_down_cursor


def test_check_signs_in_to_ims_with_a_form_then_sends_the_token_and_the_api_key(adobe):
    result = connector(adobe).check()
    assert result.ok and result.message == "Connected to Adobe Campaign acme: profiles are readable."
    (grant,) = adobe.ims.grants()
    assert grant.header("content-type") == "application/x-www-form-urlencoded"
    assert grant.form() == {
        "grant_type": "client_credentials",
        "client_id": adobe.ims.client_id,
        "client_secret": adobe.ims.client_secret,
        "scope": "openid,AdobeID,additional_info.projectedProductContext",
    }
    (probe,) = adobe.campaign.list_requests()
    assert probe.path == "/acme/campaign/profileAndServices/profile" and probe.params == {"_lineCount": "1"}
    assert probe.header("authorization") == f"Bearer {adobe.ims.tokens.issued[0]}"
    assert probe.header("x-api-key") == adobe.ims.client_id and probe.header("x-gw-ims-org-id") is None


def test_the_org_id_and_the_credentials_scopes_go_where_adobe_wants_them(adobe):
    assert connector(adobe, org_id=ORG, scopes="openid, AdobeID,read_organizations").check().ok
    assert adobe.ims.grants()[0].form()["scope"] == "openid,AdobeID,read_organizations"
    assert adobe.campaign.list_requests()[0].header("x-gw-ims-org-id") == ORG
    auth = AdobeImsAuth("id", "secret", ["a", "b"], org_id=ORG, ims_url="https://ims.example/token")
    assert auth.token_request().form == {
        "grant_type": "client_credentials",
        "client_id": "id",
        "client_secret": "secret",
        "scope": "a,b",
    }
    assert auth.token_url == "https://ims.example/token" and "secret" in auth.secrets()


@pytest.mark.parametrize(
    ("overrides", "said"),
    [
        ({"client_secret": "not-the-secret"}, "(HTTP 401, POST http://127.0.0.1:"),
        ({"scopes": "openid,campaign_admin"}, "invalid_scope: Invalid scope"),
    ],
)
def test_a_refused_ims_sign_in_fails_the_check_with_the_reason_and_no_retry(adobe, overrides, said):
    result = connector(adobe, **overrides).check()
    assert not result.ok and said in result.message and "not-the-secret" not in result.message
    assert "the token endpoint refused the credentials" in result.message
    assert len(adobe.ims.grants()) == 1 and adobe.campaign.list_requests() == []


def test_one_token_serves_every_call_until_it_nearly_expires(adobe):
    source = connector(adobe)
    with source.open_client() as client:
        assert (
            client.token_payload()["expires_in"] == 86399 and client.token_payload()["token_type"] == "bearer"
        )
        for _ in range(3):
            client.get_json("profileAndServices/profile", object_name="profiles")
    assert len(adobe.ims.grants()) == 1
    assert {r.header("x-api-key") for r in adobe.campaign.list_requests()} == {adobe.ims.client_id}


@pytest.mark.parametrize(
    ("overrides", "complaint"),
    [
        ({"tenant": "acme/../other"}, "should match pattern"),
        ({"org_id": "acme"}, "should match pattern"),
        ({"ims_url": "ims-na1.adobelogin.com"}, "must be a URL starting with https://"),
        ({"modified_since_filter": "byDate?x=1"}, "should match pattern"),
        ({"client_secret": None}, "client_secret"),
    ],
)
def test_configuration_mistakes_are_named(adobe, overrides, complaint):
    with pytest.raises(ValidationError, match=re.escape(complaint)):
        AdobeCampaignConnector(settings(adobe, **overrides))


# -- discover and sample -------------------------------------------------------------------------------------
def test_discover_describes_the_three_streams_with_the_profile_mapping(adobe):
    profiles, services, subscriptions = connector(adobe).discover()
    assert (profiles.name, services.name, subscriptions.name) == ("profiles", "services", "subscriptions")
    types = {f.name: f.type for f in profiles.fields}
    assert types["lastModified"] == "timestamp" and types["birthDate"] == "date"
    assert types["location.city"] == "string" and types["subscriptions.href"] == "string"
    assert profiles.primary_key_candidates == ("PKey",) and profiles.cursor_candidates == (
        "lastModified",
        "created",
    )
    mapping = profiles.metadata[SUGGESTED_MAPPING]
    assert mapping["personalEmail.address"] == "email" and mapping["mobilePhone.number"] == "mobilePhone"
    assert mapping["homeAddress.postalCode"] == "location.zipCode" and mapping["updatedAt"] == "lastModified"
    assert "homePhone.number" not in mapping  # the instance's profiles have no phone: not suggested
    assert profiles.metadata[SUGGESTED_IDENTITIES] == {
        "email": "personalEmail.address",
        "phone": "mobilePhone.number",
    }
    assert subscriptions.cursor_candidates == ()  # subscriptions are read in full
    assert subscriptions.metadata[SUGGESTED_IDENTITIES] == {"email": "personalEmail.address"}
    assert {"service.name", "subscriber.email"} <= {f.name for f in subscriptions.fields}


def test_sample_is_one_page_of_line_count_records(adobe):
    sample = connector(adobe).sample("profiles", limit=3)
    assert sample["PKey"].tolist() == pkeys(adobe.campaign.profiles[:3])
    assert sample[ORIGIN_COLUMN].tolist()[0] == "profiles#@prof00001"
    (sent,) = adobe.campaign.list_requests()
    assert sent.params["_lineCount"] == "3"
    subscriptions = connector(adobe).sample("subscriptions", limit=4)
    assert subscriptions["subscriber.PKey"].tolist() == pkeys(adobe.campaign.profiles[:4])


def test_an_unknown_stream_names_the_ones_offered(adobe):
    with pytest.raises(StreamNotFoundError, match="no stream 'deliveries'; it offers: profiles, services"):
        connector(adobe).sample("deliveries")


# -- reads ---------------------------------------------------------------------------------------------------
def test_a_full_read_follows_next_href_with_forced_pagination(adobe):
    chunks = list(connector(adobe).read("profiles", chunk_size=7))
    assert [len(c) for c in chunks] == [7, 7, 7, 2]
    assert pd.concat(chunks)["PKey"].tolist() == pkeys(adobe.campaign.profiles)
    sent = adobe.campaign.list_requests()
    assert len(sent) == 5 and all(r.params["_forcePagination"] == "true" for r in sent)
    assert sent[0].params == {"_lineCount": "5", "_forcePagination": "true"}
    assert [r.params.get("_lineStart") is not None for r in sent] == [False, True, True, True, True]


def test_an_incremental_read_asks_for_last_modified_order_and_the_engine_start_is_kept(adobe):
    start = pd.Timestamp(START + timedelta(minutes=5))
    rows = read_all(connector(adobe), cursor=CursorRequest("lastModified", start, ("PKey",)), chunk_size=4)
    # no filter by date out of the box: every profile comes, oldest change first, for the engine to drop
    assert len(rows) == 23 and pd.to_datetime(rows["lastModified"], format="ISO8601").is_monotonic_increasing
    assert {r.params["_order"] for r in adobe.campaign.list_requests()} == {"lastModified asc"}


def test_a_custom_filter_sends_only_the_profiles_modified_since_the_start(adobe):
    adobe.campaign.custom_filter = ("byLastModified", "since")
    start = pd.Timestamp(START + timedelta(minutes=8))
    source = connector(adobe, modified_since_filter="byLastModified")
    rows = read_all(source, cursor=CursorRequest("lastModified", start, ("PKey",)))
    expected = sorted((p for p in adobe.campaign.profiles if p["lastModified"] >= campaign_time(start)),
                      key=lambda p: p["lastModified"])  # fmt: skip
    assert rows["lastModified"].tolist() == [p["lastModified"] for p in expected] and len(expected) == 7
    first = adobe.campaign.list_requests()[0]
    assert first.path == "/acme/campaign/profileAndServicesExt/profile/byLastModified"
    assert (
        first.params["since"] == "2026-11-01 09:08:00.000Z" and first.params["_order"] == "lastModified asc"
    )
    assert (
        len(read_all(source, cursor=CursorRequest("lastModified", None, ("PKey",)))) == 23
    )  # first run: all


def test_subscriptions_are_read_service_by_service_and_only_in_full(adobe):
    rows = read_all(connector(adobe, page_size=4), "subscriptions", chunk_size=6)
    assert rows["serviceName"].value_counts().to_dict() == {"News": 7, "Events": 11}
    assert rows["PKey"].is_unique and rows["subscriber.email"].str.endswith("@example.com").all()
    listed = adobe.campaign.list_requests("service")
    assert sum("/subscriptions" in r.path for r in listed) == 2 + 1 + 3  # News 2 pages, Offers 1, Events 3
    with pytest.raises(ConnectorError, match="subscriptions can only be read in full"):
        read_all(connector(adobe), "subscriptions", cursor=CursorRequest("created", None, ("PKey",)))


# -- failures ------------------------------------------------------------------------------------------------
def test_a_token_expiring_mid_paging_is_refreshed_once_and_every_profile_read_once(adobe):
    chunks = connector(adobe).read("profiles", chunk_size=5)
    first = next(chunks)
    adobe.ims.tokens.expire_after(0)
    rows = pd.concat([first, *chunks], ignore_index=True)
    assert rows["PKey"].tolist() == pkeys(adobe.campaign.profiles)
    assert len(adobe.ims.grants()) == 2
    sent = adobe.campaign.list_requests()
    assert len(sent) == 6 and sent[1].params == sent[2].params  # page 2, refused, then again
    assert [r.header("authorization") for r in sent[1:3]] == [
        f"Bearer {adobe.ims.tokens.issued[0]}",
        f"Bearer {adobe.ims.tokens.issued[1]}",
    ]
    assert {r.header("x-api-key") for r in sent} == {adobe.ims.client_id}


def test_a_401_a_new_token_does_not_fix_is_an_authentication_error_without_a_retry_storm(adobe):
    chunks = connector(adobe).read("profiles", chunk_size=5)
    next(chunks)
    adobe.ims.tokens.reject_all = True  # the credential lost its Campaign product profile
    with pytest.raises(AuthenticationError) as caught:
        next(chunks)
    assert re.match(
        r"profiles: the service refused the credentials \(HTTP 401, GET http://127\.0\.0\.1:\d+/acme/campaign/"
        r"profileAndServices/profile, page 2\): 401013: Oauth token is not valid$",
        caught.value.user_message,
    )
    assert len(adobe.ims.grants()) == 2 and len(adobe.campaign.list_requests()) == 3


def test_429_is_waited_out_as_retry_after_says_up_to_the_cap(adobe):
    throttle(adobe.campaign.api, PROFILE_LIST, retry_after="1", after=1)
    assert read_all(connector(adobe, page_size=10))["PKey"].tolist() == pkeys(adobe.campaign.profiles)
    sent = adobe.campaign.list_requests()
    assert len(sent) == 4 and sent[1].params == sent[2].params
    assert waited_for_retry_after(sent, 2)


def test_a_503_then_success(adobe):
    adobe.campaign.api.inject(
        Reply(503, {"code": 503, "message": "Service Unavailable"}), path=PROFILE_LIST, after=1
    )
    assert len(read_all(connector(adobe, page_size=10))) == 23
    assert len(adobe.campaign.list_requests()) == 4


def test_campaign_errors_are_clear_messages(adobe):
    with pytest.raises(ConnectorError) as caught:
        read_all(connector(adobe), cursor=CursorRequest("birthDate", None, ("PKey",)))
    assert caught.value.user_message.startswith("profiles: the service rejected the request (HTTP 400")
    assert caught.value.user_message.endswith("400: The field 'birthDate' cannot be sorted.")


def test_a_malformed_page_is_a_format_error_naming_the_page(adobe):
    adobe.campaign.api.inject(Reply(200, b'{"content": [{"PKey": '), path=PROFILE_LIST, after=2)
    with pytest.raises(FormatError) as caught:
        read_all(connector(adobe))
    assert re.match(
        r"profiles: GET http://127\.0\.0\.1:\d+/acme/campaign/profileAndServices/profile, page 3 "
        r"answered HTTP 200 with a body that is not valid JSON",
        caught.value.user_message,
    )
    assert len(adobe.campaign.list_requests()) == 3


# -- no secret in any message or log -------------------------------------------------------------------------
CANARY_SECRET = "CANARY-ims/secret+Zq9"


@pytest.mark.parametrize("scenario", CANARY_SCENARIOS)
def test_canary_no_secret_or_token_in_any_message_or_log(caplog, scenario):
    caplog.set_level(logging.DEBUG)
    with behind_ims(client_secret=CANARY_SECRET) as (ims, api):
        ims.tokens.prefix = "CANARY-access-"
        campaign = FakeCampaign(api, ims)
        profiles_with_ties(campaign, 12)
        secret = "wrong-CANARY-secret-1" if scenario == "wrong_secret" else CANARY_SECRET
        source = connector(Adobe(ims, campaign), client_secret=secret)
        body = campaign_error(500, "500", "").body
        careless = lambda said: {"error": {**body["error"], "message": said}}  # noqa: E731
        break_for_canary(scenario, api, PROFILE_LIST, careless, CANARY_SECRET, b'{"content": [')
        checked = source.check().message
        with pytest.raises(ConnectorError) as caught:
            read_all(source)
    assert_nothing_leaks(scenario, checked, caught, caplog, ims.tokens.issued)


# -- dataflows: a run killed mid-paging, then run again -----------------------------------------------------
@pytest.mark.parametrize("custom_filter", [False, True], ids=["ordered_only", "custom_filter"])
def test_a_run_killed_mid_paging_then_rerun_ingests_every_profile_exactly_once(
    workspace, adobe, custom_filter
):
    campaign = adobe.campaign
    campaign.profiles.clear()
    profiles_with_ties(campaign, 40)
    if custom_filter:
        campaign.custom_filter = ("byLastModified", "since")
    config = settings(adobe, page_size=10, modified_since_filter="byLastModified" if custom_filter else None)
    workspace.save_connection("campaign", "adobe_campaign", config)
    workspace.save_dataflow(
        "members",
        {
            "source": {"connection": "campaign", "stream": "profiles"},
            "sync": {"mode": "incremental", "cursor": "lastModified", "primary_key": ["PKey"],
                     "chunk_size": 10},
            "mapping": {"personalEmail.address": "email", "mobilePhone.number": "mobilePhone",
                        "updatedAt": "lastModified"},
            "identities": {"email": "personalEmail.address", "phone": "mobilePhone.number"},
        },
    )  # fmt: skip
    failure = campaign_error(400, "XTK-170006", "Unable to parse the request.")
    progress, outage = fail_after_the_first_chunk(campaign.api, re.compile(".*/profile.*"), failure)
    broken = workspace.run("members", progress=progress)
    assert broken.status == "failed" and "XTK-170006: Unable to parse the request." in (
        broken.error_message or ""
    )
    assert workspace.record_count("members") == 10
    outage[0].times = 0
    before = len(campaign.list_requests())

    rerun = workspace.run("members")
    assert rerun.status == "succeeded", rerun.error_message
    records = workspace.records("members", limit=None)
    assert len(records) == 40 and records["_source_key"].is_unique
    assert set(records["_source_key"]) == set(pkeys(campaign.profiles))
    # the first chunk ended on 09:04 (two profiles share each minute): both were read, so the rerun drops them
    assert (rerun.received, rerun.ingested) == (30, 30)
    if custom_filter:
        resumed = [r for r in campaign.list_requests()[before:] if "since" in r.params]
        assert resumed[0].params["since"] == "2026-11-01 09:04:00.000Z"

    changed = campaign.profiles[3]
    changed["lastModified"] = campaign_time(START + timedelta(hours=2))
    again = workspace.run("members")
    assert (again.received, again.ingested) == (1, 1) and workspace.record_count("members") == 40
    assert adobe.ims.client_secret not in str(workspace.connection_spec("campaign"))


def test_the_documented_yaml_example_applies_and_runs(workspace, adobe, tmp_path, monkeypatch):
    adobe.campaign.custom_filter = ("byLastModified", "since")
    monkeypatch.setenv("ADOBE_CLIENT_SECRET", adobe.ims.client_secret)
    hosts = followed_by("tenant: acme", base_url=adobe.campaign.api.base_url, ims_url=adobe.ims.token_url)
    example = documented_example("Adobe Campaign", hosts)
    applied = apply_example(workspace, tmp_path, example)
    assert applied == {"connections": ["campaign"], "dataflows": ["campaign_profiles"]}
    run = workspace.run("campaign_profiles")
    assert (run.status, run.ingested) == ("succeeded", 23), run.error_message
    adobe.campaign.profiles[0]["lastModified"] = campaign_time(START + timedelta(days=1))
    again = workspace.run("campaign_profiles")
    assert (again.status, again.received) == ("succeeded", 1)
    assert adobe.campaign.list_requests()[-1].path.endswith("/profileAndServicesExt/profile/byLastModified")
