"""The OAuth 2.0 grants: client credentials, refresh token, password (Salesforce) and JWT bearer.

Each builds its token request; :class:`~connectors._http_auth.OAuth2Auth`
fetches, caches and refreshes the token. ``secrets()`` lists the grant's
secrets (client secret, password, refresh tokens, private key, signed
assertions) and the tokens issued, for the redactor.
"""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from connectors._http_auth import OAuth2Auth, TokenRequest, basic_authorization
from connectors.base import AuthenticationError

JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z ]+)-----(.*?)-----END \1-----", re.DOTALL)

ClientAuthentication = Literal["body", "basic"]


def _client_fields(
    client_id: str, client_secret: str | None, how: ClientAuthentication
) -> tuple[dict[str, str], dict[str, str]]:
    """(form fields, headers) that authenticate the OAuth client itself (RFC 6749 section 2.3.1)."""
    if how == "basic" and client_secret is not None:
        return {}, {"Authorization": basic_authorization(client_id, client_secret)}
    fields = {"client_id": client_id}
    if client_secret is not None:
        fields["client_secret"] = client_secret
    return fields, {}


def _client_secrets(client_id: str, client_secret: str | None) -> tuple[str, ...]:
    if client_secret is None:
        return ()
    return (client_secret, f"{client_id}:{client_secret}")


class ClientCredentialsAuth(OAuth2Auth):
    """OAuth 2.0 client credentials (``grant_type=client_credentials``): machine-to-machine.

    Args:
        token_url: the token endpoint.
        client_id: the OAuth client (application) id.
        client_secret: its secret.
        scopes: joined into ``scope`` (omitted when empty).
        client_auth: ``body`` (client_id/client_secret form fields) or ``basic`` (an Authorization header).
        body_format: ``form`` (the norm) or ``json`` (Marketing Cloud's v2/token).
        extra_fields: more grant fields (``resource``, ``audience``, ``account_id``).
        scope_separator: what joins the scopes: a space (RFC 6749), or a comma (Adobe IMS).
    """

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        scopes: Sequence[str] = (),
        *,
        client_auth: ClientAuthentication = "body",
        body_format: Literal["form", "json"] = "form",
        extra_fields: Mapping[str, str] | None = None,
        scope_separator: str = " ",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(token_url, clock=clock)
        self.client_id, self.client_secret, self.scopes = client_id, client_secret, tuple(scopes)
        self.client_auth, self.body_format = client_auth, body_format
        self.extra_fields = dict(extra_fields or {})
        self.scope_separator = scope_separator

    def token_request(self) -> TokenRequest:
        """``grant_type=client_credentials`` with the client's credentials and scopes."""
        fields, headers = _client_fields(self.client_id, self.client_secret, self.client_auth)
        body = {"grant_type": "client_credentials", **fields, **self.extra_fields}
        if self.scopes:
            body["scope"] = self.scope_separator.join(self.scopes)
        if self.body_format == "json":
            return TokenRequest(json_body=body, headers=headers)
        return TokenRequest(form=body, headers=headers)

    def credentials(self) -> tuple[str, ...]:
        """The client secret."""
        return _client_secrets(self.client_id, self.client_secret)


