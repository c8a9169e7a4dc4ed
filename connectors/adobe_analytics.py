"""Adobe Analytics data feeds: hit-level files Adobe delivers to S3, Azure, GCS, SFTP or a folder.

One stream per report suite (its id, ``rsid``). Each delivery (a report
suite's day or hour) is a :class:`Partition` named by its manifest and
versioned by the MD5s it lists, so an incremental dataflow reads each
delivery once, and again only when Adobe re-sends it; a delivery whose
manifest has not arrived yet (Adobe writes it last) is not read. Before its
rows are read, each file is checked against the manifest (size, MD5, hit
count). Hits are parsed with Adobe's escaping (:mod:`connectors._datafeed_hits`),
typed, filtered as Adobe's reports count them and joined with the lookups
(:mod:`connectors._datafeed_columns`).

The storage is the files connector's: the same URL schemes and credential
fields (:mod:`connectors._any_storage`), the same listing and error wording.
"""

from __future__ import annotations

import hashlib
import posixpath
from collections.abc import Generator, Iterable, Iterator, Mapping
from typing import Any, ClassVar

import pandas as pd
import pyarrow as pa

from connectors._any_storage import files_connector
from connectors._datafeed_columns import (
    PRIMARY_KEY,
    decode_text,
    field_type,
    join_lookups,
    joins_for,
    reported_hits,
    typed_hits,
)
from connectors._datafeed_delivery import (
    Opener,
    SideFiles,
    check_count,
    count_data_file,
    hit_member,
    local_opener,
    remote_opener,
    verified_copy,
)
from connectors._datafeed_hits import hit_frames
from connectors._datafeed_manifest import (
    PARTIAL_SUFFIX,
    FeedFile,
    Manifest,
    Pending,
    manifests_in,
    parse_manifest,
    pending_in,
)
from connectors._datafeed_settings import AdobeAnalyticsConfig, identity_suggestions
from connectors._listing import ListedFile
from connectors._readers import Chunker
from connectors._storages import SAMPLE_BLOCK_BYTES
from connectors.base import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_SAMPLE_SIZE,
    CheckResult,
    Connector,
    ConnectorConfig,
    ConnectorError,
    CursorRequest,
    FieldInfo,
    FormatError,
    Partition,
    StreamInfo,
    StreamNotFoundError,
)


