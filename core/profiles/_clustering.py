"""Clustering records into profiles: a pure function of the records and their identity links.

Records are the nodes; each normalised identity value is a hyper-edge over
the records that hold it. Values are linked in a fixed order — namespace
priority, then namespace name, then value — by union-find, and a value's link
is kept for a cluster only while the merged cluster stays within every
namespace's limit. Nothing depends on the order records arrived in, so any
ingestion order, an incremental update and a full rebuild give one result.

When a value's holders sit in several clusters, they are merged strongest
first: the cluster holding the value on more records, then the larger
cluster, then the one with the smallest member key. A cluster whose merge
would exceed a limit keeps its records but loses the link to that value
(a ``namespace_limit`` decision names both conflicting values).

Most components never reach a limit: they are found with vectorised
label propagation and become one profile each without the union-find loop,
which only runs over the (rare) components that hold more distinct values of
a limited namespace than allowed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from core.profiles.namespaces import IdentityRules

RECORD = ["dataflow_id", "source_key"]
LINK = [*RECORD, "namespace", "value"]
DECISION = ["profile_id", "dataflow_id", "source_key", "namespace", "value", "rule", "detail"]


@dataclass(frozen=True)
class Clustering:
    """Records grouped into profiles, with the linking decisions made on the way.

    Attributes:
        members: one row per record: ``dataflow_id``, ``source_key``, ``profile_id``.
        profiles: one row per profile: ``profile_id``, ``members`` (count),
            ``identities`` and ``dataflows`` (JSON text: namespace -> sorted
            values, and sorted dataflow names).
        decisions: ``merged`` (one per value shared by records of a profile)
            and ``namespace_limit`` (one per record whose link was dropped).
    """

    members: pd.DataFrame
    profiles: pd.DataFrame
    decisions: pd.DataFrame


def profile_id_of(dataflow_id: int, source_key: str) -> str:
    """The id of a profile whose smallest member (by dataflow id, then source key) is this record."""
    return "p_" + hashlib.sha1(f"{dataflow_id}:{source_key}".encode()).hexdigest()[:38]


def cluster(
    records: pd.DataFrame,
    links: pd.DataFrame,
    rules: IdentityRules,
    names: Mapping[int, str] | None = None,
) -> Clustering:
    """Clusters records into profiles from their links; the result depends only on the sets given.

    Args:
        records: ``dataflow_id``, ``source_key`` of every record to cluster
            (records that only appear in ``links`` are added).
        links: ``dataflow_id``, ``source_key``, ``namespace``, ``value``:
            normalised, linkable values (one per record and namespace).
        rules: the namespaces' priorities and limits.
        names: dataflow names by id, for the profiles' ``dataflows`` and the
            decisions' wording (ids are used for unknown dataflows).
    """
    names = dict(names or {})
    nodes = (
        pd.concat([records[RECORD], links[RECORD]], ignore_index=True)
        .drop_duplicates()
        .astype({"dataflow_id": "int64", "source_key": object})
        .sort_values(RECORD, kind="stable", ignore_index=True)
    )
    count = len(nodes)
    edges = _ordered_links(nodes, links, rules)
    labels = _components(count, edges)
    dropped = np.zeros(len(edges), dtype=bool)
    details: list[str] = [""] * len(edges)
    conflicted = _over_limits(edges, labels, rules)
    if conflicted.any():
        _resolve(edges, labels, conflicted, dropped, details, rules, nodes, names)
    ids = np.empty(count, dtype=object)
    roots = np.unique(labels)
    ids[roots] = [
        profile_id_of(d, k)
        for d, k in zip(
            nodes["dataflow_id"].to_numpy()[roots], nodes["source_key"].to_numpy()[roots], strict=True
        )
    ]
    members = nodes.assign(profile_id=ids[labels])
    edges = edges.assign(profile_id=ids[labels[edges["record"].to_numpy()]])
    return Clustering(
        members=members,
        profiles=_profiles(members, edges, names),
        decisions=_decisions(members, edges, dropped, details, names),
    )


def _ordered_links(nodes: pd.DataFrame, links: pd.DataFrame, rules: IdentityRules) -> pd.DataFrame:
    """The links with their record's position, in linking order, each with its value's number."""
    positions = nodes.assign(record=np.arange(len(nodes)))
    frame = links[LINK].astype({"dataflow_id": "int64", "source_key": object}).merge(positions, on=RECORD)
    priorities = {name: rules.namespace(name).priority for name in frame["namespace"].unique()}
    frame["priority"] = frame["namespace"].map(priorities).astype("int64")
    frame = frame.sort_values(["priority", "namespace", "value", "record"], kind="stable", ignore_index=True)
    namespace, value = frame["namespace"].to_numpy(), frame["value"].to_numpy()
    starts = np.ones(len(frame), dtype=bool)
    starts[1:] = (namespace[1:] != namespace[:-1]) | (value[1:] != value[:-1])
    frame["vid"] = np.cumsum(starts) - 1
    return frame


def _components(count: int, edges: pd.DataFrame) -> np.ndarray:
    """Connected components by vectorised hooking and pointer jumping: each record's smallest member."""
    labels = np.arange(count)
    record, vid = edges["record"].to_numpy(), edges["vid"].to_numpy()
    if len(record) == 0:
        return labels
    starts = np.flatnonzero(np.r_[True, vid[1:] != vid[:-1]])
    first = np.repeat(record[starts], np.diff(np.r_[starts, len(record)]))
    keep = first != record
    first, other = first[keep], record[keep]
    while True:
        a, b = labels[first], labels[other]
        if (a == b).all():
            return labels
        low = np.minimum(a, b)
        np.minimum.at(labels, a, low)
        np.minimum.at(labels, b, low)
        while True:
            jumped = labels[labels]
            if (jumped == labels).all():
                break
            labels = jumped


