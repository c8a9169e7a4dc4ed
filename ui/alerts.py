"""Widgets of the Alerts page: channel forms per kind, the rules form, the channel and delivery tables.

Secrets are password boxes that always start empty: a stored webhook address
or SMTP password is never sent to the browser, and an empty box keeps it.
"""

from __future__ import annotations

import typing
from typing import Any

import pandas as pd
import streamlit as st

from core.alerts import EVENTS, KINDS, AlertCenter, AlertRules, ChannelView
from ui import data
from ui.i18n import t
from ui.state import ActorKey, acting, actor_key, workspace

KIND_TITLES = {"webhook": "Webhook (Slack-compatible)", "email": "Email (SMTP)"}
#: The session key that carries a channel to select (and a message to show) across a rerun.
_NEXT = "alerts.next"
FRESH_SECONDS = 30


def center() -> AlertCenter:
    """The alert center of the dashboard's workspace."""
    return AlertCenter(workspace())


def channels() -> pd.DataFrame:
    """The saved channels, secrets left out."""
    return _channels(actor_key())


def deliveries(limit: int = 200) -> pd.DataFrame:
    """The latest deliveries, newest first."""
    return _deliveries(actor_key(), limit)


# Keyed by the actor, as every cached read (see ui.state).
@st.cache_data(ttl=FRESH_SECONDS, show_spinner=False)
def _channels(actor: ActorKey) -> pd.DataFrame:
    return AlertCenter(acting(actor)).channels()


@st.cache_data(ttl=FRESH_SECONDS, show_spinner=False)
def _deliveries(actor: ActorKey, limit: int) -> pd.DataFrame:
    return AlertCenter(acting(actor)).deliveries(limit)


def select_next(name: str, message: str) -> None:
    """Selects channel ``name`` in the editor after the rerun that follows, and shows ``message`` then."""
    st.session_state[_NEXT] = (name, message)
    data.refresh()
    st.rerun()


def apply_selection(key: str) -> None:
    """Call before drawing the selectbox ``key``: applies a pending :func:`select_next`."""
    pending = st.session_state.pop(_NEXT, None)
    if pending is not None:
        st.session_state[key] = pending[0]
        st.success(pending[1], icon=":material/check_circle:")


def channels_table(frame: pd.DataFrame) -> None:
    """The saved channels: where they send (never the secret), what they receive."""
    if frame.empty:
        st.info(t("No channel yet: add a webhook or an email channel below."), icon=":material/info:")
        return
    st.dataframe(
        frame.assign(events=frame["events"].map(lambda kinds: [EVENTS.get(k, k) for k in kinds])),
        hide_index=True,
        column_config={
            "name": "Name",
            "kind": "Kind",
            "target": "Sends to",
            "events": st.column_config.ListColumn("Events", width="large"),
            "enabled": st.column_config.CheckboxColumn("Enabled"),
            "updated_at": st.column_config.DatetimeColumn("Updated", format="YYYY-MM-DD HH:mm"),
        },
        key="alerts.channels",
    )


def channel_fields(kind: str, view: ChannelView | None, key: str) -> dict[str, Any]:
    """The inputs of one channel kind (inside a form); returns the entered config."""
    model = KINDS[kind]
    current: dict[str, Any] = dict(view.config) if view else {}
    stored = view is not None and model.secret_field in current
    fields = model.model_fields

    def secret(label: str) -> str:
        return st.text_input(
            label,
            type="password",
            key=f"{key}.{model.secret_field}",
            help=fields[model.secret_field].description,
            placeholder=t("Stored: leave empty to keep it") if stored else "",
            autocomplete="new-password",
        )

    def text(name: str, label: str) -> str:
        value = current.get(name) if current.get(name) is not None else fields[name].default
        return st.text_input(label, value=value or "", key=f"{key}.{name}", help=fields[name].description)

    def number(name: str, label: str, kind_of: type = float) -> Any:
        value = current.get(name, fields[name].default)
        return kind_of(
            st.number_input(
                label,
                value=kind_of(value),
                step=kind_of(1),
                key=f"{key}.{name}",
                help=fields[name].description,
            )
        )

    if kind == "webhook":
        return {"url": secret("Webhook URL *"), "timeout_s": number("timeout_s", "Timeout (s)")}
    securities = list(typing.get_args(fields["security"].annotation))
    left, right = st.columns(2)
    with left:
        config = {"host": text("host", "SMTP server *"), "port": number("port", "Port", int)}
        config["security"] = st.selectbox(
            t("Security"),
            securities,
            index=securities.index(current.get("security", "starttls")),
            key=f"{key}.security",
            help=fields["security"].description,
        )
    with right:
        config["username"] = text("username", "Username") or None
        config["password"] = secret("Password")
        config["sender"] = text("sender", "From *")
    recipients = ", ".join(current.get("recipients", []))
    config["recipients"] = st.text_input(
        t("To *"), value=recipients, key=f"{key}.recipients", help=fields["recipients"].description
    )
    return config


