"""Unified customer profiles: identity namespaces and rules, the identity graph, merge policies.

The identity graph (:mod:`core.profiles.graph`) links the records of every
dataflow that declares identities into profiles, incrementally per chunk and
in the chunk's transaction; :mod:`core.profiles.namespaces` says how each
namespace's values are normalised, trusted and limited. Profiles are merged on
read by a policy (:mod:`core.profiles.merge`), looked up, searched and counted
through :class:`~core.profiles.query.Profiles`, and exported in bounded chunks
(:mod:`core.profiles.export`).
"""

from __future__ import annotations

from core.profiles.export import ExportSummary, export_profiles
from core.profiles.graph import (
    Clustering,
    cluster,
    forget,
    forget_missing,
    identity_rows,
    maintain,
    profile_id_of,
    rebuild,
    write_identities,
)
from core.profiles.merge import DEFAULT_POLICY, MergePolicy
from core.profiles.merge import SETTING as POLICIES_SETTING
from core.profiles.namespaces import (
    BLOCKED_SETTING,
    NAMESPACES_SETTING,
    REGION_SETTING,
    IdentityRules,
    Namespace,
    NormalisedValues,
    load_rules,
)
from core.profiles.query import AmbiguousIdentityError, Profiles
from core.profiles.unified import UnifiedProfile

__all__ = [
    "BLOCKED_SETTING",
    "DEFAULT_POLICY",
    "NAMESPACES_SETTING",
    "POLICIES_SETTING",
    "REGION_SETTING",
    "AmbiguousIdentityError",
    "Clustering",
    "ExportSummary",
    "IdentityRules",
    "MergePolicy",
    "Namespace",
    "NormalisedValues",
    "Profiles",
    "UnifiedProfile",
    "cluster",
    "export_profiles",
    "forget",
    "forget_missing",
    "identity_rows",
    "load_rules",
    "maintain",
    "profile_id_of",
    "rebuild",
    "write_identities",
]
