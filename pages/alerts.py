"""Alerts: channels (Slack-compatible webhooks, email), what they receive, the rules, recent deliveries."""

from __future__ import annotations

import streamlit as st

from core.alerts import KINDS
from ui import alerts, data
from ui.feedback import reported_errors, required
from ui.i18n import t
from ui.routing import through_app

NEW = "+ New channel"

through_app()
st.title(t("Alerts"))
st.caption(
    t(
        "Hear about failed runs, runs that quarantined too many rows, sources that stopped sending data, "
        "late runs and a stopped scheduler, on Slack (or any Slack-compatible webhook) or by email."
    )
)
alerts.apply_selection("alerts.editing")

st.subheader(t("Channels"))
saved = required(alerts.channels)
alerts.channels_table(saved)

st.subheader(t("Add or edit a channel"))
editing = st.selectbox(
    t("Channel"),
    [NEW, *saved["name"]],
    key="alerts.editing",
    width=320,
    format_func=lambda option: t(option) if option == NEW else option,
)
if editing == NEW:
    kind = (
        st.segmented_control(
            t("Kind"),
            list(KINDS),
            default="webhook",
            format_func=lambda kind: t(alerts.KIND_TITLES[kind]),
            key="alerts.kind",
        )
        or "webhook"
    )
    view = None
else:
    view = required(alerts.center().channel, editing)
    kind = view.kind

with st.form(f"alerts.form.{kind}.{editing}", enter_to_submit=False):
    name = st.text_input(
        t("Name *"), value=editing if view else "", disabled=view is not None, key=f"alerts.name.{editing}"
    )
    config = alerts.channel_fields(kind, view, key=f"alerts.{kind}.{editing}")
    events = alerts.events_input(view, key=f"alerts.events.{editing}")
    enabled = st.toggle(t("Enabled"), value=view.enabled if view else True, key=f"alerts.enabled.{editing}")
    with st.container(horizontal=True):
        test = st.form_submit_button(t("Send a test"), icon=":material/send:", key="alerts.test")
        save = st.form_submit_button(t("Save"), type="primary", icon=":material/save:", key="alerts.save")

if test:
    with st.spinner(t("Sending a test alert…")):
        result = alerts.center().test_channel(editing if view else None, kind, config)
    (st.success if result.ok else st.error)(result.message)
if save:
    with reported_errors():
        alerts.center().save_channel(name.strip(), kind, config, events, enabled)
        alerts.select_next(name.strip(), t("Saved channel **{name}**.", name=name.strip()))
if view is not None:
    with st.popover(t("Delete"), icon=":material/delete:", key="alerts.delete.open"):
        st.write(t("Delete **{name}** and its delivery history?", name=editing))
        if st.button(t("Delete channel"), type="primary", key="alerts.delete"):
            with reported_errors():
                alerts.center().delete_channel(editing)
                alerts.select_next(NEW, t("Deleted channel **{name}**.", name=editing))

with st.expander(t("Rules"), icon=":material/tune:"):
    entered = alerts.rules_form(required(alerts.center().rules))
    if entered is not None:
        with reported_errors():
            alerts.center().save_rules(entered)
            st.success(t("Saved the alert rules."), icon=":material/check_circle:")

st.subheader(t("Recent deliveries"))
if st.button(t("Check and send now"), icon=":material/notifications_active:", key="alerts.dispatch"):
    with reported_errors(), st.spinner(t("Checking for alerts…")):
        report = alerts.center().dispatch()
        data.refresh()
        st.info(
            t(
                "{events} alerts hold now; {sent} sent, {retrying} to retry.",
                events=report.events,
                sent=report.sent,
                retrying=report.retrying,
            )
        )
alerts.deliveries_table(required(alerts.deliveries))
