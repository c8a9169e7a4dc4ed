"""Dataflows: the list, Run now with its summary, and creating a dataflow from suggestions."""

from __future__ import annotations

from core.services import Workspace
from tests.pages.apptest import open_page, texts


def test_the_list_shows_the_demo_dataflows() -> None:
    at = open_page("pages/dataflows.py")
    assert not at.exception
    assert {"crm_contacts", "shop_orders"} <= set(at.dataframe[0].value["name"])


def test_run_now_shows_progress_and_the_run_summary() -> None:
    before = len(Workspace.open().runs("crm_contacts"))
    at = open_page("pages/dataflows.py")
    at.selectbox(key="dataflows.run.name").set_value("crm_contacts").run()
    at.button(key="dataflows.run").click().run()
    assert not at.exception
    assert not at.error, texts(at.error)
    latest = Workspace.open().runs("crm_contacts").iloc[0]
    assert len(Workspace.open().runs("crm_contacts")) == before + 1
    summary = texts(at.success) + texts(at.warning)
    assert f"Run #{latest['id']} of crm_contacts {latest['status']}" in summary
    assert f"received {latest['received']:,}" in summary
    assert at.status[0].label == f"crm_contacts: {latest['status']}"
    assert {metric.label for metric in at.metric} == {"Received", "Ingested", "Failed", "Duration"}


def test_create_a_dataflow_from_suggested_mapping() -> None:
    at = open_page("pages/dataflows.py")
    at.text_input(key="dataflows.new.name").set_value("contacts_copy")
    at.selectbox(key="dataflows.new.connection").set_value("demo_files").run()
    at.selectbox(key="dataflows.new.stream.demo_files").set_value("contacts.csv").run()
    suggested = at.data_editor[0].value
    assert {"crmId", "personalEmail.address", "person.firstName"} <= set(suggested["target"])
    assert at.multiselect(key="dataflows.new.key.contacts.csv").value == ["customer_id"]
    at.button(key="dataflows.new.create").click().run()
    assert not at.exception
    assert not at.error, texts(at.error)
    assert "Created dataflow **contacts_copy**" in texts(at.success)
    spec = Workspace.open().dataflow_spec("contacts_copy")
    assert spec.mapping["personalEmail.address"] == "email"
    assert spec.sync.primary_key == ["customer_id"]
    assert spec.identities["email"] == "personalEmail.address"


def test_creating_without_a_name_shows_an_error() -> None:
    at = open_page("pages/dataflows.py")
    at.selectbox(key="dataflows.new.connection").set_value("demo_files").run()
    at.button(key="dataflows.new.create").click().run()
    assert not at.exception
    assert "name" in texts(at.error)
    assert "" not in set(Workspace.open().dataflows()["name"])


def test_a_schedule_is_set_paused_and_removed_from_the_page() -> None:
    from datetime import time

    at = open_page("pages/dataflows.py")
    original = Workspace.open().dataflow_spec("shop_orders")
    at.selectbox(key="dataflows.schedule.name").set_value("shop_orders").run()
    key = "dataflows.schedule.shop_orders"
    at.selectbox(key=f"{key}.kind").set_value("Daily").run()
    at.time_input(key=f"{key}.time").set_value(time(2, 30)).run()
    at.selectbox(key=f"{key}.zone").set_value("America/New_York").run()
    at.button(key="dataflows.schedule.save").click().run()
    assert not at.exception
    assert "runs every 1 day from" in texts(at.success)
    schedule = Workspace.open().dataflow_spec("shop_orders").schedule
    assert schedule is not None and schedule.every == "1 day" and schedule.timezone == "America/New_York"
    assert (schedule.start.hour, schedule.start.minute) == (2, 30)

    at.toggle(key=f"{key}.enabled").set_value(False).run()
    at.button(key="dataflows.schedule.save").click().run()
    assert "is paused" in texts(at.success)
    assert Workspace.open().dataflow_spec("shop_orders").enabled is False

    at.toggle(key=f"{key}.enabled").set_value(True).run()
    at.selectbox(key=f"{key}.kind").set_value("Manual only").run()
    at.button(key="dataflows.schedule.save").click().run()
    spec = Workspace.open().dataflow_spec("shop_orders")
    assert spec.schedule is None and spec.enabled is True
    Workspace.open().save_dataflow("shop_orders", original)  # as the other page tests expect it


def test_backfill_an_incremental_dataflow_from_a_date() -> None:
    from datetime import date

    at = open_page("pages/dataflows.py")
    at.selectbox(key="dataflows.schedule.name").set_value("crm_contacts").run()
    at.date_input(key="dataflows.backfill.since.crm_contacts").set_value(date(2000, 1, 1)).run()
    at.button(key="dataflows.backfill").click().run()
    assert not at.exception
    runs = Workspace.open().runs("crm_contacts")
    latest = runs.iloc[0]
    assert latest["trigger"] == "backfill" and latest["received"] == 1000  # the whole history again
    assert Workspace.open().record_count("crm_contacts") == latest["ingested"]  # upserted, never doubled
