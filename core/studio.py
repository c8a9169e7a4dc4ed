"""The mapping studio's actions: map a sample live, dry-run, check drift, keep versions, import/export.

The studio loads a stream's sample once; every edit then maps that sample in
memory (:meth:`Studio.map_frame`), so the preview follows the analyst's typing.
"""

from __future__ import annotations

import contextlib
import csv
import io
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import yaml

from core.chunks import ERROR_COLUMNS
from core.drift import DriftReport, compare, schema_of
from core.dryrun import DryRunReport, dry_run
from core.errors import ConfigurationError, NotFoundError
from core.ingest import DataflowRun
from core.mapping import CompiledMapping, MappingResult, compile_mapping
from core.models import DataflowSpec
from core.quality import ExpectationResult, QualitySuite
from core.safe_yaml import load_yaml

if typing.TYPE_CHECKING:
    from core.services import Workspace

#: The sample the studio maps live.
SAMPLE_ROWS = 1000
#: Columns of a mapping exported as CSV.
CSV_COLUMNS = ("attribute", "source", "identity")
#: The largest mapping file imported (a mapping of thousands of attributes is far smaller).
MAX_MAPPING_FILE_BYTES = 1024 * 1024
#: Columns of ``MappedSample.fields``.
FIELD_COLUMNS = ("attribute", "type", "source", "identity", "nulls", "failures", "examples", "problem")


@dataclass(frozen=True)
class MappedSample:
    """A sample mapped and validated as a run would, without writing anything."""

    sample: pd.DataFrame
    mapped: pd.DataFrame
    errors: pd.DataFrame
    #: One row per mapped attribute: type, source, nulls, failures, examples, problem.
    fields: pd.DataFrame
    #: Attribute -> why its expression does not compile (left out of ``mapped``).
    problems: Mapping[str, str] = field(default_factory=dict)