def _over_limits(edges: pd.DataFrame, labels: np.ndarray, rules: IdentityRules) -> np.ndarray:
    """Which links belong to a component holding more values of a limited namespace than allowed."""
    limits = {name: rules.namespace(name).limit for name in edges["namespace"].unique()}
    limited = {name: limit for name, limit in limits.items() if limit is not None}
    if not limited or edges.empty:
        return np.zeros(len(edges), dtype=bool)
    component = labels[edges["record"].to_numpy()]
    scoped = edges.assign(component=component)[edges["namespace"].isin(list(limited))]
    distinct = scoped.drop_duplicates(["component", "vid"]).groupby(["component", "namespace"]).size()
    allowed = distinct.index.get_level_values("namespace").map(limited).to_numpy()
    over = distinct.index.get_level_values("component")[distinct.to_numpy() > allowed]
    return np.isin(component, over.unique())


def _resolve(
    edges: pd.DataFrame,
    labels: np.ndarray,
    conflicted: np.ndarray,
    dropped: np.ndarray,
    details: list[str],
    rules: IdentityRules,
    nodes: pd.DataFrame,
    names: Mapping[int, str],
) -> None:
    """Union-find over the conflicting components, in linking order, within the namespaces' limits.

    Updates ``labels`` of their records, marks the links dropped and says why.
    """
    rows = np.flatnonzero(conflicted)
    record = edges["record"].to_numpy()[rows].tolist()
    vid = edges["vid"].to_numpy()[rows].tolist()
    namespace = edges["namespace"].to_numpy()[rows].tolist()
    value = edges["value"].to_numpy()[rows].tolist()
    limits = {n: rules.namespace(n).limit for n in set(namespace)}
    order = sorted((n for n, limit in limits.items() if limit is not None), key=lambda n: (limits[n], n))
    parent = {r: r for r in record}
    size = dict.fromkeys(parent, 1)
    held: dict[int, dict[str, set[str]]] = {r: {} for r in parent}
    for r, n, v in zip(record, namespace, value, strict=True):
        if limits[n] is not None:
            held[r].setdefault(n, set()).add(v)

    def find(node: int) -> int:
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    start = 0
    while start < len(rows):
        end = start
        while end < len(rows) and vid[end] == vid[start]:
            end += 1
        by_root: dict[int, list[int]] = {}
        for position in range(start, end):
            by_root.setdefault(find(record[position]), []).append(position)
        if len(by_root) > 1:
            ranked = sorted(by_root, key=lambda root: (-len(by_root[root]), -size[root], root))
            kept = ranked[0]
            for root in ranked[1:]:
                conflict = next(
                    (
                        n
                        for n in order
                        if len(held[kept].get(n, set()) | held[root].get(n, set())) > (limits[n] or 0)
                    ),
                    None,
                )
                if conflict is None:
                    low, high = min(kept, root), max(kept, root)
                    parent[high] = low
                    size[low] += size[high]
                    for n, values in held.pop(high).items():
                        held[low].setdefault(n, set()).update(values)
                    kept = low
                    continue
                why = _limit_detail(
                    namespace[start], value[start], conflict, limits[conflict] or 0, held[kept], held[root]
                )
                for position in by_root[root]:
                    dropped[rows[position]] = True
                    details[rows[position]] = why
        start = end
    for r in parent:
        labels[r] = find(r)


def _limit_detail(
    namespace: str,
    value: str,
    limited: str,
    limit: int,
    kept: Mapping[str, set[str]],
    refused: Mapping[str, set[str]],
) -> str:
    theirs = ", ".join(repr(v) for v in sorted(kept.get(limited, set())))
    ours = ", ".join(repr(v) for v in sorted(refused.get(limited, set())))
    return (
        f"{namespace} {value!r} was not used to link this record: its profile has {limited} {ours} and the "
        f"profile holding {value!r} has {limited} {theirs}; a profile holds at most {limit} {limited} "
        f"value(s). The link was dropped on this side."
    )


