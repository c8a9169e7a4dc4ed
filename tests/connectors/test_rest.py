"""The generic REST/JSON connector against a fake CRM API on loopback, and dataflows that read it."""

from __future__ import annotations

import base64
import random
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from pydantic import ValidationError

from connectors.base import (
    ORIGIN_COLUMN,
    AuthenticationError,
    CursorRequest,
    FormatError,
    StreamNotFoundError,
)
from connectors.rest import RestConnector, format_start
from tests.http_servers import FakeApi, Recorded, Reply, Tokens
from tests.http_servers import fake_api as fake_api

API_KEY = "rest-api-key-Zq81"
BEARER = "rest-bearer-Yx02"
PASSWORD = "rest-password-Wv33"
CLIENT_SECRET = "rest-client-secret-Ut44"


def people(count: int, at: str = "2026-11-01T10:00") -> list[dict[str, Any]]:
    """Contacts whose updated_at goes up one second every three records: ties on every timestamp."""
    return [
        {
            "id": i,
            "email": f"User{i}@Example.com",
            "address": {"city": "Paris" if i % 2 else "Lyon"},
            "tags": ["vip"] if i % 5 == 0 else [],
            "updated_at": f"{at}:{(i - 1) // 3:02d}Z",
        }
        for i in range(1, count + 1)
    ]


class CrmApi:
    """A fake CRM: ``/v1/contacts`` (cursor paging, ``updated_since`` filter, sorted by updated_at then id)
    and ``/v1/orders`` (offset paging, ``changed_since`` filter, in no particular order)."""

    def __init__(
        self, api: FakeApi, contacts: list[dict[str, Any]], guard: Callable[[Recorded], Any] | None = None
    ):
        self.api, self.contacts, self.page_size = api, contacts, 3
        self.orders = [{"order_id": f"o{i:03d}", "changed": 1_700_000_000 + i // 2} for i in range(20)]
        random.Random(7).shuffle(self.orders)
        api.route("GET", "/v1/contacts", self._contacts, guard=guard)
        api.route("GET", "/v1/orders", self._orders, guard=guard)

    def _contacts(self, request: Recorded) -> Any:
        rows = self.contacts
        since = request.params.get("updated_since")
        if since:
            start = pd.Timestamp(since)
            rows = [r for r in rows if pd.Timestamp(r["updated_at"]) >= start]
        rows = sorted(rows, key=lambda r: (r["updated_at"], r["id"]))
        offset = int(request.params.get("cursor", "0"))
        end = offset + self.page_size
        return {"data": rows[offset:end], "meta": {"next_cursor": str(end) if end < len(rows) else None}}

    def _orders(self, request: Recorded) -> Any:
        since = int(request.params.get("changed_since", "0"))
        rows = [r for r in self.orders if r["changed"] >= since]
        offset, limit = int(request.params["offset"]), int(request.params["limit"])
        return {"results": rows[offset : offset + limit]}

    def contact_pages(self) -> list[Recorded]:
        return self.api.requests_to("/v1/contacts")


CONTACTS = {
    "name": "contacts",
    "path": "/v1/contacts",
    "records_path": "data",
    "primary_key": ["id"],
    "pagination": {"type": "cursor", "next_path": "meta.next_cursor", "cursor_param": "cursor"},
    "incremental": {"param": "updated_since", "field": "updated_at", "ordered": True},
}
ORDERS = {
    "name": "orders",
    "path": "/v1/orders",
    "records_path": "results",
    "primary_key": "order_id",
    "pagination": {"type": "offset", "page_size": 4},
    "incremental": {"param": "changed_since", "field": "changed", "format": "unix_seconds"},
}


def rest_config(api: FakeApi, **overrides: Any) -> dict[str, Any]:
    return {"base_url": api.url("/"), "streams": [CONTACTS, ORDERS], "max_attempts": 2, **overrides}


@pytest.fixture
def crm(fake_api) -> CrmApi:
    return CrmApi(fake_api, people(10))


# -- configuration -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("overrides", "complaint"),
    [
        ({"auth": "basic", "username": "ana"}, "auth basic needs password"),
        ({"auth": "oauth2_client_credentials", "client_id": "app"}, "needs token_url, client_secret"),
        ({"base_url": "ftp://example.com"}, "must start with http:// or https://"),
        ({"streams": [CONTACTS, CONTACTS]}, "stream names must be unique"),
        ({"streams": [{**CONTACTS, "records_path": "data.["}]}, "is not a JSON path"),
        ({"streams": [{**CONTACTS, "pagination": {"type": "cursor"}}]}, "pagination cursor needs next_path"),
        ({"streams": []}, "at least 1 item"),
    ],
)
def test_configuration_mistakes_are_named(fake_api, overrides, complaint):
    with pytest.raises(ValidationError, match=complaint):
        RestConnector(rest_config(fake_api, **overrides))


def test_validation_errors_never_echo_a_secret(fake_api):
    with pytest.raises(ValidationError) as caught:
        RestConnector(rest_config(fake_api, auth="basic", password=PASSWORD, surely_not=1))
    assert PASSWORD not in str(caught.value)


# -- check, discover, sample ---------------------------------------------------------------------------------
def test_check_reads_the_first_page(fake_api, crm):
    result = RestConnector(rest_config(fake_api)).check()
    assert result.ok, result.message
    assert result.message == f"Connected to {fake_api.url('/')}: contacts answered 3 records on page 1."
    assert len(crm.contact_pages()) == 1


def test_check_reports_refused_credentials_without_raising_or_quoting_them(fake_api):
    CrmApi(fake_api, people(3), guard=lambda r: Reply(401, {"message": "Invalid API key"}))
    result = RestConnector(rest_config(fake_api, auth="api_key", api_key=API_KEY)).check()
    assert not result.ok
    assert result.message.startswith("contacts: the service refused the credentials (HTTP 401")
    assert result.message.endswith("Invalid API key") and API_KEY not in result.message


def test_check_reports_an_unreachable_api():
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}/"
    result = RestConnector({"base_url": url, "streams": [CONTACTS], "max_attempts": 1}).check()
    assert not result.ok
    assert result.message.startswith("contacts: could not connect (GET http://127.0.0.1:")


