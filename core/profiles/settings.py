"""The workspace's profile settings as one document: identity rules and merge policies.

The dashboard's rules editor, ``python -m core apply`` (a ``profiles:``
section) and ``python -m core export`` read and write them through here, so a
setting is validated the same way whichever door it comes in by. Saving
changes how new records link; :meth:`core.profiles.query.Profiles.rebuild`
applies it to the records already ingested.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.errors import ConfigurationError
from core.models import ProfilesSpec
from core.profiles import merge as merging
from core.profiles.namespaces import (
    BLOCKED_SETTING,
    DEFAULT_REGION,
    NAMESPACES_SETTING,
    REGION_SETTING,
    IdentityRules,
)

if TYPE_CHECKING:
    from core.services import Workspace


def read_settings(workspace: Workspace) -> ProfilesSpec:
    """The workspace's profile settings (built-in defaults where none are saved)."""
    namespaces = workspace.setting(NAMESPACES_SETTING) or {}
    if isinstance(namespaces, list):  # an older list form: [{name: ..., ...}]
        namespaces = {entry["name"]: {k: v for k, v in entry.items() if k != "name"} for entry in namespaces}
    region = workspace.setting(REGION_SETTING, DEFAULT_REGION)
    return ProfilesSpec(
        default_region=region or "",
        namespaces=dict(namespaces),
        blocked={name: list(values) for name, values in (workspace.setting(BLOCKED_SETTING) or {}).items()},
        policies=dict(workspace.setting(merging.SETTING) or {}),
    )


def save_settings(workspace: Workspace, spec: ProfilesSpec, dataflows: set[str] | None = None) -> None:
    """Validates then stores the settings; nothing is stored when any part is wrong.

    Args:
        dataflows: the dataflow names policies may refer to (the workspace's, when None).

    Raises:
        ConfigurationError: a namespace, block list, region or policy that does not hold.
    """
    known = dataflows if dataflows is not None else {row["name"] for row in workspace.store.dataflow_rows()}
    rules, policies = validate_settings(spec, known)
    workspace.save_setting(REGION_SETTING, rules.default_region or "")
    workspace.save_setting(NAMESPACES_SETTING, spec.namespaces)
    workspace.save_setting(BLOCKED_SETTING, _blocked(spec))
    workspace.save_setting(merging.SETTING, policies)


def validate_settings(spec: ProfilesSpec, dataflows: set[str]) -> tuple[IdentityRules, dict[str, Any]]:
    """(the identity rules, the policies as stored) the settings describe, or ConfigurationError.

    Args:
        dataflows: the dataflow names policies may refer to.
    """
    rules = check_rules(spec)
    policies = {}
    for name, body in spec.policies.items():
        policy = merging.parse_policy(name, body)
        unknown = sorted((set(policy.order) | set(policy.timestamps)) - dataflows)
        if unknown:
            raise ConfigurationError(f"merge policy {name!r}: no dataflow named {', '.join(unknown)}")
        policies[name] = policy.model_dump(mode="json", exclude_defaults=True)
    return rules, policies


def check_rules(spec: ProfilesSpec) -> IdentityRules:
    """The identity rules the settings describe; raises ConfigurationError when one is malformed."""
    return IdentityRules.from_settings(spec.namespaces, _blocked(spec), spec.default_region or None)


def _blocked(spec: ProfilesSpec) -> dict[str, list[str]]:
    """The block lists without blank values (an empty list is no list)."""
    lists = {name: [str(v).strip() for v in values] for name, values in spec.blocked.items()}
    return {name: [v for v in values if v] for name, values in lists.items() if any(values)}
