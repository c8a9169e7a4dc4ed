"""Unified profiles on read: look one up by identity, explain it, count them all.

A profile is computed when asked for, from the identity graph's tables (which
record belongs to which profile) and the dataflows' datasets (the records),
through a merge policy (:mod:`core.profiles.merge`). A lookup by identity
touches only indexes and the profile's own records: the identities index on
(namespace, value), the members' primary key and index on profile_id, and
each dataset's key, so it costs O(members) whatever the number of profiles.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy import Connection, String, and_, cast, func, select, union

from core.errors import ConfigurationError, NotFoundError
from core.mapping import ProfileSchema
from core.models import NAME_PATTERN, ProfilesSpec
from core.profiles import merge as merging
from core.profiles.graph import rebuild as rebuild_graph
from core.profiles.namespaces import IdentityRules, load_rules
from core.profiles.settings import read_settings, save_settings
from core.profiles.unified import (
    ATTRIBUTE_COLUMNS,
    HIDDEN,
    IDENTITY_COLUMNS,
    TRAIL_COLUMNS,
    UnifiedProfile,
    with_records,
)
from core.store import datasets
from core.store import tables as t

if TYPE_CHECKING:
    from core.services import Workspace

SEARCH_COLUMNS = ("namespace", "value", "profile_id", "records")


class AmbiguousIdentityError(ConfigurationError):
    """An identity value belongs to records of several profiles (a shared or blocked value)."""

    code = "ambiguous_identity"


class Profiles:
    """Unified profiles of a workspace: lookups, the explorer's search, counts and merge policies."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.engine = workspace.engine

    # -- merge policies -------------------------------------------------------
    def policies(self) -> dict[str, merging.MergePolicy]:
        """The workspace's merge policies by name, ``default`` always among them."""
        with self.engine.connect() as conn:
            return _policies(conn)

    def save_policy(self, name: str, policy: merging.MergePolicy | Mapping[str, Any]) -> None:
        """Adds or replaces a named merge policy (``default`` replaces the default one)."""
        if not re.match(NAME_PATTERN, name):
            raise ConfigurationError(
                f"policy name {name!r} must start with a letter and use only letters, digits, '_' or '-'"
            )
        spec = self.settings()
        body = policy.model_dump(mode="json") if isinstance(policy, merging.MergePolicy) else dict(policy)
        spec.policies[name] = body
        self.save_settings(spec)

    def delete_policy(self, name: str) -> None:
        """Removes a named policy (removing ``default`` restores the built-in timestamp policy)."""
        spec = self.settings()
        if spec.policies.pop(name, None) is None:
            raise NotFoundError(f"no saved merge policy {name!r}")
        self.save_settings(spec)

    # -- identity rules ---------------------------------------------------------
    def settings(self) -> ProfilesSpec:
        """Identity rules (region, namespaces, block lists) and merge policies, as saved."""
        return read_settings(self.workspace)

    def save_settings(self, spec: ProfilesSpec) -> None:
        """Validates and saves the settings; records linked before keep their links until :meth:`rebuild`."""
        save_settings(self.workspace, spec)

    def rebuild(self) -> dict[str, int]:
        """Relinks every record under the current rules, in one transaction; returns the new counts.

        Needed after the rules change (a block list, a limit, the phone region),
        or to build the graph of a workspace whose records predate it. Runs of
        other dataflows wait for it (PostgreSQL) or for its write lock (SQLite).
        """
        self.workspace.require("admin", "rebuild the profiles")
        result = rebuild_graph(self.engine)
        return {
            "records": len(result.members),
            "profiles": len(result.profiles),
            "decisions": len(result.decisions),
        }

    # -- lookups ------------------------------------------------------------
    def normalise(self, namespace: str, value: str) -> tuple[str | None, str | None]:
        """An identity value as the graph stores it, or (None, why it links no one)."""
        with self.engine.connect() as conn:
            return load_rules(conn).identify(namespace, value)

    def profile_ids(self, namespace: str, value: str, limit: int = 20) -> list[str]:
        """The profiles whose records carry the identity (normalised as the graph does)."""
        with self.engine.connect() as conn:
            return _profile_ids(conn, namespace, value, limit)

    def lookup(self, namespace: str, value: str, policy: str | None = None) -> UnifiedProfile | None:
        """The profile an identity belongs to, or None.

        Raises:
            AmbiguousIdentityError: the value is on records of several profiles
                (a shared value the graph did not link on); :meth:`search` lists them.
        """
        with self.engine.connect() as conn:  # one connection: on PostgreSQL each checkout costs a ping
            chosen = merging.choose_policy(_policies(conn), policy)
            found = _profile_ids(conn, namespace, value, limit=2)
            if not found:
                return None
            if len(found) > 1:
                raise AmbiguousIdentityError(
                    f"{namespace}:{value} is on records of several profiles (a shared or blocked value, "
                    "which does not link records); search for it to see them"
                )
            return self._shown(self._get(conn, found[0], *chosen))

    def get(self, profile_id: str, policy: str | None = None) -> UnifiedProfile:
        """A profile by id, merged by the named policy (the default when None)."""
        with self.engine.connect() as conn:
            return self._shown(self._get(conn, profile_id, *merging.choose_policy(_policies(conn), policy)))

    def _shown(self, profile: UnifiedProfile) -> UnifiedProfile:
        """The profile as the actor may see it (personal data hidden without the grant)."""
        if self.workspace.actor.can("view_personal_data"):
            return profile
        attributes, namespaces = personal_data(self.workspace.schema)
        return profile.without_personal_data(attributes, namespaces)

    def _get(
        self, conn: Connection, profile_id: str, name: str, policy: merging.MergePolicy
    ) -> UnifiedProfile:
        m = t.profile_members
        flows = {flow.id: flow for flow in merging.read_dataflows(conn)}
        keys: dict[int, list[str]] = {}
        for dataflow_id, source_key in conn.execute(
            select(m.c.dataflow_id, m.c.source_key).where(m.c.profile_id == profile_id)
        ):
            keys.setdefault(int(dataflow_id), []).append(source_key)
        if not keys:
            raise NotFoundError(f"no profile {profile_id!r}")
        records: dict[str, pd.DataFrame] = {}
        values = []
        for dataflow_id, members in sorted(keys.items()):
            flow = flows.get(dataflow_id)
            if flow is None or flow.table is None:
                continue
            table = flow.table
            query = select(table).where(table.c[datasets.KEY].in_(members)).order_by(table.c[datasets.KEY])
            frame = merging.dataset_frame(conn.execute(query).all(), table)
            records[flow.name] = frame
            stamp = merging.timestamp_attribute(policy, flow, frame.columns)
            values.append(merging.value_arrays(frame, flow.name, stamp, profile_id=profile_id))
        identities = self._identities(conn, profile_id)
        trail = with_records(self._trail(conn, profile_id), identities)
        merged = merging.values_frame(merging.merge_arrays(merging.concat_values(values), policy))
        return UnifiedProfile(
            profile_id=profile_id,
            policy=name,
            attributes=merged[list(ATTRIBUTE_COLUMNS)],
            identities=identities,
            records=records,
            trail=trail,
        )

    # -- the explorer --------------------------------------------------------
    def namespaces(self) -> list[str]:
        """The identity namespaces the dataflows map."""
        return sorted({ns for flow in self._dataflows() for ns in flow.namespaces})

    def search(self, text: str, limit: int = 20, namespace: str | None = None) -> pd.DataFrame:
        """Identity values starting with ``text`` (``namespace:text`` also works), with their profiles.

        Each namespace is searched through its index with a range on the
        normalised prefix, so a search costs the rows it returns.
        """
        text = text.strip()
        known = self.namespaces()
        if namespace is None and ":" in text and text.split(":", 1)[0].strip() in known:
            namespace, text = (part.strip() for part in text.split(":", 1))
        if not text:
            return pd.DataFrame(columns=list(SEARCH_COLUMNS))
        i, m = t.identities, t.profile_members
        found: list[tuple[str, str]] = []
        with self.engine.connect() as conn:
            rules = load_rules(conn)
            for space in [namespace] if namespace else known:
                prefix = _search_prefix(rules, space, text)
                if not prefix:
                    continue
                upper = prefix[:-1] + chr(min(ord(prefix[-1]) + 1, 0x10FFFF))
                query = (
                    select(i.c.value)
                    .where(i.c.namespace == space, i.c.value >= prefix, i.c.value < upper)
                    .where(i.c.value.startswith(prefix, autoescape=True))
                    .distinct()
                    .order_by(i.c.value)
                    .limit(limit)
                )
                found += [(space, value) for value in conn.execute(query).scalars()]
            found = sorted(found, key=lambda pair: (pair[1], pair[0]))[:limit]
            rows: list[Any] = []
            for space in sorted({space for space, _ in found}):
                values = [value for s, value in found if s == space]
                query = (
                    select(i.c.namespace, i.c.value, m.c.profile_id, func.count().label("records"))
                    .select_from(
                        i.join(m, and_(m.c.dataflow_id == i.c.dataflow_id, m.c.source_key == i.c.source_key))
                    )
                    .where(i.c.namespace == space, i.c.value.in_(values))
                    .group_by(i.c.namespace, i.c.value, m.c.profile_id)
                )
                rows += conn.execute(query).all()
        frame = merging.rows_frame(rows, list(SEARCH_COLUMNS))
        frame = frame.sort_values(["value", "namespace", "profile_id"]).reset_index(drop=True)
        if not self.workspace.actor.can("view_personal_data"):
            _, personal = personal_data(self.workspace.schema)
            frame["value"] = frame["value"].where(~frame["namespace"].isin(personal), HIDDEN)
        return frame

    def stats(self) -> dict[str, Any]:
        """Headline counts of the graph.

        Returns:
            ``profiles``, ``records`` (in profiles), ``merged_profiles`` (with more
            than one record), ``merged_share`` (their share of profiles),
            ``records_per_profile`` (the merge rate), ``identities`` (namespace ->
            distinct values), ``records_by_dataflow`` (name -> records) and
            ``combinations``: a frame of ``dataflows`` (names joined by `` + ``)
            and ``profiles``, most common first.
        """
        p, m, i = t.profiles, t.profile_members, t.identities
        with self.engine.connect() as conn:
            names = {flow.id: flow.name for flow in self._dataflows(conn)}
            profiles = int(conn.execute(select(func.count()).select_from(p)).scalar_one())
            merged = int(
                conn.execute(select(func.count()).select_from(p).where(p.c.members > 1)).scalar_one()
            )
            by_dataflow = conn.execute(select(m.c.dataflow_id, func.count()).group_by(m.c.dataflow_id)).all()
            identities = conn.execute(
                select(i.c.namespace, func.count(i.c.value.distinct())).group_by(i.c.namespace)
            ).all()
            as_text = cast(p.c.dataflows, String)
            combinations = conn.execute(select(as_text, func.count()).group_by(as_text)).all()
        records_by_dataflow = {names.get(k, f"#{k}"): int(n) for k, n in by_dataflow}
        records = sum(records_by_dataflow.values())
        return {
            "profiles": profiles,
            "records": records,
            "merged_profiles": merged,
            "merged_share": merged / profiles if profiles else 0.0,
            "records_per_profile": records / profiles if profiles else 0.0,
            "identities": {namespace: int(n) for namespace, n in sorted(identities)},
            "records_by_dataflow": dict(sorted(records_by_dataflow.items())),
            "combinations": _combinations(combinations),
        }

    # -- helpers --------------------------------------------------------------
    def _dataflows(self, conn: Connection | None = None) -> list[merging.DataflowInfo]:
        if conn is not None:
            return merging.read_dataflows(conn)
        with self.engine.connect() as own:
            return merging.read_dataflows(own)

    def _identities(self, conn: Connection, profile_id: str) -> pd.DataFrame:
        i, m, f = t.identities, t.profile_members, t.dataflows
        query = (
            select(i.c.namespace, i.c.value, f.c.name, i.c.source_key)
            .select_from(
                i.join(m, and_(m.c.dataflow_id == i.c.dataflow_id, m.c.source_key == i.c.source_key)).join(
                    f, f.c.id == i.c.dataflow_id
                )
            )
            .where(m.c.profile_id == profile_id)
            .order_by(i.c.namespace, i.c.value, f.c.name, i.c.source_key)
        )
        return merging.rows_frame(conn.execute(query).all(), list(IDENTITY_COLUMNS), dtype=object)

    def _trail(self, conn: Connection, profile_id: str) -> pd.DataFrame:
        d, m, f = t.profile_decisions, t.profile_members, t.dataflows
        # decisions about the profile, and about its records while they were in other profiles
        ids = union(
            select(d.c.id).where(d.c.profile_id == profile_id),
            select(d.c.id)
            .select_from(
                d.join(m, and_(m.c.dataflow_id == d.c.dataflow_id, m.c.source_key == d.c.source_key))
            )
            .where(m.c.profile_id == profile_id),
        ).subquery()
        query = (
            select(d.c.created_at, d.c.rule, d.c.namespace, d.c.value, f.c.name, d.c.source_key, d.c.detail)
            .select_from(d.join(ids, ids.c.id == d.c.id).outerjoin(f, f.c.id == d.c.dataflow_id))
            .order_by(d.c.created_at, d.c.id)
        )
        columns = [c for c in TRAIL_COLUMNS if c != "records"]
        trail = merging.rows_frame(conn.execute(query).all(), columns, dtype=object)
        return trail.assign(created_at=pd.to_datetime(trail["created_at"], utc=True))