def test_discover_types_fields_from_the_first_page(fake_api, crm):
    streams = {s.name: s for s in RestConnector(rest_config(fake_api)).discover()}
    contacts = streams["contacts"]
    assert {f.name: f.type for f in contacts.fields} == {
        "id": "integer",
        "email": "string",
        "tags": "string",
        "updated_at": "timestamp",
        "address.city": "string",
    }
    assert contacts.primary_key_candidates == ("id",)
    assert contacts.cursor_candidates[0] == "updated_at"
    assert contacts.metadata["pagination"] == "cursor"
    orders = streams["orders"]
    assert orders.primary_key_candidates == ("order_id",) and orders.cursor_candidates[0] == "changed"
    assert len(crm.contact_pages()) == 1 and len(fake_api.requests_to("/v1/orders")) == 1


def test_sample_is_the_first_page_only(fake_api, crm):
    sample = RestConnector(rest_config(fake_api)).sample("contacts", limit=2)
    assert sample["id"].tolist() == [1, 2]
    assert sample[ORIGIN_COLUMN].tolist() == ["contacts#1", "contacts#2"]
    assert sample["address.city"].tolist() == ["Paris", "Lyon"]
    assert len(crm.contact_pages()) == 1


def test_an_unknown_stream_names_the_ones_offered(fake_api, crm):
    with pytest.raises(StreamNotFoundError, match="no stream 'leads'; it offers: contacts, orders"):
        RestConnector(rest_config(fake_api)).sample("leads")


# -- reads ---------------------------------------------------------------------------------------------------
def test_a_full_read_follows_every_page_in_bounded_chunks(fake_api):
    crm = CrmApi(fake_api, people(10))
    chunks = list(RestConnector(rest_config(fake_api)).read("contacts", chunk_size=4))
    assert [len(c) for c in chunks] == [4, 4, 2]
    whole = pd.concat(chunks, ignore_index=True)
    assert whole["id"].tolist() == list(range(1, 11))
    assert whole[ORIGIN_COLUMN].tolist() == [f"contacts#{i}" for i in range(1, 11)]
    assert whole.loc[whole["id"] == 5, "tags"].item() == '["vip"]'
    assert all(list(c.columns) == list(chunks[0].columns) for c in chunks)
    assert [r.params.get("cursor") for r in crm.contact_pages()] == [None, "3", "6", "9"]


