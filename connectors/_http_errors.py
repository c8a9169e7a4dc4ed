"""HTTP failures as connector errors a person can act on, with every secret masked.

An error message names the object being read, the HTTP status, the method and
the URL without its query string (which may carry an API key), the page when
paging, and a short error text from the vendor's body when there is one. The
:class:`Redactor` masks every secret the auth holds (raw, URL-encoded, JSON-
escaped and base64 forms) in any text before it leaves the HTTP layer, in
messages and in logs alike.

==============================  ==================================  ===========
failure                         error                               retried
==============================  ==================================  ===========
connection refused/reset,       SourceUnreachableError              yes
timeout, server disconnected
429, 408, 5xx (not 501), and    SourceUnreachableError (at the end) yes
what ``rate_limited`` says is
rate limiting (any status)
401, 403                        AuthenticationError                 no (*)
404                             StreamNotFoundError                 no
4xx from a token endpoint       AuthenticationError                 no
other 4xx (400, 422...)         ConnectorError                      no
body not JSON                   FormatError                         no
==============================  ==================================  ===========

(*) a 401 on a token-based auth first refreshes the token once and retries.
"""

from __future__ import annotations

import base64
import email.utils
import json
import re
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, quote_plus

import httpx

from connectors.base import AuthenticationError, ConnectorError, SourceUnreachableError, StreamNotFoundError

MASK = "***"
#: Secrets shorter than this are not masked: they would mask ordinary words.
MIN_SECRET_LENGTH = 3
_VENDOR_TEXT_LIMIT = 300
_URL_QUERY = re.compile(r"(https?://[^\s?#\"'<>]+)\?[^\s#\"'<>]*")

#: Reads the vendor's error text from a failed response's body (None when there is none); the
#: client masks secrets in it, then shortens it.
ErrorParser = Callable[[httpx.Response], "str | None"]


class Redactor:
    """Masks secret values, and URL query strings, in any text.

    Args:
        secrets: the values to mask, or a function returning them (called on
            each use, so tokens issued later are masked too).
    """

    def __init__(self, secrets: Callable[[], Iterable[str]] | Iterable[str] = ()) -> None:
        self._source = secrets if callable(secrets) else None
        self._fixed: set[str] = set() if callable(secrets) else set(secrets)
        self._lock = threading.Lock()

    def add(self, *values: str) -> None:
        """Masks these values too from now on."""
        with self._lock:
            self._fixed.update(v for v in values if v)

    def __call__(self, text: str) -> str:
        """The text with every secret form masked and query strings of URLs dropped."""
        with self._lock:
            values = set(self._fixed)
        if self._source is not None:
            values.update(self._source())
        forms = {form for value in values if len(value) >= MIN_SECRET_LENGTH for form in _forms(value)}
        for form in sorted(forms, key=len, reverse=True):
            text = text.replace(form, MASK)
        return _URL_QUERY.sub(r"\1?…", text)


def _forms(value: str) -> set[str]:
    """How a secret may show up in text: as is, URL-encoded, JSON-escaped or base64-encoded."""
    raw = value.encode("utf-8")
    encoded = {base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()}
    forms = {value, quote(value, safe=""), quote(value), quote_plus(value), json.dumps(value)[1:-1]}
    forms |= encoded | {form.rstrip("=") for form in encoded}
    return {form for form in forms if len(form) >= MIN_SECRET_LENGTH}


def url_for_message(url: httpx.URL | str) -> str:
    """``scheme://host[:port]/path``: the URL without query string, fragment or user info."""
    parsed = httpx.URL(str(url))
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.scheme}://{parsed.host}{port}{parsed.path}"


def vendor_error_text(response: httpx.Response) -> str | None:
    """The error text of a failed response's body, in the shapes vendors use.

    Salesforce ``[{"message", "errorCode"}]``, OData ``{"error": {"code", "message"}}``,
    OAuth ``{"error", "error_description"}``, Marketing Cloud ``{"message", "errorcode"}``,
    Adobe's API gateway ``{"error_code", "message"}``,
    ``{"errors": [...]}``, RFC 7807 ``{"title", "detail"}``, or the first line of a
    plain-text body. None for an empty body or an HTML page.
    """
    try:
        body: Any = response.json()
    except (ValueError, UnicodeDecodeError):
        text = response.text.strip()
        if not text or text.startswith("<"):
            return None
        return text.splitlines()[0]
    found = _text_of(body)
    return str(found) if found else None


