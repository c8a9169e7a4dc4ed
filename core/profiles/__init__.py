"""Unified customer profiles: identity namespaces and rules, the identity graph, merge policies.

The identity graph (:mod:`core.profiles.graph`) links the records of every
dataflow that declares identities into profiles, incrementally per chunk and
in the chunk's transaction; :mod:`core.profiles.namespaces` says how each
namespace's values are normalised, trusted and limited.
"""

from __future__ import annotations

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
from core.profiles.namespaces import (
    BLOCKED_SETTING,
    NAMESPACES_SETTING,
    REGION_SETTING,
    IdentityRules,
    Namespace,
    NormalisedValues,
    load_rules,
)

__all__ = [
    "BLOCKED_SETTING",
    "NAMESPACES_SETTING",
    "REGION_SETTING",
    "Clustering",
    "IdentityRules",
    "Namespace",
    "NormalisedValues",
    "cluster",
    "forget",
    "forget_missing",
    "identity_rows",
    "load_rules",
    "maintain",
    "profile_id_of",
    "rebuild",
    "write_identities",
]
