"""The Adobe Analytics data feed connector on generated deliveries: a folder, then S3, Azure, GCS and SFTP.

Deliveries come from :mod:`tests.adobe_feeds` (Adobe's documented layout:
headers, lookups, escaped hit data, a manifest with MD5s and record counts,
"multiple files" and single-archive packagings, gzip and zip). Each test
compares what the connector reads with what the generator wrote. The
storage tests run on the real servers of :mod:`tests.storage_servers`.
"""

from __future__ import annotations

import gzip
import io
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError
from sqlalchemy import create_engine, text

import connectors
from connectors import _datafeed_hits
from connectors._any_storage import AnyStorageConfig
from connectors._datafeed_hits import _EscapedReturns, count_hits, unescaped
from connectors._datafeed_manifest import parse_manifest
from connectors._object_stores import AzureBlobConfig, GcsConfig, S3Config
from connectors._sftp import SftpConfig
from connectors._storages import FilesConfig
from connectors.adobe_analytics import AdobeAnalyticsConnector
from connectors.base import (
    ORIGIN_COLUMN,
    RAW_COLUMN,
    ROW_ERROR_COLUMN,
    SUGGESTED_IDENTITIES,
    SUGGESTED_MAPPING,
    FormatError,
    StreamNotFoundError,
)
from core import config
from core.mapping import ProfileSchema, compile_mapping
from core.mapping.suggest import StandardMapping, suggest
from core.services import secret_fields
from tests.adobe_feeds import COLUMNS, LOOKUPS, TRICKY, Delivery, make_delivery
from tests.connectors.storage_sites import Site
from tests.connectors.storage_sites import folder as folder  # the fixtures, used by name
from tests.connectors.storage_sites import site as site
from tests.storage_servers import azurite_server as azurite_server  # the servers site starts, by name
from tests.storage_servers import gcs_server as gcs_server
from tests.storage_servers import make_bucket, unique_name
from tests.storage_servers import s3_server as s3_server
from tests.storage_servers import sftp_server as sftp_server

RSID = "acmeprod"
KEY = ["hitid_high", "hitid_low", "visit_num", "visit_page_num"]
ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "adobe.md"
MAPPING = {
    "ecid": "mcvisid",
    "analyticsVisitorId": "concat(post_visid_high, '_', post_visid_low)",
    "preferredLanguage": "language_name",
}


def feed(folder: Path | str, **settings: object) -> AdobeAnalyticsConnector:
    return AdobeAnalyticsConnector({"url": str(folder), **settings})


def read_all(connector: AdobeAnalyticsConnector, stream: str = RSID, chunk_size: int = 50) -> pd.DataFrame:
    return pd.concat(list(connector.read(stream, chunk_size=chunk_size)), ignore_index=True)


def well_formed(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame[ROW_ERROR_COLUMN].isna()].reset_index(drop=True)


def origins(hits: pd.DataFrame) -> list[str]:
    return (hits["_file"] + "#" + hits["_row"].astype(str)).tolist()


def four_packagings() -> list[Delivery]:
    """One delivery per packaging, a day apart: multiple gzip, multiple zip, single tar.gz, single zip."""
    return [
        make_delivery(period="2026-01-01", seed=1),
        make_delivery(period="2026-01-02", seed=2, compression="zip", data_files=3),
        make_delivery(period="2026-01-03", seed=3, packaging="single"),
        make_delivery(
            period="2026-01-04", seed=4, packaging="single", compression="zip", hits_before_headers=True
        ),
    ]