class RefreshTokenAuth(OAuth2Auth):
    """OAuth 2.0 refresh token (``grant_type=refresh_token``): a long-lived grant a user gave once.

    A rotated refresh token in a token response replaces the configured one
    for the life of this object (the configuration is not rewritten).
    """

    def __init__(
        self,
        token_url: str,
        client_id: str,
        refresh_token: str,
        client_secret: str | None = None,
        scopes: Sequence[str] = (),
        *,
        client_auth: ClientAuthentication = "body",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(token_url, clock=clock)
        self.client_id, self.client_secret, self.scopes = client_id, client_secret, tuple(scopes)
        self.client_auth = client_auth
        self.refresh_token = refresh_token
        self._refresh_tokens = [refresh_token]

    def token_request(self) -> TokenRequest:
        """``grant_type=refresh_token`` with the refresh token and the client's credentials."""
        fields, headers = _client_fields(self.client_id, self.client_secret, self.client_auth)
        form = {"grant_type": "refresh_token", "refresh_token": self.refresh_token, **fields}
        if self.scopes:
            form["scope"] = " ".join(self.scopes)
        return TokenRequest(form=form, headers=headers)

    def accept(self, payload: Mapping[str, Any]) -> None:
        """Keeps a rotated refresh token."""
        rotated = payload.get("refresh_token")
        if isinstance(rotated, str) and rotated:
            self.refresh_token = rotated
            self._refresh_tokens.append(rotated)

    def credentials(self) -> tuple[str, ...]:
        """The refresh tokens (configured and rotated) and the client secret."""
        return (*self._refresh_tokens, *_client_secrets(self.client_id, self.client_secret))


class PasswordGrantAuth(OAuth2Auth):
    """OAuth 2.0 resource-owner password (``grant_type=password``), as Salesforce's username-password flow.

    Salesforce wants the user's security token appended to the password; give
    it as ``security_token`` and it is appended.
    """

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        username: str,
        password: str,
        security_token: str = "",
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(token_url, clock=clock)
        self.client_id, self.client_secret = client_id, client_secret
        self.username, self.password, self.security_token = username, password, security_token

    def token_request(self) -> TokenRequest:
        """``grant_type=password`` with client id and secret, username and password (+ security token)."""
        return TokenRequest(
            form={
                "grant_type": "password",
                "client_id": self.client_id,
                "client_secret": self.client_secret,
                "username": self.username,
                "password": self.password + self.security_token,
            }
        )

    def credentials(self) -> tuple[str, ...]:
        """Client secret, password, security token, and the password with the token appended."""
        found = (self.client_secret, self.password, self.security_token, self.password + self.security_token)
        return tuple(value for value in found if value)


class JwtBearerAuth(OAuth2Auth):
    """OAuth 2.0 JWT bearer grant (RFC 7523): an RS256-signed assertion instead of a password.

    Salesforce's server-to-server flow: ``iss`` is the connected app's consumer
    key, ``sub`` the username, ``aud`` the login URL. A fresh assertion, valid
    ``lifetime_s`` seconds, is signed for each token request.

    Args:
        token_url: the token endpoint.
        private_key_pem: the RSA private key (PEM, unencrypted).
        issuer, subject, audience: the ``iss``, ``sub`` and ``aud`` claims.
        lifetime_s: how long an assertion is valid (Salesforce accepts at most 3 minutes).
        extra_claims: more claims (``scope``...).
        key_id: a ``kid`` header, when the authorization server wants one.
    """

    def __init__(
        self,
        token_url: str,
        private_key_pem: str,
        issuer: str,
        subject: str,
        audience: str,
        *,
        lifetime_s: int = 180,
        extra_claims: Mapping[str, Any] | None = None,
        key_id: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(token_url, clock=clock)
        self.private_key_pem, self.issuer, self.subject, self.audience = (
            private_key_pem,
            issuer,
            subject,
            audience,
        )
        self.lifetime_s, self.extra_claims, self.key_id = lifetime_s, dict(extra_claims or {}), key_id
        self._wall_clock = wall_clock
        self._assertions: list[str] = []

    def token_request(self) -> TokenRequest:
        """``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`` with a freshly signed assertion."""
        now = int(self._wall_clock())
        claims = {
            "iss": self.issuer,
            "sub": self.subject,
            "aud": self.audience,
            "iat": now,
            "exp": now + self.lifetime_s,
            "jti": uuid.uuid4().hex,
            **self.extra_claims,
        }
        header = {"kid": self.key_id} if self.key_id else {}
        assertion = sign_jwt_rs256(claims, self.private_key_pem, header)
        self._assertions.append(assertion)
        return TokenRequest(form={"grant_type": JWT_BEARER_GRANT, "assertion": assertion})

    def credentials(self) -> tuple[str, ...]:
        """The private key (whole and line by line) and the assertions signed so far."""
        lines = [line.strip() for line in normalised_pem(self.private_key_pem).splitlines()]
        body = [line for line in lines if line and not line.startswith("-----")]
        return (self.private_key_pem.strip(), "".join(body), *body, *self._assertions)


def sign_jwt_rs256(
    claims: Mapping[str, Any], private_key_pem: str, header: Mapping[str, Any] | None = None
) -> str:
    """A compact JWT signed with RS256 (RSASSA-PKCS1-v1_5 with SHA-256).

    Raises:
        AuthenticationError: the key is not an unencrypted PEM RSA private key
            (the message never quotes it).
    """
    key = None
    for pem in dict.fromkeys((private_key_pem, normalised_pem(private_key_pem))):
        try:
            key = serialization.load_pem_private_key(pem.encode("utf-8"), password=None)
            break
        except (ValueError, TypeError):
            continue
    if not isinstance(key, rsa.RSAPrivateKey):
        raise AuthenticationError(
            "The private key is not an unencrypted RSA private key in PEM form "
            "(-----BEGIN PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY-----)."
        )
    segments = [
        _b64url(json.dumps({"alg": "RS256", "typ": "JWT", **(header or {})}, separators=(",", ":"))),
        _b64url(json.dumps(dict(claims), separators=(",", ":"))),
    ]
    signing_input = ".".join(segments).encode("ascii")
    signature = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    return ".".join([*segments, base64.urlsafe_b64encode(signature).rstrip(b"=").decode("ascii")])


def normalised_pem(text: str) -> str:
    """A PEM block with its line breaks put back, for keys pasted into a one-line box or written with ``\\n``.

    A browser's text box drops line breaks, and environment variables often
    carry them as the two characters ``\\n``; the base64 body is re-wrapped at
    64 characters between its BEGIN and END lines. Text without a PEM block is
    returned as it is.
    """
    text = text.replace("\\n", "\n").strip()
    block = _PEM_BLOCK.search(text)
    if block is None:
        return text
    label, body = block.group(1), re.sub(r"\s+", "", block.group(2))
    lines = [body[start : start + 64] for start in range(0, len(body), 64)]
    return "\n".join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----", ""])


def _b64url(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode("utf-8")).rstrip(b"=").decode("ascii")
