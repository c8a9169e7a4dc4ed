"""Adobe Analytics data feed deliveries, generated deterministically in Adobe's documented layout.

A :class:`Delivery` is one report suite's period: ``column_headers.tsv``, the
lookup files (``browser.tsv``, ``country.tsv``...), hit data escaped as Adobe
escapes it (a backslash before a tab, a newline or a backslash that belongs
to a value) and a manifest listing every file's MD5, size and record count.
Two packagings, as the feed's settings offer:

- ``multiple``: ``01-<rsid>_<period>.tsv.gz``, ``02-...`` (hits split across
  files) and ``<rsid>_<period>-lookup_data.tar.gz`` (or ``.zip`` files);
- ``single``: one ``<rsid>_<period>.tar.gz`` (or ``.zip``) holding
  ``hit_data.tsv``, the headers and the lookups.

The same seed gives the same bytes (gzip, tar and zip timestamps are fixed).
Each delivery keeps the hits it wrote as a frame of unescaped strings
(``expected``), which rows are malformed (too few or too many fields) and
which Adobe's reports leave out (``exclude_hit`` > 0, ``hit_source`` 5-9).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import random
import tarfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

COLUMNS = [
    "accept_language",
    "browser",
    "color",
    "connection_type",
    "country",
    "date_time",
    "event_list",
    "evar1",
    "exclude_hit",
    "first_hit_time_gmt",
    "hit_source",
    "hit_time_gmt",
    "hitid_high",
    "hitid_low",
    "ip",
    "javascript",
    "language",
    "last_hit_time_gmt",
    "mcvisid",
    "os",
    "page_url",
    "pagename",
    "plugins",
    "post_evar1",
    "post_page_url",
    "post_pagename",
    "post_visid_high",
    "post_visid_low",
    "ref_type",
    "resolution",
    "search_engine",
    "user_agent",
    "visid_high",
    "visid_low",
    "visid_type",
    "visit_num",
    "visit_page_num",
]

LOOKUPS: dict[str, dict[str, str]] = {
    "browser.tsv": {"1": "Google Chrome 120", "2": "Mozilla Firefox 121", "3": "Apple Safari 17"},
    "browser_type.tsv": {"1": "Google", "2": "Mozilla", "3": "Apple"},
    "color_depth.tsv": {"1": "24 bit", "2": "32 bit"},
    "connection_type.tsv": {"1": "LAN/Wifi", "2": "Mobile Carrier"},
    "country.tsv": {"1": "United States", "2": "France", "3": "Côte d'Ivoire"},
    "event.tsv": {"1": "Purchase", "2": "Product View", "10": "Cart Open", "200": "Custom Event 1"},
    "javascript_version.tsv": {"1": "1.6", "2": "1.8"},
    "languages.tsv": {"1": "English", "2": "French"},
    "operating_systems.tsv": {"1": "Windows 11", "2": "macOS 14", "3": "Android 14"},
    "plugins.tsv": {"1": "PDF Viewer", "2": "Chrome PDF Plugin"},
    "referrer_type.tsv": {"1": "Inside Your Site\tinternal", "2": "Search Engines\tsearch"},
    "resolution.tsv": {"1": "1920 x 1080", "2": "390 x 844"},
    "search_engines.tsv": {"1": "Google", "2": "Bing"},
}
#: Values with the characters Adobe escapes: a tab, a newline, a backslash, and a quote pyarrow must not take.
TRICKY = [
    "https://shop.example/search?q=a\tb",
    "line one\nline two",
    "C:\\temp\\file",
    'say "hi"',
    "trailing backslash\\",
    "all three\t\\\n",
    "carriage\rreturn",
    "café crème",
]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def escape(value: str) -> str:
    """A value as Adobe writes it in hit data: backslash, tab and newline escaped by a backslash."""
    return value.replace("\\", "\\\\").replace("\t", "\\\t").replace("\n", "\\\n")


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


@dataclass
class Delivery:
    """One generated delivery: its files (the manifest among them), and what they hold."""

    rsid: str
    period: str
    files: dict[str, bytes]
    manifest_name: str
    expected: pd.DataFrame  # every well-formed hit, values unescaped, in file order, with "_file"/"_row"
    malformed: list[tuple[str, int, str]] = field(default_factory=list)  # (file, row, raw line)

    @property
    def records(self) -> int:
        """Rows in its hit data, malformed ones included (the manifest's Total-Records)."""
        return len(self.expected) + len(self.malformed)

    @property
    def reported(self) -> pd.DataFrame:
        """The well-formed hits Adobe's reports count."""
        hits = self.expected
        excluded = hits["exclude_hit"].astype(int) > 0
        return hits[~excluded & ~hits["hit_source"].astype(int).isin([5, 7, 8, 9])]

    def data_files(self) -> dict[str, bytes]:
        """Every file but the manifest: what Adobe has uploaded before it writes the manifest."""
        return {name: data for name, data in self.files.items() if name != self.manifest_name}

    def write(self, folder: Path, *, manifest: bool = True) -> None:
        """Writes the delivery's files into a local folder (the manifest last, as Adobe does)."""
        self.upload(lambda name, data: _write(folder / name, data), manifest=manifest)

    def upload(self, put: Callable[[str, bytes], None], *, manifest: bool = True) -> None:
        """Uploads the files with ``put(name, bytes)``, the manifest last."""
        for name, data in self.data_files().items():
            put(name, data)
        if manifest:
            put(self.manifest_name, self.files[self.manifest_name])


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def make_delivery(
    rsid: str = "acmeprod",
    period: str = "2026-01-01",
    hits: int = 40,
    *,
    seed: int = 1,
    packaging: str = "multiple",
    compression: str = "gzip",
    data_files: int = 2,
    malformed: int = 2,
    hits_before_headers: bool = False,
    overrides: dict[int, dict[str, str]] | None = None,
) -> Delivery:
    """A delivery of ``hits`` well-formed hits plus ``malformed`` broken rows, as Adobe lays it out.

    ``packaging`` is ``multiple`` (hit files + a lookup archive) or ``single`` (one archive);
    ``compression`` is ``gzip`` (``.tsv.gz``/``.tar.gz``) or ``zip``. With ``hits_before_headers``
    a single archive stores ``hit_data.tsv`` before ``column_headers.tsv``. ``overrides`` sets
    values of some hits (by index), such as ``{3: {"visit_num": "three"}}``.
    """
    rng = random.Random(seed)
    start = datetime.fromisoformat(period[:10]).replace(tzinfo=UTC)
    rows = [_hit(rng, seed, i, start) | (overrides or {}).get(i, {}) for i in range(hits)]
    expected = pd.DataFrame(rows, columns=COLUMNS, dtype="str")
    lines = ["\t".join(escape(row[c]) for c in COLUMNS) + "\n" for row in rows]
    broken = _malformed(rng, lines, malformed)
    headers = "\t".join(COLUMNS) + "\n"
    side = {"column_headers.tsv": headers.encode()} | {
        name: "".join(f"{k}\t{v}\n" for k, v in table.items()).encode() for name, table in LOOKUPS.items()
    }
    files: dict[str, bytes] = {}
    entries: list[tuple[str, str, int | None]] = []  # (kind, name, records)
    placed: list[tuple[str, int]] = []  # (file, row in it) of every line, in order
    if packaging == "single":
        name = f"{rsid}_{period}.{'tar.gz' if compression == 'gzip' else 'zip'}"
        body = "".join(lines).encode()
        members = {"hit_data.tsv": body} | side if hits_before_headers else side | {"hit_data.tsv": body}
        files[name] = _archive(members, compression)
        entries.append(("Data-File", name, len(lines)))
        placed = [(name, i + 1) for i in range(len(lines))]
    else:
        lookup = f"{rsid}_{period}-lookup_data.{'tar.gz' if compression == 'gzip' else 'zip'}"
        files[lookup] = _archive(side, compression)
        entries.append(("Lookup-File", lookup, None))
        size = -(-len(lines) // data_files)
        for index in range(data_files):
            part = lines[index * size : (index + 1) * size]
            suffix = "tsv.gz" if compression == "gzip" else "tsv.zip"
            name = f"{index + 1:02d}-{rsid}_{period}.{suffix}"
            body = "".join(part).encode()
            if compression == "gzip":
                files[name] = gzip.compress(body, mtime=0)
            else:
                files[name] = _archive({f"{index + 1:02d}-{rsid}_{period}.tsv": body}, "zip")
            entries.append(("Data-File", name, len(part)))
            placed += [(name, i + 1) for i in range(len(part))]
    manifest_name = f"{rsid}_{period}.txt"
    files[manifest_name] = _manifest(files, entries).encode()
    position = {line_index: place for line_index, place in enumerate(placed)}
    good = [i for i in range(len(lines)) if i not in {b for b, _ in broken}]
    expected["_file"] = [position[i][0] for i in good]
    expected["_row"] = [position[i][1] for i in good]
    malformed_rows = [(position[i][0], position[i][1], raw) for i, raw in broken]
    return Delivery(rsid, period, files, manifest_name, expected.reset_index(drop=True), malformed_rows)


def _hit(rng: random.Random, seed: int, index: int, start: datetime) -> dict[str, str]:
    """One hit's values (unescaped): ids unique per seed and index, a few tricky strings."""
    when = start + timedelta(seconds=60 * index + rng.randrange(60))
    visitor = rng.randrange(1, 12)
    source = rng.choices(["1", "5", "7"], weights=[90, 5, 5])[0]
    return {
        "accept_language": "en-US,en;q=0.9",
        "browser": rng.choice(["1", "2", "3", "999"]),
        "color": rng.choice(["1", "2"]),
        "connection_type": rng.choice(["1", "2"]),
        "country": rng.choice(["1", "2", "3"]),
        "date_time": (when - timedelta(hours=5)).strftime("%Y-%m-%d %H:%M:%S"),
        "event_list": rng.choice(["", "1", "2,200", "10,999"]),
        "evar1": rng.choice(TRICKY) if index % 3 == 0 else f"campaign {index}",
        "exclude_hit": rng.choices(["0", "1", "3"], weights=[90, 5, 5])[0],
        "first_hit_time_gmt": str(int((start - _EPOCH).total_seconds())),
        "hit_source": source,
        "hit_time_gmt": str(int((when - _EPOCH).total_seconds())),
        "hitid_high": str(10**18 + seed * 10**9 + index),
        "hitid_low": str(9 * 10**18 + seed * 10**9 + index),
        "ip": f"192.0.2.{visitor}",
        "javascript": "1",
        "language": rng.choice(["1", "2"]),
        "last_hit_time_gmt": "0" if index == 0 else str(int((when - _EPOCH).total_seconds()) - 30),
        "mcvisid": f"{visitor:019d}{seed:019d}",
        "os": rng.choice(["1", "2", "3"]),
        "page_url": TRICKY[index % len(TRICKY)] if index % 2 else f"https://shop.example/p/{index}",
        "pagename": f"product {index} ✓",
        "plugins": rng.choice(["", "1,2", "2"]),
        "post_evar1": f"campaign {index}",
        "post_page_url": f"https://shop.example/p/{index}",
        "post_pagename": f"product {index}",
        "post_visid_high": str(3 * 10**18 + visitor),
        "post_visid_low": str(4 * 10**18 + visitor),
        "ref_type": rng.choice(["1", "2"]),
        "resolution": rng.choice(["1", "2"]),
        "search_engine": rng.choice(["", "1", "2"]),
        "user_agent": 'Mozilla/5.0 (X11; Linux x86_64) "quoted"',
        "visid_high": str(5 * 10**18 + visitor),
        "visid_low": str(6 * 10**18 + visitor),
        "visid_type": "5",
        "visit_num": str(1 + visitor % 3),
        "visit_page_num": str(index + 1),
    }


def _malformed(rng: random.Random, lines: list[str], count: int) -> list[tuple[int, str]]:
    """Inserts ``count`` broken rows among the lines: one field short, or one too many."""
    broken = []
    for n in range(count):
        at = rng.randrange(1, len(lines)) if lines else 0
        fields = [f"broken{n}"] * (len(COLUMNS) - 1 if n % 2 == 0 else len(COLUMNS) + 1)
        lines.insert(at, "\t".join(fields) + "\n")
        broken = [(i + 1 if i >= at else i, raw) for i, raw in broken] + [(at, "\t".join(fields))]
    return sorted(broken)


def _archive(members: dict[str, bytes], compression: str) -> bytes:
    """A tar.gz or zip holding ``members`` in order, with fixed timestamps."""
    buffer = io.BytesIO()
    if compression == "zip":
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in members.items():
                archive.writestr(zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0)), data)
        return buffer.getvalue()
    with (
        gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as compressed,
        tarfile.open(fileobj=compressed, mode="w") as tar,
    ):
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), 0
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _manifest(files: dict[str, bytes], entries: list[tuple[str, str, int | None]]) -> str:
    """The manifest text: a header, then one block per file (MD5, size, records for hit data)."""
    data = [e for e in entries if e[0] == "Data-File"]
    lines = [
        "Datafeed-Manifest-Version: 1.0",
        f"Lookup-Files: {len(entries) - len(data)}",
        f"Data-Files: {len(data)}",
        f"Total-Records: {sum(e[2] or 0 for e in data)}",
        "",
    ]
    for kind, name, records in entries:
        lines += [f"{kind}: {name}", f"MD5-Digest: {md5(files[name])}", f"File-Size: {len(files[name])}"]
        lines += [f"Record-Count: {records}"] if records is not None else []
        lines.append("")
    return "\n".join(lines)