def _profiles(members: pd.DataFrame, edges: pd.DataFrame, names: Mapping[int, str]) -> pd.DataFrame:
    """One row per profile: member count, identities and dataflows as JSON text."""
    counts = members.groupby("profile_id", sort=True).size()
    values = edges[["profile_id", "namespace", "value"]].drop_duplicates()
    entries = _grouped_json(values, "profile_id", "namespace", "value")
    flows = members.assign(name=_dataflow_names(members["dataflow_id"], names))[["profile_id", "name"]]
    flows = flows.drop_duplicates().sort_values(["profile_id", "name"], ignore_index=True)
    dataflows = _json_lists(flows, "profile_id", "name")
    frame = pd.DataFrame({"profile_id": counts.index, "members": counts.to_numpy()})
    frame["identities"] = _filled(frame["profile_id"].map(entries), "{}")
    frame["dataflows"] = _filled(frame["profile_id"].map(dataflows), "[]")
    return frame


def _filled(values: pd.Series, default: str) -> pd.Series:
    texts = values.astype(object)
    return texts.where(texts.notna(), default)


def _decisions(
    members: pd.DataFrame,
    edges: pd.DataFrame,
    dropped: np.ndarray,
    details: list[str],
    names: Mapping[int, str],
) -> pd.DataFrame:
    """``merged`` per value linking records of a profile, ``namespace_limit`` per dropped link."""
    limit = edges.loc[dropped, ["profile_id", *LINK]].assign(
        rule="namespace_limit", detail=np.asarray(details, dtype=object)[dropped]
    )
    kept = edges.loc[~dropped, ["profile_id", "namespace", "value", "vid", "dataflow_id"]]
    shared = kept.groupby(["profile_id", "vid"])["dataflow_id"].transform("size") > 1
    kept = kept[shared.to_numpy()]
    if kept.empty:
        return limit[DECISION].reset_index(drop=True)
    per_flow = (
        kept.assign(name=_dataflow_names(kept["dataflow_id"], names))
        .groupby(["profile_id", "namespace", "value", "name"], sort=True)
        .size()
        .reset_index(name="records")
    )
    per_flow["part"] = per_flow["name"] + " (" + per_flow["records"].astype(str) + ")"
    per_flow["value_key"] = (
        per_flow["profile_id"] + "\x1f" + per_flow["namespace"] + "\x1f" + per_flow["value"]
    )
    joined = _joined(per_flow, "value_key", "part", ", ")
    totals = per_flow.groupby("value_key", sort=True)["records"].sum()
    merged = per_flow.drop_duplicates("value_key")[["value_key", "profile_id", "namespace", "value"]]
    merged = merged.assign(
        dataflow_id=pd.NA,
        source_key=None,
        rule="merged",
        detail=(
            merged["namespace"]
            + " "
            + merged["value"].map(repr)
            + " is shared by "
            + merged["value_key"].map(totals).astype(str)
            + " records, so they are one profile: "
            + merged["value_key"].map(joined)
        ),
    )
    return pd.concat([merged[DECISION], limit[DECISION]], ignore_index=True)


def _dataflow_names(ids: pd.Series, names: Mapping[int, str]) -> pd.Series:
    unique = ids.unique()
    return ids.map({i: names.get(int(i), f"dataflow {int(i)}") for i in unique})


# --- JSON documents, built column-wise ---------------------------------------------------------


def _quoted(values: pd.Series) -> pd.Series:
    """Each text as a JSON string literal; only those with quotes, backslashes or controls use json."""
    text = values.astype(object).astype(str)
    special = text.str.contains(r'[\\"\x00-\x1f]', regex=True)
    out = '"' + text + '"'
    if special.any():
        out[special] = text[special].map(json.dumps)
    return out


def _joined(frame: pd.DataFrame, by: str, column: str, separator: str) -> pd.Series:
    """``column``'s texts joined per ``by`` (frame sorted by ``by``), indexed by ``by``: vectorised."""
    keys = frame[by].to_numpy()
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]]) if len(keys) else np.array([], dtype=int)
    offsets = pa.array(np.r_[starts, len(keys)].astype(np.int64), type=pa.int64())
    lists = pa.LargeListArray.from_arrays(
        offsets, pa.array(frame[column].astype(object).tolist(), pa.large_string())
    )
    joined = pc.binary_join(lists, pa.scalar(separator, pa.large_string()))
    return pd.Series(joined.to_pylist(), index=keys[starts], dtype=object)


def _json_lists(frame: pd.DataFrame, by: str, column: str) -> pd.Series:
    """A JSON list of ``column`` per ``by`` (frame sorted by ``by`` then ``column``)."""
    if frame.empty:
        return pd.Series(dtype=object)
    return "[" + _joined(frame.assign(_q=_quoted(frame[column])), by, "_q", ", ") + "]"


def _grouped_json(frame: pd.DataFrame, by: str, key: str, column: str) -> pd.Series:
    """A JSON object per ``by``: ``key`` -> sorted list of ``column``."""
    if frame.empty:
        return pd.Series(dtype=object)
    ordered = frame.sort_values([by, key, column], ignore_index=True)
    ordered["_pair"] = ordered[by] + "\x1f" + ordered[key]
    lists = _json_lists(ordered, "_pair", column)
    pairs = ordered.drop_duplicates("_pair")[[by, key, "_pair"]]
    pairs = pairs.assign(_entry=_quoted(pairs[key]) + ": " + pairs["_pair"].map(lists))
    return "{" + _joined(pairs, by, "_entry", ", ") + "}"
