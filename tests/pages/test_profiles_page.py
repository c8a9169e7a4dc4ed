"""Profiles explorer on the demo: counts, finding a customer, their unified profile, why merged, export."""

from __future__ import annotations

import io

import pandas as pd
import pytest
from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from core.profiles.query import Profiles
from core.profiles.unified import UnifiedProfile
from core.services import Workspace
from core.store import tables as t
from tests.pages.apptest import open_page, texts
from ui import profiles as profile_ui

PAGE = "pages/profiles.py"


def _scalar(query) -> int:
    with Workspace.open().engine.connect() as c:
        return int(c.execute(query).scalar_one())


def _shared_email() -> str:
    """An email held by both a CRM contact and a loyalty member (the demo has hundreds)."""
    i, d = t.identities, t.dataflows
    crm = select(i.c.value).join(d, d.c.id == i.c.dataflow_id).where(d.c.name == "crm_contacts")
    query = (
        select(i.c.value)
        .join(d, d.c.id == i.c.dataflow_id)
        .where(d.c.name == "loyalty_members", i.c.namespace == "email", i.c.value.in_(crm))
        .order_by(i.c.value)
        .limit(1)
    )
    with Workspace.open().engine.connect() as c:
        return str(c.execute(query).scalar_one())


def _find(namespace: str, value: str, at: AppTest | None = None) -> AppTest:
    at = at or open_page(PAGE)
    at.selectbox(key="profiles.namespace").set_value(namespace).run()
    at.text_input(key="profiles.value").set_value(value).run()
    assert not at.exception, at.exception
    return at


def _frame_with(at: AppTest, *columns: str) -> pd.DataFrame:
    for element in at.dataframe:
        if set(columns) <= set(element.value.columns):
            return element.value
    raise AssertionError(f"no table with columns {columns}")


def test_the_counts_are_those_of_the_graph_tables() -> None:
    at = open_page(PAGE)
    assert not at.exception and not at.error, texts(at.error)
    metrics = {m.label: m.value for m in at.metric}
    profiles = _scalar(select(func.count()).select_from(t.profiles))
    records = _scalar(select(func.count()).select_from(t.profile_members))
    merged = _scalar(select(func.count()).select_from(t.profiles).where(t.profiles.c.members > 1))
    assert profiles > 1000  # 1,000 contacts, orders and 600 loyalty members, linked
    assert metrics["Profiles"] == f"{profiles:,}"
    assert metrics["Records in profiles"] == f"{records:,}"
    assert metrics["Merge rate"] == f"{merged / profiles:.0%}"
    assert metrics["Records per profile"] == f"{records / profiles:.2f}"
    shown = _frame_with(at, "namespace", "values").set_index("namespace")["values"]
    assert set(shown.index) >= {"crm_id", "email", "loyalty_id", "phone"}  # other tests may add more
    for namespace, values in shown.items():
        distinct = select(func.count(t.identities.c.value.distinct())).where(
            t.identities.c.namespace == namespace
        )
        assert values == _scalar(distinct)
    assert shown["loyalty_id"] >= 600
    combinations = Profiles(Workspace.open()).stats()["combinations"]
    assert combinations["profiles"].sum() == profiles
    sources = combinations["dataflows"].str.split(" + ", regex=False).map(set)
    assert any(found >= {"crm_contacts", "loyalty_members", "shop_orders"} for found in sources)
    assert len(at.get("vega_lite_chart")) == 1  # profiles per source combination


def test_an_email_in_the_crm_and_the_loyalty_file_finds_one_profile_with_both() -> None:
    email = _shared_email()
    at = _find("email", f"  {email.upper()} ")  # typed as people type it: normalised like the graph
    assert not at.info, texts(at.info)
    summary = texts(at.markdown)
    assert "crm_contacts" in summary and "loyalty_members" in summary
    tabs = [tab.label for tab in at.tabs]
    assert any(label.startswith("crm_contacts · ") for label in tabs)
    assert any(label.startswith("loyalty_members · ") for label in tabs)
    assert tabs[-1] == "Why merged"

    attributes = _frame_with(at, "attribute", "value", "dataflow", "source_key", "timestamp")
    assert {"personalEmail.address", "loyaltyId", "crmId", "loyalty.points"} <= set(attributes["attribute"])
    assert attributes["dataflow"].notna().all() and attributes["source_key"].notna().all()
    assert attributes.set_index("attribute").at["loyaltyId", "dataflow"] == "loyalty_members"
    assert attributes.set_index("attribute").at["crmId", "dataflow"] in {"crm_contacts", "shop_orders"}

    identities = _frame_with(at, "namespace", "value", "dataflow", "source_key")
    holders = identities[(identities["namespace"] == "email") & (identities["value"] == email)]
    assert {"crm_contacts", "loyalty_members"} <= set(holders["dataflow"])

    trail = _frame_with(at, "rule", "detail")
    shared = trail[(trail["rule"] == "merged") & (trail["namespace"] == "email")]
    assert list(shared["value"]) == [email]
    assert "crm_contacts" in shared["detail"].iloc[0] and "loyalty_members" in shared["detail"].iloc[0]

    graph = at.get("graphviz_chart")[0].proto.spec
    assert f'"v:email:{email}"' in graph and '"r:loyalty_members:' in graph and '"r:crm_contacts:' in graph


