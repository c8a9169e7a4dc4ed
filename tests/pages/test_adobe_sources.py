"""Sources: each Adobe application connector's form, filled against its fake, tests its connection."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from streamlit.testing.v1 import AppTest

from tests.http_servers import FakeApi
from tests.http_servers.adobe import AAM_START_MS, FakeAudienceManager, FakeCampaign, FakeIms
from tests.http_servers.adobe_commerce import START, FakeCommerce
from tests.pages.apptest import open_page, texts

NEW = "+ New connection"
SECRET = "Adobe-Page-Secret~5tW"


@pytest.fixture
def ims() -> Iterator[FakeIms]:
    with FakeApi() as api:
        yield FakeIms(api, client_secret=SECRET)


def form_of(connector: str) -> tuple[AppTest, str]:
    """The Sources page with ``connector`` picked for a new connection, and its form's key prefix."""
    at = open_page("pages/sources.py")
    assert "Adobe Commerce" in texts(at.markdown) and "Adobe Campaign" in texts(at.markdown)
    at.selectbox(key="sources.connector").set_value(connector).run()
    assert not at.exception
    return at, f"sources.{connector}.{NEW}"


def fill_ims(at: AppTest, form: str, ims: FakeIms) -> None:
    at.text_input(key=f"{form}.client_id").set_value(ims.client_id)
    secret = at.text_input(key=f"{form}.client_secret")
    assert secret.proto.type == secret.proto.PASSWORD
    secret.set_value(SECRET)
    assert (
        at.text_input(key=f"{form}.scopes").value == "openid,AdobeID,additional_info.projectedProductContext"
    )
    at.text_input(key=f"{form}.ims_url").set_value(ims.token_url)


def click_test_connection(at: AppTest) -> str:
    """Clicks Test connection; the success message (no secret anywhere the page shows text)."""
    at.button(key="sources.test").click().run()
    assert not at.exception and not at.error, texts(at.error)
    shown = texts(at.success) + texts(at.markdown) + texts(at.caption)
    assert SECRET not in shown
    return texts(at.success)


def test_the_adobe_commerce_form_tests_an_admin_sign_in() -> None:
    with FakeApi() as api:
        shop = FakeCommerce(api, password=SECRET)
        shop.add_customer(1, START)
        at, form = form_of("adobe_commerce")
        at.text_input(key=f"{form}.base_url").set_value(shop.base_url)
        at.selectbox(key=f"{form}.auth").set_value("admin_token")
        at.text_input(key=f"{form}.username").set_value(shop.username)
        at.text_input(key=f"{form}.password").set_value(SECRET)
        assert at.number_input(key=f"{form}.page_size").value == 100
        assert click_test_connection(at) == "Connected to Adobe Commerce at 127.0.0.1: 1 customers."
        assert shop.token_requests()[0].json()["password"] == SECRET


def test_the_adobe_campaign_form_tests_an_ims_sign_in(ims: FakeIms) -> None:
    with FakeApi() as api:
        campaign = FakeCampaign(api, ims, tenant="acme-mkt-stage")
        campaign.add_profile(1, datetime(2026, 11, 1, tzinfo=UTC))
        at, form = form_of("adobe_campaign")
        fill_ims(at, form, ims)
        at.text_input(key=f"{form}.tenant").set_value("acme-mkt-stage")
        at.text_input(key=f"{form}.base_url").set_value(api.base_url)
        assert (
            click_test_connection(at) == "Connected to Adobe Campaign acme-mkt-stage: profiles are readable."
        )
        assert campaign.list_requests()[0].header("x-api-key") == ims.client_id


def test_the_adobe_audience_manager_form_tests_an_ims_sign_in(ims: FakeIms) -> None:
    with FakeApi() as api:
        aam = FakeAudienceManager(api, ims)
        for sid in (11, 12):
            aam.add_trait(sid, AAM_START_MS + sid * int(timedelta(minutes=1).total_seconds() * 1000))
        at, form = form_of("adobe_audience_manager")
        fill_ims(at, form, ims)
        at.text_input(key=f"{form}.base_url").set_value(api.base_url)
        at.checkbox(key=f"{form}.include_metrics").check()
        assert click_test_connection(at) == "Connected to Adobe Audience Manager: 2 traits."
        assert len(ims.grants()) == 1
