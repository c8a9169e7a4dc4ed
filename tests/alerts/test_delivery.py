"""Delivery against a real local webhook receiver and SMTP server: once, retried, given up, secret-free."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from core.alerts import AlertCenter, DeliveryPolicy
from core.services import Workspace
from core.store import tables as t
from core.store.repository import utcnow
from tests.alerts.conftest import PASSWORD, TOKEN, add_dataflow, run, write_rows
from tests.alerts.servers import Mailbox, Webhook

ROOT = Path(__file__).resolve().parents[2]
#: The test SMTP server takes a login over plain text (no certificate to make); aiosmtpd warns about it.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


def failed_run(workspace: Workspace, source: Path, name: str = "contacts") -> int:
    add_dataflow(workspace, name, every=None)
    write_rows(source, name, good=0, bad=4)
    return run(workspace, name, "failed")


def delivery_rows(workspace: Workspace) -> list[dict]:
    with workspace.engine.connect() as c:
        return [
            dict(r)
            for r in c.execute(select(t.alert_deliveries).order_by(t.alert_deliveries.c.id)).mappings()
        ]


def everything_stored(workspace: Workspace) -> str:
    """Every alert row as text: channels (config, ciphertext) and deliveries (payload, errors)."""
    with workspace.engine.connect() as c:
        rows = [*c.execute(select(t.alert_channels)), *c.execute(select(t.alert_deliveries))]
    return "\n".join(repr(tuple(row)) for row in rows)


def test_a_failed_run_reaches_the_webhook_once_as_slack_json(
    workspace, center, source, webhook: Webhook
) -> None:
    center.save_channel("ops", "webhook", {"url": webhook.url(TOKEN)}, ["run_failed"])
    run_id = failed_run(workspace, source)

    report = center.dispatch()
    assert (report.events, report.queued, report.sent) == (1, 1, 1)
    (body,) = webhook.requests
    assert webhook.paths == [f"/services/T0ALERTS/B0TRIBUTARY/{TOKEN}"]
    assert body["event"] == "run_failed" and body["run_id"] == run_id and body["dataflow"] == "contacts"
    assert body["status"] == "failed" and "link" not in body
    assert body["text"].startswith(f"[Tributary] Run #{run_id} of contacts failed\n")
    assert "4 of 4 rows failed" in body["summary"]

    again = center.dispatch()
    assert (again.queued, again.sent) == (0, 0)
    assert len(webhook.requests) == 1
    (row,) = delivery_rows(workspace)
    assert (row["status"], row["attempts"], row["key"]) == (
        "sent",
        1,
        f"run_failed:{run_id}:{row['channel_id']}",
    )
    assert row["sent_at"] is not None and row["last_error"] is None


def test_the_link_points_at_the_dashboard_when_its_address_is_set(workspace, center, source, webhook) -> None:
    center.save_rules({"dashboard_url": "https://tributary.example.com/"})
    center.save_channel("ops", "webhook", {"url": webhook.url(TOKEN)}, ["run_failed"])
    failed_run(workspace, source)
    center.dispatch()
    (body,) = webhook.requests
    assert body["link"] == "https://tributary.example.com/runs"
    assert body["text"].endswith("<https://tributary.example.com/runs|Open Tributary>")


def test_a_500_is_retried_with_backoff_and_recorded_without_the_secret(
    workspace, center, source, webhook: Webhook, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    webhook.statuses = [500, 503]
    center.save_channel("ops", "webhook", {"url": webhook.url(TOKEN)}, ["run_failed"])
    failed_run(workspace, source)
    now = utcnow()

    first = center.dispatch(now)
    assert (first.sent, first.retrying) == (0, 1)
    (row,) = delivery_rows(workspace)
    assert (row["status"], row["attempts"]) == ("pending", 1)
    assert row["last_error"].startswith("the webhook answered HTTP 500: no service at ")
    assert TOKEN not in row["last_error"] and "********" in row["last_error"]

    assert center.dispatch(now + timedelta(seconds=59)).sent == 0  # first retry after 60 s
    assert len(webhook.requests) == 1
    center.dispatch(now + timedelta(seconds=61))  # 503
    assert delivery_rows(workspace)[0]["attempts"] == 2
    assert center.dispatch(now + timedelta(seconds=61 + 119)).sent == 0  # then 120 s
    assert center.dispatch(now + timedelta(seconds=61 + 121)).sent == 1
    (row,) = delivery_rows(workspace)
    assert (row["status"], row["attempts"], row["last_error"]) == ("sent", 3, None)
    assert len(webhook.requests) == 3
    assert TOKEN not in caplog.text and "HTTP 503" in caplog.text
    assert TOKEN not in everything_stored(workspace)


def test_delivery_gives_up_after_the_maximum_attempts(workspace, source, webhook: Webhook) -> None:
    center = AlertCenter(workspace, DeliveryPolicy(max_attempts=3, first_retry_s=1, max_retry_s=1))
    webhook.statuses = [500] * 10
    center.save_channel("ops", "webhook", {"url": webhook.url(TOKEN)}, ["run_failed"])
    failed_run(workspace, source)
    now = utcnow()
    reports = [center.dispatch(now + timedelta(seconds=5 * i)) for i in range(5)]
    assert [r.retrying for r in reports] == [1, 1, 0, 0, 0]
    assert [r.gave_up for r in reports] == [0, 0, 1, 0, 0]
    assert len(webhook.requests) == 3
    (row,) = delivery_rows(workspace)
    assert (row["status"], row["attempts"], row["next_attempt_at"]) == ("failed", 3, None)
    assert "HTTP 500" in row["last_error"] and TOKEN not in row["last_error"]


def test_an_unreachable_webhook_is_an_error_that_names_no_secret(workspace, center, source) -> None:
    from tests.alerts.servers import free_port

    url = f"http://127.0.0.1:{free_port()}/services/T0/B0/{TOKEN}"
    center.save_channel("ops", "webhook", {"url": url, "timeout_s": 2}, ["run_failed"])
    failed_run(workspace, source)
    assert center.dispatch().retrying == 1
    (row,) = delivery_rows(workspace)
    assert row["last_error"].startswith("the webhook could not be reached")
    assert TOKEN not in row["last_error"]


def test_concurrent_dispatchers_send_each_alert_once(any_workspace, source, webhook: Webhook) -> None:
    webhook.delay_s = 0.3  # a slow receiver: a double claim would show as two requests
    AlertCenter(any_workspace).save_channel("ops", "webhook", {"url": webhook.url(TOKEN)}, ["run_failed"])
    failed_run(any_workspace, source, "first")
    failed_run(any_workspace, source, "second")
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def dispatcher(center: AlertCenter) -> None:
        start.wait()
        try:
            center.dispatch()
        except BaseException as error:
            errors.append(error)

    # each with its own engine, as another process would have (opened here: migrating is not thread-safe)
    centers = [AlertCenter(Workspace.open()) for _ in range(4)]
    threads = [threading.Thread(target=dispatcher, args=(center,)) for center in centers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert sorted(body["dataflow"] for body in webhook.requests) == ["first", "second"]
    assert [row["status"] for row in delivery_rows(any_workspace)] == ["sent", "sent"]


def test_two_processes_dispatching_at_once_send_once(workspace, source, webhook: Webhook) -> None:
    webhook.delay_s = 0.3
    AlertCenter(workspace).save_channel("ops", "webhook", {"url": webhook.url(TOKEN)}, ["run_failed"])
    failed_run(workspace, source)
    command = [sys.executable, "-m", "core.alerts", "--once"]
    processes = [
        subprocess.Popen(
            command, cwd=ROOT, env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(2)
    ]
    outputs = [process.communicate(timeout=120) for process in processes]
    assert [process.returncode for process in processes] == [0, 0], outputs
    assert len(webhook.requests) == 1
    said = "".join(out.decode() + err.decode() for out, err in outputs)
    assert "1 sent" in said and TOKEN not in said


def test_email_arrives_through_smtp_with_login(workspace, center, source, mailbox: Mailbox) -> None:
    config = {
        "host": "127.0.0.1",
        "port": mailbox.port,
        "security": "none",
        "username": "alerts",
        "password": PASSWORD,
        "sender": "tributary@example.com",
        "recipients": "ops@example.com, data@example.com",
    }
    center.save_channel("mail", "email", config, ["run_failed"])
    run_id = failed_run(workspace, source)
    assert center.dispatch().sent == 1
    (message,) = mailbox.messages
    assert message["Subject"] == f"[Tributary] Run #{run_id} of contacts failed"
    assert message["To"] == "ops@example.com, data@example.com"
    body = message.get_payload()
    assert "4 of 4 rows failed" in body and f"Run: {run_id}" in body and "Dataflow: contacts" in body
    assert mailbox.inbox.envelopes == [("tributary@example.com", ["ops@example.com", "data@example.com"])]
    assert PASSWORD not in everything_stored(workspace)


def test_a_refused_smtp_login_is_recorded_without_the_password(
    workspace, center, source, mailbox: Mailbox, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "Wr0ng-" + PASSWORD
    config = {
        "host": "127.0.0.1",
        "port": mailbox.port,
        "security": "none",
        "username": "alerts",
        "password": wrong,
        "sender": "tributary@example.com",
        "recipients": ["ops@example.com"],
    }
    center.save_channel("mail", "email", config, ["run_failed"])
    failed_run(workspace, source)
    assert center.dispatch().retrying == 1
    (row,) = delivery_rows(workspace)
    assert row["last_error"].startswith("the mail server refused (535)")
    assert mailbox.messages == []
    for text in (row["last_error"], caplog.text, everything_stored(workspace)):
        assert wrong not in text and PASSWORD not in text


def test_starttls_against_a_server_without_it_fails_clearly(workspace, center, source, mailbox) -> None:
    config = {
        "host": "127.0.0.1",
        "port": mailbox.port,
        "sender": "t@example.com",
        "recipients": "o@example.com",
    }
    center.save_channel("mail", "email", config, ["run_failed"])  # starttls is the default
    failed_run(workspace, source)
    center.dispatch()
    assert "STARTTLS" in delivery_rows(workspace)[0]["last_error"]


def test_channels_get_only_their_events_and_past_facts_only_after_they_exist(
    workspace, center, source, webhook: Webhook
) -> None:
    failed_run(workspace, source, "before")  # before any channel: not announced
    center.save_channel("failures", "webhook", {"url": webhook.url("failures" + TOKEN)}, ["run_failed"])
    center.save_channel("health", "webhook", {"url": webhook.url("health" + TOKEN)}, ["scheduler_down"])
    center.save_channel("off", "webhook", {"url": webhook.url("off" + TOKEN)}, ["run_failed"], enabled=False)
    add_dataflow(workspace, "scheduled")  # needs a scheduler; none has ever beaten
    failed_run(workspace, source, "after")
    center.dispatch()
    received = sorted(
        (path.rsplit("/", 1)[1].removesuffix(TOKEN), body["event"], body["dataflow"])
        for path, body in zip(webhook.paths, webhook.requests, strict=True)
    )
    assert received == [("failures", "run_failed", "after"), ("health", "scheduler_down", None)]