def test_a_field_missing_from_a_later_chunk_stays_an_empty_column(fake_api):
    contacts = people(6)
    for record in contacts[3:]:
        del record["address"]
    CrmApi(fake_api, contacts)
    first, second = RestConnector(rest_config(fake_api)).read("contacts", chunk_size=3)
    assert list(second.columns) == list(first.columns)
    assert second["address.city"].isna().all() and first["address.city"].notna().all()


def test_an_incremental_read_sends_the_start_and_returns_rows_in_cursor_order(fake_api, crm):
    start = pd.Timestamp("2026-11-01T10:00:02Z")
    request = CursorRequest("updated_at", start, ("id",))
    rows = pd.concat(RestConnector(rest_config(fake_api)).read("contacts", chunk_size=2, cursor=request))
    assert rows["id"].tolist() == [7, 8, 9, 10]  # updated at :02 (7, 8, 9) and :03 (10)
    assert {r.params["updated_since"] for r in crm.contact_pages()} == {"2026-11-01T10:00:02Z"}


def test_the_first_incremental_read_sends_no_start(fake_api, crm):
    rows = pd.concat(
        RestConnector(rest_config(fake_api)).read("contacts", cursor=CursorRequest("updated_at"))
    )
    assert len(rows) == 10 and "updated_since" not in crm.contact_pages()[0].params


def test_an_api_without_order_is_sorted_before_the_first_chunk(fake_api, crm):
    request = CursorRequest("changed", 1_700_000_004.0, ("order_id",))
    chunks = list(RestConnector(rest_config(fake_api)).read("orders", chunk_size=5, cursor=request))
    rows = pd.concat(chunks, ignore_index=True)
    expected = sorted(
        (o for o in crm.orders if o["changed"] >= 1_700_000_004), key=lambda o: (o["changed"], o["order_id"])
    )
    assert rows["order_id"].tolist() == [o["order_id"] for o in expected]
    assert len(expected) == 12 and [len(c) for c in chunks] == [5, 5, 2]
    assert {r.params["changed_since"] for r in fake_api.requests_to("/v1/orders")} == {"1700000004"}


def test_a_cursor_the_api_cannot_filter_reads_everything_sorted(fake_api, crm):
    crm.contacts.reverse()
    request = CursorRequest("email", None, ("id",))
    rows = pd.concat(RestConnector(rest_config(fake_api)).read("contacts", cursor=request))
    assert rows["email"].tolist() == sorted(p["email"] for p in people(10))
    assert all("updated_since" not in r.params for r in crm.contact_pages())


@pytest.mark.parametrize(
    ("start", "form", "lookback", "expected"),
    [
        (pd.Timestamp("2026-11-01T10:00:05Z"), "iso8601", 0, "2026-11-01T10:00:05Z"),
        (pd.Timestamp("2026-11-01T10:00:05.25Z"), "iso8601", 5, "2026-11-01T10:00:00.250000Z"),
        (pd.Timestamp("2026-11-01T00:30:00Z"), "date", 3600, "2026-10-31"),
        (pd.Timestamp("1970-01-01T00:01:40Z"), "unix_seconds", 0, "100"),
        (pd.Timestamp("1970-01-01T00:01:40Z"), "unix_milliseconds", 1, "99000"),
        (1_700_000_000.0, "unix_seconds", 60, "1699999940"),
        (12.5, "iso8601", 0, "12.5"),
        ("v-17", "iso8601", 0, "v-17"),
    ],
)
def test_format_start(start, form, lookback, expected):
    assert format_start(start, form, lookback) == expected


# -- auth ----------------------------------------------------------------------------------------------------
def _expect(check: Callable[[Recorded], bool]) -> Callable[[Recorded], Reply | None]:
    return lambda request: None if check(request) else Reply(401, {"message": "Unauthorized"})


AUTHS: dict[str, tuple[dict[str, Any], Callable[[Recorded], bool]]] = {
    "api_key_header": (
        {"auth": "api_key", "api_key": API_KEY, "api_key_name": "X-Api-Key"},
        lambda r: r.header("x-api-key") == API_KEY,
    ),
    "api_key_query": (
        {"auth": "api_key", "api_key": API_KEY, "api_key_name": "key", "api_key_in": "query"},
        lambda r: r.params.get("key") == API_KEY,
    ),
    "bearer": (
        {"auth": "bearer", "bearer_token": BEARER},
        lambda r: r.header("authorization") == f"Bearer {BEARER}",
    ),
    "basic": (
        {"auth": "basic", "username": "ana", "password": PASSWORD},
        lambda r: (
            r.header("authorization") == "Basic " + base64.b64encode(f"ana:{PASSWORD}".encode()).decode()
        ),
    ),
}


