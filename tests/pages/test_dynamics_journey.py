"""The Dynamics 365 journey in the dashboard: connect, test, preview contacts, create a dataflow, run it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from core.services import Workspace
from tests.http_servers import FakeApi
from tests.http_servers.dynamics import FakeDynamics, standard_environment
from tests.pages.apptest import open_page, texts

CONTACTS = 37
FORM = "sources.dynamics.+ New connection"
SECRET = "Entra-Journey-Secret~8xQ"


@pytest.fixture
def environment() -> Iterator[FakeDynamics]:
    with FakeApi() as api:
        yield standard_environment(api, contacts=CONTACTS, client_secret=SECRET)


def test_connect_preview_and_run_dynamics_contacts(environment: FakeDynamics) -> None:
    # Sources: the form drawn from the connector's config, the secret in a password box
    at = open_page("pages/sources.py")
    at.selectbox(key="sources.connector").set_value("dynamics").run()
    assert not at.exception
    at.text_input(key="sources.name.+ New connection").set_value("dynamics_crm")
    at.text_input(key=f"{FORM}.environment_url").set_value(environment.environment_url)
    at.text_input(key=f"{FORM}.tenant_id").set_value(environment.tenant)
    at.text_input(key=f"{FORM}.client_id").set_value(environment.client_id)
    at.text_input(key=f"{FORM}.authority_url").set_value(environment.api.base_url)
    at.number_input(key=f"{FORM}.page_size").set_value(10)
    secret_box = at.text_input(key=f"{FORM}.client_secret")
    assert secret_box.proto.type == secret_box.proto.PASSWORD
    secret_box.set_value(SECRET)
    at.button(key="sources.test").click().run()
    assert not at.exception and not at.error, texts(at.error)
    assert f"as application user {environment.user_id}" in texts(at.success)
    at.button(key="sources.save").click().run()
    assert "Saved connection **dynamics_crm**" in texts(at.success)
    assert SECRET not in repr(at)

    # the saved connection: listed, its secret never sent back to the browser
    at.run()
    at.selectbox(key="sources.editing").set_value("dynamics_crm").run()
    assert not at.exception and "dynamics_crm" in set(at.dataframe[0].value["name"])
    stored = at.text_input(key="sources.dynamics.dynamics_crm.client_secret")
    assert stored.value == "" and stored.placeholder == "Stored: leave empty to keep it"
    assert at.number_input(key="sources.dynamics.dynamics_crm.page_size").value == 10
    assert SECRET not in repr(at)
    assert Workspace.open().connection_spec("dynamics_crm").config["client_secret"] == "********"
    at.button(key="sources.test").click().run()  # testing the saved connection uses the stored secret
    assert "Connected to" in texts(at.success), texts(at.error)

    # Preview: the contacts table and its sample
    at = open_page("pages/preview.py")
    at.selectbox(key="preview.connection").set_value("dynamics_crm").run()
    assert set(at.selectbox(key="preview.stream.dynamics_crm").options) == {"contacts", "accounts"}
    at.selectbox(key="preview.stream.dynamics_crm").set_value("contacts").run()
    assert not at.exception and not at.error, texts(at.error)
    sample, profile = at.dataframe[0].value, at.dataframe[1].value
    assert len(sample) == CONTACTS and {"contactid", "emailaddress1", "modifiedon"} <= set(sample.columns)
    assert "Key candidates: contactid · cursor candidates: modifiedon, createdon, versionnumber" in texts(
        at.caption
    )
    types = profile.set_index("column")["type"]
    assert (types["modifiedon"], types["donotemail"], types["creditlimit"]) == (
        "timestamp",
        "boolean",
        "number",
    )

    # Dataflows: create one for contacts from the standard mapping, incremental by modifiedon
    at = open_page("pages/dataflows.py")
    at.text_input(key="dataflows.new.name").set_value("dynamics_contacts")
    at.selectbox(key="dataflows.new.connection").set_value("dynamics_crm").run()
    at.selectbox(key="dataflows.new.stream.dynamics_crm").set_value("contacts").run()
    assert not at.exception and not at.error, texts(at.error)
    editor = at.data_editor[0].value
    suggested = dict(zip(editor["target"], editor["source"], strict=True))
    assert suggested["crmId"] == "contactid" and suggested["person.firstName"] == "firstname"
    assert suggested["personalEmail.address"].endswith("emailaddress1")
    at.selectbox(key="dataflows.new.mode").set_value("incremental").run()
    assert at.selectbox(key="dataflows.new.cursor.contacts").value == "modifiedon"
    assert at.multiselect(key="dataflows.new.key.contacts").value == ["contactid"]
    at.button(key="dataflows.new.create").click().run()
    assert not at.exception and not at.error, texts(at.error)
    assert "Created dataflow **dynamics_contacts**" in texts(at.success)
    spec = Workspace.open().dataflow_spec("dynamics_contacts")
    assert (spec.sync.mode, spec.sync.cursor, spec.sync.primary_key) == (
        "incremental",
        "modifiedon",
        ["contactid"],
    )
    assert (
        spec.identities.get("crm_id") == "crmId" and spec.identities.get("email") == "personalEmail.address"
    )

    # Run it, and see the finished run with its record count
    at.run()  # the run picker lists what existed when the page was drawn
    at.selectbox(key="dataflows.run.name").set_value("dynamics_contacts").run()
    at.button(key="dataflows.run").click().run()
    assert not at.exception and not at.error, texts(at.error)
    assert at.status[0].label == "dynamics_contacts: succeeded"
    summary = texts(at.success)
    assert f"of dynamics_contacts succeeded: received {CONTACTS}, ingested {CONTACTS}, failed 0." in summary
    assert Workspace.open().record_count("dynamics_contacts") == CONTACTS
    pages = environment.api.requests_to(FakeDynamics.collection_path())
    assert {r.header("prefer") for r in pages if "$top" not in r.params} == {"odata.maxpagesize=10"}

    at = open_page("pages/runs.py")
    history = next(d.value for d in at.dataframe if {"dataflow", "status"} <= set(d.value.columns))
    latest = history[history["dataflow"] == "dynamics_contacts"].iloc[0]
    assert (latest["status"], latest["received"], latest["ingested"]) == ("succeeded", CONTACTS, CONTACTS)
    assert SECRET not in repr(at)
