"""Profile lookups, the explorer's search, the trail and the counts, on SQLite and PostgreSQL.

The data: three dataflows over real files (CRM contacts, shop orders, a
loyalty file) about known people, with noise in case and whitespace and a
shared placeholder email, ingested by real runs.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import event, select

from core.errors import ConfigurationError, NotFoundError
from core.profiles.query import AmbiguousIdentityError, Profiles
from core.services import Workspace
from core.store import tables as t

CONTACTS = """customer_id,first_name,last_name,email,phone,tier,born,updated_at
C1,Ann,Lee, Ann@Example.com ,+33612345678,gold,1990-02-03,2026-03-01T10:00:00Z
C2,Bob,Stone,bob@example.com,,silver,,2026-03-02T10:00:00Z
C3,Cid,,test@test.com,+33623456789,bronze,,2026-01-01T10:00:00Z
C4,"=HYPERLINK(""http://evil"",""x"")",Evans,eve@example.com,,bronze,,2026-01-05T10:00:00Z
C5,Tim,Twin,twin@example.com,,bronze,,2026-01-06T10:00:00Z
C6,Tom,Twin,TWIN@example.com,,silver,,2026-01-07T10:00:00Z
"""
ORDERS = [
    {"order_id": "O1", "customer_id": "C1", "email": "ann@example.com", "first_name": "Anne",
     "total": 10.5, "placed_at": "2026-04-01T09:00:00Z"},
    {"order_id": "O2", "customer_id": "C2", "email": "BOB@example.com", "first_name": None,
     "total": 20.0, "placed_at": "2026-05-01T09:00:00Z"},
    {"order_id": "O3", "customer_id": None, "email": "test@test.com", "first_name": "Zed",
     "total": 5.0, "placed_at": "2026-05-02T09:00:00Z"},
]  # fmt: skip
LOYALTY = """card,email,first_name,points,updated_at
L1,ann@example.com,Annie,120,2026-02-01T00:00:00Z
L2,dan@example.com,Dan,7,2026-02-02T00:00:00Z
"""
#: The true persons: the (dataflow, source key) records that are one customer. Tim and Tom share
#: an email but have two CRM ids: a profile holds one crm_id, so they stay two profiles.
PERSONS = {
    "ann": {("crm", "C1"), ("shop", "O1"), ("loyalty", "L1")},
    "bob": {("crm", "C2"), ("shop", "O2")},
    "cid": {("crm", "C3")},
    "eve": {("crm", "C4")},
    "tim": {("crm", "C5")},
    "tom": {("crm", "C6")},
    "zed": {("shop", "O3")},
    "dan": {("loyalty", "L2")},
}

SPEC = {
    "connections": {"files": {"connector": "files", "config": {"url": "SOURCE"}}},
    "dataflows": {
        "crm": {
            "source": {"connection": "files", "stream": "contacts.csv", "format": {"type": "csv"}},
            "sync": {"mode": "full_refresh", "primary_key": ["customer_id"]},
            "mapping": {
                "crmId": "customer_id",
                "person.firstName": "first_name",
                "person.lastName": "last_name",
                "personalEmail.address": "lower(trim(email))",
                "mobilePhone.number": "phone",
                "loyalty.tier": "tier",
                "person.birthDate": "to_date(born)",
                "updatedAt": "to_timestamp(updated_at)",
            },
            "identities": {
                "email": "personalEmail.address",
                "crm_id": "crmId",
                "phone": "mobilePhone.number",
            },
        },
        "shop": {
            "source": {"connection": "files", "stream": "orders.jsonl", "format": {"type": "jsonl"}},
            "sync": {"mode": "full_refresh", "primary_key": ["order_id"]},
            "mapping": {
                "order.id": "order_id",
                "crmId": "customer_id",
                "personalEmail.address": "lower(trim(email))",
                "person.firstName": "first_name",
                "order.total": "to_float(total)",
                "updatedAt": "to_timestamp(placed_at)",
            },
            "identities": {"email": "personalEmail.address", "crm_id": "crmId"},
        },
        "loyalty": {
            "source": {"connection": "files", "stream": "loyalty.csv", "format": {"type": "csv"}},
            "sync": {"mode": "full_refresh", "primary_key": ["card"]},
            "mapping": {
                "loyaltyId": "card",
                "personalEmail.address": "lower(trim(email))",
                "person.firstName": "first_name",
                "loyalty.points": "to_int(points)",
                "updatedAt": "to_timestamp(updated_at)",
            },
            "identities": {"email": "personalEmail.address", "loyalty_id": "loyaltyId"},
        },
    },
}


@dataclass(frozen=True)
class Customers:
    """The ingested customers: the workspace and each true person's profile id."""

    workspace: Workspace
    profiles: Profiles

    def profile_of(self, person: str) -> str:
        dataflow, key = sorted(PERSONS[person])[0]
        with self.workspace.engine.connect() as conn:
            dataflow_id = conn.execute(
                select(t.dataflows.c.id).where(t.dataflows.c.name == dataflow)
            ).scalar_one()
            m = t.profile_members
            return conn.execute(
                select(m.c.profile_id).where(m.c.dataflow_id == dataflow_id, m.c.source_key == key)
            ).scalar_one()


