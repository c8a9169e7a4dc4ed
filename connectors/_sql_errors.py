"""Driver exceptions as connector errors a person can act on, without a secret in them.

Drivers report the same failure in different words (psycopg, PyMySQL,
pymssql), so classification reads the SQLSTATE or error number when there is
one and the message otherwise. Every message is built from the target's
host, port, database and user, plus at most the driver's first line with the
configured secrets masked.
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass
from urllib.parse import quote, quote_plus

from sqlalchemy.exc import DBAPIError, NoSuchModuleError

from connectors.base import AuthenticationError, ConnectorError, SourceUnreachableError

_MASK = "***"
_DNS = re.compile(
    r"could not translate host name|failed to resolve host|name or service not known|nodename nor servname"
    r"|temporary failure in name resolution|no address associated|getaddrinfo|unknown (mysql server )?host"
    r"|errno -[235]\b",
    re.IGNORECASE,
)
_REFUSED = re.compile(r"connection refused|errno 111\b|\(111\)|actively refused|10061", re.IGNORECASE)
_TIMEOUT = re.compile(r"timeout expired|timed out|time-out|connection timeout|errno 110\b", re.IGNORECASE)
_AUTH = re.compile(
    r"password authentication failed|authentication failed|access denied for user|login failed"
    r"|no password supplied|role \".*\" does not exist|password is required",
    re.IGNORECASE,
)
_NO_DATABASE = re.compile(
    r"database \".*\" does not exist|unknown database|cannot open database", re.IGNORECASE
)
_SSL = re.compile(r"\bssl\b|\btls\b|certificate", re.IGNORECASE)
_LOST = re.compile(
    r"server closed the connection|terminating connection|lost connection"
    r"|connection (was )?(reset|lost|closed)"
    r"|broken pipe|gone away|consuming input failed|unexpected eof|connection is closed",
    re.IGNORECASE,
)
# pymssql says this for an unknown host and a refused port alike
_UNREACHABLE = re.compile(r"unavailable or does not exist", re.IGNORECASE)
_URL_PASSWORD = re.compile(r"(://[^/@:\s]*):[^/@\s]*@")
#: google-auth's errors when a token cannot be had (BigQuery): they quote the token service's answer.
_GOOGLE_AUTH_ERRORS = frozenset({"RefreshError", "TransportError", "DefaultCredentialsError", "OAuthError"})
_AUTH_CODES: set[str | int] = {"28P01", "28000", 1045, 1698, 18456}
_NO_DATABASE_CODES: set[str | int] = {"3D000", 1049, 1044, 4060}
_READ_ONLY_CODES: set[str | int] = {"25006", 1792}
_PERMISSION_CODES: set[str | int] = {"42501", 1142, 1143, 1044, 229}


@dataclass(frozen=True)
class Target:
    """What a connector connects to, as its messages name it; ``secrets`` are masked in any text."""

    title: str
    host: str | None = None
    port: int | None = None
    database: str | None = None
    username: str | None = None
    timeout_s: int | None = None
    secrets: tuple[str, ...] = ()

    @property
    def address(self) -> str:
        """``host:port``, or the database alone (a SQLite file, a BigQuery project)."""
        if self.host is None:
            return self.database or "(unknown)"
        return f"{self.host}:{self.port}" if self.port else self.host

    def redact(self, text: str) -> str:
        """The text with every secret, and any URL password, masked."""
        for secret in self.secrets:
            if len(secret) >= 3:
                for form in {secret, quote(secret, safe=""), quote_plus(secret)}:
                    text = text.replace(form, _MASK)
        return _URL_PASSWORD.sub(rf"\1:{_MASK}@", text)


def credential_failure(error: BaseException, target: Target) -> ConnectorError | None:
    """Why getting a cloud access token failed (BigQuery's service account), or None for another error.

    The token service's answer is never quoted, only its OAuth error code: a careless (or
    impersonated) one may echo the request it got, whose signed assertion is a credential.
    """
    for cause in _causes(error):
        name, module = type(cause).__name__, type(cause).__module__
        if module.startswith("google.auth") and name in _GOOGLE_AUTH_ERRORS:
            answer = _args(cause)[1] if len(_args(cause)) > 1 else None
            code = answer.get("error") if isinstance(answer, dict) else None
            said = f" ({code})" if isinstance(code, str) and re.fullmatch(r"[a-z_]{3,40}", code) else ""
            return AuthenticationError(
                f"Could not get a Google access token for {target.title} ({target.address}){said}: the "
                "service account key is wrong, disabled or deleted, or Google's token service is unreachable."
            )
    return None


def hides_cause(error: BaseException) -> bool:
    """Whether an error's text may hold a credential, so that it must not travel as a cause."""
    return any(type(cause).__module__.startswith("google.auth") for cause in _causes(error))