class AdobeAnalyticsConnector(Connector):
    """Reads the hits of Adobe Analytics data feed deliveries, one stream per report suite."""

    name: ClassVar[str] = "adobe_analytics"
    title: ClassVar[str] = "Adobe Analytics"
    category: ClassVar[str] = "Adobe applications"
    description: ClassVar[str] = "Hit-level data feeds delivered to S3, Azure, GCS, SFTP or a folder."
    config_model: ClassVar[type[ConnectorConfig]] = AdobeAnalyticsConfig

    config: AdobeAnalyticsConfig

    def __init__(self, config: AdobeAnalyticsConfig | Mapping[str, Any]) -> None:
        super().__init__(config)
        # The files connector of the feed's storage: its filesystem, listing and error wording.
        self._storage = files_connector(self.config.storage())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config.storage().display_url()!r})"

    # -- the four verbs --------------------------------------------------------
    def check(self) -> CheckResult:
        """Reaches the folder, then says which deliveries it holds and which still wait for a manifest."""
        reached = self._storage.check()
        if not reached.ok:
            return reached
        try:
            with self._storage._errors():
                listed = self._listing()
        except ConnectorError as error:
            return CheckResult(False, error.user_message)
        where = self.config.storage().display_url()
        manifests = manifests_in(listed, self.config.report_suite)
        waiting = pending_in(listed, self.config.report_suite)
        if not manifests:
            suite = f" of report suite {self.config.report_suite!r}" if self.config.report_suite else ""
            fins = sum(1 for f in listed if f.rel.endswith(".fin"))
            if fins:
                hint = (
                    f": {fins} .fin completion file(s) carry no MD5s; set the feed's manifest option to "
                    "a manifest file"
                )
            elif waiting:
                hint = (
                    f" yet ({len(waiting)} arriving: Adobe writes the manifest last; if none ever comes, "
                    "set the feed's manifest option to a manifest file)"
                )
            else:
                hint = " (an empty folder, or another feed's: check the URL and the report suite)"
            return CheckResult(False, f"{where} holds no data feed delivery{suite} with a manifest{hint}.")
        suites: dict[str, int] = {}
        for file in manifests:
            suites[_report_suite(file)] = suites.get(_report_suite(file), 0) + 1
        listing = ", ".join(f"{rsid} ({n})" for rsid, n in sorted(suites.items()))
        note = f"; {len(waiting)} more waiting for their manifest" if waiting else ""
        fs, _ = self._storage._filesystem()
        pin = self.config.storage().check_note(fs)  # an SFTP host key accepted as new, to pin
        return CheckResult(True, f"{where} is readable: {len(manifests)} deliveries of {listing}{note}.{pin}")

    def discover(self) -> list[StreamInfo]:
        """One stream per report suite, its fields from the newest delivery's column_headers.tsv."""
        with self._storage._errors():
            listed = self._listing()
            by_suite: dict[str, list[ListedFile]] = {}
            for file in manifests_in(listed, self.config.report_suite):
                by_suite.setdefault(_report_suite(file), []).append(file)
            waiting = pending_in(listed, self.config.report_suite)
            return [self._describe(rsid, files, waiting) for rsid, files in sorted(by_suite.items())]

    def sample(
        self, stream: str, limit: int = DEFAULT_SAMPLE_SIZE, options: Mapping[str, Any] | None = None
    ) -> pd.DataFrame:
        """The first hits of the newest delivery, read with range requests and without verifying it."""
        with self._storage._errors():
            manifest = self._manifests(stream)[-1]
            side = self._side_files(manifest)
            data = manifest.data_files[0]
            opener = self._remote(manifest.path_of(data))
            try:
                return self._first_hits(manifest, data, opener, side, limit, "utf-8")
            except pa.ArrowInvalid as error:
                if "UTF8" not in str(error):
                    raise
                # an unverified sample cannot know the encoding beforehand: Adobe's older feeds are Latin-1
                return self._first_hits(manifest, data, opener, side, limit, "iso-8859-1")

    def read(
        self,
        stream: str,
        options: Mapping[str, Any] | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        cursor: CursorRequest | None = None,
    ) -> Iterator[pd.DataFrame]:
        """Every delivery of the report suite, oldest first, in chunks of ``chunk_size`` hits."""
        if chunk_size < 1:
            raise ValueError("chunk_size must be at least 1")
        with self._storage._errors():
            manifests = self._manifests(stream)
            chunker = Chunker(chunk_size, [])
            for manifest in manifests:
                for frame in self._delivery_frames(manifest):
                    yield from chunker.add(frame)
            yield from chunker.finish()

    def fingerprint(self, stream: str, options: Mapping[str, Any] | None = None) -> str | None:
        """A hash of the deliveries' manifests and versions: changes when one arrives or is re-sent."""
        parts = self.partitions(stream, options) or []
        return hashlib.sha256("\n".join(f"{p.name}\t{p.version}" for p in parts).encode()).hexdigest()

    # -- one partition per delivery --------------------------------------------
    def partitions(self, stream: str, options: Mapping[str, Any] | None = None) -> list[Partition] | None:
        """The report suite's deliveries that have a manifest, oldest first, versioned by its MD5s."""
        with self._storage._errors():
            listed = {f.rel: f for f in self._listing()}
            return [
                Partition(
                    m.rel,
                    m.version,
                    sum(f.size or 0 for f in m.files),
                    listed[m.rel].modified or None,
                )
                for m in self._manifests(stream, listed.values())
            ]

    def read_partition(
        self,
        stream: str,
        partition: Partition,
        options: Mapping[str, Any] | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ) -> Iterator[pd.DataFrame]:
        """One delivery's hits in chunks of ``chunk_size``, each file checked against the manifest first."""
        if chunk_size < 1:
            raise ValueError("chunk_size must be at least 1")
        with self._storage._errors():
            manifest = self._manifest(partition.name)
            if manifest.report_suite != stream:
                raise StreamNotFoundError(
                    f"{partition.name} is a delivery of report suite {manifest.report_suite!r}, "
                    f"not {stream!r}."
                )
            chunker = Chunker(chunk_size, [])
            for frame in self._delivery_frames(manifest):
                yield from chunker.add(frame)
            yield from chunker.finish()

    # -- deliveries --------------------------------------------------------------
    def _listing(self) -> list[ListedFile]:
        """Every file under the feed folder (partial SFTP uploads left out)."""
        fs, root = self._storage._filesystem()
        found = self._storage._files(fs.find(root, detail=True))
        return [file for file in found if not file.rel.endswith(PARTIAL_SUFFIX)]

    def _manifest(self, rel: str) -> Manifest:
        """One delivery's manifest, read now."""
        if not rel or "://" in rel or ".." in rel.split("/"):
            raise StreamNotFoundError(
                f"{rel!r} is not a manifest inside {self.config.storage().display_url()}."
            )
        fs, root = self._storage._filesystem()
        return parse_manifest(decode_text(fs.cat_file(posixpath.join(root, rel))), rel)

    def _manifests(self, stream: str, listed: Iterable[ListedFile] | None = None) -> list[Manifest]:
        """The report suite's manifests, oldest period first; raises when it has none."""
        if self.config.report_suite and stream != self.config.report_suite:
            raise StreamNotFoundError(
                f"This connection reads report suite {self.config.report_suite!r}, not {stream!r}."
            )
        files = manifests_in(self._listing() if listed is None else listed, stream)
        if not files:
            raise StreamNotFoundError(
                f"No delivery of report suite {stream!r} in {self.config.storage().display_url()} "
                f"(no manifest {stream}_<YYYY-MM-DD>.txt)."
            )
        fs, _ = self._storage._filesystem()
        texts = fs.cat([f.path for f in files])
        return [parse_manifest(decode_text(texts[f.path]), f.rel) for f in files]

    def _describe(self, rsid: str, files: list[ListedFile], waiting: list[Pending]) -> StreamInfo:
        """A report suite's stream: fields typed from the newest delivery's headers, plus the joins."""
        fs, _ = self._storage._filesystem()
        newest = parse_manifest(decode_text(fs.cat_file(files[-1].path)), files[-1].rel)
        metadata: dict[str, Any] = {
            "deliveries": len(files),
            "newest": newest.period,
            "waiting_for_manifest": sum(1 for p in waiting if p.report_suite == rsid),
        }
        try:
            with self._storage._errors():
                headers = self._headers(newest, self._side_files(newest))
        except ConnectorError as error:
            return StreamInfo(name=rsid, metadata={**metadata, "error": error.user_message})
        joins = joins_for(headers, self.config.join_lookups)
        fields = (*(FieldInfo(c, field_type(c)) for c in headers), *(FieldInfo(j.column) for j in joins))
        metadata["primary_key"] = [c for c in PRIMARY_KEY if c in headers]
        suggestions = identity_suggestions(self.config.identities, headers)
        return StreamInfo(
            name=rsid,
            fields=fields,
            metadata={**metadata, **suggestions},
        )

    def _side_files(self, manifest: Manifest) -> SideFiles:
        """The headers and lookups of a delivery, read from its archives without verifying them."""
        side = SideFiles()
        for lookup in manifest.lookup_files:
            with self._remote(manifest.path_of(lookup))() as raw:
                side.read_archive(raw, lookup.name)
        if side.headers is None:  # a single archive: the headers are inside the data file
            data = manifest.data_files[0]
            with self._remote(manifest.path_of(data))() as raw:
                side.read_archive(raw, data.name, stop_at_hits=True)
        return side

    def _headers(self, manifest: Manifest, side: SideFiles) -> list[str]:
        if not side.headers:
            raise FormatError(
                f"The delivery {manifest.rel} has no column_headers.tsv: its hits have no names."
            )
        return side.headers

    def _remote(self, rel: str) -> Opener:
        fs, root = self._storage._filesystem()
        return remote_opener(
            fs, posixpath.join(root, rel), self.config.storage().open_options(SAMPLE_BLOCK_BYTES)
        )

    def _first_hits(
        self, manifest: Manifest, data: FeedFile, opener: Opener, side: SideFiles, limit: int, encoding: str
    ) -> pd.DataFrame:
        """The first ``limit`` hits of a data file; stops reading as soon as it has them."""
        chunker = Chunker(max(limit, 1), [])
        frames = self._hits(manifest, data, lambda: hit_member(opener, data.name, 0), side, encoding)
        try:
            for frame in frames:
                for chunk in chunker.add(frame):
                    return chunk.iloc[: max(limit, 0)]
        finally:
            frames.close()  # never read past what the sample needs
        return next(chunker.finish(), chunker.empty())

    def _delivery_frames(self, manifest: Manifest) -> Iterator[pd.DataFrame]:
        """A delivery's hits: each file copied (one at a time), checked (size, MD5, hit count), parsed."""
        fs, root = self._storage._filesystem()
        side = SideFiles()
        for lookup in manifest.lookup_files:
            rel = manifest.path_of(lookup)
            with verified_copy(fs, posixpath.join(root, rel), rel, lookup) as local, open(local, "rb") as raw:
                side.read_archive(raw, lookup.name)
        for data in manifest.data_files:
            rel = manifest.path_of(data)
            with verified_copy(fs, posixpath.join(root, rel), rel, data) as local:
                with open(local, "rb") as raw:
                    count = count_data_file(raw, data.name, side)
                check_count(rel, data, count)
                for index in range(count.members):
                    opener = _member_opener(local, data.name, index)
                    yield from self._hits(manifest, data, opener, side, count.encoding, rel)

    def _hits(
        self,
        manifest: Manifest,
        data: FeedFile,
        opener: Opener,
        side: SideFiles,
        encoding: str,
        rel: str = "",
    ) -> Generator[pd.DataFrame, None, None]:
        """Parsed, typed, filtered and joined hits of one data file."""
        headers = self._headers(manifest, side)
        joins = joins_for(headers, self.config.join_lookups)
        rel = rel or manifest.path_of(data)
        for frame in hit_frames(opener, headers, rel, encoding):
            hits = typed_hits(frame)
            if self.config.reported_hits_only:
                hits = reported_hits(hits)
            yield join_lookups(hits, joins, side.lookups)


def _member_opener(local: str, name: str, index: int) -> Opener:
    return lambda: hit_member(local_opener(local), name, index)


def _report_suite(file: ListedFile) -> str:
    return posixpath.basename(file.rel).rsplit("_", 1)[0]
