"""The workspace's outbound network policy: what HTTP sources may reach beyond the public internet.

Loopback, link-local (cloud metadata), private, unspecified, multicast and
reserved addresses are refused to HTTP API sources (see
:mod:`connectors.network`). An admin allows some of them with the workspace
setting ``security.allowed_networks``, a list of networks (CIDR), addresses
or host names, saved through ``Workspace.save_setting`` (admin role); the
operator of a server may also list them in ``TRIBUTARY_ALLOWED_NETWORKS``.
The policy is the union of both; ``Workspace.connector()`` hands it to every
connector it builds.
"""

from __future__ import annotations

from typing import Any

from connectors.base import ConnectorError
from connectors.network import ALLOWED_NETWORKS_SETTING, ALLOWED_NETWORKS_VARIABLE, NetworkPolicy
from core.errors import ConfigurationError

__all__ = [
    "ALLOWED_NETWORKS_SETTING",
    "ALLOWED_NETWORKS_VARIABLE",
    "NetworkPolicy",
    "allowed_entries",
    "network_policy",
]


def allowed_entries(value: Any) -> list[str]:
    """The setting's value as a clean list of entries (a list, or one comma/space-separated string).

    Raises:
        ConfigurationError: an entry is not a network, an address or a host name; the message names it.
    """
    if value is None:
        return []
    items = value.replace(",", " ").split() if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(item, str) for item in items):
        raise ConfigurationError(
            f"{ALLOWED_NETWORKS_SETTING} must be a list of networks, addresses or host names, "
            "such as ['10.20.0.0/16', 'api.internal.example']"
        )
    entries = [item.strip() for item in items if item.strip()]
    try:
        NetworkPolicy.parse(entries)
    except ValueError as error:
        raise ConfigurationError(f"{ALLOWED_NETWORKS_SETTING}: {error}") from None
    return entries


def network_policy(setting: Any) -> NetworkPolicy:
    """The policy of a workspace whose ``security.allowed_networks`` setting is ``setting``.

    Raises:
        ConfigurationError: the setting or the environment variable holds an invalid entry.
    """
    try:
        from_environment = NetworkPolicy.from_environment()
    except ConnectorError as error:
        raise ConfigurationError(error.user_message) from None
    return from_environment.allowing(NetworkPolicy.parse(allowed_entries(setting)))