@pytest.mark.parametrize("kind", list(AUTHS))
def test_static_auths_reach_every_page(fake_api, kind):
    settings, accepted = AUTHS[kind]
    crm = CrmApi(fake_api, people(7), guard=_expect(accepted))
    connector = RestConnector(rest_config(fake_api, **settings))
    assert connector.check().ok
    assert len(pd.concat(connector.read("contacts"))) == 7
    assert len(crm.contact_pages()) == 1 + 3


def test_oauth2_client_credentials_fetch_one_token_and_refresh_it_when_it_expires(fake_api):
    tokens = Tokens(uses=2)
    fake_api.token_route("/oauth/token", tokens)
    crm = CrmApi(fake_api, people(10), guard=tokens.guard)
    settings = {
        "auth": "oauth2_client_credentials",
        "token_url": fake_api.url("/oauth/token"),
        "client_id": "tributary",
        "client_secret": CLIENT_SECRET,
        "scopes": "contacts.read orders.read",
    }
    rows = pd.concat(RestConnector(rest_config(fake_api, **settings)).read("contacts"))
    assert rows["id"].tolist() == list(range(1, 11))
    grants = fake_api.requests_to("/oauth/token")
    assert len(grants) == 2  # pages 1-2 on the first token, 3 refused once, 3-4 on the second
    assert grants[0].form() == {
        "grant_type": "client_credentials",
        "client_id": "tributary",
        "client_secret": CLIENT_SECRET,
        "scope": "contacts.read orders.read",
    }
    assert len(crm.contact_pages()) == 5


# -- failures through the connector --------------------------------------------------------------------------
def test_refused_credentials_while_reading(fake_api):
    CrmApi(fake_api, people(3), guard=lambda r: Reply(401, {"message": "Token revoked"}))
    with pytest.raises(AuthenticationError, match=r"^contacts: .*HTTP 401.*Token revoked$"):
        list(RestConnector(rest_config(fake_api, auth="bearer", bearer_token=BEARER)).read("contacts"))
    assert len(fake_api.requests) == 1


def test_a_wrong_path_is_a_missing_stream(fake_api, crm):
    config = rest_config(fake_api, streams=[{**CONTACTS, "path": "/v1/contactz"}])
    with pytest.raises(StreamNotFoundError, match=r"^contacts: not found \(HTTP 404, GET .*/v1/contactz"):
        RestConnector(config).sample("contacts")


def test_a_malformed_page_names_the_stream_and_the_page(fake_api, crm):
    fake_api.inject(Reply(200, "<html>maintenance</html>"), path="/v1/contacts", after=2)
    with pytest.raises(
        FormatError, match=r"^contacts: GET .*/v1/contacts, page 3 answered HTTP 200 with a body"
    ):
        list(RestConnector(rest_config(fake_api)).read("contacts"))


def test_a_busy_api_is_waited_for(fake_api, crm):
    fake_api.inject(
        Reply(429, {"message": "Too many requests"}, headers={"Retry-After": "0"}),
        path="/v1/contacts",
        after=1,
    )
    assert len(pd.concat(RestConnector(rest_config(fake_api)).read("contacts"))) == 10
    assert len(crm.contact_pages()) == 5


# -- dataflows on the REST connector -------------------------------------------------------------------------
def save_rest_dataflow(workspace, api: FakeApi, mode: str = "incremental", chunk_size: int = 4) -> None:
    workspace.save_connection("crm_api", "rest", rest_config(api, max_attempts=1))
    sync: dict[str, Any] = {"mode": mode, "primary_key": ["id"], "chunk_size": chunk_size}
    if mode == "incremental":
        sync["cursor"] = "updated_at"
    workspace.save_dataflow(
        "contacts",
        {
            "source": {"connection": "crm_api", "stream": "contacts"},
            "sync": sync,
            "mapping": {"crmId": "id", "personalEmail.address": "lower(email)"},
            "identities": {"email": "personalEmail.address"},
        },
    )


def kill_after_first_chunk(api: FakeApi) -> tuple[Callable[[Any], None], list[Any]]:
    """A progress callback that breaks the API for good once the first chunk is committed."""
    faults: list[Any] = []

    def progress(summary: Any) -> None:
        if summary.chunks == 1 and not faults:
            faults.append(api.inject(Reply(503, {"message": "down"}), path="/v1/contacts", times=None))

    return progress, faults


