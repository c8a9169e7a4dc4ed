"""The Salesforce journey in the dashboard: connect, test, preview Contacts, create a dataflow, run it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from core.services import Workspace
from tests.http_servers.salesforce import FakeSalesforce
from tests.http_servers.salesforce_org import contact_records
from tests.pages.apptest import open_page, texts

CONTACTS = 23
NEW = "+ New connection"
FORM = f"sources.salesforce.{NEW}"


@pytest.fixture
def org() -> Iterator[FakeSalesforce]:
    with FakeSalesforce(page_size=7) as fake:
        fake.add("Contact", contact_records(CONTACTS, per_stamp=2))
        yield fake


def test_connect_preview_map_and_run_salesforce_contacts(org: FakeSalesforce) -> None:
    c = org.credentials
    secrets = {"client_secret": c.client_secret, "password": c.password, "security_token": c.security_token}

    # Sources: the form drawn from the connector's config, secrets in password boxes
    at = open_page("pages/sources.py")
    at.selectbox(key="sources.connector").set_value("salesforce").run()
    assert not at.exception
    at.text_input(key="sources.name.+ New connection").set_value("sf_crm")
    at.text_input(key=f"{FORM}.login_url").set_value(org.base_url)
    at.selectbox(key=f"{FORM}.auth").set_value("username_password")
    at.text_input(key=f"{FORM}.client_id").set_value(c.client_id)
    at.text_input(key=f"{FORM}.username").set_value(c.username)
    for name, value in secrets.items():
        box = at.text_input(key=f"{FORM}.{name}")
        assert box.proto.type == box.proto.PASSWORD, name
        box.set_value(value)
    at.button(key="sources.test").click().run()
    assert not at.exception and not at.error, texts(at.error)
    assert f"Connected to Salesforce at {org.base_url} (API v62.0)" in texts(at.success)
    assert c.password in repr(at)  # typed, so the check below could fail
    at.button(key="sources.save").click().run()
    assert "Saved connection **sf_crm**" in texts(at.success)

    # the page now shows the saved connection: in the list, its secrets never sent back
    assert at.selectbox(key="sources.editing").value == "sf_crm"
    assert "sf_crm" in set(at.dataframe[0].value["name"])
    for name in secrets:
        box = at.text_input(key=f"sources.salesforce.sf_crm.{name}")
        assert box.value == "" and box.placeholder == "Stored: leave empty to keep it"
    assert at.text_input(key="sources.salesforce.sf_crm.login_url").value == org.base_url
    assert not [name for name, value in secrets.items() if value in repr(at)]  # the whole element tree
    assert Workspace.open().connection_spec("sf_crm").config["password"] == "********"
    at.button(key="sources.test").click().run()  # testing the saved connection uses the stored secrets
    assert "Connected to Salesforce" in texts(at.success), texts(at.error)

    # Preview: the Contact object and its sample
    at = open_page("pages/preview.py")
    at.selectbox(key="preview.connection").set_value("sf_crm").run()
    at.selectbox(key="preview.stream.sf_crm").set_value("Contact").run()
    assert not at.exception and not at.error, texts(at.error)
    sample, profile = at.dataframe[0].value, at.dataframe[1].value
    assert len(sample) == CONTACTS and {"Id", "Email", "SystemModstamp"} <= set(sample.columns)
    assert "Key candidates: Id · cursor candidates: SystemModstamp" in texts(at.caption)
    types = profile.set_index("column")["type"]
    assert (types["SystemModstamp"], types["Birthdate"], types["HasOptedOutOfEmail"]) == (
        "timestamp",
        "date",
        "boolean",
    )

    # Dataflows: create one for Contacts from the standard mapping, incremental by SystemModstamp
    at = open_page("pages/dataflows.py")
    at.text_input(key="dataflows.new.name").set_value("sf_contacts")
    at.selectbox(key="dataflows.new.connection").set_value("sf_crm").run()
    at.selectbox(key="dataflows.new.stream.sf_crm").set_value("Contact").run()
    assert not at.exception and not at.error, texts(at.error)
    suggested = dict(zip(at.data_editor[0].value["target"], at.data_editor[0].value["source"], strict=True))
    assert suggested["crmId"] == "Id" and suggested["person.firstName"] == "FirstName"
    at.selectbox(key="dataflows.new.mode").set_value("incremental").run()
    assert at.selectbox(key="dataflows.new.cursor.Contact").value == "SystemModstamp"
    assert at.multiselect(key="dataflows.new.key.Contact").value == ["Id"]
    at.button(key="dataflows.new.create").click().run()
    assert not at.exception and not at.error, texts(at.error)
    assert "Created dataflow **sf_contacts**" in texts(at.success)
    spec = Workspace.open().dataflow_spec("sf_contacts")
    assert (spec.sync.mode, spec.sync.cursor, spec.identities.get("crm_id")) == (
        "incremental",
        "SystemModstamp",
        "crmId",
    )

    # Run it, and see the finished run with its record count
    at.run()
    at.selectbox(key="dataflows.run.name").set_value("sf_contacts").run()
    at.button(key="dataflows.run").click().run()
    assert not at.exception and not at.error, texts(at.error)
    assert at.status[0].label == "sf_contacts: succeeded"
    verdict = f"of sf_contacts succeeded: received {CONTACTS}, ingested {CONTACTS}, failed 0."
    assert verdict in texts(at.success)
    assert Workspace.open().record_count("sf_contacts") == CONTACTS

    at = open_page("pages/runs.py")
    history = next(d.value for d in at.dataframe if {"dataflow", "status"} <= set(d.value.columns))
    latest = history[history["dataflow"] == "sf_contacts"].iloc[0]
    assert (latest["status"], latest["received"], latest["ingested"]) == ("succeeded", CONTACTS, CONTACTS)
    assert not [name for name, value in secrets.items() if value in repr(at)]