def _policies(conn: Connection) -> dict[str, merging.MergePolicy]:
    stored = conn.execute(select(t.settings.c.value).where(t.settings.c.key == merging.SETTING)).scalar()
    return merging.load_policies(stored)


def _profile_ids(conn: Connection, namespace: str, value: str, limit: int) -> list[str]:
    normalised, _ = load_rules(conn).identify(namespace, value)
    if normalised is None:
        return []
    i, m = t.identities, t.profile_members
    query = (
        select(m.c.profile_id)
        .select_from(i.join(m, and_(m.c.dataflow_id == i.c.dataflow_id, m.c.source_key == i.c.source_key)))
        .where(i.c.namespace == namespace, i.c.value == normalised)
        .distinct()
        .order_by(m.c.profile_id)
        .limit(limit)
    )
    return list(conn.execute(query).scalars())


def _search_prefix(rules: IdentityRules, namespace: str, text: str) -> str:
    """A typed prefix as stored values start: a partial value cannot go through a full normaliser."""
    kind = rules.namespace(namespace).normaliser
    if kind in ("email", "lower"):
        return text.strip().lower()
    if kind == "phone":
        return re.sub(r"[^\d+]", "", text) or text.strip()
    return text.strip()


def _combinations(rows: Sequence[Any]) -> pd.DataFrame:
    """Profiles per set of contributing dataflows, from (JSON text of names, count) rows."""
    counts: dict[str, int] = {}
    for names, n in rows:
        label = " + ".join(sorted(json.loads(names) if isinstance(names, str) else names or []))
        counts[label] = counts.get(label, 0) + int(n)
    frame = pd.DataFrame(list(counts.items()), columns=["dataflows", "profiles"])
    return frame.sort_values(["profiles", "dataflows"], ascending=[False, True]).reset_index(drop=True)


def personal_data(schema: ProfileSchema) -> tuple[set[str], set[str]]:
    """(personal attributes, identity namespaces whose values are personal) of a profile schema."""
    attributes = {a.path for a in schema.attributes if a.personal}
    namespaces = {a.identity for a in schema.attributes if a.personal and a.identity}
    return attributes, namespaces
