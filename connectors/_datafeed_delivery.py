"""The files of one data feed delivery: archives read member by member, checked against the manifest.

A data file is either hit data alone (``01-rsid_2026-01-01.tsv.gz``, a
``.tsv.zip``) or an archive holding ``hit_data.tsv`` with
``column_headers.tsv`` and the lookups (the "single file" packaging,
``.tar.gz`` or ``.zip``); lookup archives hold the headers and lookups
alone. Archives are read as streams, member by member, so nothing larger
than a lookup file is held in memory.

Before any of its rows is read, a data file is copied locally (an object is
downloaded once) while its MD5 is computed, and its hits are counted: a file
whose size, MD5 or hit count differs from the manifest's is refused with a
:class:`FormatError` naming it.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import posixpath
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Generator, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import IO, Any, cast

import pandas as pd
from fsspec import AbstractFileSystem
from fsspec.implementations.local import LocalFileSystem

from connectors._datafeed_columns import LOOKUP_FILES, column_headers, read_lookups
from connectors._datafeed_hits import BLOCK_BYTES, HitCount, count_hits
from connectors._datafeed_manifest import FeedFile
from connectors._paths import checked_member
from connectors.base import FormatError, StreamNotFoundError

HEADERS_FILE = "column_headers.tsv"
#: Files of a delivery that are not hit data.
SIDE_FILES = LOOKUP_FILES | {HEADERS_FILE, "event_list.tsv"}
#: A side file larger than this is not a lookup: it is skipped rather than held in memory.
MAX_SIDE_FILE_BYTES = 64 * 1024 * 1024

Opener = Callable[[], AbstractContextManager[IO[bytes]]]


def is_hit_data(member: str) -> bool:
    """Whether an archive member (or an unpacked data file) holds hits."""
    name = posixpath.basename(member).lower()
    return name.endswith(".tsv") and name not in SIDE_FILES


def iter_members(raw: IO[bytes], name: str) -> Generator[tuple[str, IO[bytes]], None, None]:
    """The files a delivered file holds, decompressed, in order: archive members, or itself.

    Each stream must be read before the next one is asked for (tar archives are streamed).
    Members are read by name, never extracted; one named with ``..`` or an absolute path
    (zip-slip) is refused with a FormatError naming it.
    """
    lower = name.lower()
    if lower.endswith((".tar.gz", ".tgz", ".tar")):
        with tarfile.open(fileobj=raw, mode="r|*") as tar:
            for member in tar:
                checked_member(member.name, posixpath.basename(name))
                stream = tar.extractfile(member) if member.isfile() else None
                if stream is not None:
                    yield member.name, stream
    elif lower.endswith(".zip"):
        with zipfile.ZipFile(raw) as archive:
            for info in archive.infolist():
                checked_member(info.filename, posixpath.basename(name))
                if not info.is_dir() and not info.filename.startswith("__MACOSX"):
                    with archive.open(info) as stream:
                        yield info.filename, stream
    elif lower.endswith(".gz"):
        with gzip.GzipFile(fileobj=raw) as unpacked:
            yield name[: -len(".gz")], cast(IO[bytes], unpacked)
    else:
        yield name, raw


@dataclass
class SideFiles:
    """The column headers and lookup files of a delivery, as found in its archives."""

    files: dict[str, bytes] = field(default_factory=dict)
    _tables: dict[str, pd.Series] | None = None

    def keep(self, member: str, stream: IO[bytes]) -> bool:
        """Keeps a side file's bytes; False when the member is something else (hit data)."""
        name = posixpath.basename(member).lower()
        if name not in SIDE_FILES:
            return False
        data = stream.read(MAX_SIDE_FILE_BYTES + 1)
        if len(data) <= MAX_SIDE_FILE_BYTES:
            self.files[name] = data
            self._tables = None
        return True

    def read_archive(self, raw: IO[bytes], name: str, stop_at_hits: bool = False) -> None:
        """Keeps the side files of a delivered file; with ``stop_at_hits``, stops at hit data once
        the headers are known (a sample then does without the lookups stored after it)."""
        members = iter_members(raw, name)
        try:
            for member, stream in members:
                if not self.keep(member, stream) and stop_at_hits and self.headers and is_hit_data(member):
                    return
        finally:
            members.close()

    @property
    def headers(self) -> list[str] | None:
        """The hit data's column names, once ``column_headers.tsv`` was seen."""
        data = self.files.get(HEADERS_FILE)
        return column_headers(data) if data is not None else None

    @property
    def lookups(self) -> dict[str, pd.Series]:
        """The lookup tables seen so far, by file name."""
        if self._tables is None:
            self._tables = read_lookups(self.files)
        return self._tables


