"""The Adobe Commerce connector against a fake store on loopback, and dataflows that read it."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pandas as pd
import pytest
from pydantic import ValidationError

from connectors import REGISTRY
from connectors.adobe_commerce import AdobeCommerceConnector
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
    waited_for_retry_after,
)
from tests.connectors.adobe_support import (
    read_all as read_frames,
)
from tests.http_servers import FakeApi, Reply
from tests.http_servers.adobe_commerce import START, FakeCommerce, commerce_error

FILTER = "searchCriteria[filter_groups][0][filters][0]"
PAGE = "searchCriteria[currentPage]"


def minute(n: int) -> Any:
    return START + timedelta(minutes=n)


@pytest.fixture
def shop() -> Iterator[FakeCommerce]:
    """23 customers, three to a minute (ties on every updated_at), and an order each."""
    with FakeApi() as api:
        fake = FakeCommerce(api)
        for number in range(1, 24):
            customer = fake.add_customer(number, minute(number // 3))
            fake.add_order(number, customer, minute(number // 2))
        yield fake


def settings(shop: FakeCommerce, **overrides: Any) -> dict[str, Any]:
    return {"base_url": shop.base_url, "access_token": shop.integration_token, "page_size": 5, **overrides}


def admin(shop: FakeCommerce, **overrides: Any) -> dict[str, Any]:
    signed_in = {
        "auth": "admin_token",
        "access_token": None,
        "username": shop.username,
        "password": shop.password,
    }
    return settings(shop, **{**signed_in, **overrides})


def connector(config: dict[str, Any]) -> AdobeCommerceConnector:
    return AdobeCommerceConnector(config, settings=FAST)


def read_all(source: AdobeCommerceConnector, stream: str = "customers", **read: Any) -> pd.DataFrame:
    return read_frames(source, stream, **read)


def windows(shop: FakeCommerce, what: str = "customers/search") -> list[tuple[str | None, str]]:
    """(window value, page) of each search request."""
    return [(r.params.get(f"{FILTER}[value]"), r.params[PAGE]) for r in shop.searches(what)]


# -- registry, configuration, check -------------------------------------------------------------------------
def test_registered_in_the_adobe_catalog_with_cursor_push_down():
    assert REGISTRY["adobe_commerce"] is AdobeCommerceConnector
    assert (
        AdobeCommerceConnector.pushes_down_cursor and AdobeCommerceConnector.category == "Adobe applications"
    )


@pytest.mark.parametrize(
    ("overrides", "complaint"),
    [
        ({"access_token": None}, "auth integration_token needs access_token"),
        ({"auth": "admin_token", "username": "ana"}, "auth admin_token needs password"),
        ({"base_url": "ftp://shop.example.com"}, "must be a URL starting with https://"),
        ({"page_size": 301}, "less than or equal to 300"),
        ({"store_code": "../admin"}, "should match pattern"),
    ],
)
def test_configuration_mistakes_are_named(shop, overrides, complaint):
    with pytest.raises(ValidationError, match=re.escape(complaint)):
        AdobeCommerceConnector(settings(shop, **overrides))


def test_check_with_an_integration_token_counts_the_customers(shop):
    result = connector(settings(shop)).check()
    assert result.ok and result.message == "Connected to Adobe Commerce at 127.0.0.1: 23 customers."
    (probe,) = shop.searches()
    assert probe.header("authorization") == f"Bearer {shop.integration_token}"
    assert probe.path == "/rest/V1/customers/search"
    assert probe.params == {"searchCriteria[pageSize]": "1", PAGE: "1"}
    assert connector(settings(shop, store_code="default")).check().ok
    assert shop.searches()[-1].path == "/rest/default/V1/customers/search"


def test_check_with_an_admin_signs_in_with_a_json_body_and_sends_the_token(shop):
    assert connector(admin(shop)).check().ok
    (grant,) = shop.token_requests()
    assert grant.method == "POST" and grant.path == "/rest/V1/integration/admin/token"
    assert grant.header("content-type") == "application/json"
    assert grant.json() == {"username": shop.username, "password": shop.password}
    assert shop.searches()[0].header("authorization") == f"Bearer {shop.tokens.issued[0]}"


def test_refused_credentials_fail_the_check_with_commerces_reason_and_no_retry(shop):
    wrong_password = connector(admin(shop, password="not-the-password")).check()
    assert not wrong_password.ok and "not-the-password" not in wrong_password.message
    assert wrong_password.message.startswith(
        "customers: signing in: the token endpoint refused the credentials (HTTP 401, POST http://127.0.0.1:"
    )
    assert wrong_password.message.endswith("The account sign-in was incorrect or your account is disabled "
                                           "temporarily. Please wait and try again later.")  # fmt: skip
    assert len(shop.token_requests()) == 1 and shop.searches() == []
    wrong_token = connector(settings(shop, access_token="int-token-revoked")).check()
    # Commerce's %resources placeholder is filled from the error's parameters
    assert (
        wrong_token.message.endswith(": The consumer isn't authorized to access Magento_Customer::manage.")
        and "int-token-revoked" not in wrong_token.message
    )
    assert len(shop.searches()) == 1


# -- discover and sample ------------------------------------------------------------------------------------
def test_discover_offers_four_streams_with_keys_cursors_and_profile_mappings(shop):
    streams = {s.name: s for s in connector(settings(shop)).discover()}
    assert list(streams) == ["customers", "customer_addresses", "orders", "order_items"]
    customers = streams["customers"]
    types = {f.name: f.type for f in customers.fields}
    assert types["id"] == "integer" and types["updated_at"] == "timestamp" and types["dob"] == "date"
    assert types["extension_attributes.is_subscribed"] == "boolean" and types["addresses"] == "string"
    assert customers.primary_key_candidates == ("id",)
    assert customers.cursor_candidates == ("updated_at", "created_at")
    mapping = customers.metadata[SUGGESTED_MAPPING]
    assert mapping["personalEmail.address"] == "email" and mapping["person.birthDate"] == "dob"
    assert mapping["crmId"] == "id" and mapping["updatedAt"] == "updated_at"
    assert customers.metadata[SUGGESTED_IDENTITIES] == {
        "commerce_customer_id": "crmId",
        "email": "personalEmail.address",
    }
    addresses = streams["customer_addresses"]
    assert addresses.primary_key_candidates == ("id",) and addresses.cursor_candidates == (
        "customer_updated_at",
    )
    assert addresses.metadata[SUGGESTED_MAPPING]["homeAddress.postalCode"] == "postcode"
    orders = streams["orders"]
    assert orders.metadata[SUGGESTED_MAPPING]["order.id"] == "increment_id"
    assert orders.metadata[SUGGESTED_IDENTITIES]["email"] == "personalEmail.address"
    assert streams["order_items"].primary_key_candidates == ("item_id",)


def test_sample_is_one_page_of_the_first_records(shop):
    sample = connector(settings(shop)).sample("customers", limit=3)
    assert sample["id"].tolist() == [1, 2, 3] and sample[ORIGIN_COLUMN].tolist()[0] == "customers#1"
    (sent,) = shop.searches()
    assert sent.params["searchCriteria[pageSize]"] == "3" and f"{FILTER}[value]" not in sent.params
    addresses = connector(settings(shop)).sample("customer_addresses", limit=2)
    assert addresses["id"].tolist() == [11, 21] and addresses["customer_updated_at"].notna().all()


def test_an_unknown_stream_names_the_ones_offered(shop):
    with pytest.raises(
        StreamNotFoundError, match="no stream 'carts'; it offers: customers, customer_addresses"
    ):
        connector(settings(shop)).sample("carts")


# -- reads ---------------------------------------------------------------------------------------------------
def test_a_full_read_walks_entity_id_windows_and_stops_by_total_count(shop):
    chunks = list(connector(settings(shop)).read("customers", chunk_size=7))
    assert [len(c) for c in chunks] == [7, 7, 7, 2]
    whole = pd.concat(chunks, ignore_index=True)
    assert whole["id"].tolist() == list(range(1, 24))
    assert whole[ORIGIN_COLUMN].tolist()[:2] == ["customers#1", "customers#2"]
    # each window starts after the last id read; the fifth one holds the last 3 of 23: no sixth request
    assert windows(shop) == [(None, "1"), ("5", "1"), ("10", "1"), ("15", "1"), ("20", "1")]
    first, second = shop.searches()[:2]
    assert first.params["searchCriteria[sortOrders][0][field]"] == "entity_id"
    assert first.params["searchCriteria[sortOrders][0][direction]"] == "ASC"
    assert (
        second.params[f"{FILTER}[field]"] == "entity_id"
        and second.params[f"{FILTER}[condition_type]"] == "gt"
    )


def test_an_incremental_read_filters_gteq_and_orders_by_updated_at_then_entity_id(shop):
    start = pd.Timestamp(minute(3), tz="UTC")
    rows = read_all(
        connector(settings(shop)), cursor=CursorRequest("updated_at", start, ("id",)), chunk_size=4
    )
    assert rows["id"].tolist() == list(range(9, 24))  # every customer from 09:03 on, once
    assert rows["updated_at"].is_monotonic_increasing
    first = shop.searches()[0].params
    assert (first[f"{FILTER}[field]"], first[f"{FILTER}[value]"]) == ("updated_at", "2026-11-01 09:03:00")
    assert first[f"{FILTER}[condition_type]"] == "gteq"
    assert [first[f"searchCriteria[sortOrders][{i}][field]"] for i in (0, 1)] == ["updated_at", "entity_id"]
    # each window starts at the last updated_at read; the records read there come again and are dropped
    minutes = [value[-5:-3] if value else None for value, _ in windows(shop)]
    assert minutes == ["03", "04", "05", "06", "07"] and {page for _, page in windows(shop)} == {"1"}


def test_more_ties_than_a_page_holds_are_paged_within_their_window(shop):
    for number in range(30, 42):
        shop.add_customer(number, minute(20))  # 12 customers changed in the same second
    start = pd.Timestamp(minute(20), tz="UTC")
    rows = read_all(connector(settings(shop)), cursor=CursorRequest("updated_at", start, ("id",)))
    assert rows["id"].tolist() == list(range(30, 42))
    assert windows(shop) == [
        ("2026-11-01 09:20:00", "1"),
        ("2026-11-01 09:20:00", "2"),
        ("2026-11-01 09:20:00", "3"),
    ]


def test_a_record_changed_mid_read_is_read_again_and_none_is_skipped(shop):
    chunks = connector(settings(shop)).read("customers", cursor=CursorRequest("updated_at", None, ("id",)),
                                            chunk_size=5)  # fmt: skip
    first = next(chunks)
    assert first["id"].tolist() == [1, 2, 3, 4, 5]
    shop.touch(shop.customers[1], minute(30))  # customer 2, already read, changes: it moves to the end
    rest = pd.concat(list(chunks), ignore_index=True)
    ids = [*first["id"], *rest["id"]]
    assert sorted(set(ids)) == list(range(1, 24))  # with plain currentPage paging, customer 6 would be lost
    assert ids[-1] == 2 and rest["updated_at"].iloc[-1] == "2026-11-01 09:30:00"


def test_child_streams_unnest_their_parent_and_carry_its_updated_at(shop):
    addresses = read_all(connector(settings(shop)), "customer_addresses", chunk_size=10)
    expected = sum(number % 3 for number in range(1, 24))
    assert len(addresses) == expected and addresses["id"].is_unique
    first = addresses.iloc[0]
    assert (first["customer_id"], first["city"], first["customer_updated_at"]) == (
        1,
        "Paris",
        "2026-11-01 09:00:00",
    )
    assert first["street"] == '["1 rue de la Paix"]' and first["region.region"] == "Île-de-France"
    start = pd.Timestamp(minute(11), tz="UTC")
    items = read_all(connector(settings(shop)), "order_items",
                     cursor=CursorRequest("order_updated_at", start, ("item_id",)))  # fmt: skip
    assert items["order_id"].unique().tolist() == [22, 23] and len(items) == 4
    assert shop.searches("orders")[-1].params[f"{FILTER}[field]"] == "updated_at"
    with pytest.raises(ConnectorError, match="order_items can be read incrementally by order_updated_at"):
        read_all(
            connector(settings(shop)), "order_items", cursor=CursorRequest("updated_at", start, ("item_id",))
        )


# -- token, throttling and failures --------------------------------------------------------------------------
def test_an_admin_token_expiring_mid_paging_is_fetched_again_once_and_every_row_read_once(shop):
    chunks = connector(admin(shop)).read("customers", chunk_size=5)
    first = next(chunks)
    shop.expire_tokens()  # the admin token's four hours run out between page 1 and page 2
    rows = pd.concat([first, *chunks], ignore_index=True)
    assert rows["id"].tolist() == list(range(1, 24))
    assert len(shop.token_requests()) == 2
    pages = shop.searches()
    assert windows(shop) == [(None, "1"), ("5", "1"), ("5", "1"), ("10", "1"), ("15", "1"), ("20", "1")]
    assert [r.header("authorization") for r in pages[1:3]] == [
        f"Bearer {shop.tokens.issued[0]}",
        f"Bearer {shop.tokens.issued[1]}",
    ]


def test_a_401_a_new_token_does_not_fix_is_an_authentication_error_without_a_retry_storm(shop):
    chunks = connector(admin(shop)).read("customers", chunk_size=5)
    next(chunks)
    shop.tokens.reject_all = True  # the admin user lost the Customers resource
    with pytest.raises(AuthenticationError) as caught:
        next(chunks)
    assert re.match(
        r"customers: the service refused the credentials \(HTTP 401, GET http://127\.0\.0\.1:\d+/rest/V1/"
        r"customers/search, page 2\): The consumer isn't authorized to access Magento_Customer::manage\.$",
        caught.value.user_message,
    )
    assert len(shop.token_requests()) == 2 and len(shop.searches()) == 3


def test_429_is_waited_out_as_retry_after_says_up_to_the_cap(shop):
    shop.throttle(retry_after="1", after=1)
    rows = read_all(connector(settings(shop, page_size=10)))
    assert rows["id"].tolist() == list(range(1, 24))
    sent = shop.searches()
    assert [r.params.get(f"{FILTER}[value]") for r in sent] == [None, "10", "10", "20"]
    assert waited_for_retry_after(sent, 2)


def test_a_503_then_success(shop):
    shop.api.inject(
        Reply(503, "<html>Service Unavailable</html>"), path=re.compile(".*/customers/search"), after=1
    )
    assert len(read_all(connector(settings(shop, page_size=10)))) == 23
    assert len(shop.searches()) == 4


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b'{"items": [{"id": 11, "email": ', "answered HTTP 200 with a body that is not valid JSON"),
        ({"message": "ok"}, "did not answer a search result (an object with items and total_count)"),
    ],
)
def test_a_malformed_page_is_a_format_error_naming_the_page(shop, body, says):
    shop.api.inject(Reply(200, body), path=re.compile(".*/customers/search"), after=2)
    with pytest.raises(FormatError) as caught:
        read_all(connector(settings(shop)))
    assert re.match(
        r"customers: GET http://127\.0\.0\.1:\d+/rest/V1/customers/search, page 3 ", caught.value.user_message
    )
    assert says in caught.value.user_message and len(shop.searches()) == 3


# -- no secret in any message or log -------------------------------------------------------------------------
CANARY_PASSWORD = "CANARY-commerce/pass+Zq9"


@pytest.mark.parametrize("scenario", CANARY_SCENARIOS)
def test_canary_no_password_or_token_in_any_message_or_log(caplog, scenario):
    caplog.set_level(logging.DEBUG)
    with FakeApi() as api:
        shop = FakeCommerce(api, password=CANARY_PASSWORD)
        shop.tokens.prefix = "CANARY-admin-token-"
        for number in range(1, 13):
            shop.add_customer(number, minute(number))
        password = "wrong-CANARY-password" if scenario == "wrong_secret" else CANARY_PASSWORD
        source = connector(admin(shop, password=password))
        searches = re.compile(".*/customers/search")
        break_for_canary(
            scenario, api, searches, lambda said: {"message": said}, CANARY_PASSWORD, b'{"items": ['
        )
        checked = source.check().message
        with pytest.raises(ConnectorError) as caught:
            read_all(source)
    assert_nothing_leaks(scenario, checked, caught, caplog, shop.tokens.issued)


# -- dataflows: a run killed mid-paging, then run again -----------------------------------------------------
def save_dataflow(workspace, shop: FakeCommerce, mode: str = "incremental") -> None:
    workspace.save_connection("shop", "adobe_commerce", settings(shop, page_size=10))
    sync: dict[str, Any] = {"mode": mode, "primary_key": ["id"], "chunk_size": 10}
    if mode == "incremental":
        sync["cursor"] = "updated_at"
    workspace.save_dataflow(
        "shoppers",
        {
            "source": {"connection": "shop", "stream": "customers"},
            "sync": sync,
            "mapping": {"crmId": "id", "personalEmail.address": "email", "updatedAt": "updated_at"},
            "identities": {"commerce_customer_id": "crmId", "email": "personalEmail.address"},
        },
    )


@pytest.mark.parametrize("mode", ["incremental", "full_refresh"])
def test_a_run_killed_mid_paging_then_rerun_ingests_every_customer_exactly_once(workspace, mode):
    with FakeApi() as api:
        shop = FakeCommerce(api)
        for number in range(1, 46):
            shop.add_customer(number, minute(number // 3))
        save_dataflow(workspace, shop, mode)
        outage: list[Any] = []

        def break_after_the_first_chunk(summary: Any) -> None:
            if summary.chunks == 1 and not outage:
                failure = commerce_error(
                    400, "Could not connect to the database: %1", ["SQLSTATE[HY000] [2002]"]
                )
                outage.append(api.inject(failure, path=re.compile(".*/customers/search"), times=None))

        broken = workspace.run("shoppers", progress=break_after_the_first_chunk)
        assert broken.status == "failed" and "SQLSTATE[HY000] [2002]" in (broken.error_message or "")
        assert shop.integration_token not in (broken.error_message or "")
        assert workspace.record_count("shoppers") == 10
        outage[0].times = 0
        searches_before = len(shop.searches())

        rerun = workspace.run("shoppers")
        assert rerun.status == "succeeded", rerun.error_message
        records = workspace.records("shoppers", limit=None)
        assert len(records) == 45 and records["_source_key"].is_unique
        assert sorted(records["crmId"].astype(int)) == list(range(1, 46))
        if mode == "incremental":
            # resumed at the last committed updated_at (09:03, ids 9-11): ids 9 and 10 seen there are dropped
            read = [r for r in shop.searches()[searches_before:] if f"{FILTER}[value]" in r.params]
            assert read[0].params[f"{FILTER}[value]"] == "2026-11-01 09:03:00"
            assert (rerun.received, rerun.ingested) == (35, 35)
            shop.touch(shop.customers[4], minute(40))
            again = workspace.run("shoppers")
            assert (again.received, again.ingested) == (1, 1) and workspace.record_count("shoppers") == 45
        else:
            assert (rerun.received, rerun.ingested) == (45, 45)
    spec = workspace.connection_spec("shop")
    assert shop.integration_token not in str(spec)


def test_the_documented_yaml_example_applies_and_runs(workspace, shop, tmp_path, monkeypatch):
    monkeypatch.setenv("SHOP_INTEGRATION_TOKEN", shop.integration_token)
    example = documented_example("Adobe Commerce", {"https://shop.example.com": shop.base_url})
    applied = apply_example(workspace, tmp_path, example)
    assert applied == {"connections": ["shop"], "dataflows": ["shop_customers"]}
    run = workspace.run("shop_customers")
    assert (run.status, run.ingested) == ("succeeded", 23), run.error_message
    records = workspace.records("shop_customers", limit=None).set_index("crmId")
    assert records.loc["7", "personalEmail.address"] == "shopper7@example.com"
    assert shop.searches()[-1].header("authorization") == f"Bearer {shop.integration_token}"
