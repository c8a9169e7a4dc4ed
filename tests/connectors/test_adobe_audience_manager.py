"""The Adobe Audience Manager connector against fake IMS and REST hosts on loopback."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pytest
from pydantic import ValidationError

from connectors import REGISTRY
from connectors.adobe_audience_manager import AudienceManagerConnector
from connectors.base import (
    ORIGIN_COLUMN,
    AuthenticationError,
    ConnectorError,
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
from tests.http_servers.adobe import (
    AAM_START_MS,
    FakeAudienceManager,
    FakeIms,
    behind_ims,
    credential,
    throttle,
)

TRAITS = re.compile(r"/v1/traits/?")
MINUTE_MS = 60_000


@dataclass
class Adobe:
    ims: FakeIms
    aam: FakeAudienceManager


def fill(aam: FakeAudienceManager, traits: int, segments: int) -> None:
    """Traits stored out of sid order, two changed in each minute; segments in order."""
    for n in range(traits, 0, -1):
        aam.add_trait(1000 + n, AAM_START_MS + (n // 2) * MINUTE_MS)
    for n in range(1, segments + 1):
        aam.add_segment(500 + n, AAM_START_MS + n * MINUTE_MS)


@pytest.fixture
def adobe() -> Iterator[Adobe]:
    with behind_ims() as (ims, api):
        aam = FakeAudienceManager(api, ims)
        fill(aam, 23, 7)
        yield Adobe(ims, aam)


def settings(adobe: Adobe, **overrides: Any) -> dict[str, Any]:
    return {
        **credential(adobe.ims),
        "base_url": adobe.aam.api.base_url,
        "page_size": 5,
        **overrides,
    }


def connector(adobe: Adobe, **overrides: Any) -> AudienceManagerConnector:
    return AudienceManagerConnector(settings(adobe, **overrides), settings=FAST)


def read_all(source: AudienceManagerConnector, stream: str = "traits", **read: Any) -> pd.DataFrame:
    return read_frames(source, stream, **read)


def trait_ids(count: int) -> list[int]:
    return [1000 + n for n in range(1, count + 1)]


# -- registry, sign-in, check -------------------------------------------------------------------------------
def test_registered_in_the_adobe_catalog_without_cursor_push_down():
    assert REGISTRY["adobe_audience_manager"] is AudienceManagerConnector
    assert not AudienceManagerConnector.pushes_down_cursor  # the API cannot filter by updateTime


def test_check_signs_in_to_ims_then_counts_the_traits_with_the_api_key(adobe):
    result = connector(adobe, scopes="openid,AdobeID,audiencemanager_api").check()
    assert result.ok and result.message == "Connected to Adobe Audience Manager: 23 traits."
    (grant,) = adobe.ims.grants()
    assert grant.form() == {
        "grant_type": "client_credentials",
        "client_id": adobe.ims.client_id,
        "client_secret": adobe.ims.client_secret,
        "scope": "openid,AdobeID,audiencemanager_api",
    }
    (probe,) = adobe.aam.list_requests()
    assert probe.path == "/v1/traits/" and probe.params == {"page": "0", "pageSize": "1"}
    assert probe.header("authorization") == f"Bearer {adobe.ims.tokens.issued[0]}"
    assert probe.header("x-api-key") == adobe.ims.client_id


def test_a_refused_sign_in_fails_the_check_without_calling_the_api(adobe):
    result = connector(adobe, client_secret="not-the-secret").check()
    assert not result.ok and "not-the-secret" not in result.message
    assert result.message.endswith("invalid_client: invalid client_secret parameter")
    assert len(adobe.ims.grants()) == 1 and adobe.aam.list_requests() == []


def test_the_default_host_is_the_ims_one_and_mistakes_are_named(adobe):
    config = AudienceManagerConnector({"client_id": "id", "client_secret": "s"}).settings
    assert config.api_url() == "https://aam.adobe.io/v1/"
    assert config.ims_url == "https://ims-na1.adobelogin.com/ims/token/v3"
    with pytest.raises(ValidationError, match="less than or equal to 5000"):
        AudienceManagerConnector(settings(adobe, page_size=10_000))
    with pytest.raises(ValidationError, match="must be a URL starting with https://"):
        AudienceManagerConnector(settings(adobe, base_url="aam.adobe.io"))


# -- discover and sample -------------------------------------------------------------------------------------
def test_discover_describes_traits_and_segments_keyed_by_sid(adobe):
    traits, segments = connector(adobe).discover()
    assert (traits.name, segments.name) == ("traits", "segments")
    types = {f.name: f.type for f in traits.fields}
    assert types["sid"] == "integer" and types["updateTime"] == "integer" and types["traitRule"] == "string"
    assert traits.primary_key_candidates == ("sid",) and traits.cursor_candidates == (
        "updateTime",
        "createTime",
    )
    assert "segmentRule" in {f.name for f in segments.fields}
    assert traits.metadata == {}  # definitions, not people: no profile mapping


def test_sample_is_page_zero_by_sid(adobe):
    sample = connector(adobe).sample("traits", limit=3)
    assert sample["sid"].tolist() == trait_ids(3) and sample[ORIGIN_COLUMN].tolist()[0] == "traits#1001"
    (sent,) = adobe.aam.list_requests()
    assert sent.params == {"sortBy": "sid", "page": "0", "pageSize": "3"}


def test_an_unknown_stream_names_the_ones_offered(adobe):
    with pytest.raises(StreamNotFoundError, match="no stream 'models'; it offers: traits, segments"):
        connector(adobe).sample("models")


# -- reads ---------------------------------------------------------------------------------------------------
def test_a_full_read_pages_from_zero_until_a_short_page(adobe):
    chunks = list(connector(adobe).read("traits", chunk_size=7))
    assert [len(c) for c in chunks] == [7, 7, 7, 2]
    assert pd.concat(chunks)["sid"].tolist() == trait_ids(23)
    sent = adobe.aam.list_requests()
    assert [r.params["page"] for r in sent] == ["0", "1", "2", "3", "4"]  # page 4 holds 3: the last
    assert {r.params["pageSize"] for r in sent} == {"5"} and {r.params["sortBy"] for r in sent} == {"sid"}


def test_a_full_last_page_is_followed_by_one_empty_page(adobe):
    rows = read_all(connector(adobe, page_size=7), "segments")
    assert rows["sid"].tolist() == [501, 502, 503, 504, 505, 506, 507]
    assert [r.params["page"] for r in adobe.aam.list_requests("segments")] == ["0", "1"]


def test_metrics_come_when_asked_for(adobe):
    rows = read_all(connector(adobe, include_metrics=True))
    assert {"uniques1Day", "uniques30Day"} <= set(rows.columns)
    assert {r.params.get("includeMetrics") for r in adobe.aam.list_requests()} == {"true"}
    assert "uniques1Day" not in read_all(connector(adobe)).columns


# -- failures ------------------------------------------------------------------------------------------------
def test_a_token_expiring_mid_paging_is_refreshed_once_and_every_trait_read_once(adobe):
    chunks = connector(adobe).read("traits", chunk_size=5)
    first = next(chunks)
    adobe.ims.tokens.expire_after(0)
    rows = pd.concat([first, *chunks], ignore_index=True)
    assert rows["sid"].tolist() == trait_ids(23)
    assert len(adobe.ims.grants()) == 2
    assert [r.params["page"] for r in adobe.aam.list_requests()] == ["0", "1", "1", "2", "3", "4"]
    assert {r.header("x-api-key") for r in adobe.aam.list_requests()} == {adobe.ims.client_id}


def test_a_401_a_new_token_does_not_fix_is_an_authentication_error_without_a_retry_storm(adobe):
    chunks = connector(adobe).read("traits", chunk_size=5)
    next(chunks)
    adobe.ims.tokens.reject_all = True
    with pytest.raises(AuthenticationError) as caught:
        next(chunks)
    assert re.match(
        r"traits: the service refused the credentials \(HTTP 401, GET http://127\.0\.0\.1:\d+/v1/traits/, "
        r"page 2\): 401013: Oauth token is not valid$",
        caught.value.user_message,
    )
    assert len(adobe.ims.grants()) == 2 and len(adobe.aam.list_requests()) == 3


def test_429_is_waited_out_as_retry_after_says_up_to_the_cap(adobe):
    throttle(adobe.aam.api, TRAITS, retry_after="1", after=1)
    assert read_all(connector(adobe, page_size=10))["sid"].tolist() == trait_ids(23)
    sent = adobe.aam.list_requests()
    assert [r.params["page"] for r in sent] == ["0", "1", "1", "2"]
    assert waited_for_retry_after(sent, 2)


def test_a_503_then_success(adobe):
    adobe.aam.api.inject(Reply(503, {"code": "503", "message": "Service Unavailable"}), path=TRAITS, after=1)
    assert len(read_all(connector(adobe, page_size=10))) == 23
    assert len(adobe.aam.list_requests()) == 4


def test_a_malformed_page_is_a_format_error_naming_the_page(adobe):
    adobe.aam.api.inject(Reply(200, b'{"total": 23, "list": [{"sid": '), path=TRAITS, after=2)
    with pytest.raises(FormatError) as caught:
        read_all(connector(adobe))
    assert re.match(
        r"traits: GET http://127\.0\.0\.1:\d+/v1/traits/, page 3 answered HTTP 200 with a body that is not "
        r"valid JSON",
        caught.value.user_message,
    )
    assert len(adobe.aam.list_requests()) == 3


# -- no secret in any message or log -------------------------------------------------------------------------
CANARY_SECRET = "CANARY-aam/secret+Zq9"


@pytest.mark.parametrize("scenario", CANARY_SCENARIOS)
def test_canary_no_secret_or_token_in_any_message_or_log(caplog, scenario):
    caplog.set_level(logging.DEBUG)
    with behind_ims(client_secret=CANARY_SECRET) as (ims, api):
        ims.tokens.prefix = "CANARY-access-"
        aam = FakeAudienceManager(api, ims)
        fill(aam, 12, 0)
        secret = "wrong-CANARY-secret-1" if scenario == "wrong_secret" else CANARY_SECRET
        source = connector(Adobe(ims, aam), client_secret=secret)
        careless = lambda said: {"code": "500", "message": said}  # noqa: E731
        break_for_canary(scenario, api, TRAITS, careless, CANARY_SECRET, b'{"list": [')
        checked = source.check().message
        with pytest.raises(ConnectorError) as caught:
            read_all(source)
    assert_nothing_leaks(scenario, checked, caught, caplog, ims.tokens.issued)


# -- dataflows: a run killed mid-paging, then run again -----------------------------------------------------
@pytest.mark.parametrize("mode", ["incremental", "full_refresh"])
def test_a_run_killed_mid_paging_then_rerun_leaves_every_trait_once(workspace, adobe, mode):
    adobe.aam.traits.clear()
    fill(adobe.aam, 45, 0)
    workspace.save_connection("aam", "adobe_audience_manager", settings(adobe, page_size=10))
    sync: dict[str, Any] = {"mode": mode, "primary_key": ["sid"], "chunk_size": 10}
    if mode == "incremental":
        sync["cursor"] = "updateTime"
    workspace.save_dataflow(
        "traits",
        {"source": {"connection": "aam", "stream": "traits"}, "sync": sync, "mapping": {"crmId": "sid"}},
    )
    failure = Reply(400, {"code": "400", "message": "Invalid page."})
    progress, outage = fail_after_the_first_chunk(adobe.aam.api, TRAITS, failure)
    broken = workspace.run("traits", progress=progress)
    assert broken.status == "failed" and "400: Invalid page." in (broken.error_message or "")
    assert workspace.record_count("traits") == 10
    outage[0].times = 0

    rerun = workspace.run("traits")
    assert rerun.status == "succeeded", rerun.error_message
    records = workspace.records("traits", limit=None)
    assert len(records) == 45 and records["_source_key"].is_unique
    assert sorted(records["crmId"].astype(int)) == trait_ids(45)
    # no resume point in the API: the rerun reads every trait again; none is doubled
    assert (rerun.received, rerun.ingested) == (45, 45)
    if mode == "incremental":
        adobe.aam.traits[-1]["updateTime"] = AAM_START_MS + 90 * MINUTE_MS  # trait 1001 changes
        before = len(adobe.aam.list_requests())
        again = workspace.run("traits")
        # every trait is listed again (pages 0-4), and the engine keeps the one changed since the last run
        listed = [
            r.params["page"] for r in adobe.aam.list_requests()[before:] if r.params["pageSize"] == "10"
        ]
        assert listed == ["0", "1", "2", "3", "4"]
        assert (again.received, again.ingested) == (1, 1) and workspace.record_count("traits") == 45


def test_the_documented_yaml_example_applies_and_runs(workspace, adobe, tmp_path, monkeypatch):
    monkeypatch.setenv("ADOBE_CLIENT_SECRET", adobe.ims.client_secret)
    hosts = followed_by("include_metrics: true", base_url=adobe.aam.api.base_url, ims_url=adobe.ims.token_url)
    example = documented_example("Adobe Audience Manager", hosts)
    applied = apply_example(workspace, tmp_path, example)
    assert applied["connections"] == ["aam"] and applied["dataflows"] == ["aam_traits"]
    run = workspace.run("aam_traits")
    assert (run.status, run.ingested) == ("succeeded", 23), run.error_message
    records = workspace.records("aam_traits", limit=None)
    assert set(records["audience.traitRule"]) == {f'page=="pricing-{sid}"' for sid in trait_ids(23)}
    assert {r.params.get("includeMetrics") for r in adobe.aam.list_requests()} == {"true"}
