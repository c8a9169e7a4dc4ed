"""The analyst's day in a real browser, one story per test, against a real ``streamlit run app.py``.

The stories share one dashboard and run in this file's order, as a person
would: the first creates the admin, later ones find what earlier ones saved.
Each waits on what the page shows (headings, messages, tables, charts), never
on a fixed delay. ``TRIBUTARY_SCREENSHOTS=1`` also saves the main screens to
``docs/screenshots/`` for the README.
"""

# ruff: noqa: E402  (playwright is imported only once require_browser() found it)
from __future__ import annotations

import re

from tests.e2e.conftest import ADMIN, Dashboard, require_browser

require_browser()  # before playwright is imported: a bare machine skips these stories with the reason

from playwright.sync_api import Page, expect

from tests.e2e.sources import Bucket, Postgres
from tests.e2e.sources import moto_checks_keys as moto_checks_keys
from tests.e2e.sources import postgres_source as postgres_source
from tests.e2e.sources import s3_source as s3_source
from tests.e2e.steps import choose, create_first_admin, enter, go, open_dashboard, settled, shoot, sign_in


def main(page: Page):
    """The page's main area (the sidebar left out)."""
    return page.get_by_role("main")


def cell(table, text: str):
    """A cell of a dataframe (drawn on a canvas; its cells are an accessible table underneath)."""
    return table.get_by_text(text, exact=True).first


def test_first_start_creates_the_admin_and_lands_on_the_demo_overview(
    page: Page, dashboard: Dashboard
) -> None:
    open_dashboard(page, dashboard)
    if page.get_by_label("Admin user name").count():  # this story runs first, unless picked alone later
        expect(page.get_by_text("First start.")).to_be_visible()
        create_first_admin(page, *ADMIN)
    else:
        sign_in(page, dashboard)
    body = main(page)
    expect(body.get_by_role("heading", name="Overview", level=1)).to_be_visible()
    expect(page.get_by_role("region", name="Sidebar").get_by_text(ADMIN[0], exact=True)).to_be_visible()
    for label in ("Connections", "Dataflows", "Runs", "Records ingested", "Rows quarantined"):
        expect(body.get_by_test_id("stMetric").filter(has_text=label)).to_be_visible()
    # the demo workspace: its three dataflows and their first runs
    for dataflow in ("crm_contacts", "shop_orders", "loyalty_members"):
        expect(cell(body, dataflow)).to_be_attached()
    expect(body.get_by_test_id("stMetric").filter(has_text="Dataflows")).to_contain_text("3")
    shoot(page, "overview")


