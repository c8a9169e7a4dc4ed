"""Alert fixtures: a local webhook receiver, a local SMTP server, and real runs to alert on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.alerts import AlertCenter
from core.services import Workspace
from tests.alerts.servers import Mailbox, Webhook, start_mailbox, start_webhook

#: The secret parts the tests look for wherever a secret must not be.
TOKEN = "xoxTOKENs3cr3tW3bh00k"
PASSWORD = "Smtp-Pa55-Secr3t"
HEADER = "customer_id,email,updated_at\n"


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = start_webhook()
    yield hook
    hook.server.shutdown()
    hook.server.server_close()


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    box = start_mailbox("alerts", PASSWORD)
    yield box
    box.controller.stop()


@pytest.fixture
def center(workspace: Workspace) -> AlertCenter:
    return AlertCenter(workspace)


@pytest.fixture
def source(tmp_path: Path, workspace: Workspace) -> Path:
    """A folder of CSV files behind the connection ``alerts_src``."""
    folder = tmp_path / "source"
    folder.mkdir()
    workspace.save_connection("alerts_src", "files", {"url": str(folder)})
    return folder


def add_dataflow(
    workspace: Workspace, name: str, *, threshold: float = 0.05, every: str | None = "1 hour"
) -> None:
    """An incremental dataflow over ``{name}*.csv``; emails must look like emails."""
    spec: dict[str, Any] = {
        "source": {"connection": "alerts_src", "stream": f"{name}*.csv", "format": {"type": "csv"}},
        "sync": {"mode": "incremental", "cursor": "updated_at", "primary_key": ["customer_id"]},
        "mapping": {"crmId": "customer_id", "personalEmail.address": "lower(trim(email))"},
        "quality": [
            {
                "expect_column_values_to_match_regex": {
                    "column": "personalEmail.address",
                    "regex": r"^[^@\s]+@[^@\s]+$",
                }
            }
        ],
        "error_threshold": threshold,
    }
    if every:
        spec["schedule"] = {"every": every}
    workspace.save_dataflow(name, spec)


def write_rows(folder: Path, name: str, good: int, bad: int = 0, start: int = 1, day: str = "01") -> None:
    """Adds ``{name}-{start}.csv``: ``good`` valid rows then ``bad`` rows whose email is not one."""
    lines = [f"{i},user{i}@example.com,2026-11-{day}T00:00:00Z" for i in range(start, start + good)]
    lines += [f"{i},not-an-email,2026-11-{day}T00:00:00Z" for i in range(start + good, start + good + bad)]
    (folder / f"{name}-{start}.csv").write_text(HEADER + "\n".join(lines) + "\n", encoding="utf-8")


def run(workspace: Workspace, name: str, status: str) -> int:
    """Runs a dataflow and checks it ended as expected; returns the run id."""
    summary = workspace.run(name)
    assert summary.status == status, summary
    return int(summary.run_id)
