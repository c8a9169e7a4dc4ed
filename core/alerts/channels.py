"""Where alerts go: a webhook (Slack-compatible JSON) or email over SMTP, and how each is sent.

Each kind is a pydantic model with one ``SecretStr`` (the webhook URL, whose
path is the credential, or the SMTP password) that the store keeps encrypted.
Senders raise :class:`DeliveryError`; its text goes through the channel's
:meth:`~ChannelSettings.scrub` before anyone sees or stores it.

A webhook is posted under the workspace's outbound network policy (the one of
HTTP sources, :mod:`connectors.network`): an address on this machine, the
link-local range or a private network is refused unless an admin allowed it,
redirects included. SMTP servers are internal as a rule and are not checked.
"""

from __future__ import annotations

import base64
import json
import smtplib
import ssl
from abc import abstractmethod
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, ClassVar, Literal
from urllib.parse import parse_qsl, urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, field_validator

from connectors.base import DestinationNotAllowedError
from connectors.network import GuardedTransport, NetworkPolicy

#: What a secret looks like wherever it would otherwise be shown.
MASK = "********"
#: Path segments and query values at least this long are treated as credentials when scrubbing.
_TOKEN_LENGTH = 6


class DeliveryError(Exception):
    """Sending failed; ``reason`` is ours, ``detail`` is what the server or network said."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


class ChannelSettings(BaseModel):
    """Common to every channel kind: the name of its secret field, and scrubbing."""

    model_config = ConfigDict(extra="forbid")

    secret_field: ClassVar[str]

    def secret_values(self) -> list[str]:
        """Every string that must never be shown (the secret, and the forms it travels in)."""
        secret = getattr(self, self.secret_field)
        return [secret.get_secret_value()] if secret is not None else []

    def scrub(self, text: str) -> str:
        """``text`` with every secret value replaced by the mask."""
        for value in sorted(self.secret_values(), key=len, reverse=True):
            if value:
                text = text.replace(value, MASK)
        return text

    def explain(self, error: DeliveryError) -> str:
        """What went wrong, in words scrubbed of this channel's secrets."""
        detail = self.scrub(error.detail)[:500]
        return self.scrub(f"{error.reason}: {detail}" if detail else error.reason)

    @abstractmethod
    def target(self) -> str:
        """Where it sends, in words that hold no secret."""

    @abstractmethod
    def send(self, payload: dict[str, Any]) -> None:
        """Delivers one alert; raises DeliveryError."""


