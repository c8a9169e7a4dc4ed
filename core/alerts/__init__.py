"""Alerts: run failed, run partial over threshold, no data, scheduler down, run late.

Detected from the store (:mod:`core.alerts.detection`), delivered once per
event and channel with retries (:mod:`core.alerts.delivery`) to Slack-compatible
webhooks and SMTP email (:mod:`core.alerts.channels`). :class:`AlertCenter` is
what the dashboard, the scheduler and ``python -m core.alerts`` call.
"""

from __future__ import annotations

from core.alerts.center import AlertCenter, ChannelView, SendResult
from core.alerts.channels import KINDS, MASK, ChannelSettings, DeliveryError, EmailChannel, WebhookChannel
from core.alerts.delivery import DeliveryPolicy, DispatchReport
from core.alerts.events import EVENTS, AlertEvent, AlertRules

__all__ = [
    "EVENTS",
    "KINDS",
    "MASK",
    "AlertCenter",
    "AlertEvent",
    "AlertRules",
    "ChannelSettings",
    "ChannelView",
    "DeliveryError",
    "DeliveryPolicy",
    "DispatchReport",
    "EmailChannel",
    "SendResult",
    "WebhookChannel",
]