def test_connect_a_postgres_table_and_an_s3_bucket(
    page: Page, dashboard: Dashboard, postgres_source: Postgres, s3_source: Bucket, moto_checks_keys: None
) -> None:
    sign_in(page, dashboard)
    go(page, "Sources")
    body = main(page)

    choose(page, "Connector", "PostgreSQL")
    form = body.get_by_test_id("stForm")
    enter(form.get_by_role("textbox", name="Name *", exact=True), "shop_db")
    enter(form.get_by_role("textbox", name="Description", exact=True), "Shop customers")
    enter(form.get_by_role("textbox", name="Host", exact=True), postgres_source.host)
    enter(form.get_by_role("spinbutton", name="Port"), str(postgres_source.port))
    enter(form.get_by_role("textbox", name="Database", exact=True), postgres_source.database)
    enter(form.get_by_role("textbox", name="Schema", exact=True), postgres_source.schema)
    enter(form.get_by_role("textbox", name="Username", exact=True), postgres_source.username)
    form.get_by_role("button", name="Test connection").click()
    expect(body.get_by_test_id("stAlertContentSuccess")).to_contain_text("PostgreSQL")
    form.get_by_role("button", name="Save").click()
    expect(body.get_by_text("Saved connection shop_db.")).to_be_visible()
    settled(page)

    choose(page, "Connection", "+ New connection")
    choose(page, "Connector", "Amazon S3")
    wrong = "wrong-secret-" + s3_source.secret[-12:]
    form = body.get_by_test_id("stForm")
    enter(form.get_by_role("textbox", name="Name *", exact=True), "signups_s3")
    enter(form.get_by_role("textbox", name="URL *", exact=True), f"s3://{s3_source.name}/signups")
    enter(form.get_by_role("textbox", name="Access key ID", exact=True), s3_source.key)
    enter(form.get_by_role("textbox", name="Secret access key", exact=True), wrong)
    enter(form.get_by_role("textbox", name="Region", exact=True), s3_source.server.region)
    enter(form.get_by_role("textbox", name="Endpoint URL", exact=True), s3_source.server.endpoint_url)
    form.get_by_role("button", name="Test connection").click()
    failure = body.get_by_test_id("stAlertContentError")
    expect(failure).to_contain_text("secret access key does not match")
    assert wrong not in body.inner_text() and s3_source.secret not in body.inner_text()

    enter(form.get_by_role("textbox", name="Secret access key", exact=True), s3_source.secret)
    form.get_by_role("button", name="Test connection").click()
    expect(body.get_by_test_id("stAlertContentSuccess")).to_be_visible()
    form.get_by_role("button", name="Save").click()
    expect(body.get_by_text("Saved connection signups_s3.")).to_be_visible()
    settled(page)
    # shown again as saved: the secret is stored, never sent back to the browser
    expect(body.get_by_role("textbox", name="Secret access key", exact=True)).not_to_have_value(
        s3_source.secret
    )
    assert s3_source.secret not in page.content()
    saved = body.get_by_test_id("stDataFrame").first
    expect(saved).to_be_visible()
    shoot(page, "sources")


def test_preview_a_table_and_a_bucket_with_column_profiles(
    page: Page, dashboard: Dashboard, postgres_source: Postgres
) -> None:
    sign_in(page, dashboard)
    go(page, "Preview")
    body = main(page)
    choose(page, "Connection", "shop_db")
    choose(page, "Stream", f"{postgres_source.schema}.customers")
    expect(body.get_by_role("tab", name="Sample · 3 rows")).to_be_visible()
    expect(body.get_by_text("Key candidates: customer_id")).to_be_visible()
    body.get_by_role("tab", name="Column profile · 4").click()
    profile = body.get_by_test_id("stDataFrame").filter(visible=True)
    expect(profile).to_be_visible()
    shoot(page, "preview")

    choose(page, "Connection", "signups_s3")
    enter(body.get_by_role("textbox", name="…or type a pattern", exact=True), "*.csv")
    settled(page)
    expect(body.get_by_role("tab", name="Sample · 3 rows")).to_be_visible()
    expect(body.get_by_role("tab", name="Objects · 1")).to_be_visible()
    body.get_by_role("tab", name="Column profile · 4").click()
    expect(body.get_by_test_id("stDataFrame").filter(visible=True)).to_be_visible()


def test_find_a_customer_in_two_sources_and_see_why_they_merged(page: Page, dashboard: Dashboard) -> None:
    sign_in(page, dashboard)
    go(page, "Profiles")
    body = main(page)
    choose(page, "Identity", "email")
    enter(body.get_by_role("textbox", name="Value", exact=True), "tara.1@example.com")
    settled(page)
    expect(body.get_by_role("tab", name=re.compile(r"^crm_contacts · 1"))).to_be_visible()
    expect(body.get_by_role("tab", name=re.compile(r"^shop_orders · \d+"))).to_be_visible()
    expect(body.get_by_test_id("stGraphVizChart").locator("svg")).to_be_visible()
    body.get_by_role("tab", name="Why merged").click()
    trail = body.get_by_role("tabpanel", name="Why merged").get_by_test_id("stDataFrame")
    expect(trail).to_be_visible()
    expect(trail.get_by_text("tara.1@example.com").first).to_be_attached()
    shoot(page, "profiles")
