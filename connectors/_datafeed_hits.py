"""Hit data of an Adobe Analytics data feed: escaped, headerless TSV, counted and parsed block by block.

Adobe's rules (``datafeeds-spec-chars``): a tab ends a field and a newline
ends a hit, unless a backslash precedes it; a backslash before a tab, a
newline or a backslash makes that character part of the value. That is
pyarrow's ``escape_char``, with quoting off (a ``"`` is an ordinary
character) and newlines allowed in values. Two things pyarrow would do
otherwise are undone here, on whole blocks with numpy:

- pyarrow ends rows at a carriage return too, where Adobe only ends them at
  a newline: unescaped CRs get a backslash before them, so they stay in
  their value;
- an empty line is a row of nulls to pyarrow; here it is a malformed row.

Hits are counted the same way (unescaped newlines), so a file is checked
against its manifest's record count before any of its rows is parsed.
"""

from __future__ import annotations

import codecs
import io
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import IO, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from connectors._file_options import FileFormat
from connectors._readers import (
    CSV_BLOCK_BYTES,
    MAX_CSV_BLOCK_BYTES,
    CsvProgress,
    _BadRow,
    _csv_batches,
    clean_names,
)
from connectors.base import RAW_COLUMN, ROW_ERROR_COLUMN

#: Bytes read at a time when counting or escaping.
BLOCK_BYTES = 4 * 1024 * 1024
_BACKSLASH, _NEWLINE, _RETURN = 0x5C, 0x0A, 0x0D


def _backslash_runs(block: np.ndarray, carry: int) -> tuple[np.ndarray, np.ndarray]:
    """Backslash positions in a block, and the length of the run of backslashes ending at each.

    ``carry`` is the run that ended the previous block: a run starting at the
    block's first byte continues it.
    """
    slashes = np.flatnonzero(block == _BACKSLASH)
    if not slashes.size:
        return slashes, slashes
    starts = np.zeros(slashes.size, dtype=np.int64)
    breaks = np.flatnonzero(np.diff(slashes) != 1) + 1
    starts[breaks] = breaks
    starts = np.maximum.accumulate(starts)
    runs = np.arange(slashes.size, dtype=np.int64) - starts + 1
    return slashes, runs + np.where(slashes[starts] == 0, carry, 0)


def _trailing_run(block: np.ndarray, slashes: np.ndarray, runs: np.ndarray) -> int:
    """The length of the run of backslashes that ends the block (0 when it ends otherwise)."""
    return int(runs[-1]) if slashes.size and slashes[-1] == block.size - 1 else 0


def unescaped(block: np.ndarray, byte: int, carry: int) -> tuple[np.ndarray, int]:
    """Positions of ``byte`` that no odd run of backslashes precedes, and the carry for the next block."""
    slashes, runs = _backslash_runs(block, carry)
    positions = np.flatnonzero(block == byte)
    ending = _trailing_run(block, slashes, runs)
    if not positions.size:
        return positions, ending
    before = np.zeros(positions.size, dtype=np.int64)
    if slashes.size:
        at = np.minimum(np.searchsorted(slashes, positions - 1), slashes.size - 1)
        before = np.where(slashes[at] == positions - 1, runs[at], 0)
    before = np.where(positions == 0, carry, before)
    return positions[before % 2 == 0], ending


class HitCount:
    """Counts the hits of a stream (its unescaped newlines) and tells whether it is UTF-8."""

    def __init__(self) -> None:
        self.hits = 0
        self.utf8 = True
        self._carry = 0
        self._open_row = False  # bytes seen since the last unescaped newline
        self._decoder = codecs.getincrementaldecoder("utf-8")()

    def add(self, data: bytes) -> None:
        """Counts one block."""
        if not data:
            return
        block = np.frombuffer(data, dtype=np.uint8)
        ends, self._carry = unescaped(block, _NEWLINE, self._carry)
        self.hits += int(ends.size)
        self._open_row = not ends.size or int(ends[-1]) != block.size - 1
        if self.utf8:
            try:
                self._decoder.decode(data)
            except UnicodeDecodeError:
                self.utf8 = False

    def finish(self) -> int:
        """The number of hits, once the stream has ended: a last row without its newline counts too."""
        if self.utf8:
            try:
                self._decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                self.utf8 = False
        self.hits += int(self._open_row)
        self._open_row = False
        return self.hits


