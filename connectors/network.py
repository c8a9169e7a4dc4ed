"""Where HTTP sources may connect: the outbound network policy (the defence against SSRF).

A connection's URLs are typed by its editor (a base URL, a token or login URL)
or returned by the server (a token answer's ``instance_url``, next-page links,
redirects). Any of them could point Tributary at what only the machine it runs
on can reach: the cloud metadata service (169.254.169.254), a database admin
page on localhost, a service on the private network. So every connection an
HTTP source opens is checked against a :class:`NetworkPolicy`:

- loopback, link-local, private (RFC 1918, fc00::/7), carrier-grade NAT,
  unspecified, multicast and reserved addresses are refused, unless an admin
  allowed them (a network in CIDR form, an address, or a host name);
- the check runs after DNS resolution, on every address the name resolves to
  (IPv4-mapped, 6to4, Teredo and NAT64 IPv6 forms are judged by the IPv4
  address they carry), and the connection is then made to the checked address
  itself, so a DNS answer that changes between the check and the connection
  (DNS rebinding) cannot slip through;
- as the check sits in the transport's connect, it covers every request: the
  first, each redirect hop, token requests and next pages.

Through an HTTP proxy (``HTTPS_PROXY``...) the proxy connects: the target is
checked by resolving it here first (a name that does not resolve here is left
to the proxy, which is the operator's own egress control).

Allowances come from the workspace setting ``security.allowed_networks`` (the
engine passes them in, see :attr:`connectors.base.Connector.network`) and from
the environment variable :data:`ALLOWED_NETWORKS_VARIABLE`, comma- or
space-separated, for servers configured by their operator.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import socket
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx

from connectors.base import DestinationNotAllowedError

#: The environment variable an operator lists allowed networks and hosts in.
ALLOWED_NETWORKS_VARIABLE = "TRIBUTARY_ALLOWED_NETWORKS"
#: The workspace setting an admin lists allowed networks and hosts in.
ALLOWED_NETWORKS_SETTING = "security.allowed_networks"

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_LABEL = r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?"
_HOST_NAME = re.compile(rf"(\*\.)?{_LABEL}(\.{_LABEL})*")
_SHARED = ipaddress.IPv4Network("100.64.0.0/10")  # carrier-grade NAT: some clouds' metadata lives there
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_FIX = (
    f"If this source is meant to be on your network, an admin can allow it: add the address, its network "
    f"(CIDR) or the host name to the workspace setting {ALLOWED_NETWORKS_SETTING}, or to the environment "
    f"variable {ALLOWED_NETWORKS_VARIABLE} of the server."
)


@dataclass(frozen=True)
class NetworkPolicy:
    """Which destinations an HTTP source may connect to, beyond the public internet.

    Attributes:
        networks: networks (and single addresses, as /32 or /128) allowed although not public.
        hosts: host names allowed whatever they resolve to; ``*.example.com`` allows its subdomains.
    """

    networks: tuple[IpNetwork, ...] = ()
    hosts: tuple[str, ...] = ()

    @classmethod
    def parse(cls, entries: str | Iterable[str]) -> NetworkPolicy:
        """A policy allowing ``entries``: CIDRs, addresses, host names (a string: comma/space separated).

        Raises:
            ValueError: naming each entry that is none of those.
        """
        items = re.split(r"[\s,]+", entries) if isinstance(entries, str) else list(entries)
        networks: list[IpNetwork] = []
        hosts: list[str] = []
        bad: list[str] = []
        for item in items:
            text = str(item).strip()
            if not text:
                continue
            try:
                networks.append(ipaddress.ip_network(text, strict=False))
                continue
            except ValueError:
                pass
            name = _normal_host(text)
            if _HOST_NAME.fullmatch(name) and len(name) <= 253:
                hosts.append(name)
            else:
                bad.append(text)
        if bad:
            raise ValueError(
                f"{', '.join(map(repr, bad))}: not a network (10.0.0.0/8), an address (10.1.2.3) or a "
                "host name (api.internal.example, *.internal.example)"
            )
        return cls(tuple(dict.fromkeys(networks)), tuple(dict.fromkeys(hosts)))

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> NetworkPolicy:
        """The policy :data:`ALLOWED_NETWORKS_VARIABLE` allows (nothing beyond public addresses when unset).

        Raises:
            DestinationNotAllowedError: the variable holds an entry that is not valid.
        """
        value = (os.environ if environ is None else environ).get(ALLOWED_NETWORKS_VARIABLE, "")
        try:
            return cls.parse(value)
        except ValueError as error:
            raise DestinationNotAllowedError(f"{ALLOWED_NETWORKS_VARIABLE}: {error}.") from None

    def allowing(self, other: NetworkPolicy) -> NetworkPolicy:
        """A policy allowing what this one and ``other`` allow."""
        return NetworkPolicy(
            tuple(dict.fromkeys((*self.networks, *other.networks))),
            tuple(dict.fromkeys((*self.hosts, *other.hosts))),
        )

    def allows_host(self, host: str) -> bool:
        """Whether ``host`` is allowed by name (an exact name, or a ``*.`` pattern it falls under)."""
        name = _normal_host(host)
        return any(name == h or (h.startswith("*.") and name.endswith(h[1:])) for h in self.hosts)

    def denial(self, address: str | IpAddress) -> str | None:
        """Why connecting to ``address`` is refused ("a loopback address"...), or None when it is allowed."""
        given = ipaddress.ip_address(address) if isinstance(address, str) else address
        judged = _embedded_ipv4(given) or given
        if any(ip.version == net.version and ip in net for ip in (given, judged) for net in self.networks):
            return None
        if judged.is_unspecified:
            return "an unspecified address"
        if judged.is_loopback:
            return "a loopback address (this machine)"
        if judged.is_link_local:
            return "a link-local address (where cloud metadata services answer)"
        if judged.is_multicast:
            return "a multicast address"
        if judged.is_private:
            return "a private network address"
        if isinstance(judged, ipaddress.IPv4Address) and judged in _SHARED:
            return "a shared (carrier-grade NAT) address"
        if judged.is_reserved or not judged.is_global:
            return "a reserved address"
        return None

    def check_url(self, url: str | httpx.URL) -> None:
        """Refuses a URL that is not http(s) or whose host is a literal address the policy denies (no DNS)."""
        parsed = httpx.URL(url) if isinstance(url, str) else url
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise DestinationNotAllowedError(
                f"{_shown(parsed)} is not an http:// or https:// URL with a host, the only URLs HTTP "
                "sources fetch."
            )
        literal = _literal_address(parsed.host)
        if literal is not None and not self.allows_host(parsed.host):
            reason = self.denial(literal)
            if reason:
                raise DestinationNotAllowedError(_refusal(_shown(parsed), str(literal), reason))

    def resolve(self, host: str, port: int, shown: str | None = None) -> list[str]:
        """The addresses ``host`` resolves to, every one checked; connect to these, not to the name.

        Raises:
            DestinationNotAllowedError: one of the addresses is denied (naming it and why).
            OSError: the name does not resolve.
        """
        found = socket.getaddrinfo(_normal_host(host), port, type=socket.SOCK_STREAM)
        addresses = list(dict.fromkeys(str(info[4][0]).partition("%")[0] for info in found))
        if self.allows_host(host):
            return addresses
        for address in addresses:
            reason = self.denial(address)
            if reason:
                raise DestinationNotAllowedError(_refusal(shown or f"{host}:{port}", address, reason))
        return addresses


def _normal_host(host: str) -> str:
    """A host name compared as DNS does: lower case, without brackets or a final dot."""
    return host.strip().strip("[]").rstrip(".").lower()


def _literal_address(host: str) -> IpAddress | None:
    try:
        return ipaddress.ip_address(_normal_host(host))
    except ValueError:
        return None


def _embedded_ipv4(address: IpAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (IPv4-mapped, 6to4, Teredo client, NAT64), if any."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _shown(url: httpx.URL) -> str:
    """A URL as messages show it: no credentials, no query string (either may hold a secret)."""
    return str(url.copy_with(username=None, password=None, query=None, fragment=None))


def _refusal(where: str, address: str, reason: str) -> str:
    return f"Refused to connect to {where}: {address} is {reason}, which HTTP sources may not reach. {_FIX}"


def denied_hop(current: httpx.URL, following: httpx.URL, policy: NetworkPolicy) -> str | None:
    """Why a next-page link may not be followed (another host, or https to http), or None.

    A server's own next link stays on its host; one pointing elsewhere is refused
    unless the admin allowed that host by name.
    """
    if following.host == current.host and not (current.scheme == "https" and following.scheme != "https"):
        return None
    if following.host != current.host and policy.allows_host(following.host):
        return None
    if following.host == current.host:
        return f"it switches from https to {following.scheme}"
    return f"it points to another host ({following.host}, not {current.host})"


class _PinnedBackend(httpcore.NetworkBackend):
    """Resolves each host itself, checks every address, and connects to a checked address."""

    def __init__(self, policy: NetworkPolicy) -> None:
        self._policy = policy
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = self._policy.resolve(host, port)
        except OSError as error:  # as httpcore's own connect reports a name that does not resolve
            raise httpcore.ConnectError(str(error)) from None
        failure: Exception | None = None
        for address in addresses:
            try:
                return self._inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                failure = error
        raise failure or httpcore.ConnectError(f"{host} resolves to no address")

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("HTTP sources do not connect to unix sockets")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _PinnedTransport(httpx.HTTPTransport):
    """httpx's own transport over a connection pool whose connects go through :class:`_PinnedBackend`."""

    def __init__(self, policy: NetworkPolicy, verify: bool) -> None:
        context = httpx.create_ssl_context(verify=verify)
        super().__init__(verify=context)
        self._pool = httpcore.ConnectionPool(
            ssl_context=context,
            max_connections=100,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=_PinnedBackend(policy),
        )


