"""The Profiles page's identity rules: phone region, namespaces, block lists, and the rebuild.

Rules decide which records are one customer. Saving them changes how new
records link; t("Rebuild profiles") relinks the records already ingested, so
the effect of a rule can be seen at once in the explorer above.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from core.errors import TributaryError
from core.models import ProfilesSpec
from core.profiles.namespaces import BUILTINS, CUSTOM_PRIORITY, IdentityRules
from ui import roles
from ui.feedback import required
from ui.i18n import t
from ui.state import workspace

#: The namespace table's columns, as the editor shows them.
NAMESPACE_COLUMNS = ["namespace", "type", "normaliser", "limit", "priority"]
#: The region choice meaning "numbers need their +country code".
NO_REGION = ""


def _regions() -> list[str]:
    import phonenumbers  # its metadata is large: loaded when the panel is drawn

    return [NO_REGION, *sorted(phonenumbers.SUPPORTED_REGIONS)]


def namespaces_frame(spec: ProfilesSpec) -> pd.DataFrame:
    """Every namespace in effect (built-ins with the workspace's overrides, then custom ones)."""
    rules = IdentityRules.from_settings(spec.namespaces, None, spec.default_region or None)
    names = [*BUILTINS, *sorted(set(spec.namespaces) - set(BUILTINS))]
    rows = [
        {
            "namespace": name,
            "type": (ns := rules.namespace(name)).kind,
            "normaliser": ns.normaliser,
            "limit": ns.limit,
            "priority": ns.priority,
        }
        for name in names
    ]
    return pd.DataFrame(rows, columns=NAMESPACE_COLUMNS).astype({"limit": "Int64", "priority": "Int64"})


def blocked_frame(spec: ProfilesSpec) -> pd.DataFrame:
    """The block lists, one (namespace, value) row each."""
    rows = [(name, value) for name, values in spec.blocked.items() for value in values]
    return pd.DataFrame(rows, columns=["namespace", "value"], dtype="string")


def spec_from(
    region: str, namespaces: pd.DataFrame, blocked: pd.DataFrame, policies: dict[str, Any]
) -> ProfilesSpec:
    """The settings the editors describe: only what differs from the built-ins is kept."""
    overrides: dict[str, dict[str, Any]] = {}
    for row in namespaces.dropna(subset=["namespace"]).to_dict("records"):
        name = str(row["namespace"]).strip()
        if not name:
            continue
        entry = {
            "type": row.get("type") or "person",
            "normaliser": row.get("normaliser") or "trim",
            "limit": None if pd.isna(row.get("limit")) else int(row["limit"]),
            "priority": CUSTOM_PRIORITY if pd.isna(row.get("priority")) else int(row["priority"]),
        }
        builtin = BUILTINS.get(name)
        if builtin is not None and entry == {
            "type": builtin.kind, "normaliser": builtin.normaliser, "limit": builtin.limit,
            "priority": builtin.priority,
        }:  # fmt: skip
            continue
        overrides[name] = entry
    lists: dict[str, list[str]] = {}
    for row in blocked.dropna().to_dict("records"):
        lists.setdefault(str(row["namespace"]).strip() or "*", []).append(str(row["value"]))
    return ProfilesSpec(default_region=region, namespaces=overrides, blocked=lists, policies=policies)


def rules_panel() -> None:
    """The rules editor (one form) and the rebuild button, with what each does."""
    profiles = workspace().profiles
    spec = required(profiles.settings)
    st.caption(
        "Which records are one customer. A **limit** is the most values of a namespace one profile may "
        "hold (one CRM id: a second one means two people); links are made in **priority** order (1 first); "
        "**blocked** values (placeholders such as test@test.com, and yours) never link anyone."
    )
    locked = not roles.allowed("admin", "change the identity rules and rebuild the profiles")
    regions = _regions()
    with st.form("profiles.rules", border=False):
        region = st.selectbox(
            t("Phone region"),
            regions,
            index=regions.index(spec.default_region) if spec.default_region in regions else 0,
            format_func=lambda r: r or "none: numbers need their +country code",
            help=t("Numbers written without +country (0612345678) are read in this region"),
            key="profiles.rules.region",
            disabled=locked,
        )
        namespaces = st.data_editor(
            namespaces_frame(spec),
            num_rows="dynamic",
            hide_index=True,
            key="profiles.rules.namespaces",
            disabled=locked,
            column_config={
                "namespace": st.column_config.TextColumn("Namespace", required=True),
                "type": st.column_config.SelectboxColumn("Type", options=["person", "device"]),
                "normaliser": st.column_config.SelectboxColumn(
                    t("Normaliser"), options=["email", "phone", "trim", "lower"]
                ),
                "limit": st.column_config.NumberColumn("Limit per profile", min_value=1, step=1),
                "priority": st.column_config.NumberColumn("Priority", min_value=1, step=1),
            },
        )
        blocked = st.data_editor(
            blocked_frame(spec),
            num_rows="dynamic",
            hide_index=True,
            key="profiles.rules.blocked",
            disabled=locked,
            column_config={
                "namespace": st.column_config.TextColumn("Namespace (* for all)"),
                "value": st.column_config.TextColumn("Blocked value"),
            },
        )
        saved = st.form_submit_button(
            t("Save rules"), type="primary", key="profiles.rules.save", disabled=locked
        )
    if saved:
        try:
            profiles.save_settings(spec_from(region, namespaces, blocked, spec.policies))
        except TributaryError as error:
            st.error(error.user_message, icon=":material/error:")
        else:
            st.success(
                "Rules saved. New runs link by them; rebuild the profiles to apply them to the records "
                "already linked.",
                icon=":material/check_circle:",
            )
    if st.button(
        t("Rebuild profiles"),
        key="profiles.rules.rebuild",
        help=t("Relink every record by the saved rules"),
        disabled=locked,
    ):
        with st.status("Relinking every record by the saved rules…") as status:
            try:
                counts = profiles.rebuild()
            except TributaryError as error:
                status.update(label=t("The rebuild failed"), state="error")
                st.error(error.user_message, icon=":material/error:")
                return
            st.cache_data.clear()
            status.update(
                label=f"Rebuilt: {counts['records']:,} records in {counts['profiles']:,} profiles",
                state="complete",
            )


def policies_panel() -> None:
    """The merge policies: what each does, a form to add or replace one, and removal."""
    profiles = workspace().profiles
    spec = required(profiles.settings)
    current = required(profiles.policies)
    st.caption(
        "When sources disagree, a policy picks each attribute's value: **latest update** (by the record's "
        "own timestamp, else when it was ingested) or **dataflow precedence** (the first dataflow in your "
        "order that has a value). Every attribute still shows which record it came from."
    )
    st.dataframe(
        pd.DataFrame(
            [(name, policy.describe()) for name, policy in current.items()],
            columns=["policy", "what it does"],
        ),
        hide_index=True,
        width="stretch",
    )
    if not roles.allowed("admin", "add or remove merge policies"):
        return
    dataflows = sorted(row["name"] for row in workspace().store.dataflow_rows())
    with st.form("profiles.policy", border=False):
        name = st.text_input(t("Policy name"), key="profiles.policy.name", placeholder="crm_first")
        kind = st.radio(
            t("Kind"),
            ["precedence", "timestamp"],
            format_func={"precedence": "Dataflow precedence", "timestamp": "Latest update wins"}.get,
            horizontal=True,
            key="profiles.policy.kind",
        )
        order = st.multiselect(
            t("Dataflows, strongest first (precedence)"),
            dataflows,
            key="profiles.policy.order",
            help=t("The order you pick them in is the order of trust"),
        )
        saved = st.form_submit_button(t("Save policy"), key="profiles.policy.save")
    if saved:
        body: dict[str, Any] = {"kind": kind, "order": order if kind == "precedence" else []}
        try:
            profiles.save_policy(name.strip(), body)
        except TributaryError as error:
            st.error(error.user_message, icon=":material/error:")
        else:
            st.cache_data.clear()
            st.success(f"Policy {name.strip()!r} saved: pick it above to see profiles merged by it.")
    removable = [p for p in spec.policies if p in current]
    if removable:
        remove_column, button_column = st.columns([3, 1], vertical_alignment="bottom")
        chosen = remove_column.selectbox(t("Remove a policy"), removable, key="profiles.policy.remove")
        if button_column.button(t("Remove"), key="profiles.policy.delete"):
            profiles.delete_policy(chosen)
            st.cache_data.clear()
            st.success(f"Policy {chosen!r} removed.")
