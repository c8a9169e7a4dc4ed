"""The Salesforce connection's settings (also its form), its per-stream options, and its OAuth 2.0 flow.

Every flow signs in through a connected app (its consumer key is
``client_id``) at ``<login_url>/services/oauth2/token``; the token answer's
``instance_url`` is where the API then lives. One flat model keeps the form
simple (the dashboard draws one input per field): ``auth`` picks the flow and
a validator says which of the other fields that flow needs.
"""

from __future__ import annotations

import re
from typing import Literal

import httpx
from pydantic import Field, SecretStr, field_validator, model_validator

from connectors._http import (
    ClientCredentialsAuth,
    JwtBearerAuth,
    OAuth2Auth,
    PasswordGrantAuth,
    RefreshTokenAuth,
)
from connectors.base import ConnectorConfig, StreamOptions

AuthFlow = Literal["client_credentials", "username_password", "jwt_bearer", "refresh_token"]
#: The fields each flow needs, besides client_id.
FLOW_FIELDS: dict[str, tuple[str, ...]] = {
    "client_credentials": ("client_secret",),
    "username_password": ("client_secret", "username", "password"),
    "jwt_bearer": ("username", "private_key"),
    "refresh_token": ("refresh_token",),
}
TOKEN_PATH = "/services/oauth2/token"
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


class SalesforceConfig(ConnectorConfig):
    """Settings of a Salesforce connection (also its form)."""

    login_url: str = Field(
        "https://login.salesforce.com",
        description="Where to sign in: https://login.salesforce.com, https://test.salesforce.com for a "
        "sandbox, or the org's My Domain URL (https://acme.my.salesforce.com; client credentials needs it)",
    )
    auth: AuthFlow = Field(
        "client_credentials",
        description="The OAuth 2.0 flow the connected app allows: client credentials (a run-as user), "
        "username-password, JWT bearer (a certificate), or a refresh token",
    )
    client_id: str = Field(..., description="The connected app's consumer key")
    client_secret: SecretStr | None = Field(
        None, description="The connected app's consumer secret (client credentials, username-password)"
    )
    username: str | None = Field(
        None, description="The integration user's username (username-password, JWT bearer)"
    )
    password: SecretStr | None = Field(None, description="The user's password (username-password)")
    security_token: SecretStr | None = Field(
        None,
        description="The user's security token, appended to the password (none from a trusted IP range)",
    )
    private_key: SecretStr | None = Field(
        None,
        description="JWT bearer: the PEM private key of the certificate uploaded to the connected app",
    )
    refresh_token: SecretStr | None = Field(
        None, description="A refresh token the user granted the connected app (refresh token flow)"
    )
    jwt_audience: str | None = Field(
        None,
        description="JWT bearer: the aud claim; by default https://login.salesforce.com "
        "(https://test.salesforce.com for sandboxes)",
    )
    api_version: str = Field("v62.0", description="The REST API version, such as v62.0")
    bulk_threshold: int | None = Field(
        100_000,
        ge=0,
        description="Reads of more rows than this go through Bulk API 2.0 (a COUNT() request decides); "
        "empty: only streams that ask for it",
    )

    @field_validator("login_url")
    @classmethod
    def _login_url(cls, value: str) -> str:
        return api_base(value)

    @field_validator("api_version")
    @classmethod
    def _api_version(cls, value: str) -> str:
        found = re.fullmatch(r"v?(\d{2,3})(?:\.(\d))?", value.strip())
        if found is None:
            raise ValueError("must be an API version such as v62.0")
        return f"v{found.group(1)}.{found.group(2) or '0'}"

    @field_validator("client_id")
    @classmethod
    def _client_id(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty: it is the connected app's consumer key")
        return value.strip()

    @model_validator(mode="after")
    def _flow_fields(self) -> SalesforceConfig:
        missing = [name for name in FLOW_FIELDS[self.auth] if not _given(getattr(self, name))]
        if missing:
            raise ValueError(f"the {self.auth} flow needs {', '.join(missing)}")
        return self

    @property
    def token_url(self) -> str:
        """The OAuth 2.0 token endpoint."""
        return self.login_url + TOKEN_PATH

    def audience(self) -> str:
        """The JWT ``aud``: the login server Salesforce expects (login.salesforce.com for a My Domain)."""
        if self.jwt_audience:
            return self.jwt_audience.strip().rstrip("/")
        host = httpx.URL(self.login_url).host
        if host == "test.salesforce.com" or host.endswith(".sandbox.my.salesforce.com"):
            return "https://test.salesforce.com"
        if host.endswith(".salesforce.com"):
            return "https://login.salesforce.com"
        return self.login_url  # an Experience Cloud site, or a server standing in for Salesforce

    def http_auth(self) -> OAuth2Auth:
        """The configured OAuth 2.0 flow (the validator made sure its fields are there)."""
        secret = _secret(self.client_secret)
        if self.auth == "client_credentials":
            return ClientCredentialsAuth(self.token_url, self.client_id, secret)
        if self.auth == "username_password":
            return PasswordGrantAuth(
                self.token_url,
                self.client_id,
                secret,
                self.username or "",
                _secret(self.password),
                _secret(self.security_token),
            )
        if self.auth == "jwt_bearer":
            return JwtBearerAuth(
                self.token_url,
                _secret(self.private_key),
                self.client_id,
                self.username or "",
                self.audience(),
            )
        return RefreshTokenAuth(
            self.token_url, self.client_id, _secret(self.refresh_token), client_secret=secret or None
        )


class SalesforceOptions(StreamOptions):
    """Per-stream read options of the Salesforce connector."""

    include_deleted: bool = Field(
        True,
        description="Incremental reads also read deleted records (queryAll), so that they leave the dataset; "
        "a full refresh drops them anyway",
    )
    bulk: Literal["auto", "always", "never"] = Field(
        "auto",
        description="Read through Bulk API 2.0: auto (above the connection's bulk threshold), always, never",
    )


def api_base(url: str) -> str:
    """``https://host[:port]`` of a login or instance URL; plain http only on this machine.

    Raises:
        ValueError: not an http(s) URL, or http to another host (secrets would travel in clear).
    """
    value = url.strip().rstrip("/")
    parsed = httpx.URL(value) if "://" in value else None
    if parsed is None or parsed.scheme not in ("https", "http") or not parsed.host:
        raise ValueError("must be a URL starting with https://, such as https://login.salesforce.com")
    if parsed.scheme == "http" and parsed.host not in _LOOPBACK:
        raise ValueError("must start with https:// (credentials never travel unencrypted)")
    return value


def _given(value: object) -> bool:
    if isinstance(value, SecretStr):
        return bool(value.get_secret_value().strip())
    return bool(value.strip()) if isinstance(value, str) else value is not None


def _secret(value: SecretStr | None) -> str:
    return value.get_secret_value() if value is not None else ""
