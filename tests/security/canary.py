"""The canary's instruments: unique markers, every form one could travel in, and where to look for them.

A marker (``CANARY-<owner>-<field>-<random>``) goes in one credential field.
:class:`Canaries` remembers each marker with the connection (or alert channel)
and field it was given to, and finds any of them in a text in every form a
library could carry it in: raw, URL-encoded (``quote``, ``quote_plus``),
JSON- or Python-escaped, HTML-escaped, and base64 (standard and URL-safe).
Base64 is searched at each of the three byte alignments a marker can have
inside a longer encoded text, so ``base64("user:" + marker)`` (a basic-auth
header), a JWT header or a connection string encoded whole are found too.

:class:`Evidence` keeps every string a failure produced, with where it came
from (a check's message, an exception and its chain, a log record, a page's
elements, a file written, a webhook's payload). :func:`scan_store` reads every
row of every table of a store by reflection: a marker may appear only as the
ciphertext of the ``secrets`` table (and ``alert_channels.secret``), which
must decrypt to the value that carried it.
"""

from __future__ import annotations

import base64
import bisect
import html
import itertools
import json
import logging
import re
import secrets
import traceback
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, quote_plus

import pandas as pd
from sqlalchemy import Engine, MetaData, select

from core.secrets import Vault

#: Every marker starts with this: any text holding it holds at least part of a marker.
PREFIX = "CANARY"
#: Characters a URL, a form or a query string must escape, so that an escaped form differs from the raw one.
ESCAPED = "/+=&!"
#: Where a marker may appear in a store: (table, column) of ciphertext.
CIPHERTEXT_COLUMNS = {("secrets", "ciphertext"), ("alert_channels", "secret")}
#: Base64 pieces shorter than this are too short to tell a marker from chance.
_MIN_PIECE = 16


@dataclass(frozen=True)
class Marker:
    """A unique string given to one credential field (or a piece of one: a PEM line)."""

    owner: str  # the connection or alert channel it was given to
    field: str
    text: str
    #: Whether to look for its base64 forms too (not for a line of a PEM key: base64 already).
    encoded: bool = True

    def forms(self) -> dict[str, str]:
        """Every form of the marker a text could hold, by name (raw first)."""
        found = {
            "raw": self.text,
            "url-encoded": quote(self.text, safe=""),
            "url-encoded (path)": quote(self.text),
            "form-encoded": quote_plus(self.text),
            "json-escaped": json.dumps(self.text)[1:-1],
            "json-escaped (slashes)": json.dumps(self.text)[1:-1].replace("/", "\\/"),
            "python-escaped": repr(self.text)[1:-1],
            "html-escaped": html.escape(self.text),
        }
        data = self.text.encode("utf-8") if self.encoded else b""
        for skip in range(3):  # the marker at each alignment inside a longer base64 text
            piece = data[skip:]
            piece = piece[: len(piece) - len(piece) % 3]
            if len(piece) * 4 // 3 >= _MIN_PIECE:
                found[f"base64@{skip}"] = base64.b64encode(piece).decode()
                found[f"base64url@{skip}"] = base64.urlsafe_b64encode(piece).decode()
        return found


@dataclass
class Canaries:
    """The markers of a test, by owner and field, and the search for them in any text."""

    markers: list[Marker] = field(default_factory=list)
    _cache: list[Marker] = field(default_factory=list, repr=False)
    _table: list[tuple[str, Marker, str]] = field(default_factory=list, repr=False)

    def new(self, owner: str, field_name: str, *, alphabet: str = "text") -> str:
        """A new marker for ``owner``'s ``field_name``.

        ``alphabet``: ``text`` adds characters URLs and forms escape (``/+=&!``);
        ``base64`` keeps to letters and digits, a multiple of 4 long (a valid
        base64 value: an Azure account key); ``plain`` to letters, digits and ``-``.
        """
        random = secrets.token_hex(6)
        clean = re.sub(r"[^A-Za-z0-9]", "", f"{owner}{field_name}")
        if alphabet == "base64":
            text = f"{PREFIX}{clean}{random}"
            text += "A" * (-len(text) % 4)
        elif alphabet == "plain":
            text = f"{PREFIX}-{owner}-{field_name}-{random}".replace("_", "-")
        else:
            text = f"{PREFIX}-{owner}-{field_name}-{random}{ESCAPED}"
        self.markers.append(Marker(owner, field_name, text))
        return text

    def add(self, owner: str, field_name: str, text: str) -> None:
        """Watches for ``text`` too (a line of a freshly generated private key: base64 already)."""
        self.markers.append(Marker(owner, field_name, text, encoded=False))

    def keep_only(self, owners: set[str]) -> None:
        """Forgets the markers of connections that were built but never saved."""
        self.markers = [m for m in self.markers if m.owner in owners]

    def of(self, owner: str) -> list[Marker]:
        """The markers given to one owner."""
        return [m for m in self.markers if m.owner == owner]

    def leaks(self, text: str) -> list[tuple[Marker, str, str]]:
        """(marker, form, context) of every marker found in ``text``; a bare ``CANARY`` counts too."""
        return [(marker, form, context) for _, marker, form, context in self.search([("", text)])]

    def search(self, texts: list[tuple[str, str]]) -> list[tuple[str, Marker, str, str]]:
        """(where, marker, form, context) of every marker found in the (where, text) pairs.

        The texts are searched as one, each form once: there are thousands of log lines.
        """
        joined = "\x00".join(text for _, text in texts)
        starts = list(itertools.accumulate((len(text) + 1 for _, text in texts), initial=0))
        found: list[tuple[str, Marker, str, str]] = []
        hit: set[int] = set()
        for form, marker, form_name in self._forms():
            at = joined.find(form)
            while at >= 0:
                index = bisect.bisect_right(starts, at) - 1
                hit.add(index)
                found.append((texts[index][0], marker, form_name, _context(joined, at, len(form))))
                at = joined.find(form, at + 1)
        at = joined.find(PREFIX)
        while at >= 0:  # a piece of a marker, in no form known
            index = bisect.bisect_right(starts, at) - 1
            if index not in hit:
                hit.add(index)
                piece = Marker("?", "?", PREFIX)
                found.append(
                    (texts[index][0], piece, "a piece of a marker", _context(joined, at, len(PREFIX)))
                )
            at = joined.find(PREFIX, at + 1)
        return found

    def _forms(self) -> list[tuple[str, Marker, str]]:
        if len(self._cache) != len(self.markers):
            self._table = [(form, m, name) for m in self.markers for name, form in m.forms().items()]
            self._cache = list(self.markers)
        return self._table

    def missing_from(self, text: str) -> list[Marker]:
        """The markers found in no form in ``text`` (the plain text of every stored secret)."""
        return [m for m in self.markers if not any(form in text for form in m.forms().values())]


