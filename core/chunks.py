"""One chunk, vectorised: filter by the watermark, key, map, validate, split good from bad.

Nothing here writes: the run (``core.ingest``) commits what this returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from connectors.base import DELETED_COLUMN, META_PREFIX, ORIGIN_COLUMN, RAW_COLUMN, ROW_ERROR_COLUMN
from core import cursor as cursors
from core.errors import ConfigurationError
from core.mapping import ProfileSchema, compile_mapping
from core.models import DataflowSpec
from core.quality import ExpectationResult, QualitySuite
from core.store import datasets

ERROR_COLUMNS = ["row", "field", "code", "reason"]
_SEPARATOR = "\x1f"  # joins the values of a composite primary key


@dataclass
class PreparedChunk:
    """A chunk split into the rows to upsert and the rows to quarantine."""

    received: int
    records: pd.DataFrame
    errors: pd.DataFrame
    failed: int
    cursor_values: pd.Series | None = None
    keys: pd.Series = field(default_factory=lambda: pd.Series(dtype="string"))
    #: The quality suite's result per expectation on this chunk's mapped rows.
    results: tuple[ExpectationResult, ...] = ()
    #: Keys of records the source reports deleted (their last row in the chunk is a deletion).
    deleted_keys: pd.Series = field(default_factory=lambda: pd.Series(dtype="string"))


class ChunkProcessor:
    """Turns raw chunks of one dataflow's source into records and quarantined rows."""

    def __init__(self, spec: DataflowSpec, schema: ProfileSchema) -> None:
        self.spec = spec
        self.schema = schema
        self.mapping = compile_mapping(spec.mapping, schema)
        self._compiled_for: list[str] | None = None
        self.suite = QualitySuite.parse(spec.quality)
        self.suite.check_columns(self.mapping.targets)
        self.types = {target: schema.get(target).type for target in self.mapping.targets}

    def prepare(self, raw: pd.DataFrame, watermark: cursors.Watermark | None) -> PreparedChunk:
        """Filters, keys, maps and validates one chunk, vectorised."""
        raw = raw.reset_index(drop=True)
        origin = (
            raw[ORIGIN_COLUMN] if ORIGIN_COLUMN in raw else pd.Series(pd.NA, index=raw.index, dtype="string")
        )
        malformed = (
            raw[ROW_ERROR_COLUMN].notna() if ROW_ERROR_COLUMN in raw else pd.Series(False, index=raw.index)
        )
        source_columns = [c for c in raw.columns if not str(c).startswith(META_PREFIX)]
        if self._compiled_for != source_columns:
            # compiled against the real columns, plain names with spaces or dots are columns, not expressions
            self._check_drift(source_columns)
            self.mapping = compile_mapping(self.spec.mapping, self.schema, source_columns)
            self._compiled_for = source_columns
        sync = self.spec.sync
        keys = _source_keys(raw, sync.primary_key, origin)
        cursor_values = None
        if watermark is not None:
            assert sync.cursor is not None
            if sync.cursor not in raw.columns:
                raise ConfigurationError(
                    f"The cursor column {sync.cursor!r} is not in the source; "
                    f"it has: {', '.join(source_columns)}."
                )
            cursor_values = watermark.normalise(raw[sync.cursor])
            keep = watermark.admits(cursor_values, keys) | (malformed & (watermark.value is None))
            raw, keys, origin, malformed = raw[keep], keys[keep], origin[keep], malformed[keep]
            cursor_values = cursor_values[keep & ~malformed]
        errors = [_malformed_errors(raw, malformed)]
        missing_key = keys.isna() & ~malformed
        deletion = _deletions(raw) & ~malformed
        if missing_key.any():
            errors.append(
                _errors(
                    missing_key[missing_key].index,
                    None,
                    "missing_primary_key",
                    f"primary key ({', '.join(sync.primary_key)}) is empty",
                )
            )
        # a deletion names its record by key: nothing to map or validate
        candidates = raw[~malformed & ~missing_key & ~deletion]
        mapped = self.mapping.apply(candidates[source_columns])
        errors.append(mapped.errors[ERROR_COLUMNS])
        clean = mapped.frame.drop(index=mapped.errors["row"].unique())
        results: tuple[ExpectationResult, ...] = ()
        failures = pd.DataFrame()
        if self.suite.expectations:
            evaluation = self.suite.evaluate(clean)
            failures, results = evaluation.failures, evaluation.results
        if not failures.empty:
            errors.append(failures.assign(code=failures["expectation"])[ERROR_COLUMNS])
        error_frame = (
            pd.concat([e for e in errors if not e.empty], ignore_index=True)
            if any(not e.empty for e in errors)
            else pd.DataFrame(columns=ERROR_COLUMNS)
        )
        bad_rows = pd.Index(error_frame["row"].unique())
        good = clean.drop(index=bad_rows.intersection(clean.index))
        records = good.assign(
            **{datasets.KEY: keys.loc[good.index].astype(str), "_origin": origin.loc[good.index]}
        )
        # the same key twice in one chunk: the later row wins, as it would across chunks
        records = records.drop_duplicates(subset=datasets.KEY, keep="last")
        deleted_keys = _deleted_keys(keys, deletion & ~missing_key, records)
        records = records[~records[datasets.KEY].isin(deleted_keys)]
        quarantined = _with_rows(error_frame, raw, source_columns, keys, origin)
        return PreparedChunk(
            received=len(raw),
            records=records,
            errors=quarantined,
            failed=len(bad_rows),
            cursor_values=cursor_values,
            keys=keys,
            results=results,
            deleted_keys=deleted_keys,
        )

    def _check_drift(self, columns: list[str]) -> None:
        missing = sorted(self.mapping.source_columns - set(columns))
        if missing:
            raise ConfigurationError(
                f"The source no longer has column(s) {', '.join(missing)} that the mapping uses; "
                f"it has: {_names(columns)}. Update the mapping (or the source's format settings).",
                code="schema_drift",
            )


