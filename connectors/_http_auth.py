"""How an HTTP connector authenticates: one small class per scheme, behind :class:`HttpAuth`.

Static schemes (:class:`NoAuth`, :class:`ApiKeyAuth`, :class:`BearerTokenAuth`,
:class:`BasicAuth`) only add a header or a query parameter. OAuth 2.0 flows
(``connectors._http_oauth``: client credentials, refresh token, password,
JWT bearer) share :class:`OAuth2Auth`:
it asks its token endpoint (through the client, so with its retries and error
mapping) for an access token, caches it until ``expires_in`` runs out (less a
margin) or, without ``expires_in``, until the API answers 401, and keeps the
whole token response in :attr:`OAuth2Auth.payload` (Salesforce's
``instance_url``, Marketing Cloud's ``rest_instance_url``).

Every auth lists the values to mask in messages and logs in ``secrets()``,
issued access tokens included.
"""

from __future__ import annotations

import base64
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol

import httpx

from connectors.base import AuthenticationError


class TokenEndpoint(Protocol):
    """What an OAuth flow needs from the client: one token request, with retries and error mapping."""

    def fetch_token(
        self,
        url: str,
        *,
        form: Mapping[str, str] | None = None,
        json_body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Mapping[str, Any]:
        """POSTs the token request and returns the token response (a JSON object)."""
        ...


class HttpAuth(ABC):
    """Adds credentials to each request. Subclasses implement ``apply``.

    Attributes:
        refreshable: whether a 401 may be fixed by fetching a new token (then
            the client calls ``invalidate`` and retries the request once).
    """

    refreshable: ClassVar[bool] = False

    @abstractmethod
    def apply(self, request: httpx.Request, endpoint: TokenEndpoint) -> None:
        """Adds the credentials to ``request`` (fetching a token first when needed)."""

    def invalidate(self) -> None:  # noqa: B027  (a hook: static auths have no token to forget)
        """Forgets a cached token, so the next request fetches a new one."""

    def secrets(self) -> tuple[str, ...]:
        """Every secret value this auth holds or was issued, to mask in any text."""
        return ()


class NoAuth(HttpAuth):
    """No credentials: a public API."""

    def apply(self, request: httpx.Request, endpoint: TokenEndpoint) -> None:
        """Leaves the request as it is."""


class ApiKeyAuth(HttpAuth):
    """An API key in a header (``X-API-Key: <key>``) or a query parameter (``?api_key=<key>``).

    Args:
        name: the header or query parameter name.
        key: the API key.
        location: ``header`` or ``query``.
        prefix: put before the key in a header (``"Token "``).
    """

    def __init__(
        self, name: str, key: str, location: Literal["header", "query"] = "header", prefix: str = ""
    ) -> None:
        self.name, self.key, self.location, self.prefix = name, key, location, prefix

    def apply(self, request: httpx.Request, endpoint: TokenEndpoint) -> None:
        """Sets the header, or replaces the query parameter (a next-page URL may echo it)."""
        if self.location == "query":
            request.url = request.url.copy_set_param(self.name, self.key)
        else:
            request.headers[self.name] = self.prefix + self.key

    def secrets(self) -> tuple[str, ...]:
        """The key."""
        return (self.key,)


class BearerTokenAuth(HttpAuth):
    """A fixed bearer token (a personal access token): ``Authorization: Bearer <token>``."""

    def __init__(self, token: str) -> None:
        self.token = token

    def apply(self, request: httpx.Request, endpoint: TokenEndpoint) -> None:
        """Sets the Authorization header."""
        request.headers["Authorization"] = f"Bearer {self.token}"

    def secrets(self) -> tuple[str, ...]:
        """The token."""
        return (self.token,)


class BasicAuth(HttpAuth):
    """HTTP Basic authentication: ``Authorization: Basic base64(username:password)``."""

    def __init__(self, username: str, password: str) -> None:
        self.username, self.password = username, password

    def apply(self, request: httpx.Request, endpoint: TokenEndpoint) -> None:
        """Sets the Authorization header."""
        request.headers["Authorization"] = basic_authorization(self.username, self.password)

    def secrets(self) -> tuple[str, ...]:
        """The password, and ``username:password`` whose base64 form travels in the header."""
        return (self.password, f"{self.username}:{self.password}")


def basic_authorization(username: str, password: str) -> str:
    """The value of a Basic Authorization header."""
    pair = f"{username}:{password}".encode()
    return "Basic " + base64.b64encode(pair).decode("ascii")


@dataclass(frozen=True)
class Token:
    """An access token, when it stops being usable (a ``time.monotonic`` value) and the whole response."""

    access_token: str
    expires_at: float | None = None
    payload: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TokenRequest:
    """The body and headers of a token request: a form (the OAuth norm) or a JSON object."""

    form: Mapping[str, str] | None = None
    json_body: Mapping[str, Any] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


class OAuth2Auth(HttpAuth):
    """An OAuth 2.0 flow: fetches an access token, caches it, sends it as a bearer token.

    Subclasses build their grant in ``token_request``. The token is fetched on
    first use and cached until ``expires_in`` (less ``min(60 s, 10 %)``) runs
    out; without ``expires_in`` it is kept until the API answers 401. Thread-safe.

    Args:
        token_url: the token endpoint.
        clock: the monotonic clock (a seam for tests).
    """

    refreshable: ClassVar[bool] = True

    def __init__(self, token_url: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.token_url = token_url
        self._clock = clock
        self._token: Token | None = None
        self._issued: list[str] = []
        self._lock = threading.Lock()

    @abstractmethod
    def token_request(self) -> TokenRequest:
        """The grant's form fields (or JSON body) and headers."""

    def credentials(self) -> tuple[str, ...]:
        """The configured secrets of the grant (not the tokens it is issued)."""
        return ()

    def token(self, endpoint: TokenEndpoint) -> Token:
        """The cached token, or a new one when there is none or it expired."""
        with self._lock:
            if self._token is None or (
                self._token.expires_at is not None and self._clock() >= self._token.expires_at
            ):
                self._token = self._fetch(endpoint)
            return self._token

    @property
    def payload(self) -> Mapping[str, Any]:
        """The last token response, whole (empty before the first token)."""
        return self._token.payload if self._token else {}

    def apply(self, request: httpx.Request, endpoint: TokenEndpoint) -> None:
        """Sets ``Authorization: Bearer <access token>``."""
        request.headers["Authorization"] = f"Bearer {self.token(endpoint).access_token}"

    def invalidate(self) -> None:
        """Drops the cached token."""
        with self._lock:
            self._token = None

    def secrets(self) -> tuple[str, ...]:
        """The grant's secrets and every token issued so far."""
        return (*self.credentials(), *self._issued)

    def accept(self, payload: Mapping[str, Any]) -> None:
        """Called with each token response (a refresh token flow keeps a rotated refresh token)."""

    def _fetch(self, endpoint: TokenEndpoint) -> Token:
        grant = self.token_request()
        payload = endpoint.fetch_token(
            self.token_url, form=grant.form, json_body=grant.json_body, headers=grant.headers
        )
        access = payload.get("access_token")
        if not isinstance(access, str) or not access:
            raise AuthenticationError(
                f"The token endpoint {httpx.URL(self.token_url).host} answered without an access_token."
            )
        self._issued.append(access)
        self.accept(payload)
        return Token(access, self._expiry(payload.get("expires_in")), dict(payload))

    def _expiry(self, expires_in: Any) -> float | None:
        try:
            seconds = float(expires_in)  # Azure AD sends it as a string
        except (TypeError, ValueError):
            return None
        return self._clock() + seconds - min(60.0, seconds / 10)
