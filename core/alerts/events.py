"""What an alert is about: the event kinds, the rules that raise them, one event and its payload.

The payload is Slack-compatible JSON: Slack (and the many tools that accept
Slack's incoming-webhook format) show ``text``; the other keys carry the same
facts for programs that read them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

#: Event kind -> what a person reads in the dashboard.
EVENTS: dict[str, str] = {
    "run_failed": "Run failed",
    "run_partial": "Run partial over threshold",
    "no_data": "No data received for several runs",
    "scheduler_down": "Scheduler down",
    "run_late": "Run late by more than its interval",
}


class AlertRules(BaseModel):
    """When the conditions that are not plain facts (a failed run is one) count as an alert.

    Stored as the workspace setting ``alerts``; one set for the whole workspace.
    """

    model_config = ConfigDict(extra="forbid")

    partial_rate: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="A partial run alerts when more than this share of its rows failed. "
        "Empty: half of the dataflow's own error threshold (which fails the run).",
    )
    no_data_runs: int = Field(
        default=3, ge=1, le=1000, description="How many runs in a row that received no rows alert."
    )
    scheduler_down_minutes: int = Field(
        default=5, ge=1, le=24 * 60, description="Minutes without a scheduler heartbeat that mean it is down."
    )
    lookback_hours: int = Field(
        default=7 * 24,
        ge=1,
        le=90 * 24,
        description="How far back finished runs are looked at (bounds the work of each check).",
    )
    dashboard_url: str | None = Field(
        default=None, description="The dashboard's address, for a link in each alert (optional)."
    )

    @field_validator("dashboard_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value


@dataclass(frozen=True)
class AlertEvent:
    """One occurrence of a condition worth telling someone about.

    Attributes:
        kind: one of :data:`EVENTS`.
        key: stable for the occurrence, so detecting it again is not a new alert.
        occurred_at: when it happened (UTC).
        title: one line, e.g. "Run #12 of contacts failed".
        summary: what happened and what to look at; never holds a secret.
        ongoing: a condition that holds now (scheduler down, late, no data) rather than
            a past fact (a failed run): channels created after it began still hear of it.
    """

    kind: str
    key: str
    occurred_at: datetime
    title: str
    summary: str
    dataflow_id: int | None = None
    dataflow: str | None = None
    run_id: int | None = None
    status: str | None = None
    ongoing: bool = False

    def payload(self, dashboard_url: str | None = None) -> dict[str, Any]:
        """The JSON body sent to webhooks (and the facts an email is written from)."""
        link = None
        if dashboard_url:
            link = f"{dashboard_url}/runs" if self.run_id is not None else dashboard_url
        text = f"[Tributary] {self.title}\n{self.summary}"
        if link:
            text += f"\n<{link}|Open Tributary>"
        body: dict[str, Any] = {
            "text": text,
            "event": self.kind,
            "title": self.title,
            "dataflow": self.dataflow,
            "run_id": self.run_id,
            "status": self.status,
            "summary": self.summary,
            "occurred_at": self.occurred_at.astimezone(UTC).isoformat(),
        }
        if link:
            body["link"] = link
        return body


def check_payload(channel: str) -> dict[str, Any]:
    """The payload "Send a test" delivers."""
    title = f"Test alert from channel {channel}"
    summary = "Tributary can reach this channel: alerts will arrive here."
    return {
        "text": f"[Tributary] {title}\n{summary}",
        "event": "test",
        "title": title,
        "dataflow": None,
        "run_id": None,
        "status": "test",
        "summary": summary,
        "occurred_at": datetime.now(UTC).isoformat(),
    }