def events_input(view: ChannelView | None, key: str) -> list[str]:
    """Which events the channel receives (every one for a new channel)."""
    return st.multiselect(
        t("Events *"),
        list(EVENTS),
        default=view.events if view else list(EVENTS),
        format_func=EVENTS.get,
        key=key,
    )


def rules_form(rules: AlertRules) -> dict[str, Any] | None:
    """The workspace's alert rules as a form; the entered values once saved, else None."""
    fields = AlertRules.model_fields
    with st.form("alerts.rules", enter_to_submit=False):
        left, right = st.columns(2)
        percent = left.number_input(
            t("Partial run warning level (%)"),
            min_value=0.0,
            max_value=100.0,
            value=None if rules.partial_rate is None else rules.partial_rate * 100,
            placeholder=t("Half of each dataflow's error threshold"),
            help=fields["partial_rate"].description,
            key="alerts.rules.partial_rate",
        )
        runs = left.number_input(
            t("Empty runs before 'no data'"),
            min_value=1,
            value=rules.no_data_runs,
            step=1,
            key="alerts.rules.no_data",
        )
        minutes = right.number_input(
            t("Scheduler silent for (minutes)"),
            min_value=1,
            value=rules.scheduler_down_minutes,
            step=1,
            help=fields["scheduler_down_minutes"].description,
            key="alerts.rules.down",
        )
        url = right.text_input(
            t("Dashboard address"),
            value=rules.dashboard_url or "",
            placeholder="https://tributary.example.com",
            help=fields["dashboard_url"].description,
            key="alerts.rules.url",
        )
        if not st.form_submit_button(t("Save rules"), icon=":material/save:", key="alerts.rules.save"):
            return None
    return {
        "partial_rate": None if percent is None else percent / 100,
        "no_data_runs": int(runs),
        "scheduler_down_minutes": int(minutes),
        "lookback_hours": rules.lookback_hours,
        "dashboard_url": url or None,
    }


def deliveries_table(frame: pd.DataFrame) -> None:
    """The latest deliveries: what, to whom, how it went."""
    if frame.empty:
        st.info(t("No alert sent yet."), icon=":material/notifications_off:")
        return
    shown = frame[
        ["created_at", "title", "event", "dataflow", "channel", "status", "attempts", "last_error", "sent_at"]
    ]
    st.dataframe(
        shown.assign(event=shown["event"].map(lambda kind: EVENTS.get(kind, kind))),
        hide_index=True,
        column_config={
            "created_at": st.column_config.DatetimeColumn("Detected", format="YYYY-MM-DD HH:mm"),
            "title": st.column_config.TextColumn("Alert", width="large"),
            "event": "Event",
            "dataflow": "Dataflow",
            "channel": "Channel",
            "status": "Status",
            "attempts": st.column_config.NumberColumn("Attempts"),
            "last_error": st.column_config.TextColumn("Last error", width="large"),
            "sent_at": st.column_config.DatetimeColumn("Sent", format="YYYY-MM-DD HH:mm:ss"),
        },
        key="alerts.deliveries",
    )
