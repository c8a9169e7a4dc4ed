"""Admin: who may sign in and what each may do, who changed what, and the key that encrypts credentials."""

from __future__ import annotations

import streamlit as st

from ui import admin, roles
from ui.feedback import required
from ui.i18n import t
from ui.routing import through_app

through_app()
st.title(t("Admin"))
st.caption(
    t(
        "Accounts and their roles, the audit log of every change, "
        "and the key that encrypts stored credentials."
    )
)
if not roles.allowed("admin", t("manage users, read the audit log and rotate the secrets key")):
    st.stop()
admin.last_change()

users_tab, audit_tab, key_tab = st.tabs([t("Users"), t("Audit log"), t("Secrets key")])
with users_tab:
    accounts = required(admin.accounts)
    admin.users_table(accounts)
    with st.expander(t("Add a user"), icon=":material/person_add:"):
        admin.add_user_form()
    st.subheader(t("Change a user"))
    admin.change_user(accounts)
with audit_tab:
    admin.audit_log()
with key_tab:
    admin.rotate_key_panel()