def test_a_placeholder_email_finds_no_one_and_merges_no_one() -> None:
    at = _find("email", "TEST@test.com")
    assert "blocked" in texts(at.info) and "Why merged" not in [tab.label for tab in at.tabs]

    members = Workspace.open().records("loyalty_members", limit=None)
    typed = members[members["personalEmail.address"].str.strip().str.lower() == "test@test.com"]
    assert len(typed) == 3  # three different people typed it
    m, keys = t.profile_members, typed["_source_key"].tolist()
    with Workspace.open().engine.connect() as c:
        owners = set(
            c.execute(
                select(m.c.profile_id)
                .join(t.dataflows, t.dataflows.c.id == m.c.dataflow_id)
                .where(t.dataflows.c.name == "loyalty_members", m.c.source_key.in_(keys))
            ).scalars()
        )
    assert len(owners) == 3  # still three profiles

    one = Profiles(Workspace.open()).get(sorted(owners)[0])
    assert set(one.trail["rule"]) == {"blocked_value"}
    assert "(refused)" in profile_ui.identity_graph(one) and "style=dashed" in profile_ui.identity_graph(one)


def test_the_start_of_a_value_lists_the_profiles_to_choose_from() -> None:
    at = _find(profile_ui.ANY, "tara.1")
    choice = at.selectbox(key="profiles.match")
    assert choice.label.endswith("profiles match") and len(choice.options) > 1
    assert all(label.startswith("tara.1") for label in choice.options)
    picked = choice.options[1].split(" ")[0]
    choice.select_index(1).run()
    assert not at.exception
    identities = _frame_with(at, "namespace", "value", "dataflow", "source_key")
    assert picked in set(identities["value"])  # the profile shown is the one picked
    assert "Why merged" in [tab.label for tab in at.tabs]


def test_the_merge_policy_decides_which_source_an_attribute_comes_from() -> None:
    ws = Workspace.open()
    profiles = Profiles(ws)
    order = ["crm_contacts", "loyalty_members", "shop_orders"]
    profiles.save_policy("crm_first", {"kind": "precedence", "order": order})
    profiles.save_policy("loyalty_first", {"kind": "precedence", "order": [order[1], order[0], order[2]]})
    email = _shared_email()
    at = _find("email", email)
    winners = {}
    for policy in ("crm_first", "loyalty_first"):
        at.selectbox(key="profiles.policy").set_value(policy).run()
        assert not at.exception
        attributes = _frame_with(at, "attribute", "dataflow").set_index("attribute")
        winners[policy] = attributes.at["loyalty.tier", "dataflow"]
        assert "dataflow precedence" in texts(at.caption)
    assert winners == {"crm_first": "crm_contacts", "loyalty_first": "loyalty_members"}


@pytest.mark.parametrize("format", ["csv", "parquet"])
def test_every_profile_exports_as_csv_or_parquet(format: str) -> None:
    at = open_page(PAGE)
    assert at.get("download_button")
    exported = profile_ui.export_bytes(Workspace.open(), format, None)
    frame = pd.read_csv(io.BytesIO(exported)) if format == "csv" else pd.read_parquet(io.BytesIO(exported))
    assert len(frame) == _scalar(select(func.count()).select_from(t.profiles))
    assert {"profile_id", "dataflows", "identities.email", "loyaltyId"} <= set(frame.columns)


def test_the_dry_run_of_a_dataflow_already_run_creates_and_merges_no_profile() -> None:
    at = open_page("pages/mapping.py")
    at.selectbox(key="mapping.dataflow").set_value("loyalty_members").run()
    at.button(key="mapping.dry.sample").click().run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["New profiles"], metrics["Profiles joined"], metrics["Profiles merged"]) == (
        "0",
        "0",
        "0",
    )


