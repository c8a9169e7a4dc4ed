"""File formats for the files connector: detection, decompression and dispatch.

Given a file, finds its compression (extension or setting), format (setting,
extension, then content), text encoding (BOM, setting, UTF-8 trial, cp1252)
and CSV delimiter (sniffed on the first lines), then hands a decompressed
stream to the matching reader in :mod:`connectors._readers`.
"""

from __future__ import annotations

import bz2
import codecs
import csv
import gzip
import io
import json
import posixpath
import zipfile
import zlib
from collections.abc import Generator, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from itertools import islice
from typing import TYPE_CHECKING, Any, BinaryIO

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import zstandard

from connectors._paths import checked_member
from connectors._readers import (
    CSV_BLOCK_BYTES,
    MAX_CSV_BLOCK_BYTES,
    CsvProgress,
    HeaderMismatch,
    clean_names,
    csv_frames,
    json_frames,
    jsonl_frames,
    parquet_frames,
)
from connectors.base import (
    AuthenticationError,
    ConnectorError,
    FormatError,
    SourceUnreachableError,
    StreamNotFoundError,
)

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

    from connectors._file_options import FileFormat

#: Bytes read up front to sniff the format, encoding, delimiter and header.
HEAD_BYTES = 64 * 1024

COMPRESSION_SUFFIXES = {".gz": "gzip", ".gzip": "gzip", ".bz2": "bz2", ".zip": "zip", ".zst": "zstd"}
FORMAT_SUFFIXES = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".parquet": "parquet",
    ".pq": "parquet",
}
_DELIMITERS = (",", ";", "\t", "|")
_NAMES = {"csv": "CSV", "tsv": "TSV", "jsonl": "JSON lines", "json": "JSON", "parquet": "Parquet"}


def split_suffixes(name: str) -> tuple[str, str | None, str | None]:
    """Splits ``a/b.csv.gz`` into its glob suffix (``.csv.gz``), format and compression."""
    stem, last = posixpath.splitext(name.lower())
    compression = COMPRESSION_SUFFIXES.get(last)
    if compression:
        inner = posixpath.splitext(stem)[1]
        kind = FORMAT_SUFFIXES.get(inner)
        return (inner + last if kind else last), kind, compression
    return last, FORMAT_SUFFIXES.get(last), None


def compression_for(name: str, setting: str) -> str | None:
    """The compression to undo: the explicit setting, else the file's extension."""
    if setting == "auto":
        return split_suffixes(name)[2]
    return None if setting == "none" else setting


