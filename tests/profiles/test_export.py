"""Exports of unified profiles: read back equal to the lookups, formulas neutralised, memory bounded."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bench.profile_lookup_bench import build_profiles
from core.errors import ConfigurationError, NotFoundError
from core.profiles import export
from core.profiles.export import ParquetWriter, export_profiles, unified_chunks
from core.profiles.query import Profiles
from core.profiles.unified import UnifiedProfile
from core.services import Workspace
from tests.profiles.test_query import PERSONS, Customers, ingest_customers

ATTRIBUTES = [
    "crmId",
    "loyalty.points",
    "loyalty.tier",
    "loyaltyId",
    "mobilePhone.number",
    "order.id",
    "order.total",
    "person.birthDate",
    "person.firstName",
    "person.lastName",
    "personalEmail.address",
    "updatedAt",
]
IDENTITIES = ["identities.crm_id", "identities.email", "identities.loyalty_id", "identities.phone"]


@pytest.fixture
def customers(any_workspace: Workspace, tmp_path: Path) -> Customers:
    return ingest_customers(any_workspace, tmp_path / "source")


def expected_row(profile: UnifiedProfile) -> dict[str, object]:
    """What an export row of a profile holds, from its lookup."""
    row: dict[str, object] = {
        "profile_id": profile.profile_id,
        "dataflows": ";".join(profile.dataflows),
        "records": profile.members,
    }
    row.update({attribute: profile.value(attribute) for attribute in ATTRIBUTES})
    for column in IDENTITIES:
        namespace = column.removeprefix("identities.")
        values = sorted(set(profile.identities.loc[profile.identities["namespace"] == namespace, "value"]))
        row[column] = ";".join(values) or None
    return row


def as_text(value: object) -> str:
    """A value as the CSV writes it."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    return str(value)


def test_a_csv_export_reads_back_as_the_lookups_show_the_profiles(
    customers: Customers, tmp_path: Path
) -> None:
    summary = export_profiles(customers.workspace, tmp_path / "profiles.csv")
    assert (summary.format, summary.profiles, summary.chunks) == ("csv", len(PERSONS), 1)
    assert list(summary.columns) == ["profile_id", "dataflows", "records", *ATTRIBUTES, *IDENTITIES]
    back = pd.read_csv(tmp_path / "profiles.csv", dtype=str, keep_default_na=False)
    assert list(back.columns) == list(summary.columns)
    assert back["profile_id"].is_monotonic_increasing
    for row in back.to_dict("records"):
        wanted = {k: as_text(v) for k, v in expected_row(customers.profiles.get(row["profile_id"])).items()}
        if wanted["person.firstName"].startswith("="):
            wanted["person.firstName"] = "'" + wanted["person.firstName"]
        assert row == wanted
    ann = back.set_index("profile_id").loc[customers.profile_of("ann")]
    assert ann["person.firstName"] == "Anne" and ann["dataflows"] == "crm;loyalty;shop"
    assert ann["identities.email"] == "ann@example.com" and ann["identities.phone"] == "+33612345678"
    assert ann["loyalty.points"] == "120" and ann["updatedAt"] == "2026-04-01 09:00:00+00:00"
    assert ann["person.birthDate"] == "1990-02-03"


def test_a_csv_export_neutralises_formulas(customers: Customers, tmp_path: Path) -> None:
    export_profiles(customers.workspace, tmp_path / "profiles.csv")
    body = (tmp_path / "profiles.csv").read_bytes()
    assert b'"\'=HYPERLINK(""http://evil"",""x"")"' in body
    assert b',"=HYPERLINK' not in body and b",=HYPERLINK" not in body
    assert body.count(b"\r\n") == len(PERSONS) + 1  # RFC 4180 line ends: a header and a row per profile


def test_a_parquet_export_is_typed_and_reads_back_as_the_lookups(
    customers: Customers, tmp_path: Path
) -> None:
    summary = export_profiles(customers.workspace, tmp_path / "profiles.parquet")
    assert (summary.format, summary.profiles) == ("parquet", len(PERSONS))
    table = pq.read_table(tmp_path / "profiles.parquet")
    types = dict(zip(table.schema.names, table.schema.types, strict=True))
    assert types["records"] == pa.int64() and types["loyalty.points"] == pa.int64()
    assert types["order.total"] == pa.float64() and types["crmId"] == pa.string()
    assert types["updatedAt"] == pa.timestamp("us", tz="UTC") and types["person.birthDate"] == pa.date32()
    for row in table.to_pylist():
        wanted = expected_row(customers.profiles.get(row["profile_id"]))
        got = {k: (pd.Timestamp(v) if k == "updatedAt" and v is not None else v) for k, v in row.items()}
        assert got == wanted  # Parquet keeps text as it is: it is read by programs, not spreadsheets