class GuardedTransport(httpx.BaseTransport):
    """The transport of every HTTP source: each request's destination checked against ``policy``.

    Direct connections are pinned to the checked address; through an
    environment proxy the target is checked here, and the proxy connects.
    """

    def __init__(self, policy: NetworkPolicy, verify: bool = True) -> None:
        self.policy = policy
        self._verify = verify
        self._direct = _PinnedTransport(policy, verify)
        self._proxied: dict[str, httpx.HTTPTransport] = {}

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Checks the request's URL, then sends it directly (pinned) or through the proxy."""
        self.policy.check_url(request.url)
        proxy = _proxy_for(request.url)
        if proxy is None:
            return self._direct.handle_request(request)
        port = request.url.port or (443 if request.url.scheme == "https" else 80)
        with contextlib.suppress(OSError):  # the proxy resolves names this machine cannot
            self.policy.resolve(request.url.host, port, _shown(request.url))
        if proxy not in self._proxied:
            self._proxied[proxy] = httpx.HTTPTransport(verify=self._verify, proxy=proxy)
        return self._proxied[proxy].handle_request(request)

    def close(self) -> None:
        """Closes the connection pools."""
        self._direct.close()
        for transport in self._proxied.values():
            transport.close()


def _proxy_for(url: httpx.URL) -> str | None:
    """The environment's proxy for ``url`` (``HTTPS_PROXY``, ``HTTP_PROXY``, ``NO_PROXY``), or None."""
    proxies = urllib.request.getproxies()
    proxy = proxies.get(url.scheme) or proxies.get("all")
    if not proxy or urllib.request.proxy_bypass(url.host):
        return None
    return proxy
