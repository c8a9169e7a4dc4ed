"""The identity graph: clustering rules, and incremental maintenance equal to clustering from scratch.

The property tests drive :func:`write_identities`, :func:`maintain` and
:func:`forget` on an in-memory store with records drawn from small pools of
identity values (so that values are shared, placeholders recur and CRM ids
conflict), in random orders and chunkings, and compare the stored graph with
:func:`cluster` run once over the final set of records.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, create_engine, select

from core.profiles import IdentityRules, cluster, forget, maintain, profile_id_of, write_identities
from core.profiles.graph import identity_rows
from core.store import tables as t
from tests.profiles.datasets import graph_state

RULES = IdentityRules.from_settings([{"name": "email", "limit": 2}], default_region="FR")
NAMESPACES = ("crm_id", "email", "phone")
POOLS = {
    "crm_id": ["C1", "C2", " C3", "0"],
    "email": ["a@x.com", " A@X.com", "b@x.com", "c@x.com", "test@test.com", "bad"],
    "phone": ["0612345678", "+33 6 12 34 56 78", "0698765432", "0000000000"],
}

Record = tuple[int, str, dict[str, str | None]]


def rows_of(frame: pd.DataFrame) -> list[str]:
    rows = frame.itertuples(index=False)
    return sorted(repr(tuple(None if pd.isna(v) else v for v in row)) for row in rows)


def links_frame(rows: list[tuple[int, str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["dataflow_id", "source_key", "namespace", "value"])


def test_records_sharing_a_value_are_one_profile_named_after_the_smallest_member():
    links = links_frame(
        [(2, "o1", "email", "a@x.com"), (1, "c1", "email", "a@x.com"), (2, "o2", "email", "z@x.com")]
    )
    result = cluster(links[["dataflow_id", "source_key"]], links, RULES, {1: "crm", 2: "orders"})
    members = dict(zip(result.members["source_key"], result.members["profile_id"], strict=True))
    assert members["o1"] == members["c1"] == profile_id_of(1, "c1") != members["o2"]
    profile = result.profiles.set_index("profile_id").loc[profile_id_of(1, "c1")]
    assert (profile["members"], json.loads(profile["identities"]), json.loads(profile["dataflows"])) == (
        2, {"email": ["a@x.com"]}, ["crm", "orders"]
    )  # fmt: skip
    merged = result.decisions[result.decisions["rule"] == "merged"]
    assert merged[["namespace", "value"]].values.tolist() == [["email", "a@x.com"]]
    assert "crm (1), orders (1)" in merged["detail"].iloc[0]


def test_a_link_that_would_give_a_profile_two_crm_ids_is_dropped_on_the_weaker_side():
    links = links_frame(
        [
            (1, "c1", "crm_id", "C1"), (1, "c1", "email", "a@x.com"),
            (1, "c2", "crm_id", "C2"), (1, "c2", "email", "a@x.com"),
            (2, "o1", "email", "a@x.com"), (2, "o1", "phone", "+33612345678"),
            (3, "l1", "phone", "+33612345678"),
        ]
    )  # fmt: skip
    result = cluster(links[["dataflow_id", "source_key"]].drop_duplicates(), links, RULES)
    groups = result.members.groupby("profile_id")["source_key"].apply(frozenset)
    assert set(groups) == {frozenset({"c1", "o1", "l1"}), frozenset({"c2"})}
    limited = result.decisions[result.decisions["rule"] == "namespace_limit"]
    assert limited[["source_key", "namespace", "value"]].values.tolist() == [["c2", "email", "a@x.com"]]
    assert "'C1'" in limited["detail"].iloc[0] and "'C2'" in limited["detail"].iloc[0]


def test_the_side_holding_a_value_on_more_records_keeps_it():
    links = links_frame(
        [
            (1, "a", "crm_id", "C9"), (1, "a", "email", "a@x.com"),
            (1, "b", "crm_id", "C1"), (1, "b", "loyalty_id", "L1"), (1, "b", "email", "a@x.com"),
            (1, "c", "loyalty_id", "L1"), (1, "c", "email", "a@x.com"),
        ]
    )  # fmt: skip
    result = cluster(links[["dataflow_id", "source_key"]].drop_duplicates(), links, RULES)
    groups = set(result.members.groupby("profile_id")["source_key"].apply(frozenset))
    assert groups == {frozenset({"b", "c"}), frozenset({"a"})}  # b and c were one (L1) before the email


def test_refused_values_never_link_and_say_why():
    keys = pd.Series(["k1", "k2", "k3"])
    values = {
        "email": pd.Series(["test@test.com", "TEST@test.com ", "oops"]),
        "phone": pd.Series(["0000000000"] * 3),
    }
    links, refusals = identity_rows(1, keys, values, RULES)
    assert links.empty
    assert Counter(refusals["rule"]) == {"blocked_value": 5, "invalid_value": 1}
    assert (
        refusals.loc[refusals["rule"] == "invalid_value", "detail"]
        .iloc[0]
        .startswith("'oops' is not an email")
    )


# --- incremental maintenance on a store -------------------------------------------------------


@contextmanager
def store() -> Iterator[Connection]:
    engine = create_engine("sqlite://")
    t.metadata.create_all(engine)
    with engine.begin() as conn:
        yield conn


def ingest(conn: Connection, records: Sequence[Record]) -> None:
    """Writes records as one chunk per dataflow, as a run would."""
    for dataflow_id in sorted({d for d, _, _ in records}):
        chunk = [(k, v) for d, k, v in records if d == dataflow_id]
        keys = pd.Series([k for k, _ in chunk])
        values = {ns: pd.Series([v.get(ns) for _, v in chunk], dtype=object) for ns in NAMESPACES}
        changed = write_identities(conn, dataflow_id, keys, values, RULES)
        maintain(conn, dataflow_id, changed, RULES)


def remove(conn: Connection, records: Sequence[Record]) -> None:
    for dataflow_id in sorted({d for d, _, _ in records}):
        forget(conn, dataflow_id, [k for d, k, _ in records if d == dataflow_id], RULES)


def snapshot(conn: Connection) -> dict[str, Any]:
    """The stored graph, without ids and timestamps."""
    return graph_state(conn)


def expected(records: Sequence[Record]) -> dict[str, Any]:
    """The graph of these records, clustered at once on a fresh store."""
    with store() as conn:
        latest = {(d, k): (d, k, v) for d, k, v in records}
        ingest(conn, list(latest.values()))
        return snapshot(conn)


values_of = st.fixed_dictionaries({ns: st.none() | st.sampled_from(pool) for ns, pool in POOLS.items()})
record_sets = st.lists(
    st.tuples(st.integers(1, 3), st.sampled_from([f"k{i}" for i in range(8)]), values_of),
    min_size=1,
    max_size=24,
    unique_by=lambda r: (r[0], r[1]),
)
PROPERTY = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(records=record_sets, data=st.data())
def test_ingestion_order_and_chunking_do_not_change_the_graph(records, data):
    order = data.draw(st.permutations(records))
    cuts = sorted(data.draw(st.sets(st.integers(1, max(len(order) - 1, 1)), max_size=4)))
    with store() as conn:
        for start, end in zip([0, *cuts], [*cuts, len(order)], strict=True):
            ingest(conn, order[start:end])
        assert snapshot(conn) == expected(records)


@PROPERTY
@given(records=record_sets, data=st.data())
def test_forgetting_records_equals_never_having_ingested_them(records, data):
    gone = data.draw(st.lists(st.sampled_from(records), unique_by=lambda r: (r[0], r[1])))
    kept = [r for r in records if r not in gone]
    with store() as conn:
        ingest(conn, records)
        remove(conn, gone)
        assert snapshot(conn) == expected(kept)


@PROPERTY
@given(records=record_sets, data=st.data())
def test_changed_identities_equal_ingesting_the_new_values_only(records, data):
    changed = [(d, k, data.draw(values_of)) for d, k, _ in data.draw(st.lists(st.sampled_from(records)))]
    with store() as conn:
        ingest(conn, records)
        ingest(conn, changed)
        assert snapshot(conn) == expected([*records, *changed])


@PROPERTY
@given(records=record_sets, data=st.data())
def test_clustering_depends_on_the_links_not_their_order(records, data):
    rows = [(d, k, ns, v) for d, k, vs in records for ns, v in vs.items() if v is not None]
    links = links_frame(rows)
    shuffled = links.sample(frac=1, random_state=data.draw(st.integers(0, 10_000)))
    nodes = pd.DataFrame([(d, k) for d, k, _ in records], columns=["dataflow_id", "source_key"])
    first, second = cluster(nodes, links, RULES), cluster(nodes.iloc[::-1], shuffled, RULES)
    for part in ("members", "profiles", "decisions"):
        left, right = getattr(first, part), getattr(second, part)
        assert rows_of(left) == rows_of(right)


def test_a_removed_bridge_splits_the_profile_and_the_split_keeps_its_decisions():
    bridge: Record = (2, "o1", {"email": "a@x.com", "phone": "0612345678"})
    crm: Record = (1, "c1", {"crm_id": "C1", "email": "a@x.com"})
    card: Record = (3, "l1", {"phone": "+33612345678"})
    with store() as conn:
        ingest(conn, [crm, bridge, card])
        assert len(set(conn.execute(select(t.profile_members.c.profile_id)).scalars())) == 1
        remove(conn, [bridge])
        members = conn.execute(select(t.profile_members.c.source_key, t.profile_members.c.profile_id)).all()
        assert sorted(members) == sorted([("c1", profile_id_of(1, "c1")), ("l1", profile_id_of(3, "l1"))])
        assert not conn.execute(
            select(t.profile_decisions).where(t.profile_decisions.c.rule == "merged")
        ).all()
        assert snapshot(conn) == expected([crm, card])


def test_a_record_with_only_refused_values_is_a_profile_of_its_own():
    with store() as conn:
        ingest(conn, [(1, "k1", {"email": "test@test.com"}), (1, "k2", {"email": "TEST@TEST.COM"})])
        profiles = conn.execute(select(t.profile_members.c.profile_id)).scalars().all()
        assert len(set(profiles)) == 2
        blocked = conn.execute(
            select(t.profile_decisions.c.profile_id, t.profile_decisions.c.value).where(
                t.profile_decisions.c.rule == "blocked_value"
            )
        ).all()
        assert sorted(blocked) == sorted(
            [(profile_id_of(1, "k1"), "test@test.com"), (profile_id_of(1, "k2"), "test@test.com")]
        )
