"""A fake HTTP API on 127.0.0.1 for connector tests: routes, recorded requests, scripted faults.

:class:`FakeApi` is a stdlib ``ThreadingHTTPServer`` (HTTP/1.1, keep-alive)
on a free loopback port. It listens as soon as it is built, so a test never
waits for it. A test (or a vendor fake built on it) declares:

- **routes**: ``api.route("GET", "/v1/contacts", handler)``; the path is exact
  or a compiled regex (full match; its groups are in ``request.match``). A
  handler takes the :class:`Recorded` request and returns a :class:`Reply`, or
  any JSON value (sent with 200). No route: 404.
- **tokens**: :class:`Tokens` issues bearer tokens at a token route
  (``api.token_route("/oauth/token", tokens)``) and guards routes
  (``guard=tokens.guard``). ``Tokens(uses=2)`` issues tokens good for two
  requests (the third gets the 401 of ``tokens.unauthorized``: an expired
  session), ``tokens.expire_after(n)`` does so for the tokens already issued,
  ``tokens.reject_all = True`` refuses every token (revoked credentials).
- **faults**: ``api.inject(Reply(503), path="/v1/contacts", times=1)`` answers
  the next matching request with the fault instead of the route; ``after=N``
  lets N matching requests through first, ``times=None`` repeats it forever.
  A :class:`Reply` can be slow (``delay_s``), drop the connection
  (``drop=True``), or carry a malformed body (``body=b'{"records": ['``).

Every request is recorded (``api.requests``, ``api.requests_to(path)``) with
method, path, query, headers, body and arrival time (``time.monotonic``), so
tests assert what was sent, how often and how far apart. Vendor fakes
(Salesforce, Dynamics, Marketing Cloud) subclass :class:`FakeApi` or add
their routes to one in a function.

Use the ``fake_api`` fixture (import it: ``from tests.http_servers import
fake_api as fake_api``), or ``with FakeApi() as api: ...``.
"""

from __future__ import annotations

import itertools
import json
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

__all__ = ["FakeApi", "Fault", "Recorded", "Reply", "Tokens", "fake_api"]

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Recorded:
    """A request the fake API received."""

    method: str
    path: str
    query: Mapping[str, list[str]]
    headers: Mapping[str, str]  # names in lower case
    body: bytes
    at: float  # time.monotonic() on arrival
    match: re.Match[str] | None = None

    @property
    def params(self) -> dict[str, str]:
        """The query parameters, first value of each."""
        return {name: values[0] for name, values in self.query.items()}

    def header(self, name: str) -> str | None:
        """A request header (case-insensitive), or None."""
        return self.headers.get(name.lower())

    def form(self) -> dict[str, str]:
        """The body as a URL-encoded form, first value of each field."""
        return {k: v[0] for k, v in parse_qs(self.body.decode("utf-8"), keep_blank_values=True).items()}

    def json(self) -> Any:
        """The body as JSON."""
        return json.loads(self.body)


@dataclass(frozen=True)
class Reply:
    """What the fake API answers.

    Attributes:
        status: the HTTP status.
        body: bytes or str are sent as they are; any other value as JSON (None: no body).
        headers: more response headers.
        delay_s: wait this long before answering (a slow server, a read timeout).
        drop: close the connection without answering (a reset).
    """

    status: int = 200
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    drop: bool = False


Handler = Callable[[Recorded], Any]
Guard = Callable[[Recorded], "Reply | None"]


@dataclass
class Fault:
    """A scripted answer that takes the place of the route for matching requests."""

    reply: Reply | Handler
    method: str | None = None
    path: str | re.Pattern[str] | None = None
    after: int = 0  # matching requests let through first
    times: int | None = 1  # answers left; None: forever
    when: Callable[[Recorded], bool] | None = None

    def matches(self, request: Recorded) -> bool:
        return (
            (self.method is None or self.method == request.method)
            and (self.path is None or _path_match(self.path, request.path) is not None)
            and (self.when is None or self.when(request))
        )


class Tokens:
    """Bearer tokens a fake API issues and checks.

    Args:
        prefix: issued tokens are ``<prefix>1``, ``<prefix>2``...
        expires_in: sent in token responses (None: left out, as Salesforce does).
        uses: how many requests each token is good for (None: until ``expire_after`` or ``reject_all``).
        extra: more fields of each token response (``instance_url``...).
        unauthorized: the 401 answered for a missing, expired or refused token
            (a vendor fake sets its own error body).
    """

    def __init__(
        self,
        prefix: str = "access-token-",
        expires_in: int | None = 3600,
        uses: int | None = None,
        extra: Mapping[str, Any] | None = None,
        unauthorized: Reply | None = None,
    ) -> None:
        self.prefix, self.expires_in, self.uses, self.extra = prefix, expires_in, uses, dict(extra or {})
        self.unauthorized = unauthorized or Reply(
            401, {"error": "invalid_token", "error_description": "The access token expired"}
        )
        self.issued: list[str] = []
        self.reject_all = False
        self._valid: dict[str, int | None] = {}  # token -> uses left (None: unlimited)
        self._lock = threading.Lock()
        self._numbers = itertools.count(1)

    def issue(self) -> dict[str, Any]:
        """A new token, as a token response payload."""
        with self._lock:
            token = f"{self.prefix}{next(self._numbers)}"
            self.issued.append(token)
            self._valid[token] = self.uses
        payload: dict[str, Any] = {"access_token": token, "token_type": "Bearer", **self.extra}
        if self.expires_in is not None:
            payload["expires_in"] = self.expires_in
        return payload

    def expire_after(self, uses: int) -> None:
        """The tokens issued so far stop working after ``uses`` more accepted requests."""
        with self._lock:
            for token in self._valid:
                self._valid[token] = uses

    def guard(self, request: Recorded) -> Reply | None:
        """None when the request carries a valid bearer token, else the 401 reply."""
        scheme, _, token = (request.header("authorization") or "").partition(" ")
        with self._lock:
            left = self._valid.get(token, 0) if scheme.lower() == "bearer" else 0
            if self.reject_all or left == 0:
                return self.unauthorized
            if left is not None:
                self._valid[token] = left - 1
        return None