def ingest_customers(workspace: Workspace, folder: Path) -> Customers:
    """Writes the three sources, applies their dataflows and runs them."""
    import yaml

    from core import config

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "contacts.csv").write_text(CONTACTS)
    (folder / "orders.jsonl").write_text("\n".join(json.dumps(o) for o in ORDERS) + "\n")
    (folder / "loyalty.csv").write_text(LOYALTY)
    spec = json.loads(json.dumps(SPEC).replace("SOURCE", str(folder).replace("\\", "/")))
    path = folder.parent / "customers.yml"
    path.write_text(yaml.safe_dump(spec))
    config.apply(workspace, path)
    for name in ("crm", "shop", "loyalty"):
        summary = workspace.run(name)
        assert summary.status == "succeeded", summary.error_message
    return Customers(workspace, Profiles(workspace))


@pytest.fixture
def customers(any_workspace: Workspace, tmp_path: Path) -> Customers:
    return ingest_customers(any_workspace, tmp_path / "source")


def test_the_graph_made_one_profile_per_true_person(customers: Customers) -> None:
    m, f = t.profile_members, t.dataflows
    with customers.workspace.engine.connect() as conn:
        rows = conn.execute(
            select(f.c.name, m.c.source_key, m.c.profile_id).join(f, f.c.id == m.c.dataflow_id)
        )
        found: dict[str, set] = {}
        for name, key, profile in rows:
            found.setdefault(profile, set()).add((name, key))
    assert sorted(map(sorted, found.values())) == sorted(map(sorted, PERSONS.values()))


@pytest.mark.parametrize(
    ("namespace", "typed"),
    [
        ("email", "ann@example.com"),
        ("email", "  ANN@Example.COM "),
        ("crm_id", "C1"),
        ("crm_id", " C1 "),
        ("loyalty_id", "L1"),
        ("phone", "+33 6 12 34 56 78"),
        ("phone", "+33612345678"),
    ],
)
def test_a_lookup_by_any_namespace_finds_the_profile(
    customers: Customers, namespace: str, typed: str
) -> None:
    profile = customers.profiles.lookup(namespace, typed)
    assert profile is not None
    assert profile.profile_id == customers.profile_of("ann")
    assert profile.dataflows == ["crm", "loyalty", "shop"]
    assert profile.members == 3


def test_the_unified_profile_says_where_every_value_came_from(customers: Customers) -> None:
    ann = customers.profiles.lookup("email", "ann@example.com")
    assert ann is not None
    sources = {r.attribute: (r.value, r.dataflow, r.source_key) for r in ann.attributes.itertuples()}
    assert sources["person.firstName"] == ("Anne", "shop", "O1")  # the latest record: 2026-04-01
    assert sources["person.lastName"] == ("Lee", "crm", "C1")  # only the CRM has it
    assert sources["loyalty.points"] == (120, "loyalty", "L1")
    assert sources["personalEmail.address"] == ("ann@example.com", "shop", "O1")
    assert ann.value("loyalty.tier") == "gold"
    assert ann.value("person.birthDate") == date(1990, 2, 3)
    assert ann.value("nothing", "n/a") == "n/a"
    stamp = ann.attributes.set_index("attribute").loc["loyalty.points", "timestamp"]
    assert stamp == pd.Timestamp("2026-02-01", tz="UTC")
    assert list(ann.attributes.columns) == ["attribute", "value", "dataflow", "source_key", "timestamp"]
    assert {name: list(frame["_source_key"]) for name, frame in ann.records.items()} == {
        "crm": ["C1"],
        "loyalty": ["L1"],
        "shop": ["O1"],
    }
    assert set(map(tuple, ann.identities.to_numpy())) == {
        ("crm_id", "C1", "crm", "C1"),
        ("crm_id", "C1", "shop", "O1"),
        ("email", "ann@example.com", "crm", "C1"),
        ("email", "ann@example.com", "loyalty", "L1"),
        ("email", "ann@example.com", "shop", "O1"),
        ("loyalty_id", "L1", "loyalty", "L1"),
        ("phone", "+33612345678", "crm", "C1"),
    }


def test_a_newer_record_without_a_value_does_not_erase_it(customers: Customers) -> None:
    bob = customers.profiles.lookup("crm_id", "C2")
    assert bob is not None
    assert bob.value("person.firstName") == "Bob"  # the newer order has no first name
    assert bob.value("order.total") == 20.0


