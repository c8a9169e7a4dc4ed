"""Adobe Analytics data feed deliveries: file names, manifests, and the deliveries a folder holds.

A delivery is what Adobe sends for one report suite and one period (a day,
or an hour): hit data, lookup files, and last a manifest ``<rsid>_<period>.txt``
listing every file with its MD5, size and (for hit data) record count. The
manifest is written last, so a delivery without one is still arriving and is
not read. Its files sit next to it, named as the manifest names them.

Manifests look like Java JAR manifests (``Key: value`` lines, blank lines
between blocks)::

    Datafeed-Manifest-Version: 1.0
    Lookup-Files: 1
    Data-Files: 1
    Total-Records: 611

    Lookup-File: rsid_2026-01-01-lookup_data.tar.gz
    MD5-Digest: af6de42d8b945d4ec1cf28360085308
    File-Size: 63750

    Data-File: 01-rsid_2026-01-01.tsv.gz
    MD5-Digest: 9c70bf783cb3d0095a4836904b72c991
    File-Size: 122534
    Record-Count: 611
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from connectors._listing import ListedFile
from connectors.base import FormatError

_PERIOD = r"(?P<period>\d{4}-\d{2}-\d{2}(?:-\d{2,6})?)"
#: ``<rsid>_<YYYY-MM-DD>[-HH[MMSS]].txt``
MANIFEST_NAME = re.compile(rf"^(?P<rsid>.+)_{_PERIOD}\.txt$")
#: Hit data and lookup archives: ``[NN-]<rsid>_<period>[-lookup_data].<tsv.gz|tar.gz|zip...>``
DELIVERED_NAME = re.compile(
    rf"^(?:\d+-)?(?P<rsid>.+?)_{_PERIOD}(?:-lookup_data)?\.(?:tsv|tsv\.gz|tsv\.zip|tar\.gz|tgz|zip)$"
)
#: Files an interrupted SFTP transfer leaves behind.
PARTIAL_SUFFIX = ".part"


@dataclass(frozen=True)
class FeedFile:
    """One file a manifest lists: hit data or lookups, with what it must hash to."""

    name: str
    lookup: bool
    md5: str | None = None
    size: int | None = None
    records: int | None = None


@dataclass(frozen=True)
class Manifest:
    """One delivery: its manifest's path (relative to the feed folder) and the files it lists."""

    rel: str
    report_suite: str
    period: str
    files: tuple[FeedFile, ...]

    @property
    def data_files(self) -> tuple[FeedFile, ...]:
        """The hit data files, in the manifest's order (``01-``, ``02-``...)."""
        return tuple(f for f in self.files if not f.lookup)

    @property
    def lookup_files(self) -> tuple[FeedFile, ...]:
        """The lookup archives (none when a single archive holds everything)."""
        return tuple(f for f in self.files if f.lookup)

    @property
    def version(self) -> str:
        """Changes when any listed file's MD5 (or name, size) does: Adobe re-sent the delivery."""
        listed = sorted(f"{f.name}\t{f.md5}\t{f.size}\t{f.records}" for f in self.files)
        return hashlib.sha256("\n".join(listed).encode()).hexdigest()[:32]

    @property
    def records(self) -> int:
        """The hits the manifest says its data files hold."""
        return sum(f.records or 0 for f in self.data_files)

    def path_of(self, file: FeedFile) -> str:
        """A listed file's path relative to the feed folder: next to the manifest."""
        return posixpath.join(posixpath.dirname(self.rel), file.name)


_FILE_KEYS = {"lookup-file": True, "data-file": False, "file": False}


def parse_manifest(text: str, rel: str) -> Manifest:
    """Reads a manifest; raises FormatError naming it when it is not one."""
    match = MANIFEST_NAME.match(posixpath.basename(rel))
    if match is None:
        raise FormatError(f"{rel} is not named like a data feed manifest (<rsid>_<YYYY-MM-DD>.txt).")
    header: dict[str, str] = {}
    blocks: list[dict[str, str]] = []
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key, value = key.strip().lower(), value.strip()
        if key in _FILE_KEYS:
            blocks.append({"kind": key, "name": value})
        elif blocks:
            blocks[-1][key] = value
        else:
            header[key] = value
    if "datafeed-manifest-version" not in header:
        raise FormatError(f"{rel} is not a data feed manifest: it has no Datafeed-Manifest-Version line.")
    try:
        files = tuple(_feed_file(block) for block in blocks)
    except ValueError as error:
        raise FormatError(f"The manifest {rel} has an unreadable entry: {error}.") from None
    data = [f for f in files if not f.lookup]
    declared = header.get("data-files", "")
    if (int(declared) != len(data)) if declared.isdigit() else not data:
        raise FormatError(
            f"The manifest {rel} lists {len(data)} data file(s) but declares {declared or 'some'}: "
            "it is incomplete."
        )
    return Manifest(rel, match.group("rsid"), match.group("period"), files)


def _feed_file(block: Mapping[str, str]) -> FeedFile:
    name = block["name"]
    if not name or "/" in name or name in (".", ".."):
        raise ValueError(f"file name {name!r}")
    size, records = block.get("file-size"), block.get("record-count")
    return FeedFile(
        name=name,
        lookup=_FILE_KEYS[block["kind"]] or "lookup_data" in name,
        md5=(block.get("md5-digest") or "").lower() or None,
        size=int(size) if size else None,
        records=int(records) if records else None,
    )


@dataclass(frozen=True)
class Pending:
    """Files of a report suite's period that have no manifest yet: a delivery still arriving."""

    report_suite: str
    period: str
    files: int


def manifests_in(files: Iterable[ListedFile], report_suite: str | None = None) -> list[ListedFile]:
    """The manifests among listed files (of one report suite, when given), oldest period first."""
    found = []
    for file in files:
        match = MANIFEST_NAME.match(posixpath.basename(file.rel))
        if match and (report_suite is None or match.group("rsid") == report_suite):
            found.append((match.group("period"), file.rel, file))
    return [file for _, _, file in sorted(found)]


def pending_in(files: Iterable[ListedFile], report_suite: str | None = None) -> list[Pending]:
    """Periods with hit data or lookups delivered but no manifest yet, per report suite."""
    listed = list(files)
    with_manifest = {
        (m.group("rsid"), m.group("period"))
        for f in listed
        if (m := MANIFEST_NAME.match(posixpath.basename(f.rel)))
    }
    counts: dict[tuple[str, str], int] = {}
    for file in listed:
        match = DELIVERED_NAME.match(posixpath.basename(file.rel).removesuffix(PARTIAL_SUFFIX))
        if match is None or (report_suite is not None and match.group("rsid") != report_suite):
            continue
        key = (match.group("rsid"), match.group("period"))
        if key not in with_manifest:
            counts[key] = counts.get(key, 0) + 1
    return [Pending(rsid, period, n) for (rsid, period), n in sorted(counts.items())]
