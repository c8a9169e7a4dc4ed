"""The files connector: CSV, TSV, JSON lines, JSON and Parquet files in a folder or bucket.

One connector over fsspec, declared once per storage: local folders
(``files``), Amazon S3 (``s3``), Azure Blob Storage (``azure_blob``), Google
Cloud Storage (``gcs``) and SFTP (``sftp``). The storages differ only in their
settings model (``_storages``, ``_object_stores``, ``_sftp``: URL, typed
credentials, fsspec options, error wording); listing, formats and chunking
are shared.

A stream is a glob pattern relative to the folder (``contacts/*.csv``,
``**/*.parquet``), read file by file in path order; each file is also a
:class:`Partition` with a version, which the engine uses to read only the
objects that changed. Chunks may span files in ``read()``; every chunk has the
same columns (the union of the files' columns, then the bookkeeping ones). CSV
values stay strings. The origin is ``<relative path>#<n>``, ``n`` being the
1-based data row (the line for JSON lines). Cloud objects are read with range
requests of a bounded block size, so ``sample()`` fetches a couple of MB at most
and ``read()`` never holds a whole object. Messages never contain a secret: every
error is scrubbed of the connection's secret values before it leaves.

Streams and partitions stay inside the folder (``_paths``): a pattern with
``..``, an absolute path, ``~``, a URL scheme or a control character is
refused, and so is a local file reached through a link that leaves the folder.
"""

from __future__ import annotations

import glob
import hashlib
import json
import posixpath
import socket
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, ClassVar

import pandas as pd
from fsspec import AbstractFileSystem
from fsspec.implementations.local import LocalFileSystem

from connectors._candidates import cursor_candidates, key_candidates
from connectors._file_options import FileFormat, FileOptions
from connectors._formats import iter_file_frames, peek_columns, split_suffixes
from connectors._listing import ListedFile, find_or_empty, info_or_none, modified_time, version_tag
from connectors._object_stores import AzureBlobConfig, GcsConfig, S3Config
from connectors._paths import checked_pattern, resolves_inside
from connectors._readers import SAMPLE_CSV_BLOCK_BYTES, Chunker, union_columns
from connectors._sftp import SftpConfig
from connectors._storages import (
    CONNECT_TIMEOUT_S,
    READ_BLOCK_BYTES,
    SAMPLE_BLOCK_BYTES,
    FilesConfig,
    StorageConfig,
    causes,
    generic_error,
    scrub,
)
from connectors.base import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_SAMPLE_SIZE,
    META_PREFIX,
    ROW_ERROR_COLUMN,
    CheckResult,
    Connector,
    ConnectorConfig,
    ConnectorError,
    CursorRequest,
    FieldInfo,
    Partition,
    SourceUnreachableError,
    StreamInfo,
    StreamNotFoundError,
    StreamOptions,
    infer_field_type,
)

#: Rows sampled per stream by ``discover()`` to type its fields.
DISCOVER_SAMPLE_ROWS = 500