def test_a_named_policy_merges_by_dataflow_precedence(customers: Customers) -> None:
    profiles = customers.profiles
    profiles.save_policy("crm_first", {"kind": "precedence", "order": ["crm", "loyalty", "shop"]})
    profiles.save_policy("loyalty_first", {"kind": "precedence", "order": ["loyalty"]})
    assert set(profiles.policies()) == {"default", "crm_first", "loyalty_first"}
    ann = profiles.lookup("email", "ann@example.com", policy="crm_first")
    assert ann is not None and ann.policy == "crm_first"
    assert ann.value("person.firstName") == "Ann"
    assert ann.value("order.total") == 10.5  # only the shop has it
    assert profiles.get(ann.profile_id, "loyalty_first").value("person.firstName") == "Annie"
    assert profiles.get(ann.profile_id).value("person.firstName") == "Anne"
    profiles.delete_policy("loyalty_first")
    assert set(profiles.policies()) == {"default", "crm_first"}


def test_policies_are_checked_against_the_dataflows(customers: Customers) -> None:
    profiles = customers.profiles
    with pytest.raises(ConfigurationError, match="no dataflow named ghost"):
        profiles.save_policy("p", {"kind": "precedence", "order": ["crm", "ghost"]})
    with pytest.raises(ConfigurationError, match="must start with a letter"):
        profiles.save_policy("1st", {"kind": "timestamp"})
    with pytest.raises(NotFoundError, match="no merge policy 'nope'"):
        profiles.lookup("crm_id", "C1", policy="nope")
    with pytest.raises(NotFoundError):
        profiles.delete_policy("nope")


def test_a_policy_can_date_a_dataflow_by_another_attribute(customers: Customers) -> None:
    # by ingestion time the loyalty file (run last) is the newest source
    customers.profiles.save_policy(
        "ingested", {"timestamps": {"crm": "_ingested_at", "shop": "_ingested_at", "loyalty": "_ingested_at"}}
    )
    ann = customers.profiles.lookup("crm_id", "C1", policy="ingested")
    assert ann is not None and ann.value("person.firstName") == "Annie"


@pytest.mark.parametrize(
    ("namespace", "typed", "why"),
    [
        ("email", "stranger@example.com", None),
        ("email", "test@test.com", "blocked"),
        ("email", "not an email", "not an email"),
        ("phone", "0000000000", "blocked"),
        ("crm_id", "   ", "empty"),
    ],
)
def test_identities_that_link_no_one_find_nothing(
    customers: Customers, namespace: str, typed: str, why: str | None
) -> None:
    assert customers.profiles.lookup(namespace, typed) is None
    reason = customers.profiles.normalise(namespace, typed)[1]
    assert (reason is None) if why is None else (why in reason)


def test_a_value_on_several_profiles_is_ambiguous(customers: Customers) -> None:
    profiles = customers.profiles
    assert profiles.profile_ids("email", "twin@example.com") == sorted(
        [customers.profile_of("tim"), customers.profile_of("tom")]
    )
    with pytest.raises(AmbiguousIdentityError, match="several profiles"):
        profiles.lookup("email", "Twin@Example.com")
    assert profiles.lookup("crm_id", "C5").value("person.firstName") == "Tim"


def test_the_trail_says_which_values_linked_which_records(customers: Customers) -> None:
    ann = customers.profiles.get(customers.profile_of("ann"))
    merged = ann.trail[ann.trail["rule"] == "merged"].set_index(["namespace", "value"])
    assert set(merged.index) == {("crm_id", "C1"), ("email", "ann@example.com")}
    assert merged.loc[("email", "ann@example.com"), "records"] == "crm:C1, loyalty:L1, shop:O1"
    assert merged.loc[("crm_id", "C1"), "records"] == "crm:C1, shop:O1"
    assert "shared by 3 records" in merged.loc[("email", "ann@example.com"), "detail"]
    assert list(ann.trail.columns) == [
        "created_at", "rule", "namespace", "value", "dataflow", "source_key", "records", "detail"
    ]  # fmt: skip


def test_the_trail_says_which_links_were_dropped_and_why(customers: Customers) -> None:
    cid = customers.profiles.lookup("crm_id", "C3")
    assert cid is not None
    blocked = cid.trail[cid.trail["rule"] == "blocked_value"]
    assert blocked[["namespace", "value", "dataflow", "source_key", "records"]].values.tolist() == [
        ["email", "test@test.com", "crm", "C3", "crm:C3"]
    ]
    assert "placeholder" in blocked["detail"].iloc[0]
    twins = [customers.profiles.get(customers.profile_of(p)).trail for p in ("tim", "tom")]
    limits = pd.concat(twins)
    limits = limits[limits["rule"] == "namespace_limit"]
    assert len(limits) == 1 and limits["namespace"].iloc[0] == "email"
    assert "crm_id" in limits["detail"].iloc[0]


