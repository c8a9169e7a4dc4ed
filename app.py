"""Tributary's dashboard: routes to the pages and draws the shared chrome. Nothing else."""

from __future__ import annotations

import streamlit as st

st.set_page_config(page_title="Tributary", page_icon=":material/water:", layout="wide")

navigation = st.navigation(
    {
        "Tributary": [
            st.Page("pages/overview.py", title="Overview", icon=":material/dashboard:", default=True),
        ],
        "Bring data in": [
            st.Page("pages/sources.py", title="Sources", icon=":material/cable:"),
            st.Page("pages/preview.py", title="Preview", icon=":material/table_view:"),
            st.Page("pages/mapping.py", title="Mapping", icon=":material/alt_route:"),
        ],
        "Operate": [
            st.Page("pages/dataflows.py", title="Dataflows", icon=":material/conversion_path:"),
            st.Page("pages/runs.py", title="Runs", icon=":material/history:"),
            st.Page("pages/alerts.py", title="Alerts", icon=":material/notifications:"),
            st.Page("pages/profiles.py", title="Profiles", icon=":material/person_search:"),
        ],
    }
)
st.sidebar.caption(
    "Tributary brings customer data from your files, databases and CRMs into one profile store."
)
navigation.run()