# -- vectorised helpers ------------------------------------------------------
def _deletions(raw: pd.DataFrame) -> pd.Series:
    """Rows the source reports deleted (:data:`DELETED_COLUMN` true)."""
    if DELETED_COLUMN not in raw:
        return pd.Series(False, index=raw.index)
    flags = raw[DELETED_COLUMN]
    if flags.dtype == object or pd.api.types.is_string_dtype(flags):
        flags = flags.astype("string").str.strip().str.lower().isin(["true", "1", "yes"])
    return flags.astype("boolean").fillna(False).astype(bool)


def _deleted_keys(keys: pd.Series, deletion: pd.Series, records: pd.DataFrame) -> pd.Series:
    """Keys whose last row in the chunk is a deletion (a deletion followed by a new row keeps the record)."""
    if not deletion.any():
        return pd.Series(dtype="string")
    named = keys[keys.notna()]
    last = ~named.duplicated(keep="last")
    final = named[last & deletion.loc[named.index]]
    return final.astype("string").reset_index(drop=True)


def _source_keys(raw: pd.DataFrame, primary_key: list[str], origin: pd.Series) -> pd.Series:
    """The key each record is upserted by: its primary key, or where it came from."""
    if not primary_key:
        return origin.astype("string")
    missing = [c for c in primary_key if c not in raw.columns]
    if missing:
        raise ConfigurationError(
            f"The primary key column(s) {', '.join(missing)} are not in the source; "
            f"it has: {', '.join(c for c in raw.columns if not str(c).startswith(META_PREFIX))}."
        )
    parts = [raw[c].astype("string").str.strip().replace("", pd.NA) for c in primary_key]
    keys = parts[0]
    for part in parts[1:]:
        keys = keys + _SEPARATOR + part
    return keys


def _names(columns: list[str], most: int = 30) -> str:
    """Column names quoted (so odd ones show), at most ``most`` of them."""
    shown = ", ".join(repr(str(c))[:60] for c in columns[:most])
    return (
        shown + (f" and {len(columns) - most} more" if len(columns) > most else "")
        if columns
        else "no columns"
    )


def _errors(rows: pd.Index, field_name: str | None, code: str, reason: str | pd.Series) -> pd.DataFrame:
    return pd.DataFrame({"row": rows, "field": field_name, "code": code, "reason": reason})


def _malformed_errors(raw: pd.DataFrame, malformed: pd.Series) -> pd.DataFrame:
    if not malformed.any():
        return pd.DataFrame(columns=ERROR_COLUMNS)
    return _errors(
        malformed[malformed].index, None, "malformed_row", raw.loc[malformed, ROW_ERROR_COLUMN].astype(str)
    )


def _with_rows(
    errors: pd.DataFrame, raw: pd.DataFrame, columns: list[str], keys: pd.Series, origin: pd.Series
) -> pd.DataFrame:
    """Adds to each error the source row as received, its key and its origin."""
    if errors.empty:
        return pd.DataFrame(columns=[*ERROR_COLUMNS, "source_key", "origin", "row_data"])
    rows = errors["row"]
    bad = raw.loc[pd.Index(rows.unique())]
    payload = bad[columns].astype(object).where(bad[columns].notna(), None)
    if RAW_COLUMN in bad:
        payload = payload.assign(_raw=bad[RAW_COLUMN].astype(object).where(bad[RAW_COLUMN].notna(), None))
    as_dicts = pd.Series(payload.to_dict("records"), index=bad.index)
    out = errors.drop(columns="row").assign(
        source_key=keys.loc[rows].astype(object).to_numpy(),
        origin=origin.loc[rows].astype(object).to_numpy(),
        row=as_dicts.loc[rows].to_numpy(),
    )
    return out.astype(object).where(out.notna(), None)