# -- manifests and escapes, without any file -----------------------------------------------------------------
def test_a_manifest_as_adobe_documents_it() -> None:
    manifest = parse_manifest(
        "Datafeed-Manifest-Version: 1.0\nLookup-Files: 1\nData-Files: 1\nTotal-Records: 611\n\n"
        "Lookup-File: rsid_2026-01-01-lookup_data.tar.gz\nMD5-Digest: af6de42d8b945d4ec1cf28360085308\n"
        "File-Size: 63750\n\nData-File: 01-rsid_2026-01-01.tsv.gz\n"
        "MD5-Digest: 9C70BF783CB3D0095A4836904B72C991\nFile-Size: 122534\nRecord-Count: 611\n",
        "feeds/rsid_2026-01-01.txt",
    )
    assert (manifest.report_suite, manifest.period, manifest.records) == ("rsid", "2026-01-01", 611)
    (lookup,), (data,) = manifest.lookup_files, manifest.data_files
    assert (lookup.name, lookup.size, lookup.records) == ("rsid_2026-01-01-lookup_data.tar.gz", 63750, None)
    assert (data.md5, data.size) == ("9c70bf783cb3d0095a4836904b72c991", 122534)
    assert manifest.path_of(data) == "feeds/01-rsid_2026-01-01.tsv.gz"
    # "File:" blocks in any order, an hourly period; a lookup archive is known by its name
    hourly = parse_manifest(
        "Datafeed-Manifest-Version: 1.0\nData-Files: 1\n\nFile: rsid_2026-01-01-13-lookup_data.zip\n"
        "MD5-Digest: 0\n\nFile: 01-rsid_2026-01-01-13.tsv.zip\nMD5-Digest: 1\nRecord-Count: 2\n",
        "rsid_2026-01-01-13.txt",
    )
    assert hourly.period == "2026-01-01-13" and [f.name for f in hourly.lookup_files] == [
        "rsid_2026-01-01-13-lookup_data.zip"
    ]
    resent = parse_manifest(
        "Datafeed-Manifest-Version: 1.0\nData-Files: 1\n\nFile: rsid_2026-01-01-13-lookup_data.zip\n"
        "MD5-Digest: 0\n\nFile: 01-rsid_2026-01-01-13.tsv.zip\nMD5-Digest: 2\nRecord-Count: 2\n",
        "rsid_2026-01-01-13.txt",
    )
    assert resent.version != hourly.version  # a re-sent delivery is a new version
    with pytest.raises(FormatError, match="lists 1 data file"):
        parse_manifest(
            "Datafeed-Manifest-Version: 1.0\nData-Files: 2\n\nData-File: a.tsv.gz\n", "r_2026-01-01.txt"
        )
    with pytest.raises(FormatError, match="not a data feed manifest"):
        parse_manifest("just text\n", "r_2026-01-01.txt")


def _reference_unescaped(data: bytes, byte: int) -> list[int]:
    found, run = [], 0
    for position, value in enumerate(data):
        if value == byte and run % 2 == 0:
            found.append(position)
        run = run + 1 if value == 0x5C else 0
    return found


