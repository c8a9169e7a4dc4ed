"""The Alerts page (AppTest): add, test, edit, delete channels; rules; deliveries; secrets never shown."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import streamlit as st
from streamlit.proto.TextInput_pb2 import TextInput as TextInputProto
from streamlit.testing.v1 import AppTest

from core.alerts import AlertCenter
from core.services import Workspace
from tests.alerts.conftest import PASSWORD, TOKEN, add_dataflow, run, write_rows
from tests.alerts.servers import Mailbox, Webhook
from tests.pages.apptest import APP, TIMEOUT, open_page

PAGE = "pages/alerts.py"
PASSWORD_BOX = TextInputProto.Type.PASSWORD
NEW = "+ New channel"
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


@pytest.fixture(autouse=True)
def dashboard(workspace_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """An empty workspace (no demo) and fresh Streamlit caches for each test."""
    monkeypatch.setenv("TRIBUTARY_DEMO", "0")
    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


def open_alerts() -> AppTest:
    """The page as app.py routes it; the page alone while app.py's navigation does not list it yet."""
    if PAGE in APP.read_text(encoding="utf-8"):
        return open_page(PAGE)
    at = AppTest.from_file(str(APP.parent / PAGE), default_timeout=TIMEOUT).run()
    assert not at.exception, at.exception
    return at


def shown(at: AppTest) -> str:
    """Everything the page sends to the browser that a secret could hide in.

    A password box's own value is left out: it is what the person typed, kept in
    their browser after a failed save so that they can correct it.
    """
    kinds = ["title", "markdown", "caption", "success", "error", "info", "warning", "exception", "text_input"]
    parts = []
    for kind in kinds:
        for element in at.get(kind):
            if kind != "text_input" or element.proto.type != PASSWORD_BOX:
                parts.append(str(element.value))
            parts.append(str(element.proto))  # labels, help, placeholders, defaults
    for frame in at.get("dataframe"):
        parts.append(pd.DataFrame(frame.value).to_csv())
    return "\n".join(parts)


def messages(at: AppTest, kind: str) -> str:
    return "\n".join(str(element.value) for element in at.get(kind))


def test_the_empty_page_says_what_to_do() -> None:
    at = open_alerts()
    assert at.title[0].value == "Alerts"
    assert "No channel yet" in messages(at, "info") and "No alert sent yet." in messages(at, "info")


def test_add_a_webhook_channel_test_it_then_save_it(webhook: Webhook) -> None:
    at = open_alerts()
    at.text_input(key=f"alerts.name.{NEW}").set_value("ops")
    at.text_input(key=f"alerts.webhook.{NEW}.url").set_value(webhook.url(TOKEN))
    at.button(key="alerts.test").click().run()
    assert not at.exception and not at.error, messages(at, "error")
    assert messages(at, "success") == f"Sent a test alert to {webhook.base}/…."
    assert webhook.requests[0]["event"] == "test"

    at.button(key="alerts.save").click().run()
    assert not at.exception and not at.error, messages(at, "error")
    assert "Saved channel **ops**." in messages(at, "success")
    assert at.selectbox(key="alerts.editing").value == "ops"  # the saved channel is open for editing
    assert at.dataframe[0].value["target"].tolist() == [f"{webhook.base}/…"]
    assert at.text_input(key="alerts.webhook.ops.url").value == ""
    assert at.text_input(key="alerts.webhook.ops.url").placeholder == "Stored: leave empty to keep it"
    assert TOKEN not in shown(at)
    assert AlertCenter(Workspace.open()).channel("ops").events == [
        "run_failed",
        "run_partial",
        "no_data",
        "scheduler_down",
        "run_late",
    ]


def test_add_an_email_channel(mailbox: Mailbox) -> None:
    at = open_alerts()
    at.button_group(key="alerts.kind").set_value("email").run()
    form = f"alerts.email.{NEW}"
    at.text_input(key=f"alerts.name.{NEW}").set_value("mail")
    at.text_input(key=f"{form}.host").set_value("127.0.0.1")
    at.number_input(key=f"{form}.port").set_value(mailbox.port)
    at.selectbox(key=f"{form}.security").set_value("none")
    at.text_input(key=f"{form}.username").set_value("alerts")
    at.text_input(key=f"{form}.password").set_value(PASSWORD)
    at.text_input(key=f"{form}.sender").set_value("tributary@example.com")
    at.text_input(key=f"{form}.recipients").set_value("ops@example.com; data@example.com")
    at.multiselect(key=f"alerts.events.{NEW}").set_value(["run_failed", "scheduler_down"])
    at.button(key="alerts.test").click().run()
    assert not at.exception and not at.error, messages(at, "error")
    assert mailbox.messages[0]["To"] == "ops@example.com, data@example.com"

    at.button(key="alerts.save").click().run()
    assert "Saved channel **mail**." in messages(at, "success")
    view = AlertCenter(Workspace.open()).channel("mail")
    assert view.events == ["run_failed", "scheduler_down"] and view.config["recipients"] == [
        "ops@example.com",
        "data@example.com",
    ]
    assert PASSWORD not in shown(at)