@dataclass(frozen=True)
class DataFileCount:
    """What counting a data file found: its hits, its hit data members, and their encoding."""

    hits: int
    members: int
    encoding: str


def count_data_file(raw: IO[bytes], name: str, side: SideFiles) -> DataFileCount:
    """Counts the hits of every hit data member, keeping the side files met on the way."""
    hits, members, utf8 = 0, 0, True
    for member, stream in iter_members(raw, name):
        if side.keep(member, stream) or not is_hit_data(member):
            continue
        count: HitCount = count_hits(stream)
        hits, members, utf8 = hits + count.hits, members + 1, utf8 and count.utf8
    return DataFileCount(hits, members, "utf-8" if utf8 else "iso-8859-1")


@contextmanager
def hit_member(open_raw: Opener, name: str, index: int) -> Iterator[IO[bytes]]:
    """The ``index``-th hit data member of a delivered file, decompressed, as a stream."""
    with open_raw() as raw:
        members = iter_members(raw, name)
        try:
            seen = 0
            for member, stream in members:
                if is_hit_data(member):
                    if seen == index:
                        yield stream
                        return
                    seen += 1
        finally:
            members.close()
    raise FormatError(f"{name} holds no hit data (no .tsv file other than the lookups).")


@contextmanager
def verified_copy(fs: AbstractFileSystem, path: str, rel: str, file: FeedFile) -> Iterator[str]:
    """A local copy of a delivered file, checked against the manifest, removed on exit.

    A local file is checked where it is, not copied. Raises FormatError naming
    the file when its size or MD5 differs from the manifest's.
    """
    local = isinstance(fs, LocalFileSystem)
    with tempfile.TemporaryDirectory(prefix="tributary-datafeed-") as workdir:
        target = path if local else os.path.join(workdir, posixpath.basename(path))
        size, digest = _copy(fs, path, None if local else target, rel)
        if file.size is not None and size != file.size:
            raise FormatError(
                f"{rel} is {size} bytes where the manifest says {file.size}: it is incomplete or was "
                "replaced after the manifest was written; ask Adobe to re-send the delivery."
            )
        if file.md5 is not None and digest != file.md5:
            raise FormatError(
                f"{rel} does not match its manifest: MD5 {digest} where the manifest says "
                f"{file.md5}. The file is damaged or was replaced; ask Adobe to re-send the delivery."
            )
        yield target


def _copy(fs: AbstractFileSystem, path: str, target: str | None, rel: str) -> tuple[int, str]:
    """Reads a file through (into ``target`` when given); returns its size and MD5."""
    digest, size = hashlib.md5(usedforsecurity=False), 0
    with ExitStack() as stack:
        try:
            source = stack.enter_context(
                fs.open(path, "rb", **({"block_size": BLOCK_BYTES} if target else {}))
            )
        except FileNotFoundError:
            raise StreamNotFoundError(
                f"{rel} is listed in the delivery's manifest but is not in the folder (deleted, or "
                "still uploading)."
            ) from None
        sink = stack.enter_context(open(target, "wb")) if target else None
        while data := source.read(BLOCK_BYTES):
            digest.update(data)
            size += len(data)
            if sink is not None:
                sink.write(data)
    return size, digest.hexdigest()


def check_count(rel: str, file: FeedFile, count: DataFileCount) -> None:
    """Raises FormatError when a data file's hits are not as many as its manifest says."""
    if file.records is not None and count.hits != file.records:
        raise FormatError(
            f"{rel} holds {count.hits} hits where the manifest says {file.records}: "
            "the file is damaged or not a data feed file."
        )
    if not count.members:
        raise FormatError(f"{rel} holds no hit data (no .tsv file other than the lookups).")


def local_opener(path: str) -> Opener:
    """Opens a local file for reading."""
    return lambda: open(path, "rb")


def remote_opener(fs: AbstractFileSystem, path: str, options: dict[str, Any]) -> Opener:
    """Opens a file on the storage with range reads."""
    return lambda: fs.open(path, "rb", **options)
