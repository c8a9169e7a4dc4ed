"""The profile explorer's reads and widgets: counts, finding a customer, the unified profile, export.

Reads go through :class:`core.profiles.query.Profiles` and are cached briefly
(``st.cache_data``), like the other pages' reads, keyed by the signed-in actor:
a viewer's profiles come with personal values hidden (the engine hides them),
and never from an admin's cache entry. The identity graph is drawn
as Graphviz DOT text (records and identity values as nodes, links as edges),
which Streamlit renders in the browser with no extra package.
"""

from __future__ import annotations

import tempfile
from functools import partial
from pathlib import Path
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from core.profiles.export import export_profiles
from core.profiles.merge import LINEAGE_COLUMNS
from core.profiles.query import Profiles
from core.profiles.unified import HIDDEN, UnifiedProfile
from core.services import Workspace
from ui.data import FRESH_SECONDS
from ui.feedback import required
from ui.i18n import t
from ui.state import ActorKey, acting, actor_key, workspace

#: The namespace choice that searches every namespace by prefix.
ANY = ""
#: The most records the identity graph draws (a bigger profile is listed in the tabs).
GRAPH_RECORDS = 40
#: Matches a search lists.
SEARCH_LIMIT = 20
#: Record node colours, one per dataflow (cycled), matched to the theme.
FLOW_COLOURS = ("#CDEBE9", "#F8E2B8", "#D9E4F2", "#F3D3D8", "#E3DDF0", "#DDEFD2")
#: How each export format downloads.
EXPORTS = {"csv": ("CSV", "text/csv"), "parquet": ("Parquet", "application/vnd.apache.parquet")}
#: Decisions whose link does not hold: drawn dashed.
REFUSED_RULES = ("namespace_limit", "blocked_value", "invalid_value")
#: The columns naming one link of a record: its record, namespace and value.
LINK_COLUMNS = ["dataflow", "source_key", "namespace", "value"]


def _profiles(actor: ActorKey) -> Profiles:
    return Profiles(acting(actor))


def stats() -> dict[str, Any]:
    """Headline counts of the identity graph."""
    return _stats(actor_key())


def namespaces() -> list[str]:
    """The identity namespaces the dataflows map."""
    return _namespaces(actor_key())


def policies() -> dict[str, str]:
    """The merge policies, each with a few words saying what it does."""
    return _policies(actor_key())


def exact(namespace: str, value: str) -> tuple[list[str], str | None]:
    """(profiles holding the identity, why the value links no one when it cannot)."""
    return _exact(actor_key(), namespace, value)


def search(text: str, namespace: str | None) -> pd.DataFrame:
    """Identity values starting with ``text``, with their profiles (personal values hidden from viewers)."""
    with st.spinner(t("Searching…"), show_time=True):
        return _search(actor_key(), text, namespace)


def profile(profile_id: str, policy: str | None) -> UnifiedProfile:
    """One unified profile, merged by the named policy (personal values hidden from viewers)."""
    with st.spinner(t("Merging the profile…"), show_time=True):
        return _profile(actor_key(), profile_id, policy)


# --- cached reads (keyed by the actor: see ui.state) ----------------------------------------------


@st.cache_data(ttl=FRESH_SECONDS, show_spinner=False)
def _stats(actor: ActorKey) -> dict[str, Any]:
    return _profiles(actor).stats()


@st.cache_data(ttl=FRESH_SECONDS, show_spinner=False)
def _namespaces(actor: ActorKey) -> list[str]:
    return _profiles(actor).namespaces()


@st.cache_data(ttl=FRESH_SECONDS, show_spinner=False)
def _policies(actor: ActorKey) -> dict[str, str]:
    return {name: policy.describe() for name, policy in _profiles(actor).policies().items()}


@st.cache_data(ttl=FRESH_SECONDS, show_spinner=False)
def _exact(actor: ActorKey, namespace: str, value: str) -> tuple[list[str], str | None]:
    profiles = _profiles(actor)
    normalised, why = profiles.normalise(namespace, value)
    return ([] if normalised is None else profiles.profile_ids(namespace, value, SEARCH_LIMIT)), why