def connect_failure(error: BaseException, target: Target) -> ConnectorError:
    """Why connecting failed: unknown host, refused, timeout, login, database, TLS, or the driver's words."""
    if (failure := credential_failure(error, target)) is not None:
        return failure
    codes, text = _codes(error), _driver_text(error)
    where = f"{target.title} at {target.address}"
    if isinstance(error, NoSuchModuleError | ModuleNotFoundError | ImportError):
        return ConnectorError(f"The driver for {target.title} is not installed: {target.redact(str(error))}.")
    # before the login check: MySQL says "access denied" (1044) for a database the user may not see
    if codes & _NO_DATABASE_CODES or _NO_DATABASE.search(text):
        return ConnectorError(
            f"Database {target.database!r} does not exist on {where} "
            f"(or user {target.username!r} may not open it)."
        )
    if codes & _AUTH_CODES or _AUTH.search(text):
        return AuthenticationError(
            f"Authentication failed for user {target.username!r} on {where}: check the username and password."
        )
    if _DNS.search(text) or (
        _UNREACHABLE.search(text) and not _REFUSED.search(text) and not _resolves(target.host)
    ):
        return SourceUnreachableError(
            f"Unknown host {target.host!r}: the name does not resolve. Check the host name "
            "(and the VPN or DNS if it is a private name)."
        )
    if _REFUSED.search(text):
        return SourceUnreachableError(
            f"Connection refused by {target.address}: is {target.title} running on {target.address}, "
            "and does it accept TCP connections?"
        )
    if _TIMEOUT.search(text):
        return SourceUnreachableError(
            f"Timed out after {target.timeout_s} s connecting to {where}: check the host and port, "
            "and that no firewall drops the connection."
        )
    if "unable to open database file" in text:
        return ConnectorError(f"Cannot open {target.address}: the file does not exist or is not readable.")
    if _SSL.search(text):
        return ConnectorError(
            f"The TLS (SSL) handshake with {where} failed: {target.redact(text)}. Check ssl_mode."
        )
    if isinstance(error, OSError | DBAPIError):
        return SourceUnreachableError(f"Could not connect to {where}: {target.redact(text)}.")
    return ConnectorError(f"Could not connect to {where}: {type(error).__name__}: {target.redact(text)}.")


def read_failure(error: BaseException, target: Target, stream: str | None, rows: int = 0) -> ConnectorError:
    """Why reading failed once connected: a lost connection (retriable), a refused write, a permission..."""
    if (failure := credential_failure(error, target)) is not None:
        return failure
    codes, text = _codes(error), _driver_text(error)
    what = f"stream {stream!r}" if stream else "the catalog"
    where = f"{target.title} at {target.address}"
    invalidated = isinstance(error, DBAPIError) and error.connection_invalidated
    lost_state = any(isinstance(c, str) and c.startswith(("08", "57P")) for c in codes)
    if invalidated or lost_state or _LOST.search(text):
        after = f" after {rows} rows" if stream else ""
        return SourceUnreachableError(
            f"Lost the connection to {where} while reading {what}{after}: {target.redact(text)}. "
            "Run again to resume."
        )
    if codes & _READ_ONLY_CODES or re.search(r"read[- ]only transaction|data-modifying", text, re.IGNORECASE):
        return ConnectorError(
            f"The query of {what} tried to change data ({target.redact(text)}); queries only read: "
            "they run in a read-only transaction."
        )
    if codes & _PERMISSION_CODES or re.search(r"permission denied|command denied", text, re.IGNORECASE):
        return AuthenticationError(
            f"User {target.username!r} may not read {what} on {where}: {target.redact(text)}."
        )
    return ConnectorError(f"{target.title} could not read {what}: {target.redact(text)}.")


def _causes(error: BaseException) -> list[BaseException]:
    """The error and those it was raised from or during, nearest first."""
    found: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and all(current is not seen for seen in found):
        found.append(current)
        current = current.__cause__ or current.__context__
    return found


def _resolves(host: str | None) -> bool:
    """Whether a host name resolves (True when there is none to check)."""
    if not host:
        return True
    try:
        socket.getaddrinfo(host, None)
    except (OSError, UnicodeError):
        return False
    return True


def _codes(error: BaseException) -> set[str | int]:
    """The SQLSTATE and the error number (PyMySQL, pymssql) of a driver error, as far as it has them."""
    original = error.orig if isinstance(error, DBAPIError) else error
    codes: set[str | int] = set()
    sqlstate = getattr(original, "sqlstate", None)
    if isinstance(sqlstate, str):
        codes.add(sqlstate)
    args = _args(original)
    if args and isinstance(args[0], int):
        codes.add(args[0])
    return codes


def _args(error: BaseException | None) -> tuple[object, ...]:
    args = tuple(getattr(error, "args", ()))
    # pymssql wraps its (number, message) pair in a one-element tuple
    return args[0] if len(args) == 1 and isinstance(args[0], tuple) else args


def _driver_text(error: BaseException) -> str:
    """The driver's own message, on one line, without SQLAlchemy's statement and parameter dump."""
    original = error.orig if isinstance(error, DBAPIError) and error.orig is not None else error
    args = _args(original)
    if len(args) >= 2 and isinstance(args[0], int):  # PyMySQL/pymssql: (number, message)
        message = args[1].decode("utf-8", "replace") if isinstance(args[1], bytes) else str(args[1])
    else:
        message = str(original)
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    return " ".join(lines[:3])[:400] or type(original).__name__
