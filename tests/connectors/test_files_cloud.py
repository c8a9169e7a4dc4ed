"""The files connector on real protocol servers: S3 (moto), Azure Blob (Azurite), GCS (emulator), SFTP.

Every storage runs the same tests through one ``Site`` per storage (upload a
file, build a good config, point it through a proxy: see
:mod:`tests.connectors.storage_sites`). Bytes fetched are measured on the wire,
so range reads, caching and retries are all in the figure. ``check()`` and
credentials are tested in ``test_storage_credentials``, the settings models
without a server in ``test_storage_configs``.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

import connectors
from connectors.base import ORIGIN_COLUMN, RAW_COLUMN, ROW_ERROR_COLUMN, FormatError, Partition
from connectors.files import FilesConnector
from tests.connectors.storage_sites import CountingProxy, Site
from tests.connectors.storage_sites import folder as folder  # the fixtures, used by name
from tests.connectors.storage_sites import proxy as proxy
from tests.connectors.storage_sites import site as site
from tests.storage_servers import azurite_server as azurite_server  # the servers site starts, by name
from tests.storage_servers import gcs_server as gcs_server
from tests.storage_servers import s3_server as s3_server
from tests.storage_servers import sftp_server as sftp_server

META = [ORIGIN_COLUMN, ROW_ERROR_COLUMN, RAW_COLUMN]
#: The large objects: ~96 MB of CSV (well past the ~40 MB a read may buffer ahead: pyarrow's
#: 32 blocks of 1 MB, a 4 MB range and sockets), and ~48 MB of CSV gzipped.
BIG_BYTES = 96_000_000
#: What ``sample()`` may fetch from a large object, on the wire.
SAMPLE_BUDGET = 3 * 1024 * 1024


# -- large objects -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BigFiles:
    plain: bytes
    gz: bytes
    rows: int  # of the plain object
    gz_rows: int


@pytest.fixture(scope="session")
def big_files() -> BigFiles:
    """~96 MB of customer rows, and half of them gzipped."""
    block = "".join(
        f"{i},name{i},user{i}@example.com,{i % 997},2026-01-01T00:00:00Z\n" for i in range(20_000)
    )
    header = "id,name,email,points,updated_at\n"
    repeats = BIG_BYTES // len(block) + 1
    plain = (header + block * repeats).encode()
    half = (header + block * (repeats // 2)).encode()
    return BigFiles(plain, gzip.compress(half, compresslevel=6), 20_000 * repeats, 20_000 * (repeats // 2))


@pytest.fixture(scope="module")
def big(site: Site, big_files: BigFiles) -> BigFiles:
    """The large objects uploaded once per storage, in folder ``big``."""
    site.upload("big/big.csv", big_files.plain)
    site.upload("big/big.csv.gz", big_files.gz)
    return big_files


# -- discover, sample, read --------------------------------------------------------------------------------
def test_discover_lists_objects_with_size_modified_and_schema(site: Site, folder: str) -> None:
    header = "customer_id,email,updated_at\n"
    a = (header + "1,a@x.io,2026-01-01T10:00:00Z\n2,b@x.io,2026-01-02T10:00:00Z\n").encode()
    b = (header + "3,c@x.io,2026-01-03T10:00:00Z\n").encode()
    site.upload(f"{folder}/contacts/a.csv", a)
    site.upload(f"{folder}/contacts/b.csv", b)
    site.upload(f"{folder}/orders.jsonl", b'{"order_id": "A1", "total": 9.5}\n')
    streams = {s.name: s for s in site.connector(folder).discover()}
    assert set(streams) == {"contacts/a.csv", "contacts/b.csv", "contacts/*.csv", "orders.jsonl"}
    contacts = streams["contacts/*.csv"]
    assert {f.name: f.type for f in contacts.fields} == {
        "customer_id": "integer",
        "email": "string",
        "updated_at": "timestamp",
    }
    assert contacts.metadata["files"] == 2 and contacts.metadata["bytes"] == len(a) + len(b)
    modified = pd.Timestamp(contacts.metadata["modified"])
    assert modified.tzinfo is not None and abs(pd.Timestamp.now(tz="UTC") - modified) < pd.Timedelta(hours=1)
    assert streams["contacts/a.csv"].metadata["version"]
    assert contacts.primary_key_candidates[0] == "customer_id" and contacts.cursor_candidates == (
        "updated_at",
    )
    assert {f.name for f in streams["orders.jsonl"].fields} == {"order_id", "total"}


@pytest.mark.parametrize("name", ["big.csv", "big.csv.gz"])
def test_sample_fetches_a_small_part_of_a_large_object(
    site: Site, big: BigFiles, proxy: CountingProxy, name: str
) -> None:
    connector = site.connector("big", proxy.port)
    connector.check()  # connects (and lists) before measuring
    proxy.reset()
    sample = connector.sample(name, limit=1000)
    fetched = proxy.received
    print(f"\n{site.kind} sample of {name}: {fetched / 1024:.0f} KB fetched")
    assert len(sample) == 1000 and sample[ORIGIN_COLUMN].iloc[-1] == f"{name}#1000"
    assert sample["email"].iloc[0] == "user0@example.com"
    assert 0 < fetched < SAMPLE_BUDGET, fetched


@pytest.mark.parametrize("name", ["big.csv", "big.csv.gz"])
def test_read_streams_a_large_object_in_bounded_chunks(
    site: Site, big: BigFiles, proxy: CountingProxy, name: str
) -> None:
    size = len(big.plain if name == "big.csv" else big.gz)
    connector = site.connector("big", proxy.port)
    chunks = connector.read(name, chunk_size=50_000)
    first = next(chunks)
    at_first_chunk = proxy.received
    rows, last = len(first), first[ORIGIN_COLUMN].iloc[-1]
    for chunk in chunks:
        assert len(chunk) <= 50_000
        rows, last = rows + len(chunk), chunk[ORIGIN_COLUMN].iloc[-1]
    print(f"\n{site.kind} read of {name} ({size >> 20} MB): {at_first_chunk >> 20} MB fetched", end="")
    print(f" at the first chunk, {proxy.received >> 20} MB in all")
    expected = big.rows if name == "big.csv" else big.gz_rows
    assert rows == expected and last == f"{name}#{expected}"
    assert size <= proxy.received < size * 1.2 + 2_000_000  # through the relay, each byte once
    if name == "big.csv":  # streamed: the first chunk comes long before the object's end
        assert at_first_chunk < size / 2, at_first_chunk


# -- partitions --------------------------------------------------------------------------------------------
def test_partitions_versions_change_only_with_the_object(site: Site, folder: str) -> None:
    a, b, a2 = b"id,name\n1,Ann\n2,Bob\n", b"id,name\n3,Cyd\n", b"id,name\n1,Ann\n2,Bob\n4,Dee\n"
    site.upload(f"{folder}/a.csv", a)
    site.upload(f"{folder}/b.csv", b)
    site.upload(f"{folder}/notes.txt.png", b"not data")
    connector = site.connector(folder)
    first = connector.partitions("*.csv")
    assert first is not None and [p.name for p in first] == ["a.csv", "b.csv"]
    assert [p.size for p in first] == [len(a), len(b)] and all(p.version for p in first)
    assert all(p.modified and datetime.fromisoformat(p.modified).tzinfo for p in first)
    assert site.connector(folder).partitions("*.csv") == first  # stable while nothing changes
    site.upload(f"{folder}/a.csv", a2)  # rewritten
    second = connector.partitions("*.csv")
    assert second is not None
    assert second[0].version != first[0].version and second[0].size == len(a2)
    assert second[1] == first[1]


def test_read_partition_reads_one_object_with_its_own_columns(site: Site, folder: str) -> None:
    site.upload(f"{folder}/a.csv", b"id,name\n1,Ann\n2,Bob,extra\n3,Cyd\n")
    site.upload(f"{folder}/b.csv", b"id,name,city\n4,Dee,Metz\n")
    connector = site.connector(folder)
    parts = connector.partitions("*.csv")
    assert parts is not None
    frame = pd.concat(list(connector.read_partition("*.csv", parts[0], chunk_size=2)), ignore_index=True)
    assert list(frame.columns) == ["id", "name", *META]  # not b.csv's city
    assert frame[ORIGIN_COLUMN].tolist() == ["a.csv#1", "a.csv#2", "a.csv#3"]
    assert frame[ROW_ERROR_COLUMN].notna().tolist() == [False, True, False]
    assert frame[RAW_COLUMN].iloc[1] == "2,Bob,extra"
    whole = pd.concat(list(connector.read("*.csv")), ignore_index=True)
    assert "city" in whole.columns and len(whole) == 4


# -- unreadable objects ------------------------------------------------------------------------------------
def test_unreadable_objects_raise_format_errors_naming_them(site: Site, folder: str) -> None:
    rows = "".join(f"{i},user{i}@example.com\n" for i in range(20_000)).encode()
    site.upload(f"{folder}/cut.csv.gz", gzip.compress(b"id,email\n" + rows)[:-4000])
    site.upload(f"{folder}/broken.parquet", b"PAR1 this is not parquet at all")
    site.upload(f"{folder}/latin.csv", "id,city\n1,Besançon\n".encode("latin-1"))
    connector = site.connector(folder)
    with pytest.raises(FormatError, match=r"cut\.csv\.gz could not be decompressed as gzip"):
        list(connector.read("cut.csv.gz"))
    with pytest.raises(FormatError, match=r"broken\.parquet could not be read as Parquet"):
        list(connector.read("broken.parquet"))
    with pytest.raises(FormatError, match=r"latin\.csv .*format\.encoding"):
        list(connector.read("latin.csv", {"format": {"encoding": "utf-8"}}))
    parts = connector.partitions("cut.csv.gz")
    assert parts is not None
    with pytest.raises(FormatError, match=r"cut\.csv\.gz"):
        list(connector.read_partition("cut.csv.gz", parts[0]))


# -- without a server: local partitions -------------------------------------------------------------------
def test_local_partitions_and_read_partition(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("id,name\n1,Ann\n2,Bob\n")
    (tmp_path / "b.csv").write_text("id,name,city\n3,Cyd,Nice\n")
    connector = FilesConnector({"url": str(tmp_path)})
    parts = connector.partitions("*.csv")
    assert parts is not None and [p.name for p in parts] == ["a.csv", "b.csv"]
    assert parts[0].version == f"{parts[0].size}:{parts[0].modified}"
    frame = pd.concat(list(connector.read_partition("*.csv", parts[1])))
    assert list(frame.columns) == ["id", "name", "city", *META] and frame[ORIGIN_COLUMN].tolist() == [
        "b.csv#1"
    ]
    (tmp_path / "a.csv").write_text("id,name\n1,Ann\n2,Bob\n3,Cyd\n")
    assert connector.partitions("*.csv")[0].version != parts[0].version
    with pytest.raises(connectors.base.StreamNotFoundError):
        list(connector.read_partition("*.csv", Partition("../etc/passwd", "1")))


# -- incremental dataflows, end to end ----------------------------------------------------------------------
def test_incremental_dataflow_reads_each_object_once_per_version(site: Site, folder: str, workspace) -> None:
    """End to end on each storage: full run, nothing new, a new object, a changed object."""
    site.upload(f"{folder}/a.csv", b"id,email\n1,a@x.io\n2,b@x.io\n")
    site.upload(f"{folder}/b.csv", b"id,email\n3,c@x.io\n")
    workspace.save_connection("cloud", site.kind, site.config(folder))
    workspace.save_dataflow(
        "drops",
        {
            "source": {"connection": "cloud", "stream": "*.csv"},
            "sync": {"mode": "incremental", "primary_key": ["id"]},
            "mapping": {"crmId": "id", "personalEmail.address": "email"},
        },
    )
    first = workspace.run("drops")
    assert (first.status, first.received, first.ingested) == ("succeeded", 3, 3), first.error_message
    assert workspace.run("drops").received == 0
    site.upload(f"{folder}/c.csv", b"id,email\n4,d@x.io\n")
    assert workspace.run("drops").received == 1
    site.upload(f"{folder}/a.csv", b"id,email\n1,changed@x.io\n2,b@x.io\n")
    fourth = workspace.run("drops")
    assert (fourth.status, fourth.received) == ("succeeded", 2)
    records = workspace.records("drops", limit=None).set_index("crmId")
    assert len(records) == 4
    assert records.loc["1", "personalEmail.address"] == "changed@x.io"


def test_a_run_that_dies_mid_object_is_rerun_exactly(site: Site, folder: str, workspace) -> None:
    """A run dying mid-object commits its first chunks; the rerun re-reads that object only."""
    site.upload(f"{folder}/a.csv", b"id\n" + b"".join(b"%d\n" % i for i in range(0, 600)))
    site.upload(f"{folder}/b.csv", b"id\n" + b"".join(b"%d\n" % i for i in range(600, 1800)))
    workspace.save_connection("cloud", site.kind, site.config(folder))
    workspace.save_dataflow(
        "drops",
        {
            "source": {"connection": "cloud", "stream": "*.csv"},
            "sync": {"mode": "incremental", "primary_key": [], "chunk_size": 200},
            "mapping": {"crmId": "id"},
        },
    )

    def die_in_the_middle_of_b(summary) -> None:  # type: ignore[no-untyped-def]
        if summary.chunks == 5:  # a.csv's 3 chunks, then 2 of b.csv's 6
            raise RuntimeError("the process died")

    broken = workspace.run("drops", progress=die_in_the_middle_of_b)
    assert (broken.status, broken.received) == ("failed", 1000), broken.error_message
    rerun = workspace.run("drops")
    assert (rerun.status, rerun.received) == ("succeeded", 800), rerun.error_message
    records = workspace.records("drops", limit=None)
    assert len(records) == 1800 and records["_source_key"].is_unique
    assert sorted(records["crmId"].astype(int)) == list(range(1800))
    assert workspace.run("drops").received == 0
