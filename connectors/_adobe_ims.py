"""Adobe IMS: the OAuth server-to-server sign-in that Adobe Campaign and Audience Manager share.

A project in the Adobe Developer Console holds an OAuth Server-to-Server
credential: a client id (also the API key) and a client secret. The connector
POSTs ``grant_type=client_credentials`` with them and the credential's scopes,
separated by commas, to IMS (``https://ims-na1.adobelogin.com/ims/token/v3``)
as a form. IMS answers ``access_token``, ``token_type`` and ``expires_in``
(24 hours); the layer caches the token until it nearly expires, and fetches a
new one once when an API answers 401, also in the middle of paging
(developer.adobe.com/developer-console/docs/guides/authentication/ServerToServerAuthentication/IMS).

Every API call carries ``Authorization: Bearer <token>`` and ``x-api-key:
<client id>``; ``x-gw-ims-org-id: <org id>`` too when the connection names
the IMS organisation (``...@AdobeOrg``), for the APIs behind Adobe's gateway
that ask for it.

Secrets stay top-level ``SecretStr`` fields of the config model: the
workspace vaults only those.
"""

from __future__ import annotations

import time
from abc import abstractmethod
from collections.abc import Callable, Sequence
from typing import ClassVar, TypeVar

import httpx
from pydantic import Field, SecretStr, field_validator

from connectors._adobe_streams import WebUrl
from connectors._http import ClientCredentialsAuth, HttpClient
from connectors._http_auth import TokenEndpoint
from connectors._http_connector import ApiConnector
from connectors.base import ConnectorConfig

__all__ = ["IMS_TOKEN_URL", "AdobeImsAuth", "AdobeImsConfig", "ImsApiConnector"]

IMS_TOKEN_URL = "https://ims-na1.adobelogin.com/ims/token/v3"
#: The scopes most OAuth Server-to-Server credentials list; the Developer Console shows a credential's own.
DEFAULT_SCOPES = "openid,AdobeID,additional_info.projectedProductContext"


class AdobeImsAuth(ClientCredentialsAuth):
    """IMS client credentials, with the ``x-api-key`` (and ``x-gw-ims-org-id``) headers Adobe's APIs want.

    Args:
        client_id: the credential's client id, sent as the API key too.
        client_secret: its secret.
        scopes: the credential's scopes (joined with commas, as IMS wants them).
        org_id: the IMS organisation id (``...@AdobeOrg``), sent as ``x-gw-ims-org-id`` when given.
        ims_url: the IMS token endpoint (a seam for tests).
    """

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        scopes: Sequence[str],
        *,
        org_id: str | None = None,
        ims_url: str = IMS_TOKEN_URL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(ims_url, client_id, client_secret, scopes, scope_separator=",", clock=clock)
        self.org_id = org_id

    def apply(self, request: httpx.Request, endpoint: TokenEndpoint) -> None:
        """Sets the bearer token, ``x-api-key`` and, with an org id, ``x-gw-ims-org-id``."""
        super().apply(request, endpoint)
        request.headers["x-api-key"] = self.client_id
        if self.org_id:
            request.headers["x-gw-ims-org-id"] = self.org_id


class AdobeImsConfig(ConnectorConfig):
    """An Adobe Developer Console project's OAuth Server-to-Server credential (a config's first fields)."""

    client_id: str = Field(
        ...,
        min_length=1,
        description="The credential's client id (its API key too)",
    )
    client_secret: SecretStr = Field(..., description="The credential's client secret")
    scopes: str = Field(
        DEFAULT_SCOPES,
        description="The credential's scopes, comma-separated, as the Developer Console lists them",
    )
    org_id: str | None = Field(
        None,
        pattern=r"^$|^[A-Za-z0-9]+@AdobeOrg$",
        description="The IMS organisation id (…@AdobeOrg), sent as x-gw-ims-org-id when given",
    )
    ims_url: WebUrl = Field(IMS_TOKEN_URL, description="The IMS token endpoint")

    @field_validator("org_id")
    @classmethod
    def _no_empty_org(cls, value: str | None) -> str | None:
        return value or None

    def ims_auth(self) -> AdobeImsAuth:
        """The IMS auth of this credential."""
        scopes = [scope.strip() for scope in self.scopes.split(",") if scope.strip()]
        return AdobeImsAuth(
            self.client_id,
            self.client_secret.get_secret_value(),
            scopes,
            org_id=self.org_id,
            ims_url=self.ims_url,
        )

    @abstractmethod
    def api_url(self) -> str:
        """The URL every API path of the connection is relative to (ends with ``/``)."""


ImsConfigT = TypeVar("ImsConfigT", bound=AdobeImsConfig)


class ImsApiConnector(ApiConnector[ImsConfigT]):
    """An Adobe API connector signed in through IMS: the client, made once for all of them."""

    #: Sent with every request (Adobe's samples send ``Cache-Control: no-cache``).
    headers: ClassVar[dict[str, str]] = {"Cache-Control": "no-cache"}

    def open_client(self) -> HttpClient:
        """A client for the connection's API, signing in through IMS on its first request."""
        config = self.settings
        return HttpClient(
            config.api_url(), config.ims_auth(), settings=self.http_settings, headers=self.headers
        )
