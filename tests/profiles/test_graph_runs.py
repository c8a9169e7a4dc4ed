"""The identity graph through real runs: generated people across three sources, on SQLite and PostgreSQL.

Every run below goes through the files connector, the mapping and the
chunked, transactional ingest; the graph it leaves is compared with the
generated truth (zero false and zero missed merges) and with a full rebuild.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from core import profiles
from core.store import tables as t
from tests.profiles import datasets

CHUNK = 97  # several chunks per dataflow, cut anywhere in a person's records


@pytest.fixture
def source(tmp_path: Path) -> tuple[datasets.Generated, Path]:
    generated = datasets.generate(persons=150, seed=11, duplicates=3, guests=12)
    folder = tmp_path / "source"
    generated.write(folder, parts=2)
    return generated, folder


def state_and_rebuilt(workspace) -> tuple[dict, dict]:
    with workspace.engine.connect() as conn:
        before = datasets.graph_state(conn)
    profiles.rebuild(workspace.engine)
    with workspace.engine.connect() as conn:
        return before, datasets.graph_state(conn)


@pytest.mark.parametrize("order", [("crm", "orders", "loyalty"), ("loyalty", "orders", "crm")])
def test_runs_link_every_true_person_and_nobody_else(any_workspace, source, order):
    generated, folder = source
    datasets.setup(any_workspace, folder, chunk_size=CHUNK)
    for name in order:
        assert any_workspace.run(name).status == "succeeded"
    with any_workspace.engine.connect() as conn:
        found = datasets.stored_partition(conn)
    false, missed = datasets.merge_errors(found, datasets.partition(generated.truth))
    assert (false, missed) == ([], [])
    incremental, rebuilt = state_and_rebuilt(any_workspace)
    assert incremental == rebuilt


def test_decisions_say_why_records_were_kept_apart(any_workspace, source):
    generated, folder = source
    datasets.setup(any_workspace, folder, chunk_size=CHUNK)
    for name in ("crm", "orders", "loyalty"):
        any_workspace.run(name)
    d = t.profile_decisions.c
    with any_workspace.engine.connect() as conn:
        limited = conn.execute(
            select(d.source_key, d.namespace, d.detail).where(d.rule == "namespace_limit")
        ).all()
        blocked = conn.execute(
            select(d.namespace, d.value, d.profile_id).where(d.rule == "blocked_value")
        ).all()
        merged = conn.execute(select(d.profile_id, d.detail).where(d.rule == "merged")).all()
    duplicates = {k for (_, k), label in generated.truth.items() if label.startswith("duplicate")}
    assert {k for k, _, _ in limited} == duplicates
    for key, namespace, detail in limited:
        person = key.removeprefix("c").removesuffix("x")
        assert namespace == "email"
        assert f"'CRM-{person}-OLD'" in detail and f"'CRM-{person}'" in detail
    assert {v for n, v, _ in blocked if n == "email"} == {"test@test.com", "noemail@shop.fr", "n/a"}
    assert {v for n, v, _ in blocked if n == "phone"} >= {"0000000000", "1234567890", "unknown"}
    assert all(p is not None for *_, p in blocked)  # each refusal points at the record's profile
    assert merged and all("is shared by" in detail for _, detail in merged)


def test_a_full_refresh_that_drops_the_bridging_order_unmerges_the_person(any_workspace, source, tmp_path):
    generated, folder = source
    datasets.setup(any_workspace, folder, chunk_size=CHUNK)
    for name in ("crm", "orders", "loyalty"):
        any_workspace.run(name)
    # people whose CRM record and loyalty card are linked only through their one order
    bridged = [
        label
        for label in {v for v in generated.truth.values() if v.startswith("person")}
        if sorted(d for (d, _), v in generated.truth.items() if v == label) == ["crm", "loyalty", "orders"]
    ]
    assert bridged
    dropped = {k for (d, k), v in generated.truth.items() if d == "orders" and v in bridged}
    orders = generated.orders[~generated.orders["order_id"].isin(dropped)]
    for old in folder.glob("orders*.csv"):
        old.unlink()
    orders.to_csv(folder / "orders000.csv", index=False)
    summary = any_workspace.run("orders")
    assert summary.deleted == len(dropped)

    truth = {r: v for r, v in generated.truth.items() if not (r[0] == "orders" and r[1] in dropped)}
    split = {r: (f"{v}:{r[0]}" if v in bridged else v) for r, v in truth.items()}
    with any_workspace.engine.connect() as conn:
        found = datasets.stored_partition(conn)
        leftovers = [
            conn.execute(select(table.c.source_key).where(table.c.source_key.in_(dropped))).all()
            for table in (t.identities, t.profile_members, t.profile_decisions)
        ]
    assert datasets.merge_errors(found, datasets.partition(split)) == ([], [])
    assert leftovers == [[], [], []]
    incremental, rebuilt = state_and_rebuilt(any_workspace)
    assert incremental == rebuilt


def test_a_failed_run_leaves_the_graph_of_what_it_committed(any_workspace, source):
    generated, folder = source
    datasets.setup(any_workspace, folder, chunk_size=25)
    any_workspace.run("crm")
    loyalty = generated.loyalty.astype({"points": object})
    loyalty.loc[loyalty.index[30:], "points"] = "lots"  # the second chunk fails past the threshold
    for old in folder.glob("loyalty*.csv"):
        old.unlink()
    loyalty.to_csv(folder / "loyalty000.csv", index=False)
    assert any_workspace.run("orders").status == "succeeded"
    assert any_workspace.run("loyalty").status == "failed"
    dataflow_id = any_workspace.store.dataflow_row("loyalty")["id"]
    members = t.profile_members.c
    with any_workspace.engine.connect() as conn:
        linked = conn.execute(select(members.source_key).where(members.dataflow_id == dataflow_id)).all()
    assert len(linked) == 25
    incremental, rebuilt = state_and_rebuilt(any_workspace)
    assert incremental == rebuilt


def test_replayed_rows_join_their_profiles(any_workspace, source):
    generated, folder = source
    datasets.setup(any_workspace, folder, chunk_size=CHUNK)
    loyalty = generated.loyalty.astype({"points": object})
    loyalty.loc[loyalty.index[:3], "points"] = "lots"
    for old in folder.glob("loyalty*.csv"):
        old.unlink()
    loyalty.to_csv(folder / "loyalty000.csv", index=False)
    for name in ("crm", "orders"):
        any_workspace.run(name)
    first = any_workspace.run("loyalty")
    assert (first.status, first.failed) == ("partial", 3)
    spec = any_workspace.store.dataflow_row("loyalty")["spec"]
    spec["mapping"]["loyalty.points"] = "to_int(replace(points, 'lots', '0'))"
    any_workspace.save_dataflow("loyalty", spec)
    assert any_workspace.replay(first.run_id).ingested == 3
    with any_workspace.engine.connect() as conn:
        found = datasets.stored_partition(conn)
    assert datasets.merge_errors(found, datasets.partition(generated.truth)) == ([], [])
    incremental, rebuilt = state_and_rebuilt(any_workspace)
    assert incremental == rebuilt


def test_concurrent_runs_of_the_three_sources_still_link_everyone(any_workspace, source):
    """Runs of different dataflows commit chunks side by side; the graph's writers take turns."""
    from concurrent.futures import ThreadPoolExecutor

    generated, folder = source
    datasets.setup(any_workspace, folder, chunk_size=40)
    with ThreadPoolExecutor(3) as pool:
        statuses = list(pool.map(lambda name: any_workspace.run(name).status, ["crm", "orders", "loyalty"]))
    assert statuses == ["succeeded"] * 3
    with any_workspace.engine.connect() as conn:
        found = datasets.stored_partition(conn)
    assert datasets.merge_errors(found, datasets.partition(generated.truth)) == ([], [])
    incremental, rebuilt = state_and_rebuilt(any_workspace)
    assert incremental == rebuilt