@st.cache_data(ttl=FRESH_SECONDS, show_spinner=False)
def _search(actor: ActorKey, text: str, namespace: str | None) -> pd.DataFrame:
    return _profiles(actor).search(text, SEARCH_LIMIT, namespace=namespace)


@st.cache_data(ttl=FRESH_SECONDS, show_spinner=False)
def _profile(actor: ActorKey, profile_id: str, policy: str | None) -> UnifiedProfile:
    return _profiles(actor).get(profile_id, policy)


# --- counts ---------------------------------------------------------------------------------------


def profile_counts(figures: dict[str, Any]) -> None:
    """Profiles, records, merge rate, identities per namespace and profiles per source combination."""
    columns = st.columns(4)
    columns[0].metric(t("Profiles"), f"{figures['profiles']:,}")
    columns[1].metric(t("Records in profiles"), f"{figures['records']:,}")
    columns[2].metric(
        t("Merge rate"),
        f"{figures['merged_share']:.0%}",
        help=t("Share of profiles that merge two or more records"),
    )
    columns[3].metric(t("Records per profile"), f"{figures['records_per_profile']:.2f}")
    identities, combinations = st.columns([1, 2])
    with identities:
        st.markdown(t("**Identities per namespace**"))
        frame = pd.DataFrame(list(figures["identities"].items()), columns=["namespace", "values"])
        st.dataframe(
            frame,
            hide_index=True,
            column_config={
                "namespace": t("Namespace"),
                "values": st.column_config.NumberColumn(t("Distinct values"), format="localized"),
            },
        )
    with combinations:
        st.markdown(t("**Profiles per source combination**"))
        st.altair_chart(combinations_chart(figures["combinations"]), width="stretch")


def combinations_chart(combinations: pd.DataFrame) -> alt.Chart:
    """A horizontal bar per set of contributing dataflows, most common first."""
    return (
        alt.Chart(combinations)
        .mark_bar(color="#0B7A75")
        .encode(
            x=alt.X("profiles:Q", title=t("Profiles")),
            y=alt.Y("dataflows:N", sort="-x", title=None, axis=alt.Axis(labelLimit=320)),
            tooltip=[
                alt.Tooltip("dataflows:N", title="Dataflows"),
                alt.Tooltip("profiles:Q", title=t("Profiles"), format=","),
            ],
        )
        .properties(height=alt.Step(22))  # a band per combination: every label fits
    )


# --- finding a profile ----------------------------------------------------------------------------


def find_profile(known: list[str]) -> str | None:
    """A namespace and a value (or the start of one); returns the chosen profile's id."""
    namespace_column, value_column = st.columns([1, 3])
    namespace = namespace_column.selectbox(
        t("Identity"),
        [ANY, *known],
        format_func=lambda name: t("Any identity") if name == ANY else name,
        key="profiles.namespace",
    )
    text = value_column.text_input(
        t("Value"),
        key="profiles.value",
        placeholder=t("an email, a phone number, a CRM id… or the start of one"),
    ).strip()
    if not text:
        st.caption(t("Type an identity value to find the customer it belongs to."))
        return None
    if namespace != ANY:
        found, why = required(exact, namespace, text)
        if why is not None:
            st.info(t("No profile: {why}.", why=why), icon=":material/block:")
            return None
        if len(found) == 1:
            return found[0]
    matches = required(search, text, namespace or None)
    if matches.empty:
        where = t("any identity") if namespace == ANY else namespace
        st.info(
            t("No {where} value starts with {text}.", where=where, text=repr(text)),
            icon=":material/search_off:",
        )
        return None
    ids = list(dict.fromkeys(matches["profile_id"]))
    if len(ids) == 1:
        return ids[0]
    labels = matches.drop_duplicates("profile_id").set_index("profile_id")
    return st.selectbox(
        f"{len(ids)} profiles match",
        ids,
        format_func=lambda pid: (
            f"{labels.at[pid, 'value']} ({labels.at[pid, 'namespace']}) · {labels.at[pid, 'records']} records"
        ),
        key="profiles.match",
    )


# --- one profile ----------------------------------------------------------------------------------