def _text_of(body: Any) -> str | None:
    if isinstance(body, list):
        return _text_of(body[0]) if body else None
    if isinstance(body, str):
        return body
    if not isinstance(body, dict):
        return None
    error = body.get("error", body.get("odata.error"))
    if isinstance(error, dict):
        return _text_of(error)
    if isinstance(error, str):  # OAuth 2.0 (RFC 6749 section 5.2)
        description = body.get("error_description")
        return f"{error}: {description}" if description else error
    errors = body.get("errors")
    if isinstance(errors, list) and errors:
        return _text_of(errors[0])
    message = next((body[k] for k in ("message", "detail", "title", "errorMessage") if body.get(k)), None)
    if isinstance(message, dict):  # OData v3: {"message": {"lang": .., "value": ..}}
        message = message.get("value")
    codes = ("errorCode", "errorcode", "error_code", "code")
    code = next((body[k] for k in codes if body.get(k) not in (None, "")), None)
    if message is None:
        return None if code is None else str(code)
    return f"{code}: {message}" if code is not None else str(message)


def shorten(text: str) -> str:
    """The text on one line, cut to a few hundred characters (mask secrets before: a cut may split one)."""
    text = " ".join(text.split())
    return text if len(text) <= _VENDOR_TEXT_LIMIT else text[: _VENDOR_TEXT_LIMIT - 1] + "…"


def is_retriable_status(status: int) -> bool:
    """429 (rate limited), 408 (request timeout) and 5xx but 501 (not implemented) are worth retrying."""
    return status in (408, 429) or (500 <= status < 600 and status != 501)


def where(method: str, url: httpx.URL | str, page: int | None) -> str:
    """``GET https://host/path, page 3``: where a failure happened, without a query string."""
    return f"{method} {url_for_message(url)}" + (f", page {page}" if page else "")


def status_error(
    status: int,
    *,
    object_name: str,
    location: str,
    vendor_text: str | None,
    token_request: bool = False,
    attempts: int = 1,
    rate_limited: bool = False,
) -> ConnectorError:
    """The connector error of an HTTP failure status (the message is not yet redacted).

    ``rate_limited`` says the vendor meant "too many requests" whatever the status.
    """
    detail = f": {vendor_text}" if vendor_text else ""
    tried = f" after {attempts} attempts" if attempts > 1 else ""
    context = f"(HTTP {status}, {location}{tried}){detail}"
    if rate_limited:
        return SourceUnreachableError(f"{object_name}: the service kept rate-limiting requests {context}")
    if token_request and 400 <= status < 500 and status not in (408, 429):
        return AuthenticationError(f"{object_name}: the token endpoint refused the credentials {context}")
    if status == 401:
        return AuthenticationError(f"{object_name}: the service refused the credentials {context}")
    if status == 403:
        return AuthenticationError(
            f"{object_name}: access denied; the credentials lack a permission it needs {context}"
        )
    if status == 404:
        return StreamNotFoundError(f"{object_name}: not found {context}")
    if status == 429:
        return SourceUnreachableError(f"{object_name}: the service kept rate-limiting requests {context}")
    if status == 408 or status >= 500:
        return SourceUnreachableError(f"{object_name}: the service failed {context}")
    return ConnectorError(f"{object_name}: the service rejected the request {context}")


def transport_error(
    error: httpx.TransportError, *, object_name: str, location: str, attempts: int
) -> ConnectorError:
    """The connector error of a network failure (the message is not yet redacted)."""
    tried = f" after {attempts} attempts" if attempts > 1 else ""
    reason = str(error) or type(error).__name__
    if isinstance(error, httpx.UnsupportedProtocol):
        return ConnectorError(f"{object_name}: the URL must start with http:// or https:// ({location})")
    if isinstance(error, httpx.TimeoutException):
        what = "timed out"
    elif isinstance(error, httpx.ConnectError):
        what = "could not connect"
    else:
        what = "lost the connection"
    return SourceUnreachableError(
        f"{object_name}: {what} ({location}{tried}): {type(error).__name__}: {reason}"
    )


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delay-seconds or an HTTP date), or None."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