def count_hits(stream: IO[bytes]) -> HitCount:
    """Reads a stream to its end, counting its hits."""
    count = HitCount()
    while data := stream.read(BLOCK_BYTES):
        count.add(data)
    count.finish()
    return count


class _EscapedReturns(io.RawIOBase):
    """The stream with a backslash before every unescaped carriage return (so pyarrow keeps it)."""

    def __init__(self, source: IO[bytes]) -> None:
        super().__init__()
        self._source = source
        self._carry = 0
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            data = self._source.read(BLOCK_BYTES)
            if not data:
                return 0
            self._pending = memoryview(self._escape(data))
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size

    def _escape(self, data: bytes) -> bytes:
        block = np.frombuffer(data, dtype=np.uint8)
        if _RETURN not in data:  # the usual block: only the backslashes ending it matter
            ends_escaping = block[-1] == _BACKSLASH
            self._carry = _trailing_run(block, *_backslash_runs(block, self._carry)) if ends_escaping else 0
            return data
        returns, self._carry = unescaped(block, _RETURN, self._carry)
        return np.insert(block, returns, _BACKSLASH).tobytes() if returns.size else data


def hit_frames(
    open_stream: Callable[[], AbstractContextManager[IO[bytes]]],
    columns: list[str],
    rel: str,
    encoding: str,
    block_size: int = CSV_BLOCK_BYTES,
) -> Iterator[pd.DataFrame]:
    """Parses hit data into string frames of one pyarrow block each, with origin and bad rows.

    A row with too few or too many fields is a malformed row (ROW_ERROR_COLUMN,
    RAW_COLUMN); so is an empty line. ``open_stream`` opens the decompressed
    hit data; it is opened again, with larger blocks, when a hit is larger
    than a block, and the rows already yielded are skipped.
    """
    names = clean_names(columns, len(columns))
    generated = [f"f{i}" for i in range(len(names))]
    progress = CsvProgress()
    while True:
        pending: list[_BadRow] = []
        on_invalid = _bad_rows_into(pending)
        with open_stream() as raw:
            reader = pacsv.open_csv(
                io.BufferedReader(_EscapedReturns(raw), buffer_size=1 << 20),
                read_options=pacsv.ReadOptions(
                    column_names=generated,
                    block_size=block_size,
                    use_threads=False,  # keeps InvalidRow.number, which bad rows' origin needs
                    encoding="utf8" if encoding == "utf-8" else encoding,
                ),
                parse_options=pacsv.ParseOptions(
                    delimiter="\t",
                    quote_char=False,
                    escape_char="\\",
                    newlines_in_values=True,
                    ignore_empty_lines=False,
                    invalid_row_handler=on_invalid,
                ),
                convert_options=pacsv.ConvertOptions(
                    column_types=dict.fromkeys(generated, pa.string()),
                    strings_can_be_null=True,
                    null_values=[""],
                ),
            )
            try:
                for frame in _csv_batches(reader, rel, FileFormat(header=False), 0, pending, progress):
                    frame.columns = [*names, *frame.columns[len(names) :]]
                    yield _empty_lines_are_malformed(frame, names)
                return
            except pa.ArrowInvalid as error:
                if "straddl" not in str(error) or block_size >= MAX_CSV_BLOCK_BYTES:
                    raise
                block_size *= 4  # a hit is larger than a block: read again, skipping what came out
            finally:
                reader.close()


def _bad_rows_into(pending: list[_BadRow]) -> Callable[[Any], str]:
    """pyarrow's invalid-row handler: keeps the row (number, reason, text) and skips it."""

    def on_invalid(row: Any) -> str:
        number = row.number if row.number is not None and row.number > 0 else 0
        reason = f"expected {row.expected_columns} fields, found {row.actual_columns} at row {number}"
        pending.append(_BadRow(number, reason, row.text))
        return "skip"

    return on_invalid


def _empty_lines_are_malformed(frame: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """An empty line parses as a row of nulls; no hit is empty, so it is a malformed row."""
    empty = frame[names].isna().all(axis=1) & frame[ROW_ERROR_COLUMN].isna()
    if empty.any():
        frame.loc[empty, ROW_ERROR_COLUMN] = "an empty line"
        frame.loc[empty, RAW_COLUMN] = ""
    return frame