def profile_view(unified: UnifiedProfile, policy_description: str) -> None:
    """The unified profile: attributes with their sources, identities, graph, records and trail."""
    st.markdown(
        t(
            "**{members} records** from {dataflows} · profile `{profile}`",
            members=unified.members,
            dataflows=", ".join(unified.dataflows),
            profile=unified.profile_id,
        )
    )
    attributes, identities = st.columns([3, 2])
    with attributes:
        st.markdown(t("**Attributes**"))
        st.caption(
            t(
                "Merged by policy **{policy}**: {description}.",
                policy=unified.policy,
                description=t(policy_description),
            )
        )
        st.dataframe(
            # one column of values of every type: shown as text, so the table is one Arrow type
            unified.attributes.assign(value=unified.attributes["value"].map(_text)),
            hide_index=True,
            column_config={
                "attribute": "Attribute",
                "value": t("Value"),
                "dataflow": "From dataflow",
                "source_key": "Record",
                "timestamp": st.column_config.DatetimeColumn("As of", format="YYYY-MM-DD HH:mm"),
            },
        )
    with identities:
        st.markdown(t("**Identities**"))
        st.dataframe(
            unified.identities,
            hide_index=True,
            column_config={
                "namespace": t("Namespace"),
                "value": t("Value"),
                "dataflow": "Dataflow",
                "source_key": "Record",
            },
        )
    st.markdown(t("**Identity graph**"))
    st.graphviz_chart(identity_graph(unified))
    legend = t("Records (boxes) linked by identity values (ovals); dashed: a link refused or dropped.")
    if unified.members > GRAPH_RECORDS:
        legend += " " + t(
            "Showing the first {shown} of {count} records.", shown=GRAPH_RECORDS, count=unified.members
        )
    st.caption(legend)
    names = list(unified.records)
    tabs = st.tabs([*(f"{name} · {len(unified.records[name])}" for name in names), t("Why merged")])
    for tab, name in zip(tabs, names, strict=False):
        tab.dataframe(_readable_records(unified.records[name]), hide_index=True)
    with tabs[-1]:
        trail = unified.trail
        if trail.empty:
            st.caption(t("A single record: nothing was merged."))
        else:
            st.dataframe(
                # a merge speaks for every record holding the value: no one dataflow or record
                _without_quoted_values(trail)[
                    ["rule", "namespace", "value", "dataflow", "source_key", "detail"]
                ].fillna(""),
                hide_index=True,
                column_config={
                    "rule": "Decision",
                    "namespace": t("Namespace"),
                    "value": t("Value"),
                    "dataflow": "Dataflow",
                    "source_key": "Record",
                    "detail": st.column_config.TextColumn("Why", width="large"),
                },
            )


def _without_quoted_values(trail: pd.DataFrame) -> pd.DataFrame:
    """The trail with its explanations of hidden values left out: they quote the value (an email…)."""
    hidden = trail["value"].eq(HIDDEN)
    return trail.assign(detail=trail["detail"].where(~hidden, "(hidden: it quotes personal data)"))


