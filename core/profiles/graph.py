"""The identity graph: records linked by shared identity values, clustered into profiles.

A run writes each chunk's identities with :func:`write_identities` and calls
:func:`maintain` for the records whose links changed, in the chunk's
transaction; a full refresh calls :func:`forget_missing` for the records it
deleted. Only the affected connected components are re-clustered: the
changed records, everything that shared a value with them before (read from
their old profiles' identities) and everything transitively linked to them
now, found by joins on ``identities (namespace, value)`` round by round. The
component is then clustered by :func:`core.profiles._clustering.cluster` —
the same function :func:`rebuild` runs over the whole graph, so incremental
maintenance and a rebuild agree exactly.

Tables written: ``identities`` (normalised, linkable values only),
``profile_members`` (record -> profile), ``profiles`` (members, identities,
dataflows) and ``profile_decisions``: ``blocked_value`` and
``invalid_value`` per record and namespace whose value was refused,
``namespace_limit`` per record whose link was dropped, ``merged`` per value
that links records of a profile (no record: the value speaks for them all).

On PostgreSQL every writer of the graph holds one transaction-scoped
advisory lock, so concurrent runs re-cluster one after the other and each
sees the other's committed links; SQLite serialises writers by itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Engine, Table, delete, select, text, union

from core.profiles import _store as store
from core.profiles._clustering import LINK, RECORD, Clustering, cluster, profile_id_of
from core.profiles.namespaces import IdentityRules, load_rules
from core.store import datasets
from core.store import tables as t
from core.store.repository import utcnow

__all__ = [
    "COMPONENT_RULES",
    "RECORD_RULES",
    "Clustering",
    "cluster",
    "forget",
    "forget_missing",
    "identity_rows",
    "maintain",
    "profile_id_of",
    "rebuild",
    "write_identities",
]

#: Decisions about one record's value, made when its identities are written.
RECORD_RULES = ("blocked_value", "invalid_value")
#: Decisions the clustering makes, rewritten with the component.
COMPONENT_RULES = ("merged", "namespace_limit")
#: The PostgreSQL advisory lock every writer of the graph holds until it commits.
GRAPH_LOCK = 0x7472_6962  # "trib"


# --- identities -------------------------------------------------------------------------------


def write_identities(
    conn: Connection,
    dataflow_id: int,
    keys: pd.Series,
    values: Mapping[str, pd.Series],
    rules: IdentityRules | None = None,
) -> pd.Series:
    """Writes records' normalised identities and refusals; returns the keys :func:`maintain` needs.

    Args:
        conn: the chunk's transaction.
        dataflow_id: the records' dataflow.
        keys: the records' source keys.
        values: per namespace, the raw values of the records (aligned with ``keys``).
        rules: the identity rules; read from the workspace's settings when omitted.

    Returns:
        The keys whose links changed, and those not in the graph yet.
    """
    _lock(conn)
    rules = rules or load_rules(conn)
    text_keys = pd.Series(keys.astype(str).to_numpy(dtype=object))
    last = ~text_keys.duplicated(keep="last").to_numpy()
    unique = text_keys[last].reset_index(drop=True)
    columns = {name: column.reset_index(drop=True)[last] for name, column in values.items()}
    links, refusals = identity_rows(dataflow_id, unique, columns, rules)
    old = store.links_of(conn, pd.DataFrame({"dataflow_id": dataflow_id, "source_key": unique}))
    changed = _changed_keys(old, links)
    where, params = store.of_dataflow(conn, dataflow_id)
    members = dict(
        store.select_where(
            conn,
            t.profile_members,
            ["source_key", "profile_id"],
            "source_key",
            unique.tolist(),
            where,
            params,
        )
    )
    new = unique[~unique.isin(members.keys())]
    store.delete_where(conn, t.identities, "source_key", changed.tolist(), where, params)
    store.insert_rows(conn, t.identities, links[links["source_key"].isin(changed)])
    rule_where, rule_params = store.of_dataflow(conn, dataflow_id, RECORD_RULES)
    store.delete_where(conn, t.profile_decisions, "source_key", unique.tolist(), rule_where, rule_params)
    # a record keeps its profile until maintain() moves it; a new one gets it there
    store.insert_decisions(conn, refusals.assign(profile_id=refusals["source_key"].map(members)))
    return pd.Series(sorted(set(changed) | set(new)), dtype=object)


def identity_rows(
    dataflow_id: int, keys: pd.Series, values: Mapping[str, pd.Series], rules: IdentityRules
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(links, refusals) of records: their linkable values, and a decision per refused value."""
    keys = keys.reset_index(drop=True)
    links, refusals = [], []
    for namespace, column in values.items():
        result = rules.normalise(namespace, column.reset_index(drop=True))
        linkable = result.values.notna().to_numpy(dtype=bool)
        links.append(
            pd.DataFrame(
                {"source_key": keys[linkable], "namespace": namespace, "value": result.values[linkable]}
            )
        )
        shown = result.values.astype(object).where(
            result.values.notna(), result.text.str.lower().astype(object)
        )
        for rule, mask, why in (
            (
                "blocked_value",
                result.blocked & ~result.blocked_by_user,
                " is a placeholder, never used to link records",
            ),
            ("blocked_value", result.blocked_by_user, " is on the workspace's block list (profiles.blocked)"),
            ("invalid_value", result.invalid, None),
        ):
            if not mask.any():
                continue
            value = result.text[mask].astype(object) if why is None else shown[mask]
            detail = (
                result.reasons[mask].astype(object).str.replace(r"^\w+: ", "", regex=True)
                + "; not used to link records"
                if why is None
                else namespace + " " + value.map(repr) + why
            )
            refusals.append(
                pd.DataFrame(
                    {
                        "source_key": keys[mask],
                        "namespace": namespace,
                        "value": value,
                        "rule": rule,
                        "detail": detail,
                    }
                )
            )
    link_frame = pd.concat(links, ignore_index=True) if links else pd.DataFrame(columns=LINK[1:])
    refused = (
        pd.concat(refusals, ignore_index=True) if refusals else pd.DataFrame(columns=["source_key", "rule"])
    )
    return link_frame.assign(dataflow_id=dataflow_id)[LINK], refused.assign(
        dataflow_id=dataflow_id, profile_id=None
    )


