"""The HTTP layer the API connectors share: one client with auth, retries, paging and safe errors.

A vendor connector plugs three pieces into :class:`HttpClient`:

- an auth: API key, bearer, basic (``connectors._http_auth``), or an OAuth 2.0
  grant (``connectors._http_oauth``) whose token is cached and refreshed, also
  in the middle of paging;
- a paginator (``connectors._http_paging``) per stream;
- optionally an error parser: a function reading the vendor's error text from
  a failed response (the default, :func:`vendor_error_text`, knows Salesforce,
  OData, OAuth and the common shapes).

Then ``client.pages(path, paginator=..., records_path=..., object_name=...)``
yields pages and :func:`frames` (``connectors._http_records``) turns their
records into DataFrames (:func:`read_chunks`: into a read's chunks, with
stable columns and bookkeeping). Everything a connector needs is re-exported
here; a vendor connector subclasses ``connectors._http_connector.ApiConnector``,
which runs the four verbs over it::

    client = HttpClient(base_url, ClientCredentialsAuth(token_url, client_id, secret))
    pages = client.pages("/v1/contacts", paginator=CursorPaginator("next", "cursor"),
                         records_path="data", object_name="contacts")
    for chunk in frames((page.records for page in pages), chunk_size=50_000): ...

Retries (tenacity): connection errors, resets and timeouts, 408, 429 and 5xx
(not 501) are retried with exponential backoff, up to ``max_attempts`` tries;
a ``Retry-After`` (seconds or an HTTP date) on a 429 or 503 is waited instead,
capped at ``max_retry_after_s``. 400, 403, 404 and other 4xx are not retried.
A 401 on an OAuth auth fetches a new token and retries that request once;
a second 401 is an AuthenticationError at once. Error mapping and redaction:
``connectors._http_errors``. Logs (logger ``connectors.http``) are redacted
too, and the ``httpx`` logger's request lines lose their query strings.

Every connection goes through :class:`~connectors.network.GuardedTransport`,
so the network policy (``HttpSettings.network``) is checked on each request,
redirect hop, token request and next page; a next-page link to another host
(or from https to http) is refused unless that host is allowed by name.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

from connectors._http_auth import (
    ApiKeyAuth,
    BasicAuth,
    BearerTokenAuth,
    HttpAuth,
    NoAuth,
    OAuth2Auth,
    Token,
    TokenRequest,
)
from connectors._http_errors import (
    ErrorParser,
    Redactor,
    is_retriable_status,
    retry_after_seconds,
    shorten,
    status_error,
    transport_error,
    url_for_message,
    vendor_error_text,
    where,
)
from connectors._http_oauth import (
    ClientCredentialsAuth,
    JwtBearerAuth,
    PasswordGrantAuth,
    RefreshTokenAuth,
    sign_jwt_rs256,
)
from connectors._http_paging import (
    CursorPaginator,
    NextUrlPaginator,
    ODataPaginator,
    OffsetPaginator,
    Page,
    PageNumberPaginator,
    PageRequest,
    Paginator,
    SinglePage,
    find_records,
    find_value,
)
from connectors._http_records import Shape, aligned, frames, read_chunks, records_frame, with_origin
from connectors.base import ConnectorError, DestinationNotAllowedError, FormatError
from connectors.network import GuardedTransport, NetworkPolicy, denied_hop

__all__ = [
    "ApiKeyAuth",
    "BasicAuth",
    "BearerTokenAuth",
    "ClientCredentialsAuth",
    "CursorPaginator",
    "ErrorParser",
    "HttpAuth",
    "HttpClient",
    "HttpSettings",
    "JwtBearerAuth",
    "NextUrlPaginator",
    "NoAuth",
    "OAuth2Auth",
    "ODataPaginator",
    "OffsetPaginator",
    "Page",
    "PageNumberPaginator",
    "PageRequest",
    "Paginator",
    "PasswordGrantAuth",
    "Redactor",
    "RefreshTokenAuth",
    "Shape",
    "SinglePage",
    "Token",
    "TokenRequest",
    "aligned",
    "find_records",
    "find_value",
    "frames",
    "read_chunks",
    "records_frame",
    "retry_after_seconds",
    "sign_jwt_rs256",
    "url_for_message",
    "vendor_error_text",
    "with_origin",
]

log = logging.getLogger("connectors.http")
USER_AGENT = "Tributary/0.1 (+httpx)"
_RETRIED_TRANSPORT = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


@dataclass(frozen=True)
class HttpSettings:
    """Timeouts, retry policy and network policy of a client (the defaults suit vendor APIs)."""

    connect_timeout_s: float = 10.0
    read_timeout_s: float = 60.0
    #: Tries per request, the first included.
    max_attempts: int = 5
    #: The first backoff; it doubles on each retry up to ``backoff_max_s``.
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 30.0
    #: The longest ``Retry-After`` honoured; a longer one is cut to this.
    max_retry_after_s: float = 120.0
    verify_tls: bool = True
    #: Where requests may go; None: what ``TRIBUTARY_ALLOWED_NETWORKS`` allows.
    network: NetworkPolicy | None = None


@dataclass(frozen=True)
class _Call:
    """One logical request, as ``HttpClient.request`` was asked for it."""

    method: str
    url: str
    object_name: str
    params: Mapping[str, Any] | None
    headers: Mapping[str, str] | None
    json_body: Any
    form: Mapping[str, str] | None
    page: int | None
    authenticate: bool
    token_request: bool


class _Retriable(Exception):
    """A failure worth another try: the error to raise if none is left, and how long to wait."""

    def __init__(self, error: ConnectorError, retry_after: float | None = None) -> None:
        super().__init__(error.user_message)
        self.error, self.retry_after = error, retry_after


class HttpClient:
    """A synchronous JSON-over-HTTP client with auth, retries, paging and secret-free errors.

    Args:
        base_url: what relative request URLs resolve against (settable later:
            ``client.base_url = token_payload["instance_url"]``).
        auth: the credentials; ``NoAuth()`` by default.
        settings: timeouts and retry policy.
        headers: sent with every request.
        error_parser: reads a vendor's error text from a failed response.
        rate_limited: says whether a failed response means "too many requests" whatever
            its status (Salesforce's 403 REQUEST_LIMIT_EXCEEDED); such a response is
            retried like a 429 (honouring ``Retry-After``) and ends as a SourceUnreachableError.
        transport: an httpx transport (a seam for tests; by default the network, through
            the guarded transport that enforces ``settings.network``).
        sleep: how retries wait (a seam for tests).

    Raises:
        ConnectorError: ``base_url`` is not a valid URL.
        DestinationNotAllowedError: the environment's allowed networks are not valid.
    """

    def __init__(
        self,
        base_url: str = "",
        auth: HttpAuth | None = None,
        *,
        settings: HttpSettings | None = None,
        headers: Mapping[str, str] | None = None,
        error_parser: ErrorParser = vendor_error_text,
        rate_limited: Callable[[httpx.Response], bool] | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.auth = auth or NoAuth()
        self.settings = settings or HttpSettings()
        self.redact = Redactor(self.auth.secrets)
        self._error_parser = error_parser
        self._rate_limited = rate_limited
        self._sleep = sleep
        self.network = self.settings.network or NetworkPolicy.from_environment()
        try:
            self._http = httpx.Client(
                base_url=base_url,
                headers={"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})},
                timeout=httpx.Timeout(self.settings.read_timeout_s, connect=self.settings.connect_timeout_s),
                verify=self.settings.verify_tls,
                follow_redirects=True,
                transport=transport or GuardedTransport(self.network, self.settings.verify_tls),
            )
        except httpx.InvalidURL as error:
            raise ConnectorError(f"{_unparsed(base_url)} is not a valid URL: {error}.") from None

    @property
    def base_url(self) -> str:
        """What relative request URLs resolve against."""
        return str(self._http.base_url)

    @base_url.setter
    def base_url(self, url: str) -> None:
        self._http.base_url = httpx.URL(url)

    # -- requests --------------------------------------------------------------
    def request(
        self,
        method: str,
        url: str,
        *,
        object_name: str,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        json_body: Any = None,
        form: Mapping[str, str] | None = None,
        page: int | None = None,
        authenticate: bool = True,
        token_request: bool = False,
    ) -> httpx.Response:
        """Sends a request with auth, retries and at most one token refresh; returns a 2xx response.

        Args:
            object_name: what is being read, as messages name it (``Account``).
            page: the page number, for messages.
            authenticate: False for requests the auth itself makes (a token request).
            token_request: whether 4xx answers mean refused credentials.

        Raises:
            ConnectorError: a subclass as ``connectors._http_errors`` maps failures; its
                message never holds a secret.
        """
        call = _Call(
            method, url, object_name, params, headers, json_body, form, page, authenticate, token_request
        )
        refreshed: list[bool] = []  # at most one refresh per request, whatever the retries
        try:
            retrying = Retrying(
                stop=stop_after_attempt(self.settings.max_attempts),
                wait=self._wait,
                retry=retry_if_exception_type(_Retriable),
                sleep=self._sleep,
                before_sleep=self._log_retry,
                reraise=True,
            )
            for attempt in retrying:
                with attempt:
                    response = self._send_once(call, refreshed)
                    return self._checked(response, call, attempt.retry_state.attempt_number)
        except _Retriable as exhausted:
            raise self._redacted(exhausted.error) from None
        except ConnectorError as error:
            raise self._redacted(error) from None
        raise AssertionError("unreachable: tenacity either returns or raises")  # pragma: no cover

    def get_json(
        self,
        url: str,
        *,
        object_name: str,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        page: int | None = None,
    ) -> Any:
        """GETs ``url`` and parses its JSON body (None for an empty body).

        Raises:
            FormatError: the body is not JSON; the message names the object, the URL path and the page.
        """
        response = self.request(
            "GET", url, object_name=object_name, params=params, headers=headers, page=page
        )
        return self._json(response, object_name, page)

    def pages(
        self,
        url: str,
        *,
        object_name: str,
        paginator: Paginator | None = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        records_path: str | None = None,
    ) -> Iterator[Page]:
        """Yields the pages of a collection, in order, following ``paginator`` (one page without one).

        A 401 on page N refreshes the token and reads page N again. Stops with a
        FormatError if the paginator asks for the same page twice in a row.
        """
        paginator = paginator or SinglePage()
        request: PageRequest | None = paginator.first_request(
            PageRequest(url, dict(params or {}), dict(headers or {}))
        )
        number = 1
        while request is not None:
            response = self.request(
                "GET",
                request.url,
                object_name=object_name,
                params=request.params,
                headers=request.headers,
                page=number,
            )
            body = self._json(response, object_name, number)
            page = Page(
                number,
                request,
                str(response.url),
                body,
                response.headers,
                find_records(body, records_path),
                {str(rel): link for rel, link in response.links.items()},
            )
            yield page
            following = paginator.next_request(page)
            if following == request:
                raise self._redacted(
                    FormatError(
                        f"{object_name}: the pagination does not advance "
                        f"({where('GET', response.url, number)} asks for itself again)."
                    )
                )
            if following is not None:
                self._check_hop(response.url, following.url, object_name, number + 1)
            request, number = following, number + 1

    def fetch_token(
        self,
        url: str,
        *,
        form: Mapping[str, str] | None = None,
        json_body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Mapping[str, Any]:
        """POSTs a token request (retried like any request) and returns the JSON object it answers.

        A bare JSON string answer (Adobe Commerce's admin token) is read as ``{"access_token": <string>}``.
        """
        response = self.request(
            "POST",
            url,
            object_name="signing in",
            form=form,
            json_body=json_body,
            headers=headers,
            authenticate=False,
            token_request=True,
        )
        payload = self._json(response, "signing in", None)
        if isinstance(payload, str) and payload:
            payload = {"access_token": payload}
        if not isinstance(payload, dict):
            raise self._redacted(
                FormatError(
                    f"signing in: the token endpoint {url_for_message(url)} did not answer a JSON object."
                )
            )
        return payload

    def token_payload(self) -> Mapping[str, Any]:
        """The OAuth token response (fetched now if needed), whole; empty for other auths."""
        if not isinstance(self.auth, OAuth2Auth):
            return {}
        try:
            return self.auth.token(self).payload
        except ConnectorError as error:
            raise self._redacted(error) from None

    def close(self) -> None:
        """Closes the connection pool."""
        self._http.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    # -- helpers ---------------------------------------------------------------
    def _check_hop(self, current: httpx.URL, link: str, object_name: str, number: int) -> None:
        """Refuses a next-page link the server sent to another host (or down to http), unless allowed."""
        try:
            following = httpx.URL(link)
        except httpx.InvalidURL:
            return  # the request itself reports it
        if not following.is_absolute_url:
            return  # relative to the base URL the connection configured
        reason = denied_hop(current, following, self.network)
        if reason:
            raise self._redacted(
                DestinationNotAllowedError(
                    f"{object_name}: not following the link to page {number} "
                    f"({url_for_message(str(following))}): {reason}. Next-page links are followed on "
                    "the API's own host only; if this host is the API's too, an admin can allow it by "
                    "name in security.allowed_networks (or TRIBUTARY_ALLOWED_NETWORKS)."
                )
            )

    def _send_once(self, call: _Call, refreshed: list[bool]) -> httpx.Response:
        """One try: the response, after one token refresh if the first answer was a 401."""
        while True:
            try:
                request = self._http.build_request(
                    call.method,
                    call.url,
                    params=dict(call.params) if call.params else None,
                    headers=call.headers,
                    json=call.json_body,
                    data=call.form,
                )
            except httpx.InvalidURL as error:
                raise ConnectorError(
                    f"{call.object_name}: {_unparsed(call.url)} is not a valid URL: {error}."
                ) from None
            if call.authenticate:
                try:
                    self.auth.apply(request, self)
                except ConnectorError as error:
                    raise type(error)(f"{call.object_name}: {error.user_message}") from None
            location = where(call.method, request.url, call.page)
            try:
                response = self._http.send(request)
            except httpx.TransportError as error:
                failure = transport_error(error, object_name=call.object_name, location=location, attempts=1)
                if isinstance(error, _RETRIED_TRANSPORT):
                    raise _Retriable(failure) from None
                raise failure from None
            if response.status_code == 401 and call.authenticate and self.auth.refreshable and not refreshed:
                refreshed.append(True)
                log.info(
                    "%s: HTTP 401 at %s; fetching a new token and trying once more",
                    call.object_name,
                    location,
                )
                self.auth.invalidate()
                continue
            return response

    def _checked(self, response: httpx.Response, call: _Call, attempt: int) -> httpx.Response:
        if response.is_success:
            return response
        status = response.status_code
        limited = self._rate_limited is not None and self._rate_limited(response)
        error = status_error(
            status,
            object_name=call.object_name,
            location=where(call.method, response.request.url, call.page),
            vendor_text=self._vendor_text(response),
            token_request=call.token_request,
            attempts=attempt,
            rate_limited=limited,
        )
        if limited or is_retriable_status(status):
            raise _Retriable(error, retry_after_seconds(response.headers.get("retry-after")))
        raise error

    def _vendor_text(self, response: httpx.Response) -> str | None:
        text = self._error_parser(response)
        return shorten(self.redact(text)) if text else None

    def _json(self, response: httpx.Response, object_name: str, page: int | None) -> Any:
        if not response.content:
            return None
        try:
            return json.loads(response.content)
        except (ValueError, UnicodeDecodeError) as error:
            raise self._redacted(
                FormatError(
                    f"{object_name}: {where(response.request.method, response.url, page)} "
                    f"answered HTTP {response.status_code} with a body that is not valid JSON ({error})."
                )
            ) from None

    def _wait(self, state: RetryCallState) -> float:
        failure = state.outcome.exception() if state.outcome else None
        if isinstance(failure, _Retriable) and failure.retry_after is not None:
            return min(failure.retry_after, self.settings.max_retry_after_s)
        backoff = self.settings.backoff_initial_s * 2 ** (state.attempt_number - 1)
        return min(backoff, self.settings.backoff_max_s)

    def _log_retry(self, state: RetryCallState) -> None:
        failure = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        log.warning(
            "%s; try %d of %d in %.1f s",
            self.redact(str(failure)),
            state.attempt_number + 1,
            self.settings.max_attempts,
            wait,
        )

    def _redacted(self, error: ConnectorError) -> ConnectorError:
        """The same kind of error with every secret masked in its message."""
        return type(error)(self.redact(error.user_message))


def _unparsed(url: str) -> str:
    """A URL httpx cannot parse, as messages show it: without user info, query string or fragment."""
    return re.sub(r"//[^/?#]*@", "//", re.split(r"[?#]", url, maxsplit=1)[0])


class _NoQueryStrings(logging.Filter):
    """httpx logs each request's URL at INFO; its query string may carry an API key."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                arg.copy_with(query=None) if isinstance(arg, httpx.URL) and arg.query else arg
                for arg in record.args
            )
        return True


if not any(isinstance(f, _NoQueryStrings) for f in logging.getLogger("httpx").filters):
    logging.getLogger("httpx").addFilter(_NoQueryStrings())