class WebhookChannel(ChannelSettings):
    """A Slack-compatible incoming webhook: the alert is POSTed as JSON with a ``text`` key."""

    secret_field: ClassVar[str] = "url"

    url: SecretStr = Field(
        description="The incoming-webhook address, e.g. https://hooks.slack.com/services/…; "
        "stored encrypted, since whoever has it can post."
    )
    timeout_s: float = Field(default=10.0, gt=0, le=120, description="Seconds to wait for the server.")
    #: Where the webhook may be: the workspace's policy (see ``under``); else the environment's.
    _network: NetworkPolicy | None = PrivateAttr(default=None)

    def under(self, policy: NetworkPolicy) -> WebhookChannel:
        """These settings, posted under ``policy`` (the workspace's outbound network policy)."""
        self._network = policy
        return self

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: SecretStr) -> SecretStr:
        parts = urlsplit(value.get_secret_value().strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// address")
        return SecretStr(value.get_secret_value().strip())

    def secret_values(self) -> list[str]:
        url = self.url.get_secret_value()
        parts = urlsplit(url)
        values = [url, parts.path, parts.query, parts.password or ""]
        values += [segment for segment in parts.path.split("/") if len(segment) >= _TOKEN_LENGTH]
        values += [value for _, value in parse_qsl(parts.query) if len(value) >= _TOKEN_LENGTH]
        return [value for value in values if len(value) > 1]

    def target(self) -> str:
        parts = urlsplit(self.url.get_secret_value())
        host = parts.hostname or ""
        return f"{parts.scheme}://{host}{f':{parts.port}' if parts.port else ''}/…"

    def send(self, payload: dict[str, Any]) -> None:
        # Through the transport alone: no client logs the request line, whose path is the secret;
        # and no redirect is followed (an answer elsewhere is the webhook's to fix).
        request = httpx.Request(
            "POST",
            self.url.get_secret_value(),
            content=json.dumps(payload, default=str).encode("utf-8"),
            headers={"Content-Type": "application/json", "User-Agent": "Tributary-alerts"},
            extensions={"timeout": httpx.Timeout(self.timeout_s).as_dict()},
        )
        try:
            with GuardedTransport(self._network or NetworkPolicy.from_environment()) as transport:
                response = transport.handle_request(request)
                try:
                    answer = b"".join(_first_bytes(response, 300))
                finally:
                    response.close()
        except DestinationNotAllowedError as error:
            raise DeliveryError("the webhook's address is not allowed", error.user_message) from None
        except (httpx.HTTPError, OSError, ValueError) as error:  # timeouts, resets, malformed responses
            raise DeliveryError(
                "the webhook could not be reached", str(error) or type(error).__name__
            ) from None
        if response.status_code >= 300:
            moved = " (a redirect, not followed: give the final address)" if response.is_redirect else ""
            text = answer.decode("utf-8", "replace").strip()
            raise DeliveryError(f"the webhook answered HTTP {response.status_code}{moved}", text)


def _first_bytes(response: httpx.Response, limit: int) -> list[bytes]:
    """At most ``limit`` bytes of a response's body: a webhook's answer is only ever quoted."""
    parts, size = [], 0
    for part in response.iter_bytes():
        parts.append(part[: limit - size])
        size += len(parts[-1])
        if size >= limit:
            break
    return parts


class EmailChannel(ChannelSettings):
    """Email through an SMTP server, in plain text."""

    secret_field: ClassVar[str] = "password"

    host: str = Field(description="The SMTP server, e.g. smtp.example.com.")
    port: int = Field(default=587, ge=1, le=65535, description="587 for STARTTLS, 465 for TLS, 25 plain.")
    security: Literal["starttls", "tls", "none"] = Field(
        default="starttls", description="starttls upgrades a plain connection; tls connects encrypted."
    )
    username: str | None = Field(default=None, description="Leave empty when the server needs no login.")
    password: SecretStr | None = Field(default=None, description="Stored encrypted.")
    sender: str = Field(description="The From address, e.g. tributary@example.com.")
    recipients: list[str] = Field(min_length=1, description="Addresses, separated by commas.")
    timeout_s: float = Field(default=30.0, gt=0, le=300, description="Seconds to wait for the server.")

    @field_validator("recipients", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.replace(";", ",").split(",")
        if isinstance(value, list):
            return [str(item).strip() for item in value if str(item).strip()]
        return value

    @field_validator("sender", "recipients")
    @classmethod
    def _addresses(cls, value: Any) -> Any:
        for address in [value] if isinstance(value, str) else value:
            if "@" not in address or any(ch.isspace() for ch in address):
                raise ValueError(f"{address!r} is not an email address")
        return value

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the SMTP server is required")
        return value.strip()

    def secret_values(self) -> list[str]:
        if self.password is None:
            return []
        password = self.password.get_secret_value()
        # AUTH LOGIN and AUTH PLAIN carry the password base64-encoded; a server may echo them.
        plain = f"\0{self.username or ''}\0{password}".encode()
        return [password, base64.b64encode(password.encode()).decode(), base64.b64encode(plain).decode()]

    def target(self) -> str:
        return f"{', '.join(self.recipients)} via {self.host}:{self.port}"

    def send(self, payload: dict[str, Any]) -> None:
        message = _email(payload, self.sender, self.recipients)
        context = ssl.create_default_context()
        try:
            if self.security == "tls":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout_s, context=context
                )
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout_s)
            with smtp:
                if self.security == "starttls":
                    smtp.starttls(context=context)
                if self.username:
                    password = self.password.get_secret_value() if self.password else ""
                    smtp.login(self.username, password)
                smtp.send_message(message)
        except smtplib.SMTPResponseException as error:
            said = error.smtp_error.decode("utf-8", "replace") if isinstance(error.smtp_error, bytes) else ""
            raise DeliveryError(f"the mail server refused ({error.smtp_code})", said) from None
        except smtplib.SMTPRecipientsRefused as error:
            refused = ", ".join(sorted(error.recipients))
            raise DeliveryError("the mail server refused every recipient", refused) from None
        except smtplib.SMTPException as error:
            raise DeliveryError("the mail server failed", str(error)) from None
        except OSError as error:  # refused, unreachable, timeouts, TLS failures
            raise DeliveryError(
                "the mail server could not be reached", str(error) or type(error).__name__
            ) from None


def _email(payload: dict[str, Any], sender: str, recipients: list[str]) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = f"[Tributary] {payload.get('title') or payload.get('event')}"
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="tributary.local")
    lines = [str(payload.get("summary", "")), ""]
    for label, key in [
        ("Event", "event"),
        ("Dataflow", "dataflow"),
        ("Run", "run_id"),
        ("Status", "status"),
        ("When", "occurred_at"),
        ("Open", "link"),
    ]:
        if payload.get(key) is not None:
            lines.append(f"{label}: {payload[key]}")
    message.set_content("\n".join(lines))
    return message


#: Channel kind -> its settings model (the same model validates, stores and renders the form).
KINDS: dict[str, type[ChannelSettings]] = {"webhook": WebhookChannel, "email": EmailChannel}