def identity_graph(unified: UnifiedProfile, limit: int = GRAPH_RECORDS) -> str:
    """The profile's records and identity values as Graphviz DOT: linked solid, refused dashed."""
    records = unified.identities[["dataflow", "source_key"]]
    for name, frame in unified.records.items():
        if "_source_key" in frame.columns:
            keys = pd.DataFrame({"dataflow": name, "source_key": frame["_source_key"].astype(str)})
            records = pd.concat([records, keys], ignore_index=True)
    records = records.drop_duplicates().sort_values(["dataflow", "source_key"]).head(limit)
    links = unified.identities.merge(records, on=["dataflow", "source_key"])[LINK_COLUMNS]
    trail = unified.trail
    refused = trail.loc[trail["rule"].isin(REFUSED_RULES) & trail["source_key"].notna(), LINK_COLUMNS]
    refused = refused.merge(records, on=["dataflow", "source_key"]).drop_duplicates()
    dropped = links.merge(refused, how="left", indicator=True)["_merge"].eq("both").to_numpy()
    unlinked = refused.merge(links, how="left", indicator=True)
    unlinked = unlinked[unlinked["_merge"].eq("left_only") & unlinked["value"].notna()]
    colours = {name: FLOW_COLOURS[i % len(FLOW_COLOURS)] for i, name in enumerate(sorted(unified.records))}
    lines = [
        "graph profile {",
        '  graph [rankdir=LR, fontname="sans-serif", bgcolor="transparent"];',
        '  node [fontname="sans-serif", fontsize=10];',
        '  edge [color="#5C677D"];',
    ]
    for dataflow, key in records.itertuples(index=False):
        colour = colours.get(dataflow, FLOW_COLOURS[0])
        style = f'shape=box, style="rounded,filled", fillcolor="{colour}"'
        lines.append(f"  {_node('r', dataflow, key)} [{style}, label={_label(dataflow, key)}];")
    values: dict[str, str] = {}
    for dataflow, key, namespace, value in links.itertuples(index=False):
        values.setdefault(_value_node("v", namespace, value, dataflow, key), _label(namespace, value))
    lines += [f"  {node} [shape=ellipse, label={label}];" for node, label in values.items()]
    for (dataflow, key, namespace, value), cut in zip(links.itertuples(index=False), dropped, strict=True):
        style = ' [style=dashed, color="#D1495B"]' if cut else ""
        lines.append(
            f"  {_node('r', dataflow, key)} -- {_value_node('v', namespace, value, dataflow, key)}{style};"
        )
    for dataflow, key, namespace, value in unlinked[LINK_COLUMNS].itertuples(index=False):
        refused_style = 'shape=ellipse, style=dashed, fontcolor="#8D99AE"'
        label = _label(namespace, f"{value} (refused)")
        node = _value_node("x", namespace, value, dataflow, key)
        lines.append(f"  {node} [{refused_style}, label={label}];")
        edge = '[style=dashed, color="#8D99AE"]'
        lines.append(f"  {_node('r', dataflow, key)} -- {node} {edge};")
    lines.append("}")
    return "\n".join(lines)


def _readable_records(frame: pd.DataFrame) -> pd.DataFrame:
    """A dataset's records with their key first and the other lineage columns left out."""
    hidden = [c for c in LINEAGE_COLUMNS if c in frame.columns and c != "_source_key"]
    readable = frame.drop(columns=hidden).rename(columns={"_source_key": "record"})
    return (
        readable[["record", *(c for c in readable.columns if c != "record")]]
        if "record" in readable
        else readable
    )


def _text(value: Any) -> str:
    """A value as a person reads it: dates in ISO form, missing as empty."""
    if value is None or (not isinstance(value, (list, dict)) and pd.isna(value)):
        return ""
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _node(kind: str, first: Any, second: Any) -> str:
    return _string(f"{kind}:{first}:{second}")


def _value_node(kind: str, namespace: Any, value: Any, dataflow: Any, key: Any) -> str:
    """An identity value's node; a hidden one (•••) gets one per record: hidden values look all alike."""
    if value == HIDDEN:
        return _string(f"{kind}:{namespace}:{HIDDEN}:{dataflow}:{key}")
    return _node(kind, namespace, value)


def _label(first: Any, second: Any) -> str:
    return _string(f"{first}\n{second}")


def _string(text: str) -> str:
    """A DOT string literal: backslashes and quotes escaped, line breaks as DOT's centred breaks."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\r", "")
    return '"' + escaped.replace("\n", "\\n") + '"'


# --- export ---------------------------------------------------------------------------------------


def export_panel(policy: str | None) -> None:
    """CSV or Parquet of every unified profile, built when the button is clicked."""
    choice = st.segmented_control(
        t("Format"),
        list(EXPORTS),
        format_func=lambda f: EXPORTS[f][0],
        default="csv",
        key="profiles.export.format",
    )
    chosen = choice or "csv"
    label, mime = EXPORTS[chosen]
    st.download_button(
        t("Download every profile as {format}", format=label),
        data=partial(export_bytes, workspace(), chosen, policy),
        file_name=f"profiles.{chosen}",
        mime=mime,
        on_click="ignore",
        icon=":material/download:",
        key="profiles.export",
    )
    st.caption(
        t(
            "One row per profile: its merged attributes and identities. For very large stores, "
            "`python -m core profiles export` writes the file without going through the browser."
        )
    )


def export_bytes(opened: Workspace, format: str, policy: str | None) -> bytes:
    """Every unified profile as a CSV or Parquet file's bytes (written to a temporary file first)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"profiles.{format}"
        export_profiles(opened, path, format, policy=policy)
        return path.read_bytes()
