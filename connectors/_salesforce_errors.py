"""Salesforce's error answers as text a person can act on, and which of them mean "too many requests".

REST errors are ``[{"message": ..., "errorCode": ...}]`` (REST API Developer
Guide, "Status Codes and Error Responses"); the token endpoint answers OAuth
errors, ``{"error": ..., "error_description": ...}``. The text keeps the
code, adds what to check, then Salesforce's message (cut by the HTTP layer,
so the hint comes first). ``REQUEST_LIMIT_EXCEEDED`` comes with HTTP 403: it
is rate limiting, not a missing permission.
"""

from __future__ import annotations

from typing import Any

import httpx

from connectors._http import ErrorParser, vendor_error_text

REQUEST_LIMIT = "REQUEST_LIMIT_EXCEEDED"
_API_DISABLED = "the user's profile or a permission set needs the API Enabled permission"
#: What to check, by errorCode (REST) or OAuth error.
HINTS = {
    REQUEST_LIMIT: "the org's API request limit is reached; runs resume from where they stopped",
    "INVALID_SESSION_ID": "the session expired or was revoked, and a new one was refused too",
    "INVALID_FIELD": "a field is missing, or hidden from the integration user by field-level security",
    "INVALID_TYPE": "the object does not exist, or the integration user cannot see it",
    "INSUFFICIENT_ACCESS": "the integration user lacks a permission on this object",
    "API_DISABLED_FOR_ORG": _API_DISABLED,
    "API_CURRENTLY_DISABLED": _API_DISABLED,
    "invalid_client_id": "check the connected app's consumer key (client_id)",
    "invalid_client": "check the connected app's consumer key and secret",
    "unsupported_grant_type": "the connected app does not allow this OAuth flow",
}
#: What an ``invalid_grant`` means, by flow.
GRANT_HINTS = {
    "client_credentials": "enable the client credentials flow on the connected app with a run-as user, "
    "and sign in at the org's My Domain URL",
    "username_password": "check the username, password and security token, and that the org allows "
    "the username-password flow",
    "jwt_bearer": "check the certificate's key, that the user is pre-authorized for the connected app "
    "and the JWT audience (login or test.salesforce.com)",
    "refresh_token": "the refresh token expired or was revoked: grant the connected app access again",
}


def error_parser(flow: str) -> ErrorParser:
    """Reads a failed Salesforce answer as ``CODE (what to check): message``."""

    def parse(response: httpx.Response) -> str | None:
        code, message = _code_and_message(_body(response))
        if code is None:
            return vendor_error_text(response)
        hint = GRANT_HINTS.get(flow) if code == "invalid_grant" else HINTS.get(code)
        head = f"{code} ({hint})" if hint else code
        return f"{head}: {message}" if message else head

    return parse


def is_request_limit(response: httpx.Response) -> bool:
    """Whether Salesforce refused the request because an API request limit is reached."""
    return _code_and_message(_body(response))[0] == REQUEST_LIMIT


def _body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (ValueError, UnicodeDecodeError):
        return None


def _code_and_message(body: Any) -> tuple[str | None, str | None]:
    if isinstance(body, list) and body and isinstance(body[0], dict):
        first = body[0]
        code = first.get("errorCode")
        return (str(code), str(first.get("message") or "") or None) if code else (None, None)
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return body["error"], body.get("error_description") or None
    return None, None