def detect_encoding(head: bytes, at_eof: bool, declared: str | None) -> str:
    """A Python codec name for the file: BOM first, then the setting, then a UTF-8 trial."""
    # UTF-32 BOMs start with the UTF-16 ones, so they are tested first.
    for bom, name in (
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        family = name.removesuffix("-sig")
        if head.startswith(bom) and (declared is None or codecs.lookup(declared).name.startswith(family)):
            return name
    if declared:
        return declared
    if head.count(0) > len(head) // 4:
        # BOM-less UTF-16: ASCII characters leave a NUL in every other byte.
        return "utf-16-le" if head[1::2].count(0) > head[0::2].count(0) else "utf-16-be"
    try:
        # An incremental decoder tolerates a multi-byte character cut by the head's end.
        codecs.getincrementaldecoder("utf-8")().decode(head, final=at_eof)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        head.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        return "latin-1"


def sniff_kind(name: str, head: bytes, text: str) -> str:
    """The format of a file whose type is ``auto``: extension, then content."""
    kind = split_suffixes(name)[1]
    if kind == "json" or (kind is None and text.lstrip()[:1] in ("{", "[")):
        return _json_or_lines(text)
    if kind is None and head.startswith(b"PAR1"):
        return "parquet"
    return kind or "csv"


def _json_or_lines(text: str) -> str:
    """JSON lines when the first line is a whole object and more follows, else JSON."""
    body = text.lstrip()
    first, sep, rest = body.partition("\n")
    if body.startswith("{") and sep and rest.strip():
        try:
            json.loads(first)
            return "jsonl"
        except ValueError:
            pass
    return "json"


def sniff_delimiter(text: str, quote_char: str) -> str:
    """The candidate delimiter giving the most consistent, widest rows on the head."""
    best, best_score = ",", (0.0, 0)
    for delimiter in _DELIMITERS:
        try:
            rows = list(islice(csv.reader(io.StringIO(text), delimiter=delimiter, quotechar=quote_char), 50))
        except csv.Error:
            continue
        widths = [len(row) for row in rows if row]
        if not widths or widths[0] < 2:
            continue
        score = (sum(w == widths[0] for w in widths) / len(widths), widths[0])
        if score > best_score:
            best, best_score = delimiter, score
    return best


class _Replay(io.RawIOBase):
    """Replays the bytes already read for sniffing, then the rest of the stream."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        super().__init__()
        self._head = memoryview(head)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _read_head(stream: BinaryIO, size: int) -> bytes:
    """Reads up to ``size`` bytes; decompressors may return less per call."""
    parts, total = [], 0
    while total < size:
        part = stream.read(size - total)
        if not part:
            break
        parts.append(part)
        total += len(part)
    return b"".join(parts)


@contextmanager
def _open_decompressed(
    fs: AbstractFileSystem,
    path: str,
    compression: str | None,
    open_options: Mapping[str, Any],
    buffer_size: int = 0,
) -> Iterator[tuple[BinaryIO, str]]:
    """Opens ``path`` for reading with its compression undone; yields the stream and inner name.

    ``open_options`` go to ``fs.open`` (a cloud object's range-read block size): a
    decompressor pulls compressed bytes as it needs them, so only what is read is
    fetched, ``buffer_size`` bytes at a time at least.
    """
    with ExitStack() as stack:
        raw: Any = stack.enter_context(fs.open(path, "rb", **open_options))
        name = path
        if compression in ("gzip", "bz2", "zstd") and buffer_size:
            # Decompressors read a few KB at a time: a file without a block cache of its
            # own (SFTP) would make each of those reads a round trip to the server.
            raw = io.BufferedReader(_Replay(b"", raw), buffer_size=buffer_size)
        if compression == "gzip":
            raw = stack.enter_context(gzip.GzipFile(fileobj=raw))
        elif compression == "bz2":
            raw = stack.enter_context(bz2.BZ2File(raw))
        elif compression == "zstd":
            # read_across_frames: files written by pzstd or concatenated hold several frames.
            raw = stack.enter_context(
                zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
            )
        elif compression == "zip":
            archive = stack.enter_context(zipfile.ZipFile(raw))
            members = [
                m for m in archive.infolist() if not m.is_dir() and not m.filename.startswith("__MACOSX")
            ]
            if not members:
                raise FormatError(f"{posixpath.basename(path)} is an empty zip archive.")
            # Streamed by name, never extracted; a member escaping the folder is refused all the same.
            name = checked_member(members[0].filename, posixpath.basename(path))
            raw = stack.enter_context(archive.open(members[0]))
        yield raw, name


@contextmanager
def _translate_errors(rel: str, kind: str, compression: str | None) -> Iterator[None]:
    """Turns library exceptions into connector errors that name the file and the fix."""
    what = _NAMES.get(kind, kind)
    try:
        yield
    except ConnectorError:
        raise
    except FileNotFoundError as exc:
        raise StreamNotFoundError(f"{rel} disappeared while it was being read.") from exc
    except PermissionError as exc:
        raise AuthenticationError(f"Permission denied reading {rel}.") from exc
    except UnicodeError as exc:
        raise FormatError(
            f"{rel} could not be decoded as text ({exc}); set format.encoding (e.g. latin-1, cp1252, utf-16)."
        ) from exc
    except (EOFError, zlib.error, zipfile.BadZipFile, zstandard.ZstdError, gzip.BadGzipFile) as exc:
        raise FormatError(
            f"{rel} could not be decompressed as {compression}: {exc}; set format.compression if it is not."
        ) from exc
    except pa.ArrowException as exc:
        text = str(exc)
        if "UTF8" in text or "UTF-8" in text:
            fix = "set format.encoding (e.g. latin-1, cp1252)"
        elif "straddling" in text:
            fix = f"a row is over {MAX_CSV_BLOCK_BYTES >> 20} MB: a quote is probably never closed"
        else:
            fix = "set format.type (and format.delimiter) if it is not " + what
        raise FormatError(f"{rel} could not be read as {what}: {text.splitlines()[0]}; {fix}.") from exc
    except OSError as exc:
        if compression:
            raise FormatError(f"{rel} could not be decompressed as {compression}: {exc}.") from exc
        raise SourceUnreachableError(f"Could not read {rel}: {exc}") from exc


@dataclass(frozen=True)
class _Head:
    """What sniffing the start of a decompressed file found."""

    head: bytes
    at_eof: bool
    encoding: str
    text: str  # the decoded head, cut after its last whole line unless it is the whole file
    kind: str


def _sniff(raw: BinaryIO, inner: str, fmt: FileFormat, kind: str) -> _Head | None:
    """Reads the head of a file and settles its encoding and format; None for an empty file."""
    head = _read_head(raw, HEAD_BYTES)
    if not head.strip(b"\x00\r\n\t \xef\xbb\xbf\xff\xfe"):
        return None
    at_eof = len(head) < HEAD_BYTES
    encoding = detect_encoding(head, at_eof, fmt.encoding)
    text = (
        codecs.getincrementaldecoder(encoding)(errors="replace").decode(head, final=at_eof).lstrip("\ufeff")
    )
    if kind == "auto":
        kind = sniff_kind(inner, head, text)
    if not at_eof and "\n" in text:
        text = text[: text.rindex("\n") + 1]
    return _Head(head, at_eof, encoding, text, kind)


def _csv_layout(sniffed: _Head, fmt: FileFormat) -> tuple[str, list[str]]:
    """The delimiter and the first record's fields (the header when there is one)."""
    delimiter = fmt.delimiter or (
        "\t" if sniffed.kind == "tsv" else sniff_delimiter(sniffed.text, fmt.quote_char)
    )
    try:
        reader = csv.reader(io.StringIO(sniffed.text), delimiter=delimiter, quotechar=fmt.quote_char)
        return delimiter, next(reader, [])
    except csv.Error:
        return delimiter, []


def _kind_of(rel: str, fmt: FileFormat) -> str:
    """The declared format; ``auto`` still sniffs, except Parquet, which is read without a head."""
    if fmt.type == "auto" and split_suffixes(rel)[1] == "parquet":
        return "parquet"
    return fmt.type


def iter_file_frames(
    fs: AbstractFileSystem,
    path: str,
    rel: str,
    fmt: FileFormat,
    rows: int,
    block_size: int = CSV_BLOCK_BYTES,
    open_options: Mapping[str, Any] | None = None,
) -> Generator[pd.DataFrame, None, None]:
    """Yields one file's rows in frames of at most ``rows`` rows (CSV: one pyarrow block).

    ``block_size`` is pyarrow's CSV block; ``open_options`` go to ``fs.open``.
    """
    opening = dict(open_options or {})
    compression = compression_for(rel, fmt.compression)
    kind = _kind_of(rel, fmt)
    width: int | None = None
    progress = CsvProgress()
    with _translate_errors(rel, kind if kind != "auto" else split_suffixes(rel)[1] or "CSV", compression):
        if kind == "parquet":
            if compression:
                raise FormatError(f"{rel}: Parquet compresses internally; store it as a plain .parquet file.")
            yield from parquet_frames(fs, path, rel, rows, opening)
            return
        while True:
            with _open_decompressed(fs, path, compression, opening, block_size) as (raw, inner):
                sniffed = _sniff(raw, inner, fmt, kind)
                if sniffed is None:
                    return  # an empty file is simply no rows
                stream: BinaryIO = io.BufferedReader(_Replay(sniffed.head, raw), buffer_size=1 << 16)
                if sniffed.kind in ("jsonl", "json"):
                    text = io.TextIOWrapper(stream, encoding=sniffed.encoding)
                    read = jsonl_frames if sniffed.kind == "jsonl" else json_frames
                    yield from read(text, rel, rows)
                    return
                if sniffed.kind == "parquet":
                    raise FormatError(f"{rel} is Parquet; a Parquet file cannot be compressed as a whole.")
                delimiter, first = _csv_layout(sniffed, fmt)
                encoding = sniffed.encoding
                if sniffed.at_eof and not sniffed.head.endswith((b"\n", b"\r", b"\n\x00", b"\r\x00")):
                    # pyarrow cannot size a file of one unterminated line; a small
                    # file is re-fed from memory as UTF-8 with a final newline.
                    whole = sniffed.head.decode(encoding).lstrip("\ufeff") + "\n"
                    stream, encoding = io.BytesIO(whole.encode()), "utf-8"
                try:
                    yield from csv_frames(
                        stream,
                        rel,
                        fmt,
                        delimiter,
                        encoding,
                        width or len(first),
                        block_size,
                        progress,
                    )
                    return
                except HeaderMismatch as exc:
                    # Raised before any row was yielded: reopen and read with pyarrow's width.
                    if width is not None:
                        raise FormatError(
                            f"{rel}: its number of columns is unclear; set format.delimiter."
                        ) from exc
                    width = exc.width
                except pa.ArrowInvalid as exc:
                    if "straddl" not in str(exc) or block_size >= MAX_CSV_BLOCK_BYTES:
                        raise
                    block_size *= 4  # a row is larger than a block: restart after the rows yielded


def peek_columns(
    fs: AbstractFileSystem,
    path: str,
    rel: str,
    fmt: FileFormat,
    open_options: Mapping[str, Any] | None = None,
) -> list[str]:
    """A file's columns read cheaply (CSV header, first JSON line, Parquet schema); [] if unknown."""
    kind = _kind_of(rel, fmt)
    opening = dict(open_options or {})
    try:
        if kind == "parquet":
            with fs.open(path, "rb", **opening) as handle:
                names = pq.ParquetFile(handle).schema_arrow.names
            return [name for name in names if not name.startswith("__index_level_")]
        with _open_decompressed(fs, path, compression_for(rel, fmt.compression), opening) as (raw, inner):
            sniffed = _sniff(raw, inner, fmt, kind)
        if sniffed is None or sniffed.kind in ("json", "parquet"):
            return []  # a JSON document's keys are only known once it is loaded
        if sniffed.kind == "jsonl":
            first = json.loads(sniffed.text.lstrip().partition("\n")[0])
            return [str(key) for key in first] if isinstance(first, dict) else []
        _, fields = _csv_layout(sniffed, fmt)
        return clean_names(fields if fmt.header else [], len(fields))
    except Exception:  # a file that cannot be peeked at fails, with a clear error, when it is read
        return []