def _changed_keys(old: pd.DataFrame, new: pd.DataFrame) -> pd.Series:
    """Keys whose (namespace, value) links differ between two link frames."""
    both = old[LINK[1:]].merge(new[LINK[1:]], how="outer", indicator=True)
    return pd.Series(both.loc[both["_merge"] != "both", "source_key"].unique(), dtype=object)


# --- maintenance ------------------------------------------------------------------------------


def maintain(
    conn: Connection,
    dataflow_id: int,
    source_keys: Sequence[str] | pd.Series,
    rules: IdentityRules | None = None,
) -> None:
    """Re-clusters the components of records whose links changed (upserted records)."""
    _recluster(conn, dataflow_id, source_keys, rules, forgotten=False)


def forget(
    conn: Connection,
    dataflow_id: int,
    source_keys: Sequence[str] | pd.Series,
    rules: IdentityRules | None = None,
) -> None:
    """Removes deleted records (links, membership, decisions) and re-splits what they held together."""
    _recluster(conn, dataflow_id, source_keys, rules, forgotten=True)


def forget_missing(conn: Connection, dataflow_id: int, table: Table) -> None:
    """Forgets the records of a dataflow that its dataset table no longer holds (after a full refresh)."""
    kept = select(table.c[datasets.KEY])
    gone = union(
        *(
            select(source.c.source_key).where(
                source.c.dataflow_id == dataflow_id, source.c.source_key.not_in(kept)
            )
            for source in (t.profile_members, t.identities)
        )
    )
    forget(conn, dataflow_id, conn.execute(gone).scalars().all())


