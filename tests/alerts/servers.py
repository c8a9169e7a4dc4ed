"""Real local servers for alert delivery: a webhook receiver (http.server) and an SMTP server (aiosmtpd)."""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


@dataclass
class Webhook:
    """A webhook receiver: records each POST, answers with the next scripted status (then 200)."""

    server: ThreadingHTTPServer
    statuses: list[int] = field(default_factory=list)
    delay_s: float = 0.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, token: str) -> str:
        """A Slack-like webhook address whose last part is the secret token."""
        return f"{self.base}/services/T0ALERTS/B0TRIBUTARY/{token}"


def _handler(hook: Webhook) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            time.sleep(hook.delay_s)  # a slow server widens any window for a double send
            with hook.lock:
                hook.requests.append(json.loads(body))
                hook.paths.append(self.path)
                status = hook.statuses.pop(0) if hook.statuses else 200
            # Like some real servers, an error echoes the address it was called on.
            text = b"ok" if status < 400 else f"no service at {self.path}".encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            self.wfile.write(text)

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            pass

    return Handler


def start_webhook() -> Webhook:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    hook = Webhook(server)
    server.RequestHandlerClass = _handler(hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return hook


class _Inbox:
    """aiosmtpd handler: keeps each message received."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.envelopes: list[tuple[str, list[str]]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


@dataclass
class Mailbox:
    """A local SMTP server; with ``password`` set it requires that login (over plain text, for tests)."""

    controller: Controller
    inbox: _Inbox
    port: int

    @property
    def messages(self) -> list[Message]:
        return self.inbox.messages


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_mailbox(username: str | None = None, password: str | None = None) -> Mailbox:
    inbox = _Inbox()
    kwargs: dict[str, Any] = {}
    if password is not None:

        def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
            ok = isinstance(data, LoginPassword) and (data.login.decode(), data.password.decode()) == (
                username,
                password,
            )
            return AuthResult(success=ok, handled=False)  # aiosmtpd answers 235 or 535 itself

        kwargs = {"authenticator": authenticator, "auth_require_tls": False, "auth_required": True}
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    return Mailbox(controller, inbox, port)
