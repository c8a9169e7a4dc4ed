"""One redaction path for the secrets a connection carries: the forms they travel in, and every log record.

A secret reaches text in more shapes than its own: URL-encoded in a query
string or a form, escaped in JSON or XML, base64-encoded, or as a piece of itself
(a line of a PEM key, the ``AccountKey=`` value of a connection string, the
``sig=`` of a SAS token, a string of a service-account JSON).
:func:`secret_forms` lists them and :class:`SecretMasker` masks them all in a
text; the engine masks run errors and check messages with it (every connector
also masks its own messages, nearer the source).

Libraries log what they send at DEBUG (botocore its canonical request and
headers, with the session token; s3fs the store's error body, which may quote
them back), and sometimes an error with its traceback. :func:`guard_logs`
closes that path for every library at once: while a connector lives, every
log record the process makes, by any logger at any level, is created with
that connector's secrets masked in its message, its traceback and its stack
(a ``logging`` record factory, which runs before any handler, filter or
formatter sees the record). ``Connector.__init__`` registers each connector.
"""

from __future__ import annotations

import base64
import contextlib
import html
import json
import logging
import re
import threading
import traceback
import weakref
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus, unquote, urlsplit

from pydantic import BaseModel, SecretStr

MASK = "***"
#: Secrets shorter than this are not masked: they would mask ordinary words.
MIN_SECRET_LENGTH = 3
#: Lines of a PEM key at least this long are masked on their own.
_MIN_PIECE = 12
#: Keys whose values are secret, in ``key=value`` text and JSON key files (``token_uri`` is not).
_SECRET_KEY = re.compile(r"key|sig|secret|passw|pwd|token(?!_uri)|credential", re.IGNORECASE)
_PEM = re.compile(r"-----BEGIN [A-Z0-9 ]+-----(.*?)-----END [A-Z0-9 ]+-----", re.DOTALL)


def secret_values(model: BaseModel) -> list[str]:
    """The text of every ``SecretStr`` of a config model, nested models and lists included."""
    found: list[str] = []

    def visit(value: Any) -> None:
        if isinstance(value, SecretStr):
            found.append(value.get_secret_value())
        elif isinstance(value, BaseModel):
            for name in type(value).model_fields:
                visit(getattr(value, name))
        elif isinstance(value, list | tuple | set | frozenset):
            for item in value:
                visit(item)
        elif isinstance(value, dict):
            for item in value.values():
                visit(item)

    visit(model)
    return [value for value in found if value.strip()]


def secret_forms(value: str) -> set[str]:
    """A secret and every form a library may show it in (only those long enough to mask safely).

    Of a structured secret, the secret parts are masked on their own too, and only they: a URL's
    password, the lines of a PEM key, the secret values of ``key=value;...`` text (a connection
    string's ``AccountKey``, a SAS token's ``sig``) and of a JSON key file (``private_key``,
    ``client_secret``...). Its other parts (an account name, an endpoint, a project) stay readable.
    """
    pieces = {value, value.strip()} | _secret_parts(value)
    pieces |= {unquote(piece) for piece in pieces}
    forms: set[str] = set()
    for piece in pieces:
        raw = piece.encode("utf-8")
        encoded = {base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()}
        escaped = json.dumps(piece)[1:-1]
        forms |= {
            piece,
            quote(piece, safe=""),
            quote(piece),
            quote_plus(piece),
            escaped,
            escaped.replace("/", "\\/"),
        }
        forms |= {repr(piece)[1:-1], html.escape(piece)} | encoded | {form.rstrip("=") for form in encoded}
    return {form for form in forms if len(form) >= MIN_SECRET_LENGTH}


def _secret_parts(value: str) -> set[str]:
    """The secret parts of a structured secret (see :func:`secret_forms`)."""
    parts = set(_pem_lines(value))
    with contextlib.suppress(ValueError):
        password = urlsplit(value.strip()).password
        if password and len(password) >= MIN_SECRET_LENGTH:
            parts.add(password)
    for pair in re.split(r"[;&\n]", value):
        key, equals, assigned = pair.strip().partition("=")
        if equals and _SECRET_KEY.search(key) and len(assigned.strip()) >= MIN_SECRET_LENGTH:
            parts.add(assigned.strip())
    try:
        parsed = json.loads(value)
    except ValueError:
        return parts
    stack: list[Any] = [parsed]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, inner in item.items():
                if (
                    isinstance(inner, str)
                    and _SECRET_KEY.search(str(key))
                    and len(inner) >= MIN_SECRET_LENGTH
                ):
                    parts |= {inner, *_pem_lines(inner)}
                elif isinstance(inner, dict | list):
                    stack.append(inner)
        elif isinstance(item, list):
            stack += item
    return parts


def _pem_lines(text: str) -> list[str]:
    """The body lines of the PEM blocks in a text (its line breaks real or escaped)."""
    lines = []
    for block in _PEM.findall(text.replace("\\n", "\n")):
        lines += [line for line in block.split() if len(line) >= _MIN_PIECE]
    return lines


class SecretMasker:
    """Masks every form of some secrets in any text (longest first, so no piece survives)."""

    def __init__(self, secrets: Iterable[str] = (), mask: str = MASK) -> None:
        forms = {form for value in secrets if len(value) >= MIN_SECRET_LENGTH for form in secret_forms(value)}
        self._forms = sorted(forms, key=len, reverse=True)
        self.mask = mask

    def __bool__(self) -> bool:
        return bool(self._forms)

    def __call__(self, text: str) -> str:
        for form in self._forms:
            if form in text:
                text = text.replace(form, self.mask)
        return text


# -- logs ----------------------------------------------------------------------------------------------------
_live: weakref.WeakKeyDictionary[object, SecretMasker] = weakref.WeakKeyDictionary()
_lock = threading.Lock()
_installed: list[Any] = []  # the factory this module wrapped, once installed


def guard_logs(owner: object, secrets: Iterable[str]) -> None:
    """Masks ``secrets`` in every log record the process makes while ``owner`` is alive."""
    masker = SecretMasker(secrets)
    if not masker:
        return
    with _lock:
        _live[owner] = masker
        if not _installed:
            _installed.append(logging.getLogRecordFactory())
            logging.setLogRecordFactory(_masked_record)


def _maskers() -> list[SecretMasker]:
    with _lock:
        return list(_live.values())


def _masked_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
    """A log record with the live secrets masked in its message, traceback and stack."""
    record: logging.LogRecord = _installed[0](*args, **kwargs)
    maskers = _maskers()
    if not maskers:
        return record

    def masked(text: str) -> str:
        for masker in maskers:
            text = masker(text)
        return text

    try:
        message = record.getMessage()
    except Exception:  # a record whose arguments do not fit its format: show both, masked
        message = f"{record.msg!r} {record.args!r}"
    clean = masked(message)
    if clean != message:
        record.msg, record.args = clean, None
    if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
        text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        clean = masked(text)
        if clean != text:
            record.exc_text = clean  # formatters print exc_text instead of formatting exc_info again
    if record.stack_info:
        record.stack_info = masked(record.stack_info)
    return record
