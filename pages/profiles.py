"""Profiles: find a customer by any identity; the unified profile, its graph, records and why they merged."""

from __future__ import annotations

import streamlit as st

from ui import profiles, roles
from ui.feedback import required
from ui.i18n import t
from ui.profile_rules import policies_panel, rules_panel
from ui.routing import through_app

through_app()
st.title(t("Profiles"))
st.caption(
    t(
        "Records of every dataflow that share an identity (an email, a phone, a CRM or loyalty id) are one "
        "customer. Find one by any of their identities and see what each source says about them, and why."
    )
)

figures = required(profiles.stats)
if not figures["profiles"]:
    st.info(
        t(
            "No profiles yet: mark identity fields (email, phone, CRM id…) in a dataflow's mapping "
            "and run it."
        ),
        icon=":material/info:",
    )
    with st.expander(t("Identity rules"), icon=":material/rule:"):
        rules_panel()
    st.stop()
with st.container(border=True):
    profiles.profile_counts(figures)

st.subheader(t("Find a customer"))
policies = required(profiles.policies)
search_column, policy_column = st.columns([3, 1])
with policy_column:
    policy = st.selectbox(
        t("Merge policy"),
        list(policies),
        key="profiles.policy",
        help=t("Which record's value a profile shows when sources disagree"),
    )
with search_column:
    profile_id = profiles.find_profile(required(profiles.namespaces))
if profile_id is not None:
    with st.container(border=True):
        profiles.profile_view(required(profiles.profile, profile_id, policy), policies[policy])

st.subheader(t("Export"))
if roles.allowed("view_personal_data", t("export profiles")):
    profiles.export_panel(policy)

with st.expander(t("Identity rules"), icon=":material/rule:"):
    rules_panel()
with st.expander(t("Merge policies"), icon=":material/merge:"):
    policies_panel()