class FilesConnector(Connector):
    """Reads delimited, JSON and Parquet files from a folder; subclasses only declare their storage."""

    name: ClassVar[str] = "files"
    title: ClassVar[str] = "Local files"
    category: ClassVar[str] = "Cloud storage"
    description: ClassVar[str] = "CSV, TSV, JSON lines, JSON and Parquet files, compressed or not."
    config_model: ClassVar[type[ConnectorConfig]] = FilesConfig
    options_model: ClassVar[type[StreamOptions]] = FileOptions

    config: StorageConfig

    def __init__(self, config: StorageConfig | Mapping[str, Any]) -> None:
        super().__init__(config)
        self._fs: tuple[AbstractFileSystem, str] | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config.display_url()!r})"

    # -- the four verbs --------------------------------------------------------
    def check(self) -> CheckResult:
        """Lists the folder; says how many data files it holds, or why it cannot."""
        where = self._display_url()
        try:
            with self._errors():
                self._probe_endpoint()
                self.config.verify_credentials()
                fs, root = self._filesystem()
                # Listing first: a listing's errors are the most precise (a HEAD has no body).
                entries = find_or_empty(fs, root)
                if not entries or root in entries:
                    info = info_or_none(fs, root)
                    if info is None:
                        self._missing_bucket(fs)
                        raise FileNotFoundError(root)
                    if info.get("type") == "file":
                        return CheckResult(
                            False,
                            f"{where} is a file: set url to its folder and use the file name as the stream.",
                        )
                data = self._data_files(entries)
                others = sum(1 for info in entries.values() if info.get("type") == "file") - len(data)
                extra = f", plus {others} other file(s) ignored" if others else ""
                size = _human_bytes(sum(f.size for f in data))
                note = self.config.check_note(fs)
                return CheckResult(
                    True, f"{where} is readable: {len(data)} data file(s), {size}{extra}.{note}"
                )
        except ConnectorError as exc:
            return CheckResult(False, exc.user_message)

    def discover(self) -> list[StreamInfo]:
        """One stream per data file, plus ``dir/*.ext`` for each folder holding 2+ files of a kind."""
        with self._errors():
            fs, root = self._filesystem()
            found = self._data_files(fs.find(root, detail=True))
            outside = set(self._outside(found))
            files = [file for file in found if file not in outside]  # never offered, never sampled
            groups: dict[str, list[ListedFile]] = {}
            for file in files:
                folder = posixpath.dirname(file.rel)
                pattern = posixpath.join(folder, "*" + split_suffixes(file.rel)[0])
                groups.setdefault(pattern, []).append(file)
            named = [(file.rel, [file]) for file in files]
            named += [(pattern, members) for pattern, members in groups.items() if len(members) > 1]
            named.sort(key=lambda item: (posixpath.dirname(item[0]), "*" in item[0], item[0]))
            return [self._describe(name, members) for name, members in named]

    def sample(
        self, stream: str, limit: int = DEFAULT_SAMPLE_SIZE, options: Mapping[str, Any] | None = None
    ) -> pd.DataFrame:
        """The first ``limit`` rows of the stream's first files; stops reading as soon as it has them."""
        with self._errors():
            return self._sample_files(self._match(stream), limit, self._format(options))

    def read(
        self,
        stream: str,
        options: Mapping[str, Any] | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        cursor: CursorRequest | None = None,
    ) -> Iterator[pd.DataFrame]:
        """Yields the stream's rows in chunks of at most ``chunk_size`` rows, file after file.

        Files cannot be filtered by a cursor column without reading them, so
        ``cursor`` is ignored: the engine filters the rows.
        """
        if chunk_size < 1:
            raise ValueError("chunk_size must be at least 1")
        with self._errors():
            fmt = self._format(options)
            files = self._match(stream)
            fs, _ = self._filesystem()
            peek = self.config.open_options(SAMPLE_BLOCK_BYTES)
            # Every chunk gets the union of the files' columns, so a column that only
            # later files have does not look like schema drift in the first chunks.
            columns = (
                union_columns(peek_columns(fs, f.path, f.rel, fmt, peek) for f in files)
                if len(files) > 1
                else []
            )
            chunker = Chunker(chunk_size, columns)
            for file in files:
                for frame in self._frames(file.path, file.rel, fmt, chunk_size):
                    yield from chunker.add(frame)
            yield from chunker.finish()

    def fingerprint(self, stream: str, options: Mapping[str, Any] | None = None) -> str | None:
        """A sha256 over the matched files' paths, sizes, modified times and version tags."""
        with self._errors():
            files = self._match(stream)
        payload = {
            "files": [[f.rel, f.size, f.modified, f.tag] for f in files],
            "format": self._format(options).model_dump(),
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()

    # -- object-level incremental ----------------------------------------------
    def partitions(self, stream: str, options: Mapping[str, Any] | None = None) -> list[Partition] | None:
        """The stream's files in path order, each with its version (ETag, MD5, generation or size:mtime)."""
        with self._errors():
            return [Partition(f.rel, f.version, f.size, f.modified or None) for f in self._match(stream)]

    def read_partition(
        self,
        stream: str,
        partition: Partition,
        options: Mapping[str, Any] | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ) -> Iterator[pd.DataFrame]:
        """Yields one file's rows in chunks of at most ``chunk_size``, with that file's own columns.

        The file is read as it is now: if it changed since ``partitions()``,
        the next listing shows a new version and the engine reads it again.
        """
        if chunk_size < 1:
            raise ValueError("chunk_size must be at least 1")
        rel = checked_pattern(partition.name, self._display_url(), "Partition")
        with self._errors():
            fmt = self._format(options)
            _, root = self._filesystem()
            path = posixpath.join(root, rel)
            self._refuse_outside([ListedFile(path, rel, 0, "", "")])
            chunker = Chunker(chunk_size, [])
            for frame in self._frames(path, rel, fmt, chunk_size):
                yield from chunker.add(frame)
            yield from chunker.finish()

    # -- helpers ---------------------------------------------------------------
    def _filesystem(self) -> tuple[AbstractFileSystem, str]:
        """The fsspec filesystem and the folder's path on it, opened once."""
        if self._fs is None:
            fs, root = self.config.filesystem()
            self._fs = (fs, root.rstrip("/") or "/")
        return self._fs

    def _display_url(self) -> str:
        """The URL without any password it may embed (``sftp://user:secret@host``)."""
        return self.config.display_url()

    def _format(self, options: Mapping[str, Any] | StreamOptions | None) -> FileFormat:
        """The validated ``format`` option."""
        parsed = self.parse_options(options)
        assert isinstance(parsed, FileOptions)
        return parsed.format

    def _frames(self, path: str, rel: str, fmt: FileFormat, rows: int) -> Iterator[pd.DataFrame]:
        """One file's frames, read with range requests of ``READ_BLOCK_BYTES``."""
        fs, _ = self._filesystem()
        return iter_file_frames(
            fs, path, rel, fmt, rows, open_options=self.config.open_options(READ_BLOCK_BYTES)
        )

    def _missing_bucket(self, fs: AbstractFileSystem) -> None:
        """Raises when the folder's bucket or container does not exist (object stores)."""
        bucket = self.config.bucket()
        if bucket and info_or_none(fs, bucket) is None:
            raise StreamNotFoundError(
                f"{self.config.bucket_word} {bucket!r} does not exist ({self._display_url()})."
            )

    def _probe_endpoint(self) -> None:
        """Fails fast, before the storage library's retries, when a configured endpoint is down."""
        endpoint = self.config.endpoint()
        if endpoint is None:
            return
        host, port = endpoint
        proxied = urllib.request.getproxies() and not urllib.request.proxy_bypass(host)
        if proxied and not isinstance(self.config, SftpConfig):
            return  # HTTP goes through the proxy: the endpoint is not ours to dial
        try:
            socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S).close()
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise SourceUnreachableError(
                f"Cannot reach {host}:{port} for {self._display_url()}: {reason}."
            ) from None

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Turns any storage exception into a connector error, and scrubs secrets from its message."""
        try:
            yield
        except ConnectorError as exc:
            message = scrub(exc.user_message, self.config.secrets())
            if message == exc.user_message:
                raise
            raise type(exc)(message) from None
        except Exception as exc:
            error = self.config.explain(exc, self._display_url()) or generic_error(exc, self._display_url())
            secrets = self.config.secrets()
            # The original stays attached for logs only when it shows no secret.
            cause = exc if not any(scrub(repr(e), secrets) != repr(e) for e in causes(exc)) else None
            raise type(error)(scrub(error.user_message, secrets)) from cause

    def _files(self, found: Mapping[str, Mapping[str, Any]]) -> list[ListedFile]:
        """Regular, non-hidden files under the folder, sorted by relative path."""
        _, root = self._filesystem()
        prefix = root if root.endswith("/") else root + "/"
        files = []
        for path, info in found.items():
            rel = path[len(prefix) :] if path.startswith(prefix) else ""
            if info.get("type") != "file" or not rel or any(p.startswith(".") for p in rel.split("/")):
                continue
            files.append(
                ListedFile(path, rel, int(info.get("size") or 0), modified_time(info), version_tag(info))
            )
        return sorted(files, key=lambda f: f.rel)

    def _data_files(self, found: Mapping[str, Mapping[str, Any]]) -> list[ListedFile]:
        """The files whose extension names a format this connector reads."""
        return [f for f in self._files(found) if split_suffixes(f.rel)[1]]

    def _outside(self, files: list[ListedFile]) -> list[ListedFile]:
        """The local files that are links resolving outside the folder (none on other storages)."""
        fs, root = self._filesystem()
        if not isinstance(fs, LocalFileSystem):
            return []
        return [file for file in files if not resolves_inside(file.path, root)]

    def _refuse_outside(self, files: list[ListedFile]) -> None:
        """Raises when one of the files is a link leaving the folder."""
        outside = self._outside(files)
        if outside:
            raise StreamNotFoundError(
                f"{outside[0].rel} is a link to a file outside {self._display_url()}: files must stay "
                "inside the connection's folder. Copy the file in, or point the connection at its folder."
            )

    def _match(self, stream: str) -> list[ListedFile]:
        """The files a stream names: one file, a folder's data files, or a glob's matches."""
        fs, root = self._filesystem()
        pattern = checked_pattern(stream, self._display_url())
        full = posixpath.join(root, pattern)
        info = info_or_none(fs, full)
        if info and info.get("type") == "file":
            files = self._files({full: {**info, "name": full}})
        elif info and info.get("type") == "directory":
            files = self._data_files(fs.find(full, detail=True))
        elif glob.has_magic(pattern):
            files = self._files(fs.glob(full, detail=True))
        else:
            files = []
        if not files:
            missing = "" if fs.exists(root) else " (the folder does not exist)"
            raise StreamNotFoundError(f"No file matches {pattern!r} in {self._display_url()}{missing}.")
        self._refuse_outside(files)
        return files

    def _sample_files(self, files: list[ListedFile], limit: int, fmt: FileFormat) -> pd.DataFrame:
        """At most ``limit`` rows from the first files, closing each reader as soon as it is done."""
        fs, _ = self._filesystem()
        chunker = Chunker(max(limit, 1), [])
        small = self.config.open_options(SAMPLE_BLOCK_BYTES)
        for file in files:
            rows = max(min(limit, DEFAULT_CHUNK_SIZE), 1)
            frames = iter_file_frames(fs, file.path, file.rel, fmt, rows, SAMPLE_CSV_BLOCK_BYTES, small)
            try:
                for frame in frames:
                    for chunk in chunker.add(frame):
                        return chunk.iloc[: max(limit, 0)]
            finally:
                frames.close()  # stop the reader now: never read past what the sample needs
        return next(chunker.finish(), chunker.empty())

    def _describe(self, name: str, files: list[ListedFile]) -> StreamInfo:
        """A stream with its fields typed from a sample; a file that fails to parse says why."""
        metadata: dict[str, Any] = {
            "files": len(files),
            "bytes": sum(f.size for f in files),
            "modified": max((f.modified for f in files), default="") or None,
        }
        if len(files) == 1:
            metadata["version"] = files[0].version
        try:
            with self._errors():
                frame = self._sample_files(files, DISCOVER_SAMPLE_ROWS, FileFormat())
        except ConnectorError as exc:
            return StreamInfo(name=name, metadata={**metadata, "error": exc.user_message})
        good = frame[frame[ROW_ERROR_COLUMN].isna()]
        fields = tuple(
            FieldInfo(str(c), infer_field_type(good[c]))
            for c in good.columns
            if not str(c).startswith(META_PREFIX)
        )
        return StreamInfo(
            name=name,
            fields=fields,
            primary_key_candidates=key_candidates(good, fields),
            cursor_candidates=cursor_candidates(fields),
            metadata=metadata,
        )


class S3Connector(FilesConnector):
    """Files in an Amazon S3 bucket or an S3-compatible store, through s3fs."""

    name: ClassVar[str] = "s3"
    title: ClassVar[str] = "Amazon S3"
    description: ClassVar[str] = "CSV, JSON and Parquet files in an S3 bucket (or MinIO, Ceph, R2...)."
    config_model: ClassVar[type[ConnectorConfig]] = S3Config


class AzureBlobConnector(FilesConnector):
    """Files in an Azure Blob Storage container, through adlfs."""

    name: ClassVar[str] = "azure_blob"
    title: ClassVar[str] = "Azure Blob Storage"
    description: ClassVar[str] = "CSV, JSON and Parquet files in an Azure Blob Storage container."
    config_model: ClassVar[type[ConnectorConfig]] = AzureBlobConfig


class GcsConnector(FilesConnector):
    """Files in a Google Cloud Storage bucket, through gcsfs."""

    name: ClassVar[str] = "gcs"
    title: ClassVar[str] = "Google Cloud Storage"
    description: ClassVar[str] = "CSV, JSON and Parquet files in a Google Cloud Storage bucket."
    config_model: ClassVar[type[ConnectorConfig]] = GcsConfig


class SftpConnector(FilesConnector):
    """Files on an SFTP server, through sshfs (asyncssh)."""

    name: ClassVar[str] = "sftp"
    title: ClassVar[str] = "SFTP"
    description: ClassVar[str] = "CSV, JSON and Parquet files on an SFTP server."
    config_model: ClassVar[type[ConnectorConfig]] = SftpConfig


def _human_bytes(size: float) -> str:
    """``1.5 MB`` and the like."""
    for unit in ("bytes", "KB", "MB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"