class Studio:
    """Mapping actions over one workspace."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    # -- live mapping ------------------------------------------------------------
    def sample(self, spec: DataflowSpec, rows: int = SAMPLE_ROWS) -> pd.DataFrame:
        """The sample a mapping is edited on (read once; callers cache it)."""
        source = spec.source
        return self.workspace.preview(source.connection, source.stream, source.options, rows).frame

    def map_frame(self, spec: DataflowSpec, sample: pd.DataFrame, *, validate: bool = True) -> MappedSample:
        """Maps ``sample`` with ``spec`` exactly as a run maps a chunk; writes nothing.

        A field whose expression does not compile is left out and its message
        kept in ``problems``, so the other fields still preview while one is
        being typed. ``validate`` runs the quality suite too (slower: Great
        Expectations).
        """
        schema = self.workspace.schema
        columns = list(sample.columns)
        problems: dict[str, str] = {}
        good: dict[str, str] = {}
        for attribute, source in spec.mapping.items():
            try:
                compile_mapping({attribute: source}, schema, columns)
            except ConfigurationError as error:
                problems[attribute] = error.user_message
            else:
                good[attribute] = source
        if not good:
            empty = pd.DataFrame(index=sample.index)
            errors = pd.DataFrame(columns=list(ERROR_COLUMNS))
            return MappedSample(
                sample, empty, errors, field_stats(spec, empty, errors, schema, problems), problems
            )
        result: MappingResult = compile_mapping(good, schema, columns).apply(sample)
        errors = result.errors[list(ERROR_COLUMNS)]
        if validate and spec.quality:
            suite = QualitySuite.parse(spec.quality)
            suite.check_columns(result.frame.columns)
            failures = suite.validate(result.frame.drop(index=result.errors["row"].unique()))
            if not failures.empty:
                errors = pd.concat(
                    [errors, failures.assign(code=failures["expectation"])[list(ERROR_COLUMNS)]],
                    ignore_index=True,
                )
        stats = field_stats(spec, result.frame, errors, schema, problems)
        return MappedSample(sample, result.frame, errors, stats, problems)

    def check_sample(self, spec: DataflowSpec, sample: pd.DataFrame) -> list[ExpectationResult]:
        """Each expectation of the suite on the mapped sample (rows that map), with failing examples."""
        mapped = self.map_frame(spec, sample, validate=False)
        clean = mapped.mapped.drop(index=mapped.errors["row"].unique())
        return QualitySuite.parse(spec.quality).results(clean)

    # -- dry runs and drift ----------------------------------------------------
    def dry_run(
        self, name: str, spec: DataflowSpec | None = None, *, sample_rows: int | None = SAMPLE_ROWS
    ) -> DryRunReport:
        """What running ``name`` now would do (with ``spec`` if given, e.g. unsaved edits):
        on a sample, or on the whole source when ``sample_rows`` is None."""
        run = self.workspace.dataflow_run(name)
        if spec is not None:
            row = {**run.row, "spec": spec.model_dump(mode="json", exclude_none=True)}
            run = DataflowRun(run.store, row, run.connector, run.schema, redact=run.redact)
        return dry_run(run, sample_rows=sample_rows)

    def drift_of(
        self, name: str, sample: pd.DataFrame, spec: DataflowSpec | None = None
    ) -> DriftReport | None:
        """How ``sample``'s columns moved from those the saved version was built on (None: no baseline)."""
        row = self.workspace.store.dataflow_row(name)
        saved = self.workspace.store.version_row(None, int(row["id"]), int(row["version"]))
        if saved is None or saved["source_schema"] is None:
            return None
        baseline = saved["source_schema"]
        spec = spec or DataflowSpec.model_validate(row["spec"])
        columns = list(dict.fromkeys([*baseline, *map(str, sample.columns)]))
        readable = {}
        for attribute, source in spec.mapping.items():
            with contextlib.suppress(ConfigurationError):  # a field being typed reads nothing yet
                compile_mapping({attribute: source}, self.workspace.schema, columns)
                readable[attribute] = source
        fields = (
            compile_mapping(readable, self.workspace.schema, columns) if readable else CompiledMapping([])
        )
        return compare(baseline, schema_of(sample), fields)

    def drift(self, name: str) -> DriftReport | None:
        """How the source's schema moved since the dataflow's mapping was saved (None: no baseline yet)."""
        run = self.workspace.dataflow_run(name)
        _, _, _, segments = run.plan(run.store.cursor_state(run.dataflow_id))
        if not segments:  # nothing new to read: look at the stream as a whole
            segments = run.plan({})[3]
        return run.drift_report(segments)[1]

    def accept_schema(self, name: str, sample: pd.DataFrame | None = None) -> None:
        """Saves the dataflow again with the source's current schema as its baseline."""
        spec = self.workspace.dataflow_spec(name)
        frame = sample if sample is not None else self.sample(spec)
        self.workspace.save_dataflow(
            name, spec, source_schema=schema_of(frame), note="source schema accepted"
        )

    # -- versions ----------------------------------------------------------------
    def versions(self, name: str) -> pd.DataFrame:
        """Every saved version of a dataflow, newest first, with what changed in its mapping."""
        row = self.workspace.store.dataflow_row(name)
        frame = self.workspace.store.versions_frame(int(row["id"]))
        if frame.empty:
            return frame
        specs = frame["spec"].tolist()
        frame["attributes"] = [len(s.get("mapping", {})) for s in specs]
        frame["changes"] = [
            _mapping_changes(specs[i + 1] if i + 1 < len(specs) else {}, specs[i]) for i in range(len(specs))
        ]
        frame["current"] = frame["version"] == int(row["version"])
        return frame[["version", "created_at", "note", "attributes", "changes", "current", "spec"]]

    def restore_version(self, name: str, version: int) -> int:
        """Saves an older version's spec as the newest version; returns the new version number."""
        row = self.workspace.store.dataflow_row(name)
        saved = self.workspace.store.version_row(None, int(row["id"]), int(version))
        if saved is None:
            raise NotFoundError(f"Dataflow {name!r} has no version {version}.")
        self.workspace.save_dataflow(
            name,
            saved["spec"],
            source_schema=saved["source_schema"],
            note=f"restored from version {version}",
        )
        return int(self.workspace.store.dataflow_row(name)["version"])

    # -- import / export ---------------------------------------------------------
    @staticmethod
    def export_mapping(spec: DataflowSpec, fmt: str = "yaml") -> str:
        """The mapping and identities as YAML, or CSV (attribute, source, identity)."""
        if fmt == "yaml":
            body = {"mapping": dict(spec.mapping), "identities": dict(spec.identities)}
            return yaml.safe_dump(body, sort_keys=False, allow_unicode=True)
        if fmt == "csv":
            namespaces = {attribute: ns for ns, attribute in spec.identities.items()}
            out = io.StringIO()
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(CSV_COLUMNS)
            for attribute, source in spec.mapping.items():
                writer.writerow([attribute, source, namespaces.get(attribute, "")])
            return out.getvalue()
        raise ConfigurationError(f"unknown mapping format {fmt!r}; use 'yaml' or 'csv'")

    @staticmethod
    def import_mapping_file(data: bytes, file_name: str) -> tuple[dict[str, str], dict[str, str]]:
        """Parses an uploaded mapping file (YAML, or CSV by its ``.csv`` name): (mapping, identities).

        ``data`` need not be whole: over :data:`MAX_MAPPING_FILE_BYTES`, the file is refused,
        so a caller reads at most one byte more than that.

        Raises:
            ConfigurationError: the file is too large, not UTF-8, or not a mapping; says what to fix.
        """
        if len(data) > MAX_MAPPING_FILE_BYTES:
            raise ConfigurationError(_too_large(len(data)))
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ConfigurationError(
                f"{file_name} is not UTF-8 text: save it as UTF-8 and upload it again."
            ) from None
        return Studio.import_mapping(text, "csv" if file_name.lower().endswith(".csv") else "yaml")

    @staticmethod
    def import_mapping(text: str, fmt: str = "yaml") -> tuple[dict[str, str], dict[str, str]]:
        """Parses an exported mapping: (mapping, identities). Raises ConfigurationError saying what to fix."""
        if len(text) > MAX_MAPPING_FILE_BYTES:
            raise ConfigurationError(_too_large(len(text.encode("utf-8"))))
        if fmt == "yaml":
            body = load_yaml(text, "the mapping file") or {}
            if not isinstance(body, Mapping) or not isinstance(body.get("mapping"), Mapping):
                raise ConfigurationError("a mapping file needs a 'mapping:' section of attribute: source")
            named = body.get("identities") or {}
            if not isinstance(named, Mapping):
                raise ConfigurationError("'identities:' must map a namespace to an attribute")
            return _strings(body["mapping"], "mapping"), _strings(named, "identities")
        if fmt == "csv":
            rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
            missing = [c for c in CSV_COLUMNS[:2] if rows and c not in rows[0]]
            if not rows or missing:
                raise ConfigurationError(
                    "a mapping CSV needs a header with attribute, source (and optionally identity) columns"
                )
            mapping: dict[str, str] = {}
            identities: dict[str, str] = {}
            for line, row in enumerate(rows, start=2):
                attribute, source = (row.get("attribute") or "").strip(), (row.get("source") or "").strip()
                if not attribute or not source:
                    raise ConfigurationError(f"line {line}: both attribute and source are needed")
                mapping[attribute] = source
                namespace = (row.get("identity") or "").strip()
                if namespace:
                    identities[namespace] = attribute
            return mapping, identities
        raise ConfigurationError(f"unknown mapping format {fmt!r}; use 'yaml' or 'csv'")


