"""Sign in: the first admin at first start; then single sign-on (when configured) or a local account."""

from __future__ import annotations

import streamlit as st

from ui import auth
from ui.i18n import t
from ui.routing import through_app

through_app()
st.title(t("Sign in"))
st.caption(t("Tributary brings customer data from your files, databases and CRMs into one profile store."))
auth.notice()
if auth.first_start():
    auth.first_admin_form()
    st.stop()
if auth.oidc_providers():
    auth.provider_buttons()
    st.caption(t("…or with a Tributary account:"))
auth.password_form()
