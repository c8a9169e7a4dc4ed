"""Channels: saved with the secret encrypted, listed and edited without it, tested, deleted."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.alerts import MASK, AlertCenter
from core.errors import ConfigurationError, NotFoundError
from core.store import tables as t
from tests.alerts.conftest import PASSWORD, TOKEN
from tests.alerts.servers import Mailbox, Webhook

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


def email_config(mailbox: Mailbox, password: str | None = PASSWORD) -> dict:
    return {
        "host": "127.0.0.1",
        "port": mailbox.port,
        "security": "none",
        "username": "alerts",
        "password": password,
        "sender": "tributary@example.com",
        "recipients": "ops@example.com",
    }


def test_the_webhook_address_is_stored_encrypted_and_never_listed(
    workspace, center, webhook: Webhook
) -> None:
    center.save_channel("ops", "webhook", {"url": webhook.url(TOKEN)}, ["run_failed", "scheduler_down"])
    with workspace.engine.connect() as c:
        row = c.execute(select(t.alert_channels)).mappings().one()
    assert TOKEN not in repr(dict(row)) and workspace.vault.decrypt(
        row["secret"]
    ).get_secret_value().endswith(TOKEN)

    listed = center.channels()
    assert listed.to_dict("records")[0] | {"updated_at": None} == {
        "name": "ops",
        "kind": "webhook",
        "target": f"{webhook.base}/…",
        "events": ["run_failed", "scheduler_down"],
        "enabled": True,
        "updated_at": None,
    }
    view = center.channel("ops")
    assert view.config == {"url": MASK, "timeout_s": 10.0} and view.events == ["run_failed", "scheduler_down"]


def test_an_empty_or_masked_secret_keeps_the_stored_one(center, webhook: Webhook, mailbox: Mailbox) -> None:
    center.save_channel("ops", "webhook", {"url": webhook.url(TOKEN)}, ["run_failed"])
    center.save_channel("ops", "webhook", {"url": "", "timeout_s": 5}, ["run_failed", "run_late"])
    center.save_channel("ops", "webhook", {"url": MASK, "timeout_s": 5}, ["run_failed", "run_late"])
    assert center.test_channel("ops").ok
    assert webhook.paths[-1].endswith(TOKEN)
    assert center.channel("ops").config["timeout_s"] == 5

    center.save_channel("mail", "email", email_config(mailbox), ["run_failed"])
    center.save_channel("mail", "email", email_config(mailbox, password=None), ["run_failed"])
    assert center.test_channel("mail").ok, "the stored password still logs in"
    with pytest.raises(ConfigurationError, match="url"):  # a kind change cannot reuse the other kind's secret
        center.save_channel("mail", "webhook", {"url": ""}, ["run_failed"])


def test_send_a_test_through_saved_and_unsaved_settings(center, webhook: Webhook, mailbox: Mailbox) -> None:
    result = center.test_channel(kind="webhook", config={"url": webhook.url(TOKEN)})
    assert result.ok and result.message == f"Sent a test alert to {webhook.base}/…."
    assert webhook.requests[-1]["event"] == "test" and webhook.requests[-1]["text"].startswith(
        "[Tributary] Test"
    )

    center.save_channel("mail", "email", email_config(mailbox), ["run_failed"])
    assert center.test_channel("mail").ok
    assert mailbox.messages[-1]["Subject"] == "[Tributary] Test alert from channel mail"

    webhook.statuses = [404]
    failed = center.test_channel(kind="webhook", config={"url": webhook.url(TOKEN)})
    assert not failed.ok and failed.message.startswith("The test failed: the webhook answered HTTP 404")
    assert TOKEN not in failed.message

    refused = center.test_channel("mail", "email", email_config(mailbox, password="Wr0ng-" + PASSWORD))
    assert not refused.ok and "535" in refused.message and PASSWORD not in refused.message
    assert center.test_channel("nope").message.startswith("There is no alert channel 'nope'.")


def test_settings_are_validated_with_messages_that_echo_no_secret(center) -> None:
    with pytest.raises(ConfigurationError, match="must start with a letter"):
        center.save_channel("bad name", "webhook", {"url": "https://hooks.example.com/x"}, ["run_failed"])
    with pytest.raises(ConfigurationError, match="choose at least one event"):
        center.save_channel("ops", "webhook", {"url": "https://hooks.example.com/x"}, [])
    with pytest.raises(ConfigurationError, match=r"unknown: run_exploded"):
        center.save_channel("ops", "webhook", {"url": "https://hooks.example.com/x"}, ["run_exploded"])
    with pytest.raises(ConfigurationError) as caught:
        center.save_channel("ops", "webhook", {"url": f"ftp://hooks.example.com/{TOKEN}"}, ["run_failed"])
    assert "http:// or https://" in caught.value.user_message and TOKEN not in caught.value.user_message
    with pytest.raises(ConfigurationError, match="'nobody' is not an email address"):
        center.save_channel(
            "mail",
            "email",
            {"host": "smtp.example.com", "sender": "a@example.com", "recipients": "nobody"},
            ["no_data"],
        )
    with pytest.raises(ConfigurationError, match="unknown channel kind 'pager'"):
        center.save_channel("ops", "pager", {}, ["run_failed"])
    assert center.channels().empty


def test_deleting_a_channel_removes_its_deliveries(workspace, center, webhook: Webhook) -> None:
    from tests.alerts.conftest import add_dataflow

    center.save_channel("ops", "webhook", {"url": webhook.url(TOKEN)}, ["scheduler_down"])
    workspace.save_connection("alerts_src", "files", {"url": "."})
    add_dataflow(workspace, "scheduled")  # no scheduler has ever beaten: one alert
    center.dispatch()
    frame = center.deliveries()
    assert frame[["event", "channel", "status", "attempts"]].to_dict("records") == [
        {"event": "scheduler_down", "channel": "ops", "status": "sent", "attempts": 1}
    ]
    assert frame["title"].tolist() == ["The scheduler is down"]
    center.delete_channel("ops")
    assert center.channels().empty and center.deliveries().empty
    with pytest.raises(NotFoundError):
        center.delete_channel("ops")


def test_rules_are_validated_and_kept(center: AlertCenter) -> None:
    assert center.rules().no_data_runs == 3 and center.rules().partial_rate is None
    center.save_rules({"no_data_runs": 5, "partial_rate": 0.02, "dashboard_url": "http://localhost:8501/"})
    rules = center.rules()
    assert (rules.no_data_runs, rules.partial_rate, rules.dashboard_url) == (5, 0.02, "http://localhost:8501")
    with pytest.raises(ConfigurationError, match="no_data_runs"):
        center.save_rules({"no_data_runs": 0})