def _recluster(
    conn: Connection,
    dataflow_id: int,
    source_keys: Sequence[str] | pd.Series,
    rules: IdentityRules | None,
    *,
    forgotten: bool,
) -> None:
    """Re-clusters the components around these records (removing them first when ``forgotten``).

    The seeds are the records and every holder of a value their old profiles
    held: all that was linked to them before is reached from there, and all
    that is linked to them now through the rounds of :func:`_component`.
    """
    keys = sorted({str(k) for k in source_keys})
    if not keys:
        return
    _lock(conn)
    rules = rules or load_rules(conn)
    records = pd.DataFrame({"dataflow_id": dataflow_id, "source_key": keys})
    where, params = store.of_dataflow(conn, dataflow_id)
    stale = {
        row[0]
        for row in store.select_where(
            conn, t.profile_members, ["profile_id"], "source_key", keys, where, params
        )
    }
    neighbours = store.holders(conn, store.profile_values(conn, sorted(stale)))[RECORD]
    if forgotten:
        for table in (t.identities, t.profile_members, t.profile_decisions):
            store.delete_where(conn, table, "source_key", keys, where, params)
        neighbours = _anti_join(neighbours, records, RECORD)
        records = records.iloc[0:0]
    nodes, links = _component(conn, pd.concat([records, neighbours], ignore_index=True))
    if nodes.empty:
        _delete_profiles(conn, sorted(stale))
        return
    old = store.members_of(conn, nodes)
    result = cluster(nodes, links, rules, _dataflow_names(conn))
    _write(conn, result, old, stale | set(old["profile_id"]))


