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

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Engine, Table, bindparam, delete, insert, select, text, union, update

from core.profiles._clustering import LINK, RECORD, Clustering, cluster, profile_id_of
from core.profiles.namespaces import IdentityRules, load_rules
from core.store import bulk, datasets
from core.store import tables as t
from core.store.repository import utcnow

__all__ = [
    "COMPONENT_RULES",
    "RECORD_RULES",
    "Clustering",
    "cluster",
    "forget",
    "forget_missing",
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
_BATCH = 5000


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
        keys: the records' source keys.
        values: per namespace, the raw values of the records (aligned with ``keys``).
        rules: the identity rules; read from the workspace's settings when omitted.

    Returns:
        The keys whose set of links changed, and those not in the graph yet.
    """
    _lock(conn)
    rules = rules or load_rules(conn)
    frame = pd.DataFrame({"source_key": keys.astype(str).to_numpy()})
    columns = {name: column.reset_index(drop=True) for name, column in values.items()}
    last = ~frame["source_key"].duplicated(keep="last").to_numpy()
    links, refusals = identity_rows(
        dataflow_id, frame["source_key"][last], {n: c[last] for n, c in columns.items()}, rules
    )
    unique = frame["source_key"][last].tolist()
    old = _links_of(conn, pd.DataFrame({"dataflow_id": dataflow_id, "source_key": unique}))
    changed = _changed_keys(old, links)
    m = t.profile_members
    members = dict(_select_by_keys(conn, m, [m.c.source_key, m.c.profile_id], dataflow_id, unique))
    affected = sorted(changed | {k for k in unique if k not in members})
    _delete_by_keys(conn, t.identities, dataflow_id, sorted(changed))
    bulk.upsert(
        conn,
        t.identities,
        links[links["source_key"].isin(changed)],
        ["dataflow_id", "source_key", "namespace"],
    )
    _delete_by_keys(
        conn, t.profile_decisions, dataflow_id, unique, t.profile_decisions.c.rule.in_(RECORD_RULES)
    )
    # a record keeps its profile until maintain() moves it; a new one gets it there
    _insert_decisions(conn, refusals.assign(profile_id=refusals["source_key"].map(members)))
    return pd.Series(affected, dtype=object)


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
        for rule, mask, detail in (
            (
                "blocked_value",
                result.blocked & ~result.blocked_by_user,
                " is a placeholder, never used to link records",
            ),
            ("blocked_value", result.blocked_by_user, " is on the workspace's block list (profiles.blocked)"),
        ):
            if mask.any():
                refusals.append(
                    pd.DataFrame(
                        {
                            "source_key": keys[mask],
                            "namespace": namespace,
                            "value": shown[mask],
                            "rule": rule,
                            "detail": namespace + " " + shown[mask].map(repr) + detail,
                        }
                    )
                )
        if result.invalid.any():
            reasons = result.reasons[result.invalid].astype(object).str.replace(r"^\w+: ", "", regex=True)
            refusals.append(
                pd.DataFrame(
                    {
                        "source_key": keys[result.invalid],
                        "namespace": namespace,
                        "value": result.text[result.invalid].astype(object),
                        "rule": "invalid_value",
                        "detail": reasons + "; not used to link records",
                    }
                )
            )
    link_frame = pd.concat(links, ignore_index=True) if links else pd.DataFrame(columns=LINK[1:])
    refusal_frame = (
        pd.concat(refusals, ignore_index=True) if refusals else pd.DataFrame(columns=["source_key"])
    )
    return link_frame.assign(dataflow_id=dataflow_id)[LINK], refusal_frame.assign(
        dataflow_id=dataflow_id, profile_id=None
    )


def _changed_keys(old: pd.DataFrame, new: pd.DataFrame) -> set[str]:
    """Keys whose (namespace, value) links differ between two link frames."""
    both = old[LINK[1:]].merge(new[LINK[1:]], how="outer", indicator=True)
    return set(both.loc[both["_merge"] != "both", "source_key"])


# --- maintenance ------------------------------------------------------------------------------


def maintain(
    conn: Connection,
    dataflow_id: int,
    source_keys: Sequence[str] | pd.Series,
    rules: IdentityRules | None = None,
) -> None:
    """Re-clusters the components of records whose links changed (upserted records)."""
    keys = _unique(source_keys)
    if keys:
        _lock(conn)
        _recluster(
            conn, pd.DataFrame({"dataflow_id": dataflow_id, "source_key": keys}), rules, forgotten=False
        )


def forget(
    conn: Connection,
    dataflow_id: int,
    source_keys: Sequence[str] | pd.Series,
    rules: IdentityRules | None = None,
) -> None:
    """Removes deleted records (links, membership, decisions) and re-splits what they held together."""
    keys = _unique(source_keys)
    if keys:
        _lock(conn)
        _recluster(
            conn, pd.DataFrame({"dataflow_id": dataflow_id, "source_key": keys}), rules, forgotten=True
        )


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
    conn: Connection, records: pd.DataFrame, rules: IdentityRules | None, *, forgotten: bool
) -> None:
    """Re-clusters the components around ``records`` (removing them first when ``forgotten``)."""
    rules = rules or load_rules(conn)
    dataflow_id = int(records["dataflow_id"].iloc[0])
    keys = records["source_key"].tolist()
    before = _select_by_keys(conn, t.profile_members, [t.profile_members.c.profile_id], dataflow_id, keys)
    stale = {row[0] for row in before}
    neighbours = _holders(conn, _profile_values(conn, stale))
    if forgotten:
        for table in (t.identities, t.profile_members, t.profile_decisions):
            _delete_by_keys(conn, table, dataflow_id, keys)
        gone = set(keys)
        neighbours = neighbours[
            ~((neighbours["dataflow_id"] == dataflow_id) & neighbours["source_key"].isin(gone))
        ]
        records = records.iloc[0:0]
    nodes, links = _component(conn, pd.concat([records, neighbours[RECORD]], ignore_index=True))
    if nodes.empty:
        _delete_profiles(conn, stale)
        return
    old = _members_of(conn, nodes)
    result = cluster(nodes, links, rules, _dataflow_names(conn))
    _write(conn, result, old, stale | set(old["profile_id"]))


def _component(conn: Connection, seeds: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(records, links) of every record transitively linked to the seeds through shared values."""
    seeds = seeds.drop_duplicates(RECORD)
    known = set(zip(seeds["dataflow_id"].astype(int), seeds["source_key"], strict=True))
    seen_values: set[tuple[str, str]] = set()
    frontier, found = seeds, []
    while not frontier.empty:
        links = _links_of(conn, frontier)
        found.append(links)
        pairs = set(zip(links["namespace"], links["value"], strict=True)) - seen_values
        if not pairs:
            break
        seen_values |= pairs
        holders = _holders(conn, pd.DataFrame(list(pairs), columns=["namespace", "value"]))
        fresh = [
            r
            for r in set(zip(holders["dataflow_id"].astype(int), holders["source_key"], strict=True))
            if r not in known
        ]
        known.update(fresh)
        frontier = pd.DataFrame(fresh, columns=RECORD)
    nodes = pd.DataFrame(sorted(known), columns=RECORD)
    return nodes, pd.concat(found, ignore_index=True).drop_duplicates() if found else pd.DataFrame(
        columns=LINK
    )


def _write(conn: Connection, result: Clustering, old: pd.DataFrame, stale: set[str]) -> None:
    """Replaces a component's memberships, profiles and clustering decisions by ``result``'s."""
    now = pd.Timestamp(utcnow())
    moved = result.members.merge(old, on=RECORD, how="left", suffixes=("", "_old"))
    moved = moved[moved["profile_id"] != moved["profile_id_old"]]
    bulk.upsert(conn, t.profile_members, moved[[*RECORD, "profile_id"]].assign(updated_at=now), RECORD)
    fresh = set(result.profiles["profile_id"])
    _delete_profiles(conn, stale - fresh)
    created = dict(
        _select_in(
            conn, [t.profiles.c.profile_id, t.profiles.c.created_at], t.profiles.c.profile_id, sorted(fresh)
        )
    )
    profiles = result.profiles.assign(
        created_at=_created_at(result.profiles["profile_id"], created, now),
        updated_at=now,
    )
    bulk.upsert(conn, t.profiles, profiles, ["profile_id"])
    for batch in _batches(sorted(stale | fresh)):
        conn.execute(
            delete(t.profile_decisions).where(
                t.profile_decisions.c.profile_id.in_(batch), t.profile_decisions.c.rule.in_(COMPONENT_RULES)
            )
        )
    _insert_decisions(conn, result.decisions)
    _move_record_decisions(conn, moved)


def _move_record_decisions(conn: Connection, moved: pd.DataFrame) -> None:
    """Points the refusals of records that changed profile at their new profile."""
    d = t.profile_decisions
    for dataflow_id, group in moved.groupby("dataflow_id"):
        owners = dict(zip(group["source_key"], group["profile_id"], strict=True))
        found = _select_by_keys(
            conn, d, [d.c.id, d.c.source_key], int(dataflow_id), list(owners), d.c.rule.in_(RECORD_RULES)
        )
        if found:
            conn.execute(
                update(d).where(d.c.id == bindparam("decision")).values(profile_id=bindparam("owner")),
                [{"decision": i, "owner": owners[key]} for i, key in found],
            )


def _delete_profiles(conn: Connection, profile_ids: set[str]) -> None:
    for batch in _batches(sorted(profile_ids)):
        conn.execute(delete(t.profiles).where(t.profiles.c.profile_id.in_(batch)))
        conn.execute(
            delete(t.profile_decisions).where(
                t.profile_decisions.c.profile_id.in_(batch), t.profile_decisions.c.rule.in_(COMPONENT_RULES)
            )
        )


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
        frame = pd.DataFrame(
            conn.execute(select(table.c[datasets.KEY], *(table.c[a] for a in set(present.values())))).all(),
            columns=[datasets.KEY, *set(present.values())],
        )
        keys = frame[datasets.KEY].astype(str)
        found, refused = identity_rows(int(row["id"]), keys, {n: frame[a] for n, a in present.items()}, rules)
        records.append(pd.DataFrame({"dataflow_id": int(row["id"]), "source_key": keys}))
        links.append(found)
        refusals.append(refused)
    created = dict(conn.execute(select(t.profiles.c.profile_id, t.profiles.c.created_at)).all())
    for table in (t.identities, t.profile_members, t.profiles, t.profile_decisions):
        conn.execute(delete(table))
    empty = pd.DataFrame(columns=LINK)
    result = cluster(
        pd.concat(records, ignore_index=True) if records else empty[RECORD],
        pd.concat(links, ignore_index=True) if links else empty,
        rules,
        _dataflow_names(conn),
    )
    now = pd.Timestamp(utcnow())
    if links:
        bulk.upsert(conn, t.identities, pd.concat(links, ignore_index=True), LINK[:3])
    bulk.upsert(conn, t.profile_members, result.members.assign(updated_at=now), RECORD)
    profiles = result.profiles.assign(
        created_at=_created_at(result.profiles["profile_id"], created, now),
        updated_at=now,
    )
    bulk.upsert(conn, t.profiles, profiles, ["profile_id"])
    _insert_decisions(conn, result.decisions)
    if refusals:
        refused = pd.concat(refusals, ignore_index=True).drop(columns="profile_id")
        _insert_decisions(conn, refused.merge(result.members, on=RECORD, how="left"))
    return result


# --- reads and writes in batches --------------------------------------------------------------


def _lock(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": GRAPH_LOCK})


def _unique(keys: Sequence[str] | pd.Series) -> list[str]:
    return sorted({str(k) for k in keys})


def _batches(values: Sequence[Any], size: int = _BATCH) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _select_in(
    conn: Connection, columns: Sequence[Any], column: Any, values: Sequence[Any], *where: Any
) -> list[tuple]:
    rows: list[tuple] = []
    for batch in _batches(values):
        rows.extend(tuple(r) for r in conn.execute(select(*columns).where(column.in_(batch), *where)))
    return rows


def _select_by_keys(
    conn: Connection, table: Table, columns: Sequence[Any], dataflow_id: int, keys: Sequence[str], *where: Any
) -> list[tuple]:
    return _select_in(conn, columns, table.c.source_key, keys, table.c.dataflow_id == dataflow_id, *where)


def _delete_by_keys(
    conn: Connection, table: Table, dataflow_id: int, keys: Sequence[str], *where: Any
) -> None:
    for batch in _batches(keys):
        conn.execute(
            delete(table).where(table.c.dataflow_id == dataflow_id, table.c.source_key.in_(batch), *where)
        )


def _links_of(conn: Connection, records: pd.DataFrame) -> pd.DataFrame:
    """The stored links of records."""
    i = t.identities
    rows: list[tuple] = []
    for dataflow_id, group in records.groupby("dataflow_id"):
        rows.extend(
            _select_by_keys(
                conn,
                i,
                [i.c.dataflow_id, i.c.source_key, i.c.namespace, i.c.value],
                int(dataflow_id),
                group["source_key"].tolist(),
            )
        )
    return pd.DataFrame(rows, columns=LINK)


def _holders(conn: Connection, values: pd.DataFrame) -> pd.DataFrame:
    """Every stored link with one of these (namespace, value) pairs."""
    i = t.identities
    rows: list[tuple] = []
    for namespace, group in values.groupby("namespace"):
        rows.extend(
            _select_in(
                conn,
                [i.c.dataflow_id, i.c.source_key, i.c.namespace, i.c.value],
                i.c.value,
                group["value"].tolist(),
                i.c.namespace == namespace,
            )
        )
    return pd.DataFrame(rows, columns=LINK)


def _profile_values(conn: Connection, profile_ids: set[str]) -> pd.DataFrame:
    """The (namespace, value) pairs stored profiles hold."""
    pairs = [
        (namespace, value)
        for (document,) in _select_in(
            conn, [t.profiles.c.identities], t.profiles.c.profile_id, sorted(profile_ids)
        )
        for namespace, values in (document or {}).items()
        for value in values
    ]
    return pd.DataFrame(pairs, columns=["namespace", "value"]).drop_duplicates()


def _members_of(conn: Connection, records: pd.DataFrame) -> pd.DataFrame:
    m = t.profile_members
    rows: list[tuple] = []
    for dataflow_id, group in records.groupby("dataflow_id"):
        rows.extend(
            _select_by_keys(
                conn,
                m,
                [m.c.dataflow_id, m.c.source_key, m.c.profile_id],
                int(dataflow_id),
                group["source_key"].tolist(),
            )
        )
    return pd.DataFrame(rows, columns=[*RECORD, "profile_id"])


def _created_at(profile_ids: pd.Series, created: Mapping[str, Any], now: pd.Timestamp) -> pd.Series:
    """When each profile id was first created: kept from the store, ``now`` for new ones."""
    return pd.to_datetime(profile_ids.map(created), utc=True).fillna(now)


def _dataflow_names(conn: Connection) -> dict[int, str]:
    return {int(i): n for i, n in conn.execute(select(t.dataflows.c.id, t.dataflows.c.name))}


def _insert_decisions(conn: Connection, decisions: pd.DataFrame) -> None:
    if decisions.empty:
        return
    columns = ["profile_id", "dataflow_id", "source_key", "namespace", "value", "rule", "detail"]
    frame = decisions.reindex(columns=columns).astype(object)
    frame = frame.where(frame.notna(), None).assign(created_at=utcnow())
    conn.execute(insert(t.profile_decisions), frame.to_dict("records"))