@pytest.mark.parametrize("mode", ["incremental", "full_refresh"])
def test_a_run_killed_mid_paging_then_rerun_leaves_every_record_once(workspace, fake_api, mode):
    crm = CrmApi(fake_api, people(30))
    save_rest_dataflow(workspace, fake_api, mode)
    progress, faults = kill_after_first_chunk(fake_api)
    broken = workspace.run("contacts", progress=progress)
    assert broken.status == "failed" and broken.error_code == "source_unavailable", broken.error_message
    assert "contacts: the service failed (HTTP 503" in broken.error_message
    assert workspace.record_count("contacts") == 4
    faults[0].times = 0  # the API is back

    rerun = workspace.run("contacts")
    assert rerun.status == "succeeded", rerun.error_message
    records = workspace.records("contacts", limit=None)
    assert len(records) == 30 and records["_source_key"].is_unique
    assert sorted(records["crmId"].astype(int)) == list(range(1, 31))
    if mode == "incremental":
        # resumed from the highest updated_at committed (:01, of id 4), not from the start: ids 4-30 came
        # back, and id 4, seen at that very cursor value, was dropped
        assert rerun.received == 30 - 4
        assert crm.contact_pages()[-1].params["updated_since"] == "2026-11-01T10:00:01Z"


def test_incremental_runs_read_only_what_changed(workspace, fake_api):
    crm = CrmApi(fake_api, people(12))
    save_rest_dataflow(workspace, fake_api)
    assert workspace.run("contacts").ingested == 12
    assert workspace.run("contacts").received == 0  # the last timestamp's three records are known
    crm.contacts[0].update(email="changed@example.com", updated_at="2026-11-02T08:00:00Z")
    crm.contacts.append({**people(13)[-1], "updated_at": "2026-11-02T08:00:00Z"})
    again = workspace.run("contacts")
    assert (again.received, again.ingested) == (2, 2)
    records = workspace.records("contacts", limit=None).set_index("crmId")
    assert len(records) == 13 and records.loc["1", "personalEmail.address"] == "changed@example.com"


def test_the_client_secret_is_stored_encrypted_and_masked(workspace, workspace_dir, fake_api):
    workspace.save_connection(
        "crm_api",
        "rest",
        rest_config(
            fake_api,
            auth="oauth2_client_credentials",
            token_url=fake_api.url("/oauth/token"),
            client_id="tributary",
            client_secret=CLIENT_SECRET,
        ),
    )
    assert CLIENT_SECRET not in str(workspace.connection_spec("crm_api"))
    for stored in workspace_dir.glob("tributary.db*"):
        assert CLIENT_SECRET.encode() not in stored.read_bytes()
    assert workspace.connector("crm_api").settings.client_secret.get_secret_value() == CLIENT_SECRET


def test_the_documented_yaml_example_applies_and_runs(workspace, fake_api, tmp_path, monkeypatch):
    from core import config

    doc = (Path(__file__).resolve().parents[2] / "docs" / "http-sources.md").read_text(encoding="utf-8")
    example = doc.split("### Example", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    example = example.replace("https://api.example.com/v1", fake_api.url("/v1"))
    example = example.replace("https://auth.example.com/oauth2/token", fake_api.url("/oauth2/token"))
    tokens = Tokens()
    fake_api.token_route("/oauth2/token", tokens)
    CrmApi(fake_api, people(10), guard=tokens.guard)
    monkeypatch.setenv("CRM_API_CLIENT_SECRET", CLIENT_SECRET)
    path = tmp_path / "crm_api.yml"
    path.write_text(example, encoding="utf-8")
    assert config.apply(workspace, path) == {"connections": ["crm_api"], "dataflows": ["crm_api_contacts"]}

    run = workspace.run("crm_api_contacts")
    assert (run.status, run.ingested) == ("succeeded", 10), run.error_message
    records = workspace.records("crm_api_contacts", limit=None).set_index("crmId")
    assert records.loc["2", "homeAddress.city"] == "Lyon"
    assert fake_api.requests_to("/oauth2/token")[0].form()["client_secret"] == CLIENT_SECRET
    exported = config.export(workspace)
    assert "${CRM_API_CLIENT_SECRET}" in exported and CLIENT_SECRET not in exported