def _too_large(size: int) -> str:
    over = "more than " if size > MAX_MAPPING_FILE_BYTES else ""
    return (
        f"the mapping file is {over}{size / 1e6:.1f} MB; a mapping file may be at most "
        f"{MAX_MAPPING_FILE_BYTES // 1024} KB: export the mapping again, or split it."
    )


def field_stats(
    spec: DataflowSpec,
    mapped: pd.DataFrame,
    errors: pd.DataFrame,
    schema: Any,
    problems: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Per mapped attribute: its type, source, null and failure counts, examples, and any problem."""
    problems = problems or {}
    failures = errors["field"].value_counts() if not errors.empty else pd.Series(dtype=int)
    namespaces = {attribute: ns for ns, attribute in spec.identities.items()}
    rows = []
    for attribute, source in spec.mapping.items():
        values = mapped[attribute] if attribute in mapped else pd.Series(dtype=object)
        present = values.dropna()
        try:
            type_ = schema.get(attribute).type
        except ConfigurationError:
            type_ = ""
        rows.append(
            {
                "attribute": attribute,
                "type": type_,
                "source": source,
                "identity": namespaces.get(attribute, ""),
                "nulls": int(values.isna().sum()),
                "failures": int(failures.get(attribute, 0)),
                "examples": ", ".join(map(str, present.astype(str).unique()[:3])),
                "problem": problems.get(attribute, ""),
            }
        )
    return pd.DataFrame(rows, columns=list(FIELD_COLUMNS))


def _mapping_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> str:
    """A short description of how a version's mapping differs from the one before it."""
    if not before:
        return "first version"
    old, new = before.get("mapping", {}), after.get("mapping", {})
    parts = []
    added = [a for a in new if a not in old]
    removed = [a for a in old if a not in new]
    changed = [a for a in new if a in old and new[a] != old[a]]
    for label, names in (("added", added), ("removed", removed), ("changed", changed)):
        if names:
            parts.append(f"{label} {', '.join(names)}")
    if before.get("identities") != after.get("identities"):
        parts.append("identities changed")
    if before.get("quality") != after.get("quality"):
        parts.append("quality suite changed")
    rest = {k: v for k, v in after.items() if k not in ("mapping", "identities", "quality")}
    if rest != {k: v for k, v in before.items() if k not in ("mapping", "identities", "quality")}:
        parts.append("settings changed")
    return "; ".join(parts) or "no change to the spec"


def _strings(values: Mapping[Any, Any], section: str) -> dict[str, str]:
    out = {}
    for key, value in values.items():
        if not isinstance(value, str) or not str(key).strip():
            raise ConfigurationError(f"{section}: {key!r} must map to text, got {type(value).__name__}")
        out[str(key)] = value
    return out


__all__ = ["CSV_COLUMNS", "SAMPLE_ROWS", "MappedSample", "Studio", "field_stats"]
