"""The alerts façade: channels (saved with their secret encrypted), rules, tests, detection, dispatch."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import pandas as pd
from pydantic import SecretStr, ValidationError
from sqlalchemy import Engine, delete, insert, select, update

from core.alerts import delivery
from core.alerts.channels import KINDS, MASK, ChannelSettings, DeliveryError, WebhookChannel
from core.alerts.detection import detect, utc
from core.alerts.events import EVENTS, AlertEvent, AlertRules, check_payload
from core.errors import ConfigurationError, NotFoundError, TributaryError
from core.models import NAME_PATTERN
from core.secrets import Vault
from core.security.access import SYSTEM, Actor
from core.security.network import ALLOWED_NETWORKS_SETTING, network_policy
from core.store import tables as t
from core.store.repository import utcnow

#: The workspace setting that holds the AlertRules.
RULES_SETTING = "alerts"


class HasStore(Protocol):
    """What the center needs of a workspace: its engine and its vault."""

    engine: Engine
    vault: Vault


@dataclass(frozen=True)
class ChannelView:
    """A saved channel as a form shows it: its secret masked when one is stored."""

    name: str
    kind: str
    config: dict[str, Any]
    events: list[str]
    enabled: bool


@dataclass(frozen=True)
class SendResult:
    """The outcome of "Send a test": whether it arrived, and a message without secrets."""

    ok: bool
    message: str


class AlertCenter:
    """Alert channels, rules and deliveries of one workspace."""

    def __init__(self, workspace: HasStore, policy: delivery.DeliveryPolicy | None = None) -> None:
        self.engine = workspace.engine
        self.vault = workspace.vault
        self.actor: Actor = getattr(workspace, "actor", SYSTEM)
        self.policy = policy or delivery.DeliveryPolicy()

    # -- rules ---------------------------------------------------------------
    def rules(self) -> AlertRules:
        """The workspace's alert rules (defaults until saved)."""
        with self.engine.connect() as c:
            value = c.execute(select(t.settings.c.value).where(t.settings.c.key == RULES_SETTING)).scalar()
        try:
            return AlertRules.model_validate(value or {})
        except ValidationError:
            return AlertRules()

    def save_rules(self, rules: AlertRules | Mapping[str, Any]) -> AlertRules:
        """Validates and stores the alert rules."""
        self.actor.require("edit", "change alert rules")
        try:
            parsed = rules if isinstance(rules, AlertRules) else AlertRules.model_validate(dict(rules))
        except ValidationError as error:
            raise ConfigurationError(_problems(error, "alert rules")) from None
        with self.engine.begin() as c:
            c.execute(delete(t.settings).where(t.settings.c.key == RULES_SETTING))
            c.execute(
                insert(t.settings).values(
                    key=RULES_SETTING, value=parsed.model_dump(mode="json"), updated_at=utcnow()
                )
            )
        return parsed

    # -- channels ------------------------------------------------------------
    def channels(self) -> pd.DataFrame:
        """The saved channels: name, kind, where they send (no secret), events, enabled, updated."""
        columns = ["name", "kind", "target", "events", "enabled", "updated_at"]
        with self.engine.connect() as c:
            rows = list(c.execute(select(t.alert_channels).order_by(t.alert_channels.c.name)).mappings())
        return pd.DataFrame(
            [
                {
                    "name": row["name"],
                    "kind": row["kind"],
                    "target": row["config"].get("target", ""),
                    "events": list(row["events"]),
                    "enabled": bool(row["enabled"]),
                    "updated_at": row["updated_at"],
                }
                for row in rows
            ],
            columns=columns,
        )

    def channel(self, name: str) -> ChannelView:
        """A saved channel's settings for a form, its secret shown as the mask."""
        row = self._row(name)
        config = {k: v for k, v in row["config"].items() if k in KINDS[row["kind"]].model_fields}
        if row["secret"] is not None:
            config[KINDS[row["kind"]].secret_field] = MASK
        return ChannelView(row["name"], row["kind"], config, list(row["events"]), bool(row["enabled"]))

    def save_channel(
        self, name: str, kind: str, config: Mapping[str, Any], events: Iterable[str], enabled: bool = True
    ) -> None:
        """Validates and saves a channel; its secret goes to the vault (an editor's action).

        A secret left empty or masked keeps the stored one (for the same kind),
        so a form can re-save a channel without ever showing its secret.
        """
        self.actor.require("edit", "save alert channels")
        if not isinstance(name, str) or not re.match(NAME_PATTERN, name):
            raise ConfigurationError(
                f"channel name {name!r} must start with a letter and use only letters, digits, '_' or '-'"
            )
        chosen = list(dict.fromkeys(events))
        unknown = [event for event in chosen if event not in EVENTS]
        if unknown or not chosen:
            raise ConfigurationError(
                f"channel {name!r}: choose at least one event among {', '.join(EVENTS)}"
                + (f" (unknown: {', '.join(map(str, unknown))})" if unknown else "")
            )
        settings = self._settings(name, kind, config)
        dumped = settings.model_dump(mode="json", exclude={settings.secret_field})
        secret = getattr(settings, settings.secret_field)
        values = {
            "kind": kind,
            "config": {**dumped, "target": settings.target()},  # lists show it without decrypting
            "secret": None if secret is None else self.vault.encrypt(secret),
            "events": chosen,
            "enabled": int(bool(enabled)),
            "updated_at": utcnow(),
        }
        with self.engine.begin() as c:
            existing = c.execute(
                select(t.alert_channels.c.id).where(t.alert_channels.c.name == name)
            ).scalar()
            if existing is None:
                c.execute(
                    insert(t.alert_channels).values(name=name, created_at=values["updated_at"], **values)
                )
            else:
                c.execute(update(t.alert_channels).where(t.alert_channels.c.id == existing).values(**values))

    def delete_channel(self, name: str) -> None:
        """Deletes a channel and its delivery history."""
        self.actor.require("edit", "delete alert channels")
        row = self._row(name)
        with self.engine.begin() as c:
            c.execute(delete(t.alert_deliveries).where(t.alert_deliveries.c.channel_id == row["id"]))
            c.execute(delete(t.alert_channels).where(t.alert_channels.c.id == row["id"]))

    def test_channel(
        self, name: str | None = None, kind: str | None = None, config: Mapping[str, Any] | None = None
    ) -> SendResult:
        """Sends a test alert through a saved channel, or through unsaved settings; never raises.

        With ``config``, a secret left empty keeps the one saved under ``name``.
        """
        self.actor.require("edit", "send test alerts")
        try:
            if config is None:
                settings = self._stored_settings(self._row(name or ""))
            else:
                settings = self._settings(name, kind or "", config)
            payload = check_payload(name or "(unsaved)")
        except TributaryError as error:
            return SendResult(False, error.user_message)
        try:
            settings.send(payload)
        except DeliveryError as error:
            return SendResult(False, f"The test failed: {settings.explain(error)}")
        return SendResult(True, f"Sent a test alert to {settings.target()}.")

    # -- events and deliveries ---------------------------------------------------
    def detect(self, now: datetime | None = None) -> list[AlertEvent]:
        """Every alert event that holds now (read-only; calling it again finds the same keys)."""
        return detect(self.engine, self.rules(), utc(now) or utcnow())

    def dispatch(self, now: datetime | None = None) -> delivery.DispatchReport:
        """Detects events, queues one delivery per event and subscribed channel, sends what is due.

        Safe to call from several processes at once, as often as wanted (the
        scheduler calls it every tick): each delivery is sent once.
        """
        now = utc(now) or utcnow()
        rules = self.rules()
        events = detect(self.engine, rules, now)
        report = delivery.DispatchReport(events=len(events))
        with self.engine.connect() as c:
            channels = list(
                c.execute(select(t.alert_channels).where(t.alert_channels.c.enabled == 1)).mappings()
            )
        rows = [
            delivery.Queued(
                key=f"{event.key}:{channel['id']}",
                channel_id=int(channel["id"]),
                event=event.kind,
                dataflow_id=event.dataflow_id,
                run_id=event.run_id,
                payload=event.payload(rules.dashboard_url),
            )
            for event in events
            for channel in channels
            if event.kind in channel["events"]
            and (event.ongoing or event.occurred_at >= (utc(channel["created_at"]) or now))
        ]
        report.queued = delivery.queue(self.engine, rows, now)
        loaded: dict[int, tuple[str, ChannelSettings]] = {}

        def channel_of(channel_id: int) -> tuple[str, ChannelSettings]:
            if channel_id not in loaded:
                with self.engine.connect() as c:
                    row = (
                        c.execute(select(t.alert_channels).where(t.alert_channels.c.id == channel_id))
                        .mappings()
                        .one()
                    )
                loaded[channel_id] = (row["name"], self._stored_settings(row))
            return loaded[channel_id]

        delivery.send_due(self.engine, channel_of, now, self.policy, report)
        return report

    def deliveries(self, limit: int = 200) -> pd.DataFrame:
        """Recent deliveries, newest first: event, dataflow, channel, status, attempts, last error."""
        d, c, f = t.alert_deliveries, t.alert_channels, t.dataflows
        query = (
            select(
                d.c.id,
                d.c.created_at,
                d.c.event,
                f.c.name.label("dataflow"),
                d.c.run_id,
                c.c.name.label("channel"),
                d.c.status,
                d.c.attempts,
                d.c.last_error,
                d.c.next_attempt_at,
                d.c.sent_at,
                d.c.payload,
            )
            .join(c, c.c.id == d.c.channel_id)
            .outerjoin(f, f.c.id == d.c.dataflow_id)
            .order_by(d.c.id.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            rows = [dict(row) for row in conn.execute(query).mappings()]
        for row in rows:
            payload = row.pop("payload") or {}
            row["title"] = payload.get("title", "")
            for column in ("created_at", "next_attempt_at", "sent_at"):
                row[column] = utc(row[column])
        columns = [
            "id",
            "created_at",
            "event",
            "title",
            "dataflow",
            "run_id",
            "channel",
            "status",
            "attempts",
        ]
        columns += ["last_error", "next_attempt_at", "sent_at"]
        return pd.DataFrame(rows, columns=columns)

    # -- helpers -------------------------------------------------------------
    def _row(self, name: str) -> Any:
        with self.engine.connect() as c:
            row = (
                c.execute(select(t.alert_channels).where(t.alert_channels.c.name == name)).mappings().first()
            )
            if row is None:
                known = c.execute(select(t.alert_channels.c.name)).scalars().all()
                raise NotFoundError(
                    f"There is no alert channel {name!r}."
                    + (f" Known: {', '.join(sorted(known))}." if known else " None is configured yet.")
                )
        return row

    def _stored_settings(self, row: Any) -> ChannelSettings:
        """A saved channel's settings with its secret decrypted."""
        model = KINDS[row["kind"]]
        values = {k: v for k, v in row["config"].items() if k in model.model_fields}
        if row["secret"] is not None:
            values[model.secret_field] = self.vault.decrypt(bytes(row["secret"]))
        try:
            return self._under_policy(model.model_validate(values))
        except ValidationError as error:
            raise ConfigurationError(_problems(error, f"channel {row['name']!r}")) from None

    def _under_policy(self, settings: ChannelSettings) -> ChannelSettings:
        """A webhook's settings with the workspace's outbound network policy."""
        if not isinstance(settings, WebhookChannel):
            return settings
        with self.engine.connect() as c:
            allowed = c.execute(
                select(t.settings.c.value).where(t.settings.c.key == ALLOWED_NETWORKS_SETTING)
            ).scalar()
        return settings.under(network_policy(allowed))

    def _settings(self, name: str | None, kind: str, config: Mapping[str, Any]) -> ChannelSettings:
        """Validates entered settings; an empty or masked secret takes the stored one (same kind)."""
        if kind not in KINDS:
            raise ConfigurationError(f"unknown channel kind {kind!r}; choose {' or '.join(KINDS)}")
        model = KINDS[kind]
        values = {k: v for k, v in config.items() if v is not None or k == model.secret_field}
        entered = values.get(model.secret_field)
        plain = entered.get_secret_value() if isinstance(entered, SecretStr) else entered
        if plain in (None, "", MASK):
            values.pop(model.secret_field, None)
            stored = self._stored_secret(name, kind)
            if stored is not None:
                values[model.secret_field] = stored
        try:
            return self._under_policy(model.model_validate(values))
        except ValidationError as error:
            raise ConfigurationError(_problems(error, f"channel {name or '(new)'!r}")) from None

    def _stored_secret(self, name: str | None, kind: str) -> SecretStr | None:
        if not name:
            return None
        with self.engine.connect() as c:
            row = c.execute(
                select(t.alert_channels.c.kind, t.alert_channels.c.secret).where(
                    t.alert_channels.c.name == name
                )
            ).first()
        if row is None or row.kind != kind or row.secret is None:
            return None
        return self.vault.decrypt(bytes(row.secret))


def _problems(error: ValidationError, where: str) -> str:
    """One line per problem, never echoing the values entered (a secret may be among them)."""
    return "\n".join(
        f"{where}: {'.'.join(str(p) for p in item['loc']) or '(top level)'}: {item['msg']}"
        for item in error.errors(include_url=False, include_input=False, include_context=False)
    )