def _context(text: str, at: int, length: int) -> str:
    return text[max(0, at - 120) : at + length + 60]


# -- evidence ------------------------------------------------------------------------------------------------
@dataclass
class Evidence:
    """Every string a test collected, with where it came from."""

    items: list[tuple[str, str]] = field(default_factory=list)

    def add(self, where: str, value: Any) -> Any:
        """Keeps the text of ``value`` (a string, bytes, a frame, an exception and its chain); returns it."""
        self.items.append((where, as_text(value)))
        return value

    def __len__(self) -> int:
        return len(self.items)

    def leaks(self, canaries: Canaries) -> list[str]:
        """One line per marker found, naming where."""
        return [
            f"{where}: {marker.owner}.{marker.field} ({form}) in …{context}…"
            for where, marker, form, context in canaries.search(self.items)
        ]


def as_text(value: Any) -> str:
    """All the text a value shows: its str and repr, a frame's cells, an exception's whole chain."""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, BaseException):
        chain = [f"{type(e).__name__}: {e!s} {e!r}" for e in _chain(value)]
        return "".join(traceback.format_exception(value)) + "\n".join(chain)
    if isinstance(value, pd.DataFrame):
        return value.astype(str).to_csv() + "\n" + repr(value)
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, default=str, ensure_ascii=False) + "\n" + repr(value)
    return f"{value!s}\n{value!r}"


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    stack = [error]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        # what a traceback shows: the cause, else the context unless ``raise ... from None`` hid it
        shown = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
        stack += [shown] if shown is not None else []
        stack += list(getattr(current, "exceptions", ()))  # exception groups


class LogCapture(logging.Handler):
    """Every log record of every logger, at DEBUG, formatted whole (with its traceback)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self.format(record))
        except Exception as error:  # a record that cannot be formatted still shows its parts
            self.lines.append(f"{record.name}: {record.msg!r} {record.args!r} ({error})")


@contextmanager
def every_log_record() -> Iterator[LogCapture]:
    """Captures every record at DEBUG: the root and each logger set to a higher level are lowered."""
    capture = LogCapture()
    root = logging.getLogger()
    levels = {name: logger.level for name, logger in _loggers()}
    old_root = root.level
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)
    for _, logger in _loggers():
        logger.setLevel(logging.NOTSET)
    try:
        yield capture
    finally:
        root.removeHandler(capture)
        root.setLevel(old_root)
        for name, logger in _loggers():
            logger.setLevel(levels.get(name, logging.NOTSET))


def _loggers() -> Iterable[tuple[str, logging.Logger]]:
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if isinstance(logger, logging.Logger):
            yield name, logger


# -- the store -----------------------------------------------------------------------------------------------
@dataclass
class StoreScan:
    """What :func:`scan_store` found: leaks outside ciphertext, and which markers each secret decrypts to."""

    leaks: list[str] = field(default_factory=list)
    decrypted: dict[tuple[str, str], str] = field(default_factory=dict)  # (table, row id) -> plain text
    tables: list[str] = field(default_factory=list)
    cells: int = 0


def scan_store(engine: Engine, vault: Vault, canaries: Canaries) -> StoreScan:
    """Every cell of every table (found by reflection): markers only in ciphertext, which must decrypt."""
    scan = StoreScan()
    metadata = MetaData()
    metadata.reflect(engine)
    cells: list[tuple[str, str]] = []
    with engine.connect() as connection:
        for table in metadata.sorted_tables:
            scan.tables.append(table.name)
            for row in connection.execute(select(table)).mappings():
                for column, value in row.items():
                    if value is None:
                        continue
                    if (table.name, column) in CIPHERTEXT_COLUMNS:
                        plain = vault.decrypt(bytes(value)).get_secret_value()
                        scan.decrypted[(table.name, str(row.get("id")))] = plain
                    cells.append((f"{table.name}.{column}", as_text(value)))
    scan.cells = len(cells)
    scan.leaks = [
        f"{where}: {marker.owner}.{marker.field} ({form}) in …{context}…"
        for where, marker, form, context in canaries.search(cells)
    ]
    return scan