class FakeApi:
    """A fake HTTP API on a free 127.0.0.1 port; see the module docstring."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._routes: list[tuple[str, str | re.Pattern[str], Handler, Guard | None]] = []
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._server = _Server((HOST, 0), _handler_class(self))
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://{HOST}:{self._server.server_address[1]}"

    def url(self, path: str) -> str:
        """The absolute URL of a path on this server."""
        return self.base_url + path

    # -- declaring -------------------------------------------------------------
    def route(
        self, method: str, path: str | re.Pattern[str], handler: Handler, *, guard: Guard | None = None
    ) -> None:
        """Answers ``method path`` with ``handler``; ``guard`` may answer first (a 401)."""
        with self._lock:
            self._routes.append((method.upper(), path, handler, guard))

    def token_route(
        self, path: str, tokens: Tokens, check: Callable[[Recorded], Reply | None] | None = None
    ) -> None:
        """A token endpoint (POST) issuing ``tokens``; ``check`` may refuse the grant (a 400)."""

        def issue(request: Recorded) -> Any:
            refused = check(request) if check else None
            return refused or tokens.issue()

        self.route("POST", path, issue)

    def inject(
        self,
        reply: Reply | Handler,
        *,
        method: str | None = None,
        path: str | re.Pattern[str] | None = None,
        after: int = 0,
        times: int | None = 1,
        when: Callable[[Recorded], bool] | None = None,
    ) -> Fault:
        """Answers matching requests with ``reply`` instead of their route; see :class:`Fault`."""
        fault = Fault(reply, method.upper() if method else None, path, after, times, when)
        with self._lock:
            self._faults.append(fault)
        return fault

    # -- inspecting ------------------------------------------------------------
    def requests_to(
        self, path: str | re.Pattern[str] | None = None, method: str | None = None
    ) -> list[Recorded]:
        """The recorded requests to a path (exact or regex) and/or with a method, in order."""
        with self._lock:
            found = list(self.requests)
        return [
            r
            for r in found
            if (path is None or _path_match(path, r.path) is not None)
            and (method is None or r.method == method)
        ]

    # -- running ---------------------------------------------------------------
    def start(self) -> FakeApi:
        """Serves in a daemon thread (the socket already listens)."""
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stops serving and closes the socket."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()

    def __enter__(self) -> FakeApi:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- answering -------------------------------------------------------------
    def answer(self, request: Recorded) -> Reply:
        """The reply to a request: a fault, else the route's guard, else its handler, else 404."""
        with self._lock:
            self.requests.append(request)
            fault = self._take_fault(request)
            routes = list(self._routes)
        if fault is not None:
            return _as_reply(fault.reply(request) if callable(fault.reply) else fault.reply)
        for method, path, handler, guard in routes:
            match = _path_match(path, request.path)
            if method == request.method and match is not None:
                request = replace(request, match=match)
                refused = guard(request) if guard else None
                return refused if refused is not None else _as_reply(handler(request))
        return Reply(404, {"error": {"code": "NotFound", "message": f"no route for {request.path}"}})

    def _take_fault(self, request: Recorded) -> Fault | None:
        for fault in self._faults:
            if fault.times == 0 or not fault.matches(request):
                continue
            if fault.after > 0:
                fault.after -= 1
                continue
            if fault.times is not None:
                fault.times -= 1
            return fault
        return None


def _path_match(pattern: str | re.Pattern[str], path: str) -> re.Match[str] | None:
    if isinstance(pattern, re.Pattern):
        return pattern.fullmatch(path)
    return re.fullmatch(re.escape(pattern), path)


def _as_reply(value: Any) -> Reply:
    return value if isinstance(value, Reply) else Reply(200, value)


def _handler_class(api: FakeApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            at = time.monotonic()
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            request = Recorded(
                self.command,
                parts.path,
                parse_qs(parts.query, keep_blank_values=True),
                {name.lower(): value for name, value in self.headers.items()},
                body,
                at,
            )
            reply = api.answer(request)
            if reply.delay_s:
                time.sleep(reply.delay_s)  # the server is slow on purpose
            if reply.drop:
                self.close_connection = True
                return
            if isinstance(reply.body, bytes | str):
                content = reply.body.encode("utf-8") if isinstance(reply.body, str) else reply.body
                kind = "application/json"
            elif reply.body is None:
                content, kind = b"", "application/json"
            else:
                content, kind = json.dumps(reply.body).encode("utf-8"), "application/json"
            self.send_response(reply.status)
            headers = {"Content-Type": kind, **reply.headers, "Content-Length": str(len(content))}
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(content)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            pass

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client gone mid-answer (a timeout test) is expected; anything else is printed."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@pytest.fixture
def fake_api() -> Iterator[FakeApi]:
    """A started :class:`FakeApi`, stopped after the test."""
    with FakeApi() as api:
        yield api
