"""The files connector against real files in a temporary folder: formats, encodings, errors, chunks."""

from __future__ import annotations

import bz2
import gzip
import io
import os
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import fsspec
import pandas as pd
import pytest
import zstandard
from fsspec.implementations.local import LocalFileOpener, LocalFileSystem
from pydantic import ValidationError

from connectors.base import (
    ORIGIN_COLUMN,
    RAW_COLUMN,
    ROW_ERROR_COLUMN,
    FormatError,
    StreamNotFoundError,
)
from connectors.files import FileOptions, FilesConfig, FilesConnector

META = [ORIGIN_COLUMN, ROW_ERROR_COLUMN, RAW_COLUMN]
CONTACTS = "id,name,city\n1,Ann,Paris\n2,Bob,Lyon\n3,Cyd,Nice\n"


def connector(folder: Path) -> FilesConnector:
    return FilesConnector({"url": str(folder)})


def read_all(folder: Path, stream: str, options: dict[str, Any] | None = None, **kwargs: Any) -> pd.DataFrame:
    chunks = list(connector(folder).read(stream, options, **kwargs))
    assert chunks, "expected at least one chunk"
    return pd.concat(chunks, ignore_index=True)


def data(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame without the bookkeeping columns, as plain Python values."""
    return frame.drop(columns=META).astype(object).where(frame.drop(columns=META).notna(), None)


def expected_contacts() -> list[dict[str, str]]:
    return [
        {"id": "1", "name": "Ann", "city": "Paris"},
        {"id": "2", "name": "Bob", "city": "Lyon"},
        {"id": "3", "name": "Cyd", "city": "Nice"},
    ]


# -- formats ------------------------------------------------------------------------------------------------
def test_csv_values_are_strings_with_exact_origin(tmp_path: Path) -> None:
    (tmp_path / "contacts.csv").write_text("id,zip,note\n1,00123,NA\n2,,null\n")
    frame = read_all(tmp_path, "contacts.csv")
    assert list(frame.columns) == ["id", "zip", "note", *META]
    assert all(pd.api.types.is_string_dtype(frame[c]) for c in ["id", "zip", "note"])
    assert frame["zip"].iloc[0] == "00123"  # not coerced to a number
    assert pd.isna(frame["zip"].iloc[1])  # an empty field is missing
    assert frame["note"].tolist() == ["NA", "null"]  # but NA and null are text
    assert frame[ORIGIN_COLUMN].tolist() == ["contacts.csv#1", "contacts.csv#2"]
    assert frame[ROW_ERROR_COLUMN].isna().all() and frame[RAW_COLUMN].isna().all()


def test_tsv_by_extension(tmp_path: Path) -> None:
    (tmp_path / "c.tsv").write_text(CONTACTS.replace(",", "\t"))
    assert data(read_all(tmp_path, "c.tsv")).to_dict("records") == expected_contacts()


def test_json_lines(tmp_path: Path) -> None:
    (tmp_path / "orders.jsonl").write_text(
        '{"id": 1, "total": 9.5, "tags": ["a"]}\n\n{"id": 2, "paid": true}\n'
    )
    frame = read_all(tmp_path, "orders.jsonl")
    assert frame["id"].tolist() == [1, 2]
    assert frame["total"].iloc[0] == 9.5 and pd.isna(frame["total"].iloc[1])
    assert frame["tags"].iloc[0] == ["a"]
    assert frame[ORIGIN_COLUMN].tolist() == ["orders.jsonl#1", "orders.jsonl#3"]  # line numbers


def test_json_array_and_wrapped_array(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text('[{"id": 1, "name": "Ann"}, {"id": 2, "name": "Bob"}]')
    (tmp_path / "b.json").write_text('{"count": 2, "items": [{"id": 3}, {"id": 4}]}')
    frame = read_all(tmp_path, "a.json")
    assert frame["name"].tolist() == ["Ann", "Bob"]
    assert frame[ORIGIN_COLUMN].tolist() == ["a.json#1", "a.json#2"]
    assert read_all(tmp_path, "b.json")["id"].tolist() == [3, 4]


def test_json_file_that_holds_json_lines_is_sniffed(tmp_path: Path) -> None:
    (tmp_path / "export.json").write_text('{"id": 1}\n{"id": 2}\n')
    assert read_all(tmp_path, "export.json")["id"].tolist() == [1, 2]


def test_parquet_keeps_types(tmp_path: Path) -> None:
    source = pd.DataFrame({"id": [1, 2, 3], "score": [0.5, 1.5, 2.5], "name": ["a", "b", None]})
    source.to_parquet(tmp_path / "scores.parquet", index=False)
    frame = read_all(tmp_path, "scores.parquet", chunk_size=2)
    assert frame["id"].tolist() == [1, 2, 3] and pd.api.types.is_integer_dtype(frame["id"])
    assert frame["score"].tolist() == [0.5, 1.5, 2.5]
    assert frame[ORIGIN_COLUMN].tolist() == [f"scores.parquet#{i}" for i in (1, 2, 3)]


def test_explicit_type_overrides_extension(tmp_path: Path) -> None:
    (tmp_path / "dump.dat").write_text('{"id": 1}\n{"id": 2}\n')
    assert read_all(tmp_path, "dump.dat", {"format": {"type": "jsonl"}})["id"].tolist() == [1, 2]


# -- compression ------------------------------------------------------------------------------------------
def _zip(payload: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("export/", b"")  # a folder entry first: the data member must still be found
        archive.writestr("export/contacts.csv", payload)
    return buffer.getvalue()


COMPRESSORS: dict[str, Callable[[bytes], bytes]] = {
    ".gz": gzip.compress,
    ".bz2": bz2.compress,
    ".zip": _zip,
    ".zst": lambda payload: zstandard.ZstdCompressor().compress(payload),
}


@pytest.mark.parametrize("suffix", sorted(COMPRESSORS))
def test_compression_by_extension(tmp_path: Path, suffix: str) -> None:
    (tmp_path / f"contacts.csv{suffix}").write_bytes(COMPRESSORS[suffix](CONTACTS.encode()))
    frame = read_all(tmp_path, f"contacts.csv{suffix}")
    assert data(frame).to_dict("records") == expected_contacts()
    assert frame[ORIGIN_COLUMN].iloc[0] == f"contacts.csv{suffix}#1"


def test_zip_member_name_gives_the_format(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("orders.jsonl", '{"id": 7}\n{"id": 8}\n')
    (tmp_path / "orders.zip").write_bytes(buffer.getvalue())
    assert read_all(tmp_path, "orders.zip")["id"].tolist() == [7, 8]


def test_explicit_compression_without_extension(tmp_path: Path) -> None:
    (tmp_path / "contacts.data").write_bytes(gzip.compress(CONTACTS.encode()))
    options = {"format": {"type": "csv", "compression": "gzip"}}
    assert data(read_all(tmp_path, "contacts.data", options)).to_dict("records") == expected_contacts()


def test_multi_frame_zstd_is_read_to_the_end(tmp_path: Path) -> None:
    first, second = CONTACTS.encode(), b"4,Dee,Metz\n"
    compressor = zstandard.ZstdCompressor()
    (tmp_path / "c.csv.zst").write_bytes(compressor.compress(first) + compressor.compress(second))
    assert read_all(tmp_path, "c.csv.zst")["name"].tolist() == ["Ann", "Bob", "Cyd", "Dee"]


def test_corrupt_gzip_is_a_format_error(tmp_path: Path) -> None:
    (tmp_path / "c.csv.gz").write_bytes(b"this is not gzip at all")
    with pytest.raises(FormatError, match=r"c\.csv\.gz could not be decompressed"):
        read_all(tmp_path, "c.csv.gz")


# -- encodings ----------------------------------------------------------------------------------------------
TEXT = "id,name,city\n1,Zoë,Ærøskøbing\n2,Jürgen,Köln\n"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "latin-1", "cp1252", "utf-16-le"])
def test_encodings_are_detected(tmp_path: Path, encoding: str) -> None:
    (tmp_path / "people.csv").write_bytes(TEXT.encode(encoding))
    frame = read_all(tmp_path, "people.csv")
    assert list(frame.columns[:3]) == ["id", "name", "city"]  # no BOM in the first name
    assert frame["name"].tolist() == ["Zoë", "Jürgen"]
    assert frame["city"].tolist() == ["Ærøskøbing", "Köln"]


def test_cp1252_euro_sign(tmp_path: Path) -> None:
    (tmp_path / "prices.csv").write_bytes("item,price\ntea,3 €\n".encode("cp1252"))
    assert read_all(tmp_path, "prices.csv")["price"].tolist() == ["3 €"]


def test_bom_json_lines(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_bytes('{"name": "Zoë"}\n'.encode("utf-8-sig"))
    assert read_all(tmp_path, "a.jsonl")["name"].tolist() == ["Zoë"]


def test_declared_utf8_still_drops_a_bom(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_bytes('{"id": 1}\n{"id": 2}\n'.encode("utf-8-sig"))
    frame = read_all(tmp_path, "a.jsonl", {"format": {"encoding": "utf-8"}})
    assert frame["id"].tolist() == [1, 2] and frame[ROW_ERROR_COLUMN].isna().all()


def test_single_unterminated_line(tmp_path: Path) -> None:
    (tmp_path / "one.csv").write_bytes("name,city\nZoë,Köln".encode("utf-16"))
    assert read_all(tmp_path, "one.csv")["city"].tolist() == ["Köln"]
    (tmp_path / "raw.csv").write_text("1,Ann")
    assert read_all(tmp_path, "raw.csv", {"format": {"header": False}})["column_2"].tolist() == ["Ann"]


def test_wrong_declared_encoding_is_a_format_error(tmp_path: Path) -> None:
    (tmp_path / "people.csv").write_bytes(TEXT.encode("latin-1"))
    with pytest.raises(FormatError, match=r"people\.csv .*format\.encoding"):
        read_all(tmp_path, "people.csv", {"format": {"encoding": "utf-8"}})


# -- CSV dialects ----------------------------------------------------------------------------------------
def test_rfc4180_quoting_and_crlf(tmp_path: Path) -> None:
    text = 'id,name,note\r\n1,"Smith, Jo","she said ""hi"""\r\n2,"multi\r\nline",plain\r\n3,x,"a,b"\r\n'
    (tmp_path / "q.csv").write_bytes(text.encode())
    frame = read_all(tmp_path, "q.csv")
    assert frame["name"].tolist() == ["Smith, Jo", "multi\r\nline", "x"]
    assert frame["note"].tolist() == ['she said "hi"', "plain", "a,b"]
    assert frame[ROW_ERROR_COLUMN].isna().all()
    assert frame[ORIGIN_COLUMN].tolist() == ["q.csv#1", "q.csv#2", "q.csv#3"]


@pytest.mark.parametrize(
    ("delimiter", "suffix"), [(";", ".csv"), ("|", ".csv"), ("\t", ".txt"), (";", ".txt")]
)
def test_delimiter_is_sniffed(tmp_path: Path, delimiter: str, suffix: str) -> None:
    text = 'id;name;note\n1;Ann;"a, b"\n2;Bob;c,d\n'.replace(";", delimiter)
    (tmp_path / f"export{suffix}").write_text(text)
    frame = read_all(tmp_path, f"export{suffix}")
    assert list(frame.columns[:3]) == ["id", "name", "note"]
    assert frame["note"].tolist() == ["a, b", "c,d"]


def test_explicit_delimiter_and_tab_alias(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("a\tb\n1\t2\n")
    assert read_all(tmp_path, "t.csv", {"format": {"delimiter": "\\t"}})["b"].tolist() == ["2"]


def test_custom_quote_char(tmp_path: Path) -> None:
    (tmp_path / "q.csv").write_text("id,note\n1,'a,b'\n")
    assert read_all(tmp_path, "q.csv", {"format": {"quote_char": "'"}})["note"].tolist() == ["a,b"]


def test_no_header_names_columns(tmp_path: Path) -> None:
    (tmp_path / "raw.csv").write_text("1,Ann\n2,Bob\n")
    frame = read_all(tmp_path, "raw.csv", {"format": {"header": False}})
    assert list(frame.columns[:2]) == ["column_1", "column_2"]
    assert frame["column_1"].tolist() == ["1", "2"]
    assert frame[ORIGIN_COLUMN].tolist() == ["raw.csv#1", "raw.csv#2"]


def test_blank_and_duplicate_header_names(tmp_path: Path) -> None:
    (tmp_path / "h.csv").write_text(" id ,name,,name\n1,a,b,c\n")
    frame = read_all(tmp_path, "h.csv")
    assert list(frame.columns[:4]) == ["id", "name", "column_3", "name_2"]
    assert frame["name_2"].tolist() == ["c"]


# -- malformed rows -----------------------------------------------------------------------------------------
def test_malformed_rows_become_error_rows_in_place(tmp_path: Path) -> None:
    lines = ["id,name,city"] + [f"{i},n{i},c{i}" for i in range(1, 11)]
    lines[3] = "3,n3,c3,surplus,more"  # too many fields
    lines[7] = "7,n7"  # too few fields
    (tmp_path / "dirty.csv").write_text("\n".join(lines) + "\n")
    frame = read_all(tmp_path, "dirty.csv")
    assert len(frame) == 10
    errors = frame[frame[ROW_ERROR_COLUMN].notna()]
    assert errors[ORIGIN_COLUMN].tolist() == ["dirty.csv#3", "dirty.csv#7"]
    assert errors[ROW_ERROR_COLUMN].tolist() == [
        "expected 3 fields, found 5 at data row 3",
        "expected 3 fields, found 2 at data row 7",
    ]
    assert errors[RAW_COLUMN].tolist() == ["3,n3,c3,surplus,more", "7,n7"]
    assert errors[["id", "name", "city"]].isna().all().all()
    good = frame[frame[ROW_ERROR_COLUMN].isna()]
    assert len(good) == 8 and good[RAW_COLUMN].isna().all()
    assert good["id"].tolist() == [str(i) for i in range(1, 11) if i not in (3, 7)]
    # Every row keeps its exact data-row number, in file order.
    assert frame[ORIGIN_COLUMN].tolist() == [f"dirty.csv#{i}" for i in range(1, 11)]


def test_malformed_rows_across_many_blocks_keep_exact_origins(tmp_path: Path) -> None:
    lines = ["id,text"] + [f"{i},{'x' * 40}" for i in range(1, 60_001)]
    bad = {5, 20_000, 40_001, 60_000}
    for i in bad:
        lines[i] = f"{i},a,b"
    (tmp_path / "big.csv").write_text("\n".join(lines) + "\n")
    frame = read_all(tmp_path, "big.csv", chunk_size=7_000)
    assert frame[ORIGIN_COLUMN].tolist() == [f"big.csv#{i}" for i in range(1, 60_001)]
    flagged = frame.loc[frame[ROW_ERROR_COLUMN].notna(), ORIGIN_COLUMN]
    assert set(flagged) == {f"big.csv#{i}" for i in bad}
    assert (frame["id"].dropna() == frame[ORIGIN_COLUMN].str.split("#").str[1][frame["id"].notna()]).all()


def test_bad_json_lines_become_error_rows(tmp_path: Path) -> None:
    (tmp_path / "o.jsonl").write_text('{"id": 1}\n{"id": 2,\n[1, 2]\n{"id": 4}\n')
    frame = read_all(tmp_path, "o.jsonl")
    assert frame[ORIGIN_COLUMN].tolist() == ["o.jsonl#1", "o.jsonl#2", "o.jsonl#3", "o.jsonl#4"]
    assert frame[ROW_ERROR_COLUMN].isna().tolist() == [True, False, False, True]
    assert frame[ROW_ERROR_COLUMN].iloc[1].startswith("invalid JSON at line 2")
    assert frame[ROW_ERROR_COLUMN].iloc[2] == "line 3 is a JSON list, not an object"
    assert frame[RAW_COLUMN].iloc[1] == '{"id": 2,'
    assert frame["id"].dropna().tolist() == [1, 4]


def test_row_larger_than_a_block_restarts_without_duplicates(tmp_path: Path) -> None:
    lines = ["id,text"] + [f"{i},short" for i in range(1, 20_001)]
    lines[10_000] = f'10000,"{"y" * 3_000_000}"'
    (tmp_path / "wide.csv").write_text("\n".join(lines) + "\n")
    frame = read_all(tmp_path, "wide.csv", chunk_size=3_000)
    assert frame[ORIGIN_COLUMN].tolist() == [f"wide.csv#{i}" for i in range(1, 20_001)]
    assert len(frame["text"].iloc[9_999]) == 3_000_000


# -- chunks, globs, streams -------------------------------------------------------------------------------
def test_chunks_are_bounded_and_complete(tmp_path: Path) -> None:
    (tmp_path / "n.csv").write_text("id\n" + "".join(f"{i}\n" for i in range(1, 10_501)))
    chunks = list(connector(tmp_path).read("n.csv", chunk_size=1000))
    assert len(chunks) == 11
    assert all(len(chunk) <= 1000 for chunk in chunks) and len(chunks[-1]) == 500
    frame = pd.concat(chunks, ignore_index=True)
    assert frame["id"].tolist() == [str(i) for i in range(1, 10_501)]


def test_chunks_span_files_in_path_order(tmp_path: Path) -> None:
    (tmp_path / "b.jsonl").write_text("".join(f'{{"n": {i}}}\n' for i in range(5, 10)))
    (tmp_path / "a.jsonl").write_text("".join(f'{{"n": {i}}}\n' for i in range(5)))
    chunks = list(connector(tmp_path).read("*.jsonl", chunk_size=4))
    assert [len(c) for c in chunks] == [4, 4, 2]
    assert pd.concat(chunks)["n"].tolist() == list(range(10))


def test_glob_unions_columns_of_files(tmp_path: Path) -> None:
    (tmp_path / "exports" / "2024").mkdir(parents=True)
    (tmp_path / "exports" / "a.csv").write_text("id,name\n1,Ann\n")
    (tmp_path / "exports" / "2024" / "b.csv").write_text("id,email\n2,b@x.io\n")
    (tmp_path / "exports" / ".hidden.csv").write_text("id,secret\n9,no\n")
    chunks = list(connector(tmp_path).read("exports/**/*.csv", chunk_size=1))
    # Same columns in every chunk, in order of first appearance (2024/b.csv sorts before a.csv).
    assert [list(c.columns) for c in chunks] == [["id", "email", "name", *META]] * 2
    frame = pd.concat(chunks, ignore_index=True)
    assert frame[ORIGIN_COLUMN].tolist() == ["exports/2024/b.csv#1", "exports/a.csv#1"]
    assert frame["email"].tolist()[0] == "b@x.io" and pd.isna(frame["email"].iloc[1])
    assert pd.isna(frame["name"].iloc[0]) and frame["name"].iloc[1] == "Ann"


def test_relative_path_and_file_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "c.csv").write_text(CONTACTS)
    monkeypatch.chdir(tmp_path)
    assert len(FilesConnector({"url": "data"}).sample("c.csv")) == 3
    assert len(FilesConnector({"url": f"file://{tmp_path / 'data'}"}).sample("c.csv")) == 3


def test_folder_stream_reads_its_data_files(tmp_path: Path) -> None:
    (tmp_path / "contacts").mkdir()
    (tmp_path / "contacts" / "1.csv").write_text("id\n1\n")
    (tmp_path / "contacts" / "2.csv").write_text("id\n2\n")
    (tmp_path / "contacts" / "readme.md").write_text("not data")
    assert read_all(tmp_path, "contacts")["id"].tolist() == ["1", "2"]


def test_pattern_matching_nothing_names_pattern_and_folder(tmp_path: Path) -> None:
    with pytest.raises(StreamNotFoundError) as caught:
        list(connector(tmp_path).read("orders/*.csv"))
    assert "orders/*.csv" in caught.value.user_message and str(tmp_path) in caught.value.user_message
    with pytest.raises(StreamNotFoundError, match="does not exist"):
        connector(tmp_path / "missing").sample("x.csv")


def test_streams_cannot_leave_the_folder(tmp_path: Path) -> None:
    (tmp_path / "inside").mkdir()
    (tmp_path / "secret.csv").write_text("a\n1\n")
    with pytest.raises(StreamNotFoundError, match="inside"):
        connector(tmp_path / "inside").sample("../secret.csv")


def test_empty_and_header_only_files_yield_nothing(tmp_path: Path) -> None:
    (tmp_path / "empty.csv").write_bytes(b"")
    (tmp_path / "header.csv").write_text("id,name\n")
    (tmp_path / "nonl.csv").write_text("id,name")
    (tmp_path / "empty.jsonl").write_text("\n\n")
    for stream in ["empty.csv", "header.csv", "nonl.csv", "empty.jsonl"]:
        assert list(connector(tmp_path).read(stream)) == []
    preview = connector(tmp_path).sample("header.csv")
    assert preview.empty and list(preview.columns) == ["id", "name", *META]


# -- sample -------------------------------------------------------------------------------------------------
class CountingOpener(LocalFileOpener):
    """A local file that adds the bytes it reads to CountingFileSystem.bytes_read."""

    def read(self, *args: Any) -> bytes:
        chunk = self.f.read(*args)
        CountingFileSystem.bytes_read += len(chunk)
        return chunk

    def readinto(self, buffer: Any) -> int:
        count = self.f.readinto(buffer) or 0
        CountingFileSystem.bytes_read += count
        return count


class CountingFileSystem(LocalFileSystem):
    """The local filesystem under a ``countingfile://`` URL, counting the bytes read."""

    protocol = ("countingfile",)
    bytes_read: ClassVar[int] = 0

    def _open(self, path: str, mode: str = "rb", block_size: Any = None, **kwargs: Any) -> CountingOpener:
        return CountingOpener(self._strip_protocol(path), mode, fs=self, **kwargs)


@pytest.fixture
def big_csv(tmp_path: Path) -> Path:
    """A ~60 MB CSV."""
    block = "".join(
        f"{i},name{i},user{i}@example.com,{i % 997},2026-01-01T00:00:00Z\n" for i in range(50_000)
    )
    path = tmp_path / "big.csv"
    with path.open("w") as handle:
        handle.write("id,name,email,points,updated_at\n")
        while handle.tell() < 60_000_000:
            handle.write(block)
    return path


def test_sample_reads_a_small_part_of_a_big_file(big_csv: Path) -> None:
    fsspec.register_implementation("countingfile", CountingFileSystem, clobber=True)
    CountingFileSystem.bytes_read = 0
    source = FilesConnector({"url": f"countingfile://{big_csv.parent}"})
    sample = source.sample("big.csv", limit=1000)
    assert len(sample) == 1000
    assert sample[ORIGIN_COLUMN].iloc[-1] == "big.csv#1000"
    size = big_csv.stat().st_size
    assert 0 < CountingFileSystem.bytes_read < size / 5, (CountingFileSystem.bytes_read, size)


def test_read_streams_instead_of_loading_the_file(big_csv: Path) -> None:
    fsspec.register_implementation("countingfile", CountingFileSystem, clobber=True)
    CountingFileSystem.bytes_read = 0
    chunks = FilesConnector({"url": f"countingfile://{big_csv.parent}"}).read("big.csv", chunk_size=10_000)
    first = next(chunks)
    assert len(first) == 10_000
    assert CountingFileSystem.bytes_read < big_csv.stat().st_size * 0.75
    chunks.close()


def test_sample_shows_malformed_rows_and_stops_at_limit(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("id,name\n1,a\n2,b,c\n3,c\n")
    (tmp_path / "b.csv").write_text("id,name\n4,d\n5,e\n")
    sample = connector(tmp_path).sample("*.csv", limit=4)
    assert sample[ORIGIN_COLUMN].tolist() == ["a.csv#1", "a.csv#2", "a.csv#3", "b.csv#1"]
    assert sample[ROW_ERROR_COLUMN].notna().tolist() == [False, True, False, False]


# -- check, discover, fingerprint ---------------------------------------------------------------------------
def test_check_missing_folder_does_not_raise(tmp_path: Path) -> None:
    result = connector(tmp_path / "nope").check()
    assert result.ok is False and "does not exist" in result.message


def test_check_counts_data_files(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text(CONTACTS)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.jsonl").write_text('{"a": 1}\n')
    (tmp_path / "logo.png").write_bytes(b"\x89PNG")
    result = connector(tmp_path).check()
    assert result.ok is True
    assert "2 data file(s)" in result.message and "1 other file(s)" in result.message


def test_check_on_a_file_or_unknown_protocol_says_why(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text(CONTACTS)
    assert "is a file" in connector(tmp_path / "a.csv").check().message
    result = FilesConnector({"url": "nosuchproto://bucket/x"}).check()
    assert result.ok is False and "nosuchproto" in result.message


def test_discover_types_keys_and_cursors(tmp_path: Path) -> None:
    header = "customer_id,email,points,active,signup_date,updated_at,notes\n"
    for name, start in (("a.csv", 1), ("b.csv", 4)):
        rows = "".join(
            f"{i},u{i}@x.io,{i % 2},{'true' if i % 2 else 'false'},2024-01-0{i},2024-02-01T10:0{i}:00Z,n\n"
            for i in range(start, start + 3)
        )
        (tmp_path / "contacts").mkdir(exist_ok=True)
        (tmp_path / "contacts" / name).write_text(header + rows)
    (tmp_path / "orders.jsonl").write_text(
        '{"order_id": "A1", "total": 9.5}\n{"order_id": "A2", "total": 3}\n'
    )
    (tmp_path / "bad.json").write_text("[{")
    (tmp_path / "image.png").write_bytes(b"\x89PNG")
    streams = {s.name: s for s in connector(tmp_path).discover()}
    assert set(streams) == {"contacts/a.csv", "contacts/b.csv", "contacts/*.csv", "orders.jsonl", "bad.json"}
    contacts = streams["contacts/*.csv"]
    assert {f.name: f.type for f in contacts.fields} == {
        "customer_id": "integer",
        "email": "string",
        "points": "integer",
        "active": "boolean",
        "signup_date": "date",
        "updated_at": "timestamp",
        "notes": "string",
    }
    assert contacts.primary_key_candidates[:2] == ("customer_id", "email")
    assert "points" not in contacts.primary_key_candidates and "notes" not in contacts.primary_key_candidates
    assert contacts.cursor_candidates == ("updated_at", "signup_date")
    assert contacts.metadata["files"] == 2
    assert contacts.metadata["bytes"] == sum(p.stat().st_size for p in (tmp_path / "contacts").iterdir())
    assert pd.Timestamp(contacts.metadata["modified"]).tzinfo is not None
    orders = streams["orders.jsonl"]
    assert {f.name: f.type for f in orders.fields} == {"order_id": "string", "total": "number"}
    assert orders.primary_key_candidates == ("order_id",)
    assert "bad.json" in streams["bad.json"].metadata["error"] and streams["bad.json"].fields == ()


def test_fingerprint_changes_with_the_files(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text(CONTACTS)
    source = connector(tmp_path)
    first = source.fingerprint("*.csv")
    assert first == source.fingerprint("*.csv") and first is not None and len(first) == 64
    stat = path.stat()
    os.utime(path, (stat.st_atime, stat.st_mtime + 10))  # touched
    touched = source.fingerprint("*.csv")
    assert touched != first
    path.write_text(CONTACTS + "4,Dee,Metz\n")  # changed
    assert source.fingerprint("*.csv") != touched
    (tmp_path / "b.csv").write_text(CONTACTS)  # a new file matches
    assert source.fingerprint("*.csv") != source.fingerprint("a.csv")


# -- errors and options -------------------------------------------------------------------------------------
def test_invalid_json_names_the_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "orders.json").write_text('[\n{"id": 1},\n{"id": 2,,}\n]')
    with pytest.raises(FormatError) as caught:
        read_all(tmp_path, "orders.json")
    message = caught.value.user_message
    assert message.startswith("orders.json is not valid JSON at line 3") and "format.type" in message


def test_invalid_parquet_is_a_format_error(tmp_path: Path) -> None:
    (tmp_path / "x.parquet").write_text("id,name\n1,a\n")
    with pytest.raises(FormatError, match=r"x\.parquet could not be read as Parquet.*format\.type"):
        read_all(tmp_path, "x.parquet")


def test_options_are_validated() -> None:
    assert FileOptions.model_validate({}).format.type == "auto"
    with pytest.raises(ValidationError):
        FileOptions.model_validate({"format": {"type": "csv", "sep": ";"}})
    with pytest.raises(ValidationError, match="single character"):
        FileOptions.model_validate({"format": {"delimiter": ";;"}})
    with pytest.raises(ValidationError, match="unknown encoding"):
        FileOptions.model_validate({"format": {"encoding": "klingon"}})
    with pytest.raises(ValidationError):
        FileOptions.model_validate({"format": {"compression": "rar"}})
    assert FileOptions.model_validate({"format": {"delimiter": "tab"}}).format.delimiter == "\t"


def test_config_is_validated_and_has_no_free_form_options() -> None:
    with pytest.raises(ValidationError):
        FilesConfig.model_validate({"url": "  "})
    with pytest.raises(ValidationError):
        FilesConfig.model_validate({"url": "/data", "bucket": "x"})
    with pytest.raises(ValidationError, match="storage_options"):  # secrets would be plain JSON
        FilesConfig.model_validate({"url": "/data", "storage_options": {"secret": "hunter2"}})
    # A storage with credentials has its own connector and form.
    with pytest.raises(ValidationError, match="read by the 's3' connector"):
        FilesConfig.model_validate({"url": "s3://b/x"})
    with pytest.raises(ValidationError, match="read by the 'sftp' connector") as caught:
        FilesConfig.model_validate({"url": "sftp://me:hunter2@host/x"})
    assert "hunter2" not in str(caught.value)


def test_connector_declares_itself() -> None:
    assert FilesConnector.name == "files"
    assert FilesConnector.category == "Cloud storage"
    assert FilesConnector.config_model is FilesConfig and FilesConnector.options_model is FileOptions