def test_editing_with_the_secret_left_empty_keeps_it(webhook: Webhook) -> None:
    AlertCenter(Workspace.open()).save_channel("ops", "webhook", {"url": webhook.url(TOKEN)}, ["run_failed"])
    at = open_alerts()
    at.selectbox(key="alerts.editing").set_value("ops").run()
    assert at.text_input(key="alerts.name.ops").disabled
    at.multiselect(key="alerts.events.ops").set_value(["run_failed", "run_late"])
    at.button(key="alerts.save").click().run()
    assert not at.error, messages(at, "error")
    at.button(key="alerts.test").click().run()
    assert messages(at, "success").startswith("Sent a test alert")
    assert webhook.paths == [f"/services/T0ALERTS/B0TRIBUTARY/{TOKEN}"]
    assert AlertCenter(Workspace.open()).channel("ops").events == ["run_failed", "run_late"]
    assert TOKEN not in shown(at)


def test_a_bad_address_is_reported_without_echoing_it() -> None:
    at = open_alerts()
    at.text_input(key=f"alerts.name.{NEW}").set_value("ops")
    at.text_input(key=f"alerts.webhook.{NEW}.url").set_value(f"ftp://hooks.example.com/{TOKEN}")
    at.button(key="alerts.save").click().run()
    assert not at.exception
    assert "http:// or https://" in messages(at, "error")
    assert TOKEN not in shown(at)
    assert AlertCenter(Workspace.open()).channels().empty


def test_delete_a_channel(webhook: Webhook) -> None:
    AlertCenter(Workspace.open()).save_channel("ops", "webhook", {"url": webhook.url(TOKEN)}, ["run_failed"])
    at = open_alerts()
    at.selectbox(key="alerts.editing").set_value("ops").run()
    at.button(key="alerts.delete").click().run()
    assert not at.exception
    assert "Deleted channel **ops**." in messages(at, "success")
    assert at.selectbox(key="alerts.editing").value == NEW
    assert AlertCenter(Workspace.open()).channels().empty


def test_rules_are_saved_from_the_form() -> None:
    at = open_alerts()
    at.number_input(key="alerts.rules.partial_rate").set_value(2.0)
    at.number_input(key="alerts.rules.no_data").set_value(4)
    at.text_input(key="alerts.rules.url").set_value("http://localhost:8501")
    at.button(key="alerts.rules.save").click().run()
    assert "Saved the alert rules." in messages(at, "success")
    rules = AlertCenter(Workspace.open()).rules()
    assert (rules.partial_rate, rules.no_data_runs, rules.dashboard_url) == (0.02, 4, "http://localhost:8501")


def test_check_and_send_now_lists_deliveries_with_errors_but_no_secret(
    tmp_path: Path, webhook: Webhook
) -> None:
    workspace = Workspace.open()
    center = AlertCenter(workspace)
    center.save_channel("ops", "webhook", {"url": webhook.url(TOKEN)}, ["run_failed"])
    webhook.statuses = [500]
    folder = tmp_path / "source"
    folder.mkdir()
    workspace.save_connection("alerts_src", "files", {"url": str(folder)})
    add_dataflow(workspace, "contacts", every=None)
    write_rows(folder, "contacts", good=0, bad=3)
    run_id = run(workspace, "contacts", "failed")

    at = open_alerts()
    at.button(key="alerts.dispatch").click().run()
    assert not at.exception and not at.error, messages(at, "error")
    assert "1 alerts hold now; 0 sent, 1 to retry." in messages(at, "info")
    table = at.dataframe[-1].value  # channels first, deliveries last
    row = table.iloc[0]
    assert (row["title"], row["dataflow"], row["channel"], row["status"], row["attempts"]) == (
        f"Run #{run_id} of contacts failed",
        "contacts",
        "ops",
        "pending",
        1,
    )
    assert row["last_error"].startswith("the webhook answered HTTP 500")
    assert TOKEN not in shown(at)