def _component(conn: Connection, seeds: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(records, links) of every record transitively linked to the seeds through shared values."""
    known = seeds[RECORD].drop_duplicates().astype({"dataflow_id": "int64"})
    seen = pd.DataFrame(columns=["namespace", "value"])
    frontier, found = known, []
    while not frontier.empty:
        links = store.links_of(conn, frontier)
        found.append(links)
        pairs = _anti_join(links[["namespace", "value"]].drop_duplicates(), seen, ["namespace", "value"])
        if pairs.empty:
            break
        seen = pd.concat([seen, pairs], ignore_index=True)
        holders = store.holders(conn, pairs)[RECORD].drop_duplicates().astype({"dataflow_id": "int64"})
        frontier = _anti_join(holders, known, RECORD)
        known = pd.concat([known, frontier], ignore_index=True)
    return known, pd.concat(found, ignore_index=True) if found else pd.DataFrame(columns=LINK)


def _anti_join(left: pd.DataFrame, right: pd.DataFrame, on: list[str]) -> pd.DataFrame:
    """The rows of ``left`` whose ``on`` columns match no row of ``right``."""
    if left.empty or right.empty:
        return left
    marked = left.merge(right[on].drop_duplicates(), on=on, how="left", indicator=True)
    return marked.loc[marked["_merge"] == "left_only", list(left.columns)].reset_index(drop=True)


def _write(conn: Connection, result: Clustering, old: pd.DataFrame, stale: set[str]) -> None:
    """Replaces a component's memberships, profiles and clustering decisions by ``result``'s."""
    now = utcnow()
    moved = result.members.merge(old, on=RECORD, how="left", suffixes=("", "_old"))
    moved = moved[moved["profile_id"] != moved["profile_id_old"]]
    updated = store.stamp(conn, now)
    # deleted then inserted (COPY on PostgreSQL): cheaper than a merge through a staging table
    for dataflow_id, group in moved.groupby("dataflow_id"):
        keys = store.texts(group["source_key"])
        store.delete_where(
            conn, t.profile_members, "source_key", keys, *store.of_dataflow(conn, int(dataflow_id))
        )
    store.insert_rows(conn, t.profile_members, moved[[*RECORD, "profile_id"]].assign(updated_at=updated))
    fresh = result.profiles["profile_id"].tolist()
    created = store.created_at(conn, fresh)
    _delete_profiles(conn, sorted(stale | set(fresh)))
    profiles = result.profiles.assign(
        created_at=_created_at(conn, result.profiles["profile_id"], created, now), updated_at=updated
    )
    store.insert_rows(conn, t.profiles, profiles)
    store.insert_decisions(conn, result.decisions)
    store.point_refusals_at_profiles(conn, moved, RECORD_RULES)


def _delete_profiles(conn: Connection, profile_ids: list[str]) -> None:
    store.delete_where(conn, t.profiles, "profile_id", profile_ids)
    store.delete_where(conn, t.profile_decisions, "profile_id", profile_ids, *_component_rules(conn))


def _component_rules(conn: Connection) -> tuple[str, list[str]]:
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    return f"rule IN ({', '.join([mark] * len(COMPONENT_RULES))})", list(COMPONENT_RULES)


# --- full rebuild -----------------------------------------------------------------------------


def rebuild(engine: Engine | Connection, rules: IdentityRules | None = None) -> Clustering:
    """Recomputes every identity, refusal, membership, profile and decision from the datasets.

    Reads each dataflow that declares identities (with its current spec and
    the workspace's current rules), so it also applies changed settings to
    records ingested before. One transaction; returns the clustering.
    """
    if isinstance(engine, Connection):
        return _rebuild(engine, rules)
    with engine.begin() as conn:
        return _rebuild(conn, rules)


def _rebuild(conn: Connection, rules: IdentityRules | None) -> Clustering:
    _lock(conn)
    rules = rules or load_rules(conn)
    records, links, refusals = [], [], []
    for row in conn.execute(select(t.dataflows.c.id, t.dataflows.c.spec)).mappings():
        identities = dict(row["spec"].get("identities") or {})
        table = datasets.dataset_table(conn, row["id"])
        if not identities or table is None:
            continue
        present = {n: a for n, a in identities.items() if a in table.c}
        attributes = sorted(set(present.values()))
        frame = pd.DataFrame(
            conn.execute(select(table.c[datasets.KEY], *(table.c[a] for a in attributes))).all(),
            columns=[datasets.KEY, *attributes],
        )
        keys = pd.Series(frame[datasets.KEY].astype(str).to_numpy(dtype=object))
        found, refused = identity_rows(int(row["id"]), keys, {n: frame[a] for n, a in present.items()}, rules)
        records.append(pd.DataFrame({"dataflow_id": int(row["id"]), "source_key": keys}))
        links.append(found)
        refusals.append(refused)
    created = dict(conn.execute(select(t.profiles.c.profile_id, t.profiles.c.created_at)).all())
    for table in (t.identities, t.profile_members, t.profiles, t.profile_decisions):
        conn.execute(delete(table))
    every_link = pd.concat(links, ignore_index=True) if links else pd.DataFrame(columns=LINK)
    nodes = pd.concat(records, ignore_index=True) if records else pd.DataFrame(columns=RECORD)
    result = cluster(nodes, every_link, rules, _dataflow_names(conn))
    now = utcnow()
    updated = store.stamp(conn, now)
    store.insert_rows(conn, t.identities, every_link)
    store.insert_rows(conn, t.profile_members, result.members.assign(updated_at=updated))
    profiles = result.profiles.assign(
        created_at=_created_at(conn, result.profiles["profile_id"], created, now), updated_at=updated
    )
    store.insert_rows(conn, t.profiles, profiles)
    store.insert_decisions(conn, result.decisions)
    if refusals:
        refused = pd.concat(refusals, ignore_index=True).drop(columns="profile_id")
        store.insert_decisions(conn, refused.merge(result.members, on=RECORD, how="left"))
    return result


# --- helpers ----------------------------------------------------------------------------------


def _lock(conn: Connection) -> None:
    """Serialises the graph's writers on PostgreSQL until this transaction ends."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": GRAPH_LOCK})


def _created_at(
    conn: Connection, profile_ids: pd.Series, created: Mapping[str, Any], now: datetime
) -> pd.Series:
    """When each profile id was first created (kept from the store, ``now`` for new ones), as text."""
    known = profile_ids.map(created)
    if known.isna().all():
        return pd.Series(store.stamp(conn, now), index=profile_ids.index)
    return store.stamps(conn, pd.to_datetime(known, utc=True, format="mixed").fillna(pd.Timestamp(now)))


def _dataflow_names(conn: Connection) -> dict[int, str]:
    return {int(i): n for i, n in conn.execute(select(t.dataflows.c.id, t.dataflows.c.name))}