def test_escapes_are_found_across_block_boundaries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Counting hits and keeping carriage returns agree with a byte-by-byte reading, however blocks fall."""
    monkeypatch.setattr(_datafeed_hits, "BLOCK_BYTES", 7)
    rng = random.Random(7)
    for _ in range(2000):
        data = bytes(rng.choice(b"\\\\\\a\t\n\r") for _ in range(rng.randrange(60)))
        newlines = _reference_unescaped(data, 0x0A)
        assert count_hits(io.BytesIO(data)).hits == len(newlines) + (
            bool(data) and newlines[-1:] != [len(data) - 1]
        )
        returns = set(_reference_unescaped(data, 0x0D))
        escaped = b"".join(b"\\\r" if i in returns else data[i : i + 1] for i in range(len(data)))
        assert _EscapedReturns(io.BytesIO(data)).read() == escaped
        cut = rng.randrange(len(data) + 1)
        first, carry = unescaped(np.frombuffer(data[:cut], np.uint8), 0x0A, 0)
        second, _ = unescaped(np.frombuffer(data[cut:], np.uint8), 0x0A, carry)
        assert [*first.tolist(), *(cut + second).tolist()] == newlines


# -- a folder of deliveries ----------------------------------------------------------------------------------
def test_discover_offers_one_stream_per_report_suite_typed_from_its_headers(tmp_path: Path) -> None:
    make_delivery(RSID, "2026-01-01", seed=1).write(tmp_path)
    make_delivery(RSID, "2026-01-02", seed=2, packaging="single").write(tmp_path)
    make_delivery(RSID, "2026-01-03", seed=3).write(tmp_path, manifest=False)  # still arriving
    make_delivery("acmedev", "2026-01-01", seed=4, compression="zip").write(tmp_path / "dev")
    streams = {s.name: s for s in feed(tmp_path).discover()}
    assert set(streams) == {RSID, "acmedev"}
    prod = streams[RSID]
    types = {f.name: f.type for f in prod.fields}
    assert [f.name for f in prod.fields][: len(COLUMNS)] == COLUMNS
    assert (types["hit_time_gmt"], types["date_time"], types["last_hit_time_gmt"]) == ("timestamp",) * 3
    assert (types["visit_num"], types["exclude_hit"], types["hitid_high"], types["mcvisid"]) == (
        "integer",
        "integer",
        "string",
        "string",
    )
    assert {"browser_name", "os_name", "country_name", "event_names"} <= types.keys()
    assert prod.metadata["primary_key"] == KEY
    assert (prod.metadata["deliveries"], prod.metadata["newest"], prod.metadata["waiting_for_manifest"]) == (
        2,
        "2026-01-02",
        1,
    )
    assert prod.metadata[SUGGESTED_MAPPING] == {
        "ecid": "mcvisid",
        "analyticsVisitorId": "concat(post_visid_high, '_', post_visid_low)",
    }
    assert prod.metadata[SUGGESTED_IDENTITIES] == {"ecid": "ecid", "cookie_id": "analyticsVisitorId"}
    only = feed(tmp_path, report_suite="acmedev", join_lookups=False, identities={"crm_id": "evar1"})
    (dev,) = only.discover()
    assert dev.name == "acmedev" and [f.name for f in dev.fields] == COLUMNS
    assert dev.metadata[SUGGESTED_MAPPING] == {"crmId": "evar1"}
    with pytest.raises(StreamNotFoundError, match="reads report suite 'acmedev'"):
        only.partitions(RSID)
    result = feed(tmp_path).check()
    assert result.ok and "3 deliveries of acmedev (1), acmeprod (2)" in result.message, result.message
    assert "1 more waiting for their manifest" in result.message


def test_check_says_why_a_folder_holds_no_delivery(tmp_path: Path) -> None:
    assert "check the URL and the report suite" in feed(tmp_path).check().message
    make_delivery(RSID, "2026-01-01").write(tmp_path, manifest=False)
    arriving = feed(tmp_path).check()
    assert not arriving.ok and "1 arriving: Adobe writes the manifest last" in arriving.message
    (tmp_path / f"{RSID}_2026-01-01.fin").write_text("")
    assert ".fin completion file(s) carry no MD5s" in feed(tmp_path).check().message
    assert "does not exist" in feed(tmp_path / "nowhere").check().message


def test_the_suggested_mapping_proposes_ecid_and_maps_the_visitor_id(tmp_path: Path) -> None:
    make_delivery(RSID, "2026-01-01").write(tmp_path)
    connector = feed(tmp_path)
    (info,) = connector.discover()
    sample = connector.sample(RSID)
    schema = ProfileSchema.default()
    found = {
        s.attribute: s for s in suggest(sample, schema, StandardMapping.from_metadata(info.metadata, RSID))
    }
    assert found["ecid"].column == "mcvisid" and found["ecid"].identity == "ecid"
    assert schema.get("ecid").identity == "ecid" and schema.get("analyticsVisitorId").identity == "cookie_id"
    mapped = compile_mapping(info.metadata[SUGGESTED_MAPPING], schema, list(sample.columns)).apply(sample)
    assert mapped.errors.empty
    good = sample[ROW_ERROR_COLUMN].isna()
    visitors = sample.loc[good, "post_visid_high"] + "_" + sample.loc[good, "post_visid_low"]
    assert good.sum() >= 10 and mapped.frame.loc[good, "analyticsVisitorId"].tolist() == visitors.tolist()


def test_sample_reads_the_first_hits_of_the_newest_delivery(tmp_path: Path) -> None:
    make_delivery(RSID, "2026-01-01", seed=1).write(tmp_path)
    newest = make_delivery(
        RSID, "2026-01-02", seed=2, packaging="single", compression="zip", hits_before_headers=True
    )
    newest.write(tmp_path)
    sample = feed(tmp_path).sample(RSID, limit=12)
    rows = sorted([*newest.reported["_row"], *(row for _, row, _ in newest.malformed)])  # what read gives
    assert sample[ORIGIN_COLUMN].tolist() == [f"{RSID}_2026-01-02.zip#{row}" for row in rows[:12]]
    good = well_formed(sample)
    first = newest.reported.iloc[: len(good)]
    assert good["hitid_high"].tolist() == first["hitid_high"].tolist()
    assert good["page_url"].tolist() == first["page_url"].tolist()
    assert good["browser_name"].isna().tolist() == first["browser"].eq("999").tolist()


def test_read_gives_every_hit_of_every_packaging_in_exact_chunks(tmp_path: Path) -> None:
    deliveries = four_packagings()
    for delivery in deliveries:
        delivery.write(tmp_path)
    chunks = list(feed(tmp_path).read(RSID, chunk_size=17))
    total = sum(len(d.reported) + len(d.malformed) for d in deliveries)
    assert [len(c) for c in chunks] == [17] * (total // 17) + ([total % 17] if total % 17 else [])
    hits = pd.concat(chunks, ignore_index=True)
    good = well_formed(hits)
    assert good["hitid_high"].tolist() == [h for d in deliveries for h in d.reported["hitid_high"]]
    assert good[ORIGIN_COLUMN].tolist() == [o for d in deliveries for o in origins(d.reported)]
    assert hits[ROW_ERROR_COLUMN].notna().sum() == sum(len(d.malformed) for d in deliveries)
    parts = feed(tmp_path).partitions(RSID)
    assert parts is not None and [p.name for p in parts] == [d.manifest_name for d in deliveries]
    assert parts[0].size == sum(len(data) for data in deliveries[0].data_files().values())


def test_escaped_tabs_newlines_and_backslashes_round_trip(tmp_path: Path) -> None:
    delivery = make_delivery(RSID, "2026-01-01", hits=80, packaging="single")
    delivery.write(tmp_path)
    assert b"a\\\tb" in gzip.decompress(delivery.files[f"{RSID}_2026-01-01.tar.gz"])  # written escaped
    good = well_formed(read_all(feed(tmp_path, reported_hits_only=False)))
    expected = delivery.expected
    for column in ("page_url", "evar1", "user_agent", "pagename"):
        assert good[column].tolist() == expected[column].tolist(), column
    assert set(TRICKY) <= set(good["page_url"]) | set(good["evar1"])


def test_lookups_are_joined_by_id(tmp_path: Path) -> None:
    delivery = make_delivery(RSID, "2026-01-01", hits=60)
    delivery.write(tmp_path)
    good = well_formed(read_all(feed(tmp_path, reported_hits_only=False)))
    expected = delivery.expected
    browsers = expected["browser"].map(LOOKUPS["browser.tsv"])
    assert good["browser_name"].isna().tolist() == browsers.isna().tolist()  # id 999 is not in browser.tsv
    assert good["browser_name"].dropna().tolist() == browsers.dropna().tolist()
    assert good["os_name"].tolist() == expected["os"].map(LOOKUPS["operating_systems.tsv"]).tolist()
    assert good["country_name"].tolist() == expected["country"].map(LOOKUPS["country.tsv"]).tolist()
    assert set(good["ref_type_name"]) == {"Inside Your Site", "Search Engines"}  # a third column is ignored
    events = dict(zip(expected["event_list"], good["event_names"], strict=True))
    assert events.get("2,200") == "Product View,Custom Event 1" and events.get("10,999") == "Cart Open,999"
    assert pd.isna(events.get("", np.nan))
    assert set(good["plugin_names"].dropna()) <= {"PDF Viewer,Chrome PDF Plugin", "Chrome PDF Plugin"}
    some = read_all(feed(tmp_path, join_lookups=["os_name"]))
    assert "os_name" in some and "browser_name" not in some
    assert not set(read_all(feed(tmp_path, join_lookups=False)).columns) - {
        *COLUMNS,
        ORIGIN_COLUMN,
        ROW_ERROR_COLUMN,
        RAW_COLUMN,
    }
    with pytest.raises(ValidationError, match="unknown lookup column"):
        feed(tmp_path, join_lookups=["shoe_size"])


def test_malformed_rows_are_quarantined_with_their_reason_and_text(tmp_path: Path) -> None:
    delivery = make_delivery(RSID, "2026-01-01", hits=50, malformed=4)
    delivery.write(tmp_path)
    hits = read_all(feed(tmp_path))
    bad = hits[hits[ROW_ERROR_COLUMN].notna()]
    assert sorted(zip(bad[ORIGIN_COLUMN], bad[RAW_COLUMN], strict=True)) == sorted(
        (f"{file}#{row}", raw) for file, row, raw in delivery.malformed
    )
    width = len(COLUMNS)
    assert set(bad[ROW_ERROR_COLUMN].str.extract(r"(expected \d+ fields, found \d+)")[0]) == {
        f"expected {width} fields, found {width - 1}",
        f"expected {width} fields, found {width + 1}",
    }
    assert bad[COLUMNS].isna().all().all()
    assert well_formed(hits)["hitid_high"].tolist() == delivery.reported["hitid_high"].tolist()


def test_values_are_typed_and_a_value_of_the_wrong_type_makes_its_row_malformed(tmp_path: Path) -> None:
    overrides = {
        0: {"visit_num": "three", "exclude_hit": "0"},
        1: {"hit_time_gmt": "soon", "exclude_hit": "7"},
    }
    delivery = make_delivery(RSID, "2026-01-01", hits=30, malformed=0, overrides=overrides)
    delivery.write(tmp_path)
    hits = read_all(feed(tmp_path, reported_hits_only=False))
    assert hits[ROW_ERROR_COLUMN].iloc[0] == "visit_num is not a whole number: three"
    assert hits[ROW_ERROR_COLUMN].iloc[1] == "hit_time_gmt is not a time: soon"  # excluded, yet quarantined
    assert hits[RAW_COLUMN].iloc[0].split("\t")[COLUMNS.index("visit_num")] == "three"
    good, expected = hits.iloc[2:], delivery.expected.iloc[2:]
    assert good[ROW_ERROR_COLUMN].isna().all()
    assert str(good["visit_num"].dtype) == "Int64" and str(good["hit_time_gmt"].dtype).endswith("UTC]")
    assert (good["visit_num"].to_numpy() == expected["visit_num"].astype(int).to_numpy()).all()
    seconds = (good["hit_time_gmt"] - pd.Timestamp("1970-01-01", tz="UTC")).dt.total_seconds()
    assert (seconds.to_numpy() == expected["hit_time_gmt"].astype(float).to_numpy()).all()
    assert (
        good["date_time"].dt.strftime("%Y-%m-%d %H:%M:%S").to_numpy() == expected["date_time"].to_numpy()
    ).all()
    assert good["hitid_low"].tolist() == expected["hitid_low"].tolist()  # 19-digit ids stay exact text
    default = read_all(feed(tmp_path))
    assert default[ROW_ERROR_COLUMN].notna().sum() == 2  # malformed rows are never filtered out


def test_hits_reports_leave_out_are_dropped(tmp_path: Path) -> None:
    delivery = make_delivery(RSID, "2026-01-01", hits=200, malformed=0)
    delivery.write(tmp_path)
    reported = read_all(feed(tmp_path))
    everything = read_all(feed(tmp_path, reported_hits_only=False))
    assert len(everything) == 200 and 0 < len(reported) == len(delivery.reported) < 200
    assert (reported["exclude_hit"] == 0).all() and not reported["hit_source"].isin([5, 7, 8, 9]).any()
    assert set(everything["hit_source"]) >= {1, 5, 7} and set(everything["exclude_hit"]) >= {0, 1, 3}


def _tamper(tmp_path: Path, delivery: Delivery, how: str) -> str:
    name = f"01-{RSID}_2026-01-01.tsv.gz"
    data = delivery.files[name]
    if how == "md5":
        (tmp_path / name).write_bytes(data[:-9] + bytes([data[-9] ^ 0xFF]) + data[-8:])
    elif how == "size":
        (tmp_path / name).write_bytes(data[:-10])
    elif how == "records":
        manifest = delivery.files[delivery.manifest_name].decode()
        wrong = manifest.replace(
            f"File-Size: {len(data)}\nRecord-Count: ", f"File-Size: {len(data)}\nRecord-Count: 9"
        )
        assert wrong != manifest
        (tmp_path / delivery.manifest_name).write_text(wrong)
    else:
        (tmp_path / f"02-{RSID}_2026-01-01.tsv.gz").unlink()
    return name


@pytest.mark.parametrize(
    ("how", "error", "message"),
    [
        (
            "md5",
            FormatError,
            r"01-acmeprod_2026-01-01\.tsv\.gz does not match its manifest: MD5 [0-9a-f]{32} ",
        ),
        ("size", FormatError, r"01-acmeprod_2026-01-01\.tsv\.gz is \d+ bytes where the manifest says \d+"),
        (
            "records",
            FormatError,
            r"01-acmeprod_2026-01-01\.tsv\.gz holds \d+ hits where the manifest says 9\d+",
        ),
        (
            "missing",
            StreamNotFoundError,
            r"02-acmeprod_2026-01-01\.tsv\.gz is listed in the delivery's manifest",
        ),
    ],
)
def test_a_file_unlike_its_manifest_is_refused_naming_it(
    tmp_path: Path, how: str, error: type[Exception], message: str
) -> None:
    delivery = make_delivery(RSID, "2026-01-01", hits=40)
    delivery.write(tmp_path)
    _tamper(tmp_path, delivery, how)
    connector = feed(tmp_path)
    (part,) = connector.partitions(RSID) or []
    chunks = connector.read_partition(RSID, part, chunk_size=10)
    if how != "missing":  # the first file is refused before any of its rows comes out
        with pytest.raises(error, match=message):
            next(chunks)
    else:
        with pytest.raises(error, match=message):
            list(chunks)


# -- end to end through the engine ---------------------------------------------------------------------------
def _dataflow(workspace, connection: dict, chunk_size: int = 50_000) -> None:  # type: ignore[no-untyped-def]
    workspace.save_connection("feed", "adobe_analytics", connection)
    workspace.save_dataflow(
        "web_hits",
        {
            "source": {"connection": "feed", "stream": RSID},
            "sync": {"mode": "incremental", "primary_key": KEY, "chunk_size": chunk_size},
            "mapping": MAPPING,
            "identities": {"ecid": "ecid", "cookie_id": "analyticsVisitorId"},
        },
    )


def _received(*deliveries: Delivery) -> int:
    return sum(len(d.reported) + len(d.malformed) for d in deliveries)


def test_incremental_runs_read_each_delivery_once_and_wait_for_its_manifest(
    tmp_path: Path, workspace
) -> None:
    first, second = (
        make_delivery(period="2026-01-01", seed=1, hits=120),
        make_delivery(period="2026-01-02", seed=2, hits=120, packaging="single"),
    )
    third = make_delivery(period="2026-01-03", seed=3, hits=120, compression="zip")
    for delivery in (first, second):
        delivery.write(tmp_path)
    third.write(tmp_path, manifest=False)
    _dataflow(workspace, {"url": str(tmp_path)})
    run = workspace.run("web_hits")
    assert (run.status, run.received, run.failed) == ("partial", _received(first, second), 4), (
        run.error_message
    )
    assert run.ingested == len(first.reported) + len(second.reported)
    errors = workspace.run_errors(run.run_id)
    assert (
        set(errors["code"]) == {"malformed_row"} and errors["reason"].str.contains("expected 37 fields").all()
    )
    assert workspace.run("web_hits").received == 0  # nothing new; the third delivery has no manifest yet
    (tmp_path / third.manifest_name).write_bytes(third.files[third.manifest_name])
    assert workspace.run("web_hits").received == _received(third)
    changed = int(first.reported.index[3])
    resent = make_delivery(period="2026-01-01", seed=1, hits=120, overrides={changed: {"mcvisid": "resent"}})
    resent.write(tmp_path)  # Adobe re-sends a delivery: new MD5s, read again, upserted
    assert workspace.run("web_hits").received == _received(resent)
    records = workspace.records("web_hits", limit=None)
    hits = [first.reported, second.reported, third.reported]
    assert len(records) == sum(len(h) for h in hits) and records["_source_key"].is_unique
    assert (records["ecid"] == "resent").sum() == 1
    assert set(records["analyticsVisitorId"]) == {
        f"{h}_{low}"
        for frame in hits
        for h, low in zip(frame["post_visid_high"], frame["post_visid_low"], strict=True)
    }


def test_a_run_that_dies_mid_delivery_is_rerun_exactly(tmp_path: Path, workspace) -> None:
    deliveries = [make_delivery(period=f"2026-01-0{i}", seed=i, hits=300) for i in (1, 2)]
    for delivery in deliveries:
        delivery.write(tmp_path)
    _dataflow(workspace, {"url": str(tmp_path)}, chunk_size=50)

    first_chunks = -(-_received(deliveries[0]) // 50)  # a delivery's last chunk may be short

    def die_in_the_middle_of_the_second(summary) -> None:  # type: ignore[no-untyped-def]
        if summary.chunks == first_chunks + 2:
            raise RuntimeError("the process died")

    broken = workspace.run("web_hits", progress=die_in_the_middle_of_the_second)
    assert (broken.status, broken.received) == ("failed", _received(deliveries[0]) + 100), (
        broken.error_message
    )
    rerun = workspace.run("web_hits")
    assert rerun.status == "partial" and rerun.received == _received(deliveries[1]) - 100, rerun.error_message
    records = workspace.records("web_hits", limit=None)
    assert len(records) == sum(len(d.reported) for d in deliveries) and records["_source_key"].is_unique
    assert workspace.run("web_hits").received == 0


def test_a_killed_run_is_rerun_without_a_lost_or_doubled_hit(
    tmp_path: Path, workspace, workspace_dir
) -> None:
    """SIGKILL on a real ``python -m core run`` mid-delivery, then a rerun: exactly the delivery's hits."""
    source = tmp_path / "feed"
    delivery = make_delivery(period="2026-01-01", hits=12_000, malformed=0, data_files=3)
    delivery.write(source)
    spec = tmp_path / "feed.yml"
    spec.write_text(
        f"""
connections:
  feed: {{connector: adobe_analytics, config: {{url: "{source}"}}}}
dataflows:
  web_hits:
    source: {{connection: feed, stream: {RSID}}}
    sync: {{mode: incremental, primary_key: {KEY}, chunk_size: 200}}
    mapping: {{ecid: mcvisid}}
"""
    )
    config.apply(workspace, spec)
    engine = create_engine(os.environ["TRIBUTARY_DATABASE_URL"])
    command = [sys.executable, "-m", "core", "run", "web_hits", "--json"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    victim = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline, committed = time.monotonic() + 120, 0
    while time.monotonic() < deadline and victim.poll() is None and committed < 3:
        with engine.connect() as connection:
            committed = connection.execute(text("select coalesce(max(chunks), 0) from runs")).scalar() or 0
        time.sleep(0.02)  # polling the store, not waiting for an outcome
    assert victim.poll() is None, "the run finished before it could be killed; make the delivery bigger"
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    with engine.connect() as connection:
        killed = connection.execute(text("select received from runs order by id desc")).scalar() or 0
    engine.dispose()
    rerun = workspace.run("web_hits")
    assert rerun.status == "succeeded", rerun.error_message
    assert killed >= 600 and rerun.received == len(delivery.reported) - killed  # resumed, not restarted
    records = workspace.records("web_hits", limit=None)
    assert len(records) == len(delivery.reported) and records["_source_key"].is_unique
    assert set(records["ecid"]) == set(delivery.reported["mcvisid"])
    assert workspace.run("web_hits").received == 0


# -- on each storage server ----------------------------------------------------------------------------------
def test_deliveries_on_each_storage_are_listed_read_and_verified(site: Site, folder: str) -> None:
    deliveries = four_packagings()[:3]
    for delivery in deliveries[:2]:
        delivery.upload(lambda name, data: site.upload(f"{folder}/{name}", data))
    deliveries[2].upload(lambda name, data: site.upload(f"{folder}/{name}", data), manifest=False)
    connector = AdobeAnalyticsConnector(site.config(folder))
    assert connector.check().ok
    (info,) = connector.discover()
    assert info.name == RSID and info.metadata["waiting_for_manifest"] == 1
    assert len(well_formed(connector.sample(RSID, limit=10))) >= 8
    parts = connector.partitions(RSID) or []
    assert [p.name for p in parts] == [d.manifest_name for d in deliveries[:2]]
    hits = read_all(connector)
    assert len(hits) == _received(*deliveries[:2])
    assert well_formed(hits)["page_url"].tolist() == [
        u for d in deliveries[:2] for u in d.reported["page_url"]
    ]
    name = f"01-{RSID}_2026-01-01.tsv.gz"
    data = deliveries[0].files[name]
    site.upload(f"{folder}/{name}", data[:-9] + bytes([data[-9] ^ 0xFF]) + data[-8:])
    with pytest.raises(FormatError, match=rf"{name} does not match its manifest"):
        next(connector.read_partition(RSID, parts[0]))
    site.upload(f"{folder}/{deliveries[2].manifest_name}", deliveries[2].files[deliveries[2].manifest_name])
    assert len(connector.partitions(RSID) or []) == 3


def test_incremental_on_each_storage_survives_a_run_that_dies(site: Site, folder: str, workspace) -> None:
    first, second = (make_delivery(period=f"2026-01-0{i}", seed=i, hits=150) for i in (1, 2))
    first.upload(lambda name, data: site.upload(f"{folder}/{name}", data))
    _dataflow(workspace, site.config(folder), chunk_size=40)

    def die_after_two_chunks(summary) -> None:  # type: ignore[no-untyped-def]
        if summary.chunks == 2:
            raise RuntimeError("the process died")

    broken = workspace.run("web_hits", progress=die_after_two_chunks)
    assert (broken.status, broken.received) == ("failed", 80), broken.error_message
    rerun = workspace.run("web_hits")
    assert (rerun.status, rerun.received) == ("partial", _received(first) - 80), rerun.error_message
    second.upload(lambda name, data: site.upload(f"{folder}/{name}", data))
    assert workspace.run("web_hits").received == _received(second)
    records = workspace.records("web_hits", limit=None)
    assert len(records) == len(first.reported) + len(second.reported) and records["_source_key"].is_unique


def test_the_documented_example_runs_on_s3(s3_server, workspace, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """docs/adobe.md's YAML, pointed at a moto bucket, applies and runs as the docs say."""
    section = (
        DOC.read_text(encoding="utf-8").split("\n## Adobe Analytics data feeds\n", 1)[1].split("\n## ")[0]
    )
    example = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    bucket = make_bucket(s3_server, unique_name("feeds"))
    endpoint = f"region: {s3_server.region}\n      endpoint_url: {s3_server.endpoint_url}"
    for old, new in {
        "s3://acme-adobe-feeds/analytics": f"s3://{bucket}/analytics",
        "AKIAIOSFODNN7EXAMPLE": s3_server.key,
        "region: eu-west-1": endpoint,
    }.items():
        assert old in example, f"the example no longer says {old!r}"
        example = example.replace(old, new)
    monkeypatch.setenv("ADOBE_FEED_SECRET", s3_server.secret)
    delivery = make_delivery(RSID, "2026-01-01", hits=80)
    client = s3_server.client()
    delivery.upload(lambda name, data: client.put_object(Bucket=bucket, Key=f"analytics/{name}", Body=data))
    (tmp_path / "adobe.yml").write_text(example, encoding="utf-8")
    config.apply(workspace, tmp_path / "adobe.yml")
    run = workspace.run("web_hits")
    assert (run.status, run.received, run.failed) == ("partial", _received(delivery), 2), run.error_message
    records = workspace.records("web_hits", limit=None).sort_values("ecid")
    hits = delivery.reported
    assert sorted(records["ecid"]) == sorted(hits["mcvisid"])
    languages = hits["language"].map(LOOKUPS["languages.tsv"])
    assert sorted(records["preferredLanguage"]) == sorted(languages)


def test_the_connector_is_registered_with_the_files_connectors_storage_settings(tmp_path: Path) -> None:
    assert connectors.REGISTRY["adobe_analytics"] is AdobeAnalyticsConnector
    storages = (FilesConfig, S3Config, AzureBlobConfig, GcsConfig, SftpConfig)
    assert set(AnyStorageConfig.model_fields) == {name for model in storages for name in model.model_fields}
    assert secret_fields(AdobeAnalyticsConnector.config_model) == set().union(*map(secret_fields, storages))
    storage = feed(tmp_path).config.storage()
    assert type(storage).__name__ == "FilesConfig"
    s3 = AdobeAnalyticsConnector(
        {
            "url": "s3://bucket/feeds",
            "access_key_id": "AKIA1",
            "secret_access_key": "s3cr3t-value",
            "region": "eu-west-3",
        }
    )
    assert s3.config.storage().storage_options()["client_kwargs"] == {"region_name": "eu-west-3"}
    assert "s3cr3t-value" not in repr(s3.config)
    with pytest.raises(ValidationError, match="account_key do\\(es\\) not apply"):
        feed("s3://bucket/feeds", account_key="a2V5")
    with pytest.raises(ValidationError, match="both access_key_id and secret_access_key"):
        feed("s3://bucket/feeds", access_key_id="AKIA1")
    with pytest.raises(ValidationError, match="known_hosts is required"):
        feed("sftp://user@host/feeds")