def test_an_unknown_profile_id_is_not_found(customers: Customers) -> None:
    with pytest.raises(NotFoundError, match="no profile"):
        customers.profiles.get("0" * 40)


def test_the_profile_as_plain_data(customers: Customers) -> None:
    data = customers.profiles.lookup("crm_id", "C1").as_dict()
    assert data["profile_id"] == customers.profile_of("ann")
    assert data["dataflows"] == ["crm", "loyalty", "shop"] and data["members"] == 3
    assert data["attributes"]["person.firstName"]["value"] == "Anne"
    assert data["attributes"]["person.firstName"]["dataflow"] == "shop"
    assert {"namespace": "loyalty_id", "value": "L1", "dataflow": "loyalty", "source_key": "L1"} in data[
        "identities"
    ]
    assert [r["_source_key"] for r in data["records"]["shop"]] == ["O1"]
    json.dumps(data, default=str)


# -- the explorer's search and counts ----------------------------------------------------------
def test_search_finds_identities_by_prefix(customers: Customers) -> None:
    profiles = customers.profiles
    found = profiles.search("AN")
    assert found[["namespace", "value", "records"]].values.tolist() == [["email", "ann@example.com", 3]]
    assert found["profile_id"].tolist() == [customers.profile_of("ann")]
    assert profiles.search("C", namespace="crm_id")["value"].tolist() == ["C1", "C2", "C3", "C4", "C5", "C6"]
    assert profiles.search("C", namespace="crm_id", limit=2)["value"].tolist() == ["C1", "C2"]
    assert profiles.search("email:b")["value"].tolist() == ["bob@example.com"]
    assert profiles.search("+33 61")["value"].tolist() == ["+33612345678"]
    assert profiles.search("c", namespace="crm_id").empty  # crm ids keep their case
    twins = profiles.search("twin")
    assert len(twins) == 2 and set(twins["value"]) == {"twin@example.com"}
    assert profiles.search("").empty and profiles.search("zzz").empty
    assert list(profiles.search("").columns) == ["namespace", "value", "profile_id", "records"]


def test_search_takes_like_wildcards_literally(customers: Customers) -> None:
    assert customers.profiles.search("%").empty
    assert customers.profiles.search("_", namespace="crm_id").empty


def test_stats_count_profiles_records_identities_and_source_combinations(customers: Customers) -> None:
    stats = customers.profiles.stats()
    assert stats["profiles"] == len(PERSONS) == 8
    assert stats["records"] == 11
    assert stats["merged_profiles"] == 2
    assert stats["merged_share"] == pytest.approx(2 / 8)
    assert stats["records_per_profile"] == pytest.approx(11 / 8)
    assert stats["identities"] == {"crm_id": 6, "email": 5, "loyalty_id": 2, "phone": 2}
    assert stats["records_by_dataflow"] == {"crm": 6, "loyalty": 2, "shop": 3}
    assert stats["combinations"].values.tolist() == [
        ["crm", 4],
        ["crm + loyalty + shop", 1],
        ["crm + shop", 1],
        ["loyalty", 1],
        ["shop", 1],
    ]


def test_stats_of_an_empty_workspace(any_workspace: Workspace) -> None:
    stats = Profiles(any_workspace).stats()
    assert (stats["profiles"], stats["records"], stats["merged_share"], stats["records_per_profile"]) == (
        0,
        0,
        0,
        0,
    )
    assert stats["identities"] == {} and stats["combinations"].empty


# -- cost: a lookup reads the profile's own rows through indexes --------------------------------
def test_a_lookup_searches_indexes_and_never_scans_a_table(customers: Customers) -> None:
    """O(members) whatever the store's size: every statement of a lookup can be answered by an index.

    PostgreSQL prefers scanning tiny tables, so its plans are asked for with sequential scans
    disabled: a plan that still scans has no index to use.
    """
    engine = customers.workspace.engine
    statements: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        assert customers.profiles.lookup("email", "ann@example.com") is not None
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    graph = (
        "identities",
        "profile_members",
        "profile_decisions",
        "profiles",
        "ds_crm",
        "ds_shop",
        "ds_loyalty",
    )
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as conn:
        if not sqlite:
            conn.exec_driver_sql("SET enable_seqscan = off")
        for statement, parameters in statements:
            explain = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN "
            plan = [str(row[-1]) for row in conn.exec_driver_sql(explain + statement, parameters).all()]
            scan = re.compile(r"^SCAN (\w+)" if sqlite else r"Seq Scan on (\w+)")
            scanned = [m.group(1) for line in plan if (m := scan.search(line.strip()))]
            assert not [name for name in scanned if name in graph], (statement, plan)
    assert any("identities" in statement for statement, _ in statements)
    assert len(statements) <= 14