def test_the_export_follows_the_policy(customers: Customers, tmp_path: Path) -> None:
    customers.profiles.save_policy("crm_first", {"kind": "precedence", "order": ["crm"]})
    export_profiles(customers.workspace, tmp_path / "p.csv", policy="crm_first")
    back = pd.read_csv(tmp_path / "p.csv", dtype=str, keep_default_na=False).set_index("profile_id")
    assert back.loc[customers.profile_of("ann"), "person.firstName"] == "Ann"
    assert back.loc[customers.profile_of("ann"), "order.total"] == "10.5"


def test_chunks_do_not_change_the_export(customers: Customers, tmp_path: Path) -> None:
    whole = export_profiles(customers.workspace, tmp_path / "whole.csv")
    small = export_profiles(customers.workspace, tmp_path / "small.csv", chunk_size=3)
    assert (whole.chunks, small.chunks) == (1, 3)
    assert (tmp_path / "whole.csv").read_bytes() == (tmp_path / "small.csv").read_bytes()
    sizes = [len(chunk) for chunk in unified_chunks(customers.workspace, chunk_size=3)]
    assert sizes == [3, 3, 2]


def test_the_format_comes_from_the_option_or_the_suffix(customers: Customers, tmp_path: Path) -> None:
    assert export_profiles(customers.workspace, tmp_path / "a.PARQUET").format == "parquet"
    assert export_profiles(customers.workspace, tmp_path / "b.txt").format == "csv"
    assert export_profiles(customers.workspace, tmp_path / "c.data", "parquet").format == "parquet"
    assert pq.read_table(tmp_path / "c.data").num_rows == len(PERSONS)


def test_bad_requests_fail_before_writing_anything(customers: Customers, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="unknown export format 'xlsx'"):
        export_profiles(customers.workspace, tmp_path / "a.csv", "xlsx")
    with pytest.raises(NotFoundError, match="no merge policy 'nope'"):
        export_profiles(customers.workspace, tmp_path / "b.csv", policy="nope")
    with pytest.raises(ConfigurationError, match="at least 1"):
        export_profiles(customers.workspace, tmp_path / "c.csv", chunk_size=0)
    assert not list(tmp_path.glob("*.csv"))


def test_an_empty_workspace_exports_the_columns_only(any_workspace: Workspace, tmp_path: Path) -> None:
    csv = export_profiles(any_workspace, tmp_path / "p.csv")
    assert csv.profiles == 0 and (tmp_path / "p.csv").read_bytes() == b"profile_id,dataflows,records\r\n"
    parquet = export_profiles(any_workspace, tmp_path / "p.parquet")
    table = pq.read_table(tmp_path / "p.parquet")
    assert parquet.profiles == table.num_rows == 0 and table.schema.names == [
        "profile_id",
        "dataflows",
        "records",
    ]


@pytest.mark.slow
def test_memory_stays_bounded_by_the_chunk(
    any_workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """200,000 profiles in chunks of 10,000: the writer never holds more than one chunk."""
    built = build_profiles(any_workspace, 200_000)
    seen: list[int] = []
    write = ParquetWriter.write

    def counting(self: ParquetWriter, frame: pd.DataFrame) -> None:
        seen.append(len(frame))
        write(self, frame)

    monkeypatch.setattr(ParquetWriter, "write", counting)
    merged: list[int] = []
    merge = export.merging.merge_arrays

    def counting_merge(values: dict, policy: object) -> dict:
        merged.append(len(set(values["profile_id"])))
        return merge(values, policy)  # type: ignore[arg-type]

    monkeypatch.setattr(export.merging, "merge_arrays", counting_merge)
    summary = export_profiles(any_workspace, tmp_path / "all.parquet", chunk_size=10_000)
    assert summary.profiles == built.profiles == 200_000
    assert seen == [10_000] * 20  # one chunk at a time, never more
    assert merged == [10_000] * 20  # each chunk's records are read and merged for its own profiles only
    metadata = pq.ParquetFile(tmp_path / "all.parquet").metadata
    assert metadata.num_row_groups == 20
    assert {metadata.row_group(i).num_rows for i in range(20)} == {10_000}
    table = pq.read_table(
        tmp_path / "all.parquet", columns=["profile_id", "records", "crmId", "person.firstName"]
    )
    rows = table.to_pandas().set_index("profile_id")
    assert rows.index.is_unique and rows["records"].sum() == built.crm_records + built.shop_records
    profiles = Profiles(any_workspace)
    for profile_id in rows.sample(5, random_state=1).index:
        profile = profiles.get(profile_id)
        assert rows.loc[profile_id, "person.firstName"] == profile.value("person.firstName")
        assert rows.loc[profile_id, "crmId"] == profile.value("crmId")