def test_a_quoted_value_cannot_break_the_graph_text() -> None:
    odd = 'a"b\\c\nd'
    unified = UnifiedProfile(
        profile_id="p",
        policy="default",
        attributes=pd.DataFrame(columns=["attribute", "value", "dataflow", "source_key", "timestamp"]),
        identities=pd.DataFrame([{"namespace": "crm_id", "value": odd, "dataflow": "f", "source_key": odd}]),
    )
    dot = profile_ui.identity_graph(unified)
    assert '"v:crm_id:a\\"b\\\\c\\nd"' in dot
    assert all(line.endswith((";", "{", "}")) for line in dot.splitlines())  # no statement broken


def test_identity_rules_save_from_the_page_and_a_rebuild_keeps_an_unchanged_graph() -> None:
    at = open_page(PAGE)
    assert at.selectbox(key="profiles.rules.region").value == "FR"  # the demo's customers are French
    at.selectbox(key="profiles.rules.region").set_value("BE")
    at.button(key="profiles.rules.save").click().run()  # a form sends its widgets' values on submit
    assert not at.exception and not at.error, texts(at.error)
    assert "Rules saved" in texts(at.success)
    opened = Workspace.open()
    try:
        assert opened.profiles.settings().default_region == "BE"
    finally:
        spec = opened.profiles.settings()
        spec.default_region = "FR"
        opened.profiles.save_settings(spec)

    before = _scalar(select(func.count()).select_from(t.profiles))
    at = open_page(PAGE)
    at.button(key="profiles.rules.rebuild").click().run()
    assert not at.exception and not at.error, texts(at.error)
    records = _scalar(select(func.count()).select_from(t.profile_members))
    assert f"Rebuilt: {records:,} records in {before:,} profiles" in [s.label for s in at.status]
    assert _scalar(select(func.count()).select_from(t.profiles)) == before


def test_the_rules_editors_keep_only_what_differs_from_the_built_ins() -> None:
    from core.models import ProfilesSpec
    from ui.profile_rules import blocked_frame, namespaces_frame, spec_from

    spec = ProfilesSpec(default_region="FR")
    namespaces = namespaces_frame(spec)
    assert namespaces["namespace"].tolist()[:4] == ["crm_id", "loyalty_id", "email", "phone"]
    namespaces.loc[namespaces["namespace"] == "email", "limit"] = 2
    namespaces.loc[len(namespaces)] = ["member_code", "person", "lower", 1, 2]
    blocked = pd.DataFrame(
        {"namespace": ["email", "", None], "value": ["noreply@shop.fr", "n/d", "ignored"]}, dtype="string"
    )
    edited = spec_from("FR", namespaces, blocked, {})
    assert edited.namespaces == {
        "email": {"type": "person", "normaliser": "email", "limit": 2, "priority": 3},
        "member_code": {"type": "person", "normaliser": "lower", "limit": 1, "priority": 2},
    }
    assert edited.blocked == {"email": ["noreply@shop.fr"], "*": ["n/d"]}
    assert blocked_frame(edited).values.tolist() == [["email", "noreply@shop.fr"], ["*", "n/d"]]


def test_a_precedence_policy_is_added_shown_and_removed_from_the_page() -> None:
    at = open_page(PAGE)
    assert {"default", "crm_first"} <= set(at.selectbox(key="profiles.policy").options)  # the demo's two
    at.text_input(key="profiles.policy.name").set_value("shop_first")
    at.radio(key="profiles.policy.kind").set_value("precedence")
    at.multiselect(key="profiles.policy.order").set_value(["shop_orders", "crm_contacts"])
    at.button(key="profiles.policy.save").click().run()
    assert not at.exception and not at.error, texts(at.error)
    policy = Workspace.open().profiles.policies()["shop_first"]
    assert policy.kind == "precedence" and policy.order == ("shop_orders", "crm_contacts")
    at = open_page(PAGE)
    assert "shop_first" in at.selectbox(key="profiles.policy").options

    at.text_input(key="profiles.policy.name").set_value("no_order")
    at.button(key="profiles.policy.save").click().run()  # precedence with no dataflow picked
    assert "needs an order" in texts(at.error)

    at.selectbox(key="profiles.policy.remove").set_value("shop_first")
    at.button(key="profiles.policy.delete").click().run()
    assert "shop_first" not in Workspace.open().profiles.policies()
