"""Chunked readers of the files connector, one per format, and the bookkeeping columns.

Each reader yields DataFrames carrying ORIGIN_COLUMN (``<relative path>#<n>``),
ROW_ERROR_COLUMN and RAW_COLUMN. ``n`` is the 1-based data row of the file
(header and blank CSV lines not counted, as pyarrow counts), the line number
for JSON lines, and the element number for JSON arrays. A reader may yield a
0-row frame first, so that a header-only file still shows its columns.
"""

from __future__ import annotations

import codecs
import io
import itertools
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from connectors.base import ORIGIN_COLUMN, RAW_COLUMN, ROW_ERROR_COLUMN, FormatError

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

    from connectors._file_options import FileFormat

META_COLUMNS = (ORIGIN_COLUMN, ROW_ERROR_COLUMN, RAW_COLUMN)
#: pyarrow CSV block size. pyarrow's streaming reader reads up to 32 blocks
#: ahead in the background, so this bounds memory (32 x block + one chunk).
#: A row larger than a block makes the read restart with 4x larger blocks.
CSV_BLOCK_BYTES = 1024 * 1024
#: Smaller blocks for ``sample()``: pyarrow's readahead of 32 blocks then stays
#: within ~2 MB of decompressed text, whatever the size of the file.
SAMPLE_CSV_BLOCK_BYTES = 64 * 1024
MAX_CSV_BLOCK_BYTES = 64 * 1024 * 1024
_NO_ROWS = np.zeros(0, dtype=np.int64)


def frame_with_meta(
    frame: pd.DataFrame,
    rel: str,
    numbers: np.ndarray,
    errors: Sequence[str] | None = None,
    raw: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Adds the origin, row-error and raw columns to ``frame`` (one row per number)."""
    frame = frame.reset_index(drop=True)
    index = frame.index if len(frame.columns) else pd.RangeIndex(len(numbers))
    meta = pd.DataFrame(
        {
            ORIGIN_COLUMN: f"{rel}#" + pd.Series(numbers, index=index, dtype="int64").astype("str"),
            ROW_ERROR_COLUMN: pd.Series(errors, index=index, dtype="str"),
            RAW_COLUMN: pd.Series(raw, index=index, dtype="str"),
        },
        index=index,
    )
    return pd.concat([frame, meta], axis=1) if len(frame.columns) else meta


def clean_names(fields: Sequence[str], width: int) -> list[str]:
    """Column names: trimmed, BOM-free, blank ones named ``column_<n>``, duplicates suffixed."""
    names: list[str] = []
    seen: set[str] = set()
    for position in range(width):
        raw = fields[position] if position < len(fields) else ""
        name = raw.replace("\ufeff", "").strip() or f"column_{position + 1}"
        candidate, suffix = name, 2
        while candidate in seen:
            candidate, suffix = f"{name}_{suffix}", suffix + 1
        seen.add(candidate)
        names.append(candidate)
    return names


class HeaderMismatch(Exception):
    """The file is wider than the sniffed column count; carries pyarrow's count."""

    def __init__(self, width: int) -> None:
        super().__init__(f"pyarrow found {width} columns")
        self.width = width


@dataclass
class CsvProgress:
    """The last data row a CSV read yielded, so that a restarted read skips what came out."""

    rows: int = 0


@dataclass
class _BadRow:
    """A row that could not be parsed: where, why, and its text."""

    row: int
    reason: str
    text: str


def csv_frames(
    stream: BinaryIO,
    rel: str,
    fmt: FileFormat,
    delimiter: str,
    encoding: str,
    width: int,
    block_size: int,
    progress: CsvProgress,
) -> Iterator[pd.DataFrame]:
    """Streams a delimited file with pyarrow, all columns as strings, bad rows kept as error rows.

    ``width`` is the sniffed column count; it only sizes ``column_types``, and a
    file wider than it raises :class:`HeaderMismatch` so the caller retries.
    Rows up to ``progress.rows`` are skipped (a restart), and it is kept current.
    """
    offset = 1 if fmt.header else 0  # pyarrow numbers rows from the file's start, header included
    pending: list[_BadRow] = []

    def on_invalid(row: Any) -> str:
        number = row.number - offset if row.number is not None and row.number > 0 else 0
        reason = f"expected {row.expected_columns} fields, found {row.actual_columns} at data row {number}"
        pending.append(_BadRow(number, reason, row.text))
        return "skip"

    codec = codecs.lookup(encoding).name
    # Generated names (f0, f1...) make column_types immune to duplicate or odd
    # header names; the header arrives as the first data row and is taken from
    # there, so it is split exactly as the data is. Unused keys are ignored.
    reader = pacsv.open_csv(
        stream,
        read_options=pacsv.ReadOptions(
            use_threads=False,  # keeps InvalidRow.number, which the origin of bad rows needs
            block_size=block_size,
            encoding="utf8" if codec in ("utf-8", "utf-8-sig") else encoding,  # pyarrow skips a UTF-8 BOM
            autogenerate_column_names=True,
        ),
        parse_options=pacsv.ParseOptions(
            delimiter=delimiter,
            quote_char=fmt.quote_char,
            newlines_in_values=True,
            invalid_row_handler=on_invalid,
        ),
        convert_options=pacsv.ConvertOptions(
            column_types={f"f{i}": pa.string() for i in range(width + 256)},
            strings_can_be_null=True,
            null_values=[""],  # only empty fields are null; "NA" or "null" stay text
        ),
    )
    try:
        yield from _csv_batches(reader, rel, fmt, offset, pending, progress)
    finally:
        # Stops pyarrow's background readahead before the caller closes the file under it.
        reader.close()


def _csv_batches(
    reader: pacsv.CSVStreamingReader,
    rel: str,
    fmt: FileFormat,
    offset: int,
    pending: list[_BadRow],
    progress: CsvProgress,
) -> Iterator[pd.DataFrame]:
    """Numbers the rows of each pyarrow batch and merges in the bad rows reported so far."""
    if any(t != pa.string() for t in reader.schema.types):
        raise HeaderMismatch(len(reader.schema))
    batches = iter(reader)
    first = next(batches, None)
    header: list[str] = []
    if fmt.header and first is not None and first.num_rows:
        header = [value or "" for value in first.slice(0, 1).to_pylist()[0].values()]
    columns = clean_names(header, len(reader.schema))
    yield frame_with_meta(pd.DataFrame(columns=columns, dtype="str"), rel, _NO_ROWS)
    next_row = 1 - offset  # with a header, the header is data row 0 and is dropped
    for batch in itertools.chain([first] if first is not None else [], batches):
        good = batch.rename_columns(columns).to_pandas()
        known = np.array([bad.row for bad in pending], dtype=np.int64)
        # Good rows take, in order, the data-row numbers that bad rows do not.
        span = np.arange(next_row, next_row + len(good) + len(known), dtype=np.int64)
        numbers = span[~np.isin(span, known)][: len(good)]
        last = int(numbers[-1]) if len(numbers) else next_row - 1
        now = [bad for bad in pending if bad.row <= last]
        pending[:] = [bad for bad in pending if bad.row > last]
        next_row = last + 1
        # Drops the header (data row 0) and, on a restart, the rows already yielded.
        keep = numbers > progress.rows
        good, numbers = good[keep], numbers[keep]
        now = [bad for bad in now if bad.row > progress.rows]
        progress.rows = max(progress.rows, last, *(bad.row for bad in now))
        yield merge_bad_rows(good, numbers, now, rel)
    pending[:] = [bad for bad in pending if bad.row > progress.rows]
    if pending:
        yield merge_bad_rows(pd.DataFrame(columns=columns, dtype="str"), _NO_ROWS, pending, rel)


def merge_bad_rows(good: pd.DataFrame, numbers: np.ndarray, bad: list[_BadRow], rel: str) -> pd.DataFrame:
    """Good rows and error rows of one batch, in file order."""
    if bad:
        # Error rows are NA in every data column: give ints and bools a dtype that holds NA.
        good = good.astype({c: nullable_dtype(t) for c, t in good.dtypes.items() if nullable_dtype(t) != t})
    frame = frame_with_meta(good, rel, numbers)
    if not bad:
        return frame
    bad_numbers = np.array([b.row for b in bad], dtype=np.int64)
    errors = frame_with_meta(
        pd.DataFrame(index=range(len(bad))),
        rel,
        bad_numbers,
        errors=[b.reason for b in bad],
        raw=[b.text for b in bad],
    )
    merged = pd.concat([frame, errors], ignore_index=True)
    order = np.argsort(np.concatenate([numbers, bad_numbers]), kind="stable")
    return merged.take(order).reset_index(drop=True)


def jsonl_frames(text: io.TextIOBase, rel: str, rows: int) -> Iterator[pd.DataFrame]:
    """Reads ``rows`` lines at a time; bad lines become error rows, not a failed read."""
    first_line = 1
    while lines := list(itertools.islice(text, rows)):
        yield _json_lines_frame(lines, first_line, rel)
        first_line += len(lines)


def _json_lines_frame(lines: list[str], first_line: int, rel: str) -> pd.DataFrame:
    """Parses a block of JSON lines in one call; only a block holding a bad line goes line by line."""
    stripped = pd.Series(lines, dtype="str").str.strip()
    present = (stripped != "").to_numpy(dtype=bool)
    numbers = np.arange(first_line, first_line + len(lines), dtype=np.int64)[present]
    texts = stripped[present]
    if texts.str.startswith("{").all() and texts.str.endswith("}").all():
        try:
            good = pd.read_json(
                io.StringIO(texts.str.cat(sep="\n")),
                lines=True,
                dtype=False,  # no conversions ("007" stays a string, no dates); the engine coerces types
                convert_axes=False,
                precise_float=True,
            )
            if len(good) == len(texts):
                return merge_bad_rows(good, numbers, [], rel)
        except ValueError:
            pass
    records, ok, bad = [], np.zeros(len(texts), dtype=bool), []
    for position, (number, line) in enumerate(zip(numbers.tolist(), texts, strict=True)):
        try:
            value = json.loads(line)
        except ValueError as exc:
            bad.append(_BadRow(number, f"invalid JSON at line {number}: {exc}", line))
            continue
        if isinstance(value, dict):
            records.append(value)
            ok[position] = True
        else:
            bad.append(
                _BadRow(number, f"line {number} is a JSON {type(value).__name__}, not an object", line)
            )
    return merge_bad_rows(pd.DataFrame.from_records(records), numbers[ok], bad, rel)


def json_frames(text: io.TextIOBase, rel: str, rows: int) -> Iterator[pd.DataFrame]:
    """A JSON document: an array of objects, or an object holding one such array."""
    # A JSON document has no streaming boundary short of a full parser, so it is
    # loaded whole; JSON lines or Parquet are the formats for large exports.
    try:
        data = json.load(text)
    except json.JSONDecodeError as exc:
        raise FormatError(
            f"{rel} is not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}; "
            "set format.type if it is not JSON (jsonl for one object per line)."
        ) from exc
    if isinstance(data, dict):
        arrays = [key for key, value in data.items() if isinstance(value, list)]
        if len(arrays) > 1:
            raise FormatError(f"{rel} holds several arrays ({', '.join(arrays[:5])}); keep one per file.")
        data = data[arrays[0]] if arrays else [data]
    if not isinstance(data, list):
        raise FormatError(f"{rel} holds a single JSON value, not an array of objects.")
    for start in range(0, len(data), rows):
        part = data[start : start + rows]
        # The document is in memory already; this per-element check is not the bottleneck.
        is_record = np.fromiter((isinstance(item, dict) for item in part), dtype=bool, count=len(part))
        numbers = np.arange(start + 1, start + len(part) + 1, dtype=np.int64)
        records = pd.DataFrame.from_records([item for item, ok in zip(part, is_record, strict=True) if ok])
        bad = [
            _BadRow(int(n), f"element {n} is not a JSON object", json.dumps(item)[:10_000])
            for n, item, ok in zip(numbers, part, is_record, strict=True)
            if not ok
        ]
        yield merge_bad_rows(records, numbers[is_record], bad, rel)


def parquet_frames(
    fs: AbstractFileSystem, path: str, rel: str, rows: int, open_options: Mapping[str, Any] | None = None
) -> Iterator[pd.DataFrame]:
    """Streams a Parquet file batch by batch (``open_options`` go to ``fs.open``)."""
    with fs.open(path, "rb", **(open_options or {})) as handle:
        parquet = pq.ParquetFile(handle)
        # ignore_metadata: a stored pandas index stays an ordinary column.
        empty = parquet.schema_arrow.empty_table().to_pandas(ignore_metadata=True)
        yield frame_with_meta(_drop_index(empty), rel, _NO_ROWS)
        start = 1
        for batch in parquet.iter_batches(batch_size=rows):
            frame = _drop_index(batch.to_pandas(ignore_metadata=True))
            yield frame_with_meta(frame, rel, np.arange(start, start + len(frame), dtype=np.int64))
            start += len(frame)


def _drop_index(frame: pd.DataFrame) -> pd.DataFrame:
    """Drops pandas' unnamed index columns (``__index_level_0__``) from a Parquet frame."""
    return frame.drop(columns=[c for c in frame.columns if str(c).startswith("__index_level_")])


class Chunker:
    """Re-cuts frames into chunks of exactly ``size`` rows (the last one shorter), same columns."""

    def __init__(self, size: int, columns: list[str]) -> None:
        self.size = size
        self.columns: dict[str, Any] = dict.fromkeys(c for c in columns if c not in META_COLUMNS)
        self.pieces: list[pd.DataFrame] = []
        self.rows = 0

    def add(self, frame: pd.DataFrame) -> Iterator[pd.DataFrame]:
        """Buffers ``frame``; yields every chunk it completes."""
        for column, dtype in frame.dtypes.items():
            if column not in META_COLUMNS and self.columns.get(column) is None:
                self.columns[column] = dtype
        while len(frame):
            take = self.size - self.rows
            # iloc slices are views: a big frame cut into many chunks is not copied each time.
            self.pieces.append(frame.iloc[:take])
            self.rows += min(take, len(frame))
            frame = frame.iloc[take:]
            if self.rows == self.size:
                yield self._flush()

    def finish(self) -> Iterator[pd.DataFrame]:
        """Yields the last, partial chunk, if any."""
        if self.rows:
            yield self._flush()

    def empty(self) -> pd.DataFrame:
        """A 0-row frame with every column seen so far."""
        return self._conform(pd.DataFrame({c: pd.Series(dtype="str") for c in META_COLUMNS}))

    def _flush(self) -> pd.DataFrame:
        pieces, self.pieces, self.rows = self.pieces, [], 0
        frame = pieces[0] if len(pieces) == 1 else pd.concat(pieces, ignore_index=True)
        return self._conform(frame.reset_index(drop=True))

    def _conform(self, frame: pd.DataFrame) -> pd.DataFrame:
        missing = {
            c: pd.Series(index=frame.index, dtype=nullable_dtype(dtype))
            for c, dtype in self.columns.items()
            if c not in frame.columns
        }
        if missing:
            frame = pd.concat([frame, pd.DataFrame(missing, index=frame.index)], axis=1)
        return frame[[*self.columns, *META_COLUMNS]]


def nullable_dtype(dtype: Any) -> Any:
    """A dtype that can hold missing values for a column absent from some files."""
    if dtype is None:
        return "str"
    if pd.api.types.is_integer_dtype(dtype) and not isinstance(dtype, pd.api.extensions.ExtensionDtype):
        return "Int64"
    if pd.api.types.is_bool_dtype(dtype) and not isinstance(dtype, pd.api.extensions.ExtensionDtype):
        return "boolean"
    return dtype


def union_columns(column_lists: Iterable[list[str]]) -> list[str]:
    """The columns of several files, in order of first appearance."""
    seen: dict[str, None] = {}
    for columns in column_lists:
        seen.update(dict.fromkeys(columns))
    return list(seen)
