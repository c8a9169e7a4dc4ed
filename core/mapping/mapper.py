"""Maps source columns onto profile attributes: compile a mapping once, apply it to every chunk.

A mapping is ``{attribute path: source column or expression}``. Applying it
gives one column per attribute, in the attribute type's dtype, and one error
row for every value that could not be produced; a bad value never stops the
chunk.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.errors import ConfigurationError
from core.mapping import convert
from core.mapping.expressions import Expression, compile_expression, unknown_column_message
from core.mapping.schema import Attribute, ProfileSchema
from core.mapping.suggest import suggest_mapping as suggest_mapping  # re-exported: callers import it here
from core.mapping.syntax import Column

#: Columns of ``MappingResult.errors``.
ERROR_COLUMNS = ("row", "field", "code", "reason")
#: Codes of ``MappingResult.errors``: the expression failed, or its value did not fit the type.
EXPRESSION_ERROR = "expression_error"
TYPE_ERROR = "type_error"


class MappingError(ConfigurationError):
    """A mapping entry is wrong; ``target`` names the attribute, ``position`` the character if known."""

    def __init__(self, target: str, cause: ConfigurationError) -> None:
        super().__init__(f"mapping for {target!r}: {cause.user_message}", code=cause.code)
        self.target = target
        self.position: int | None = getattr(cause, "position", None)


@dataclass(frozen=True)
class MappingResult:
    """A mapped chunk: one column per attribute, and the rows/fields that failed."""

    frame: pd.DataFrame
    errors: pd.DataFrame


@dataclass(frozen=True)
class FieldMapping:
    """How one attribute is produced."""

    attribute: Attribute
    expression: Expression


@dataclass(frozen=True)
class _Failures:
    """Rows of one field that failed one way; built as arrays, never row by row."""

    positions: np.ndarray
    order: int
    field: str
    code: str
    reasons: np.ndarray


class CompiledMapping:
    """A checked mapping, applied chunk by chunk."""

    def __init__(self, fields: Sequence[FieldMapping]) -> None:
        self.fields = tuple(fields)

    @property
    def targets(self) -> tuple[str, ...]:
        """The attribute paths written, in mapping order."""
        return tuple(f.attribute.path for f in self.fields)

    @property
    def source_columns(self) -> frozenset[str]:
        """The source columns read."""
        return frozenset().union(*(f.expression.columns for f in self.fields))

    def apply(self, chunk: pd.DataFrame) -> MappingResult:
        """Maps a chunk; values that cannot be produced are NA and reported in ``errors``."""
        columns: dict[str, object] = {}
        failures: list[_Failures] = []
        for order, field in enumerate(self.fields):
            path, type_ = field.attribute.path, field.attribute.type
            try:
                evaluated = field.expression.evaluate(chunk)
            except ConfigurationError as exc:
                raise MappingError(path, exc) from exc
            values, type_failed = convert.convert(evaluated.values, type_)
            columns[path] = values.array
            if evaluated.reasons is not None:
                failed = evaluated.failed
                reasons = (f"{path}: " + evaluated.reasons[failed]).to_numpy(dtype=object)
                failures.append(_Failures(np.flatnonzero(failed), order, path, EXPRESSION_ERROR, reasons))
            if type_failed.any():
                problem = " " + convert.PROBLEMS[type_]
                text = f"{path}: " + convert.describe(evaluated.values[type_failed]) + problem
                positions = np.flatnonzero(type_failed)
                failures.append(_Failures(positions, order, path, TYPE_ERROR, text.to_numpy(dtype=object)))
        frame = pd.DataFrame(columns, index=chunk.index)
        return MappingResult(frame, _error_frame(chunk.index, failures))

    def __repr__(self) -> str:
        return f"CompiledMapping({', '.join(self.targets)})"


def _error_frame(index: pd.Index, failures: list[_Failures]) -> pd.DataFrame:
    """Builds the errors DataFrame, ordered by row, then by field in mapping order."""
    if not failures:
        empty = pd.Series([], dtype=convert.STRING)
        return pd.DataFrame({"row": index[:0], "field": empty, "code": empty, "reason": empty})
    positions = np.concatenate([f.positions for f in failures])
    order = np.concatenate([np.full(len(f.positions), f.order) for f in failures])
    sort = np.lexsort((order, positions))

    def repeated(attr: str) -> np.ndarray:
        return np.concatenate([np.full(len(f.positions), getattr(f, attr), dtype=object) for f in failures])

    return pd.DataFrame(
        {
            "row": index.take(positions[sort]),
            "field": pd.array(repeated("field")[sort], dtype=convert.STRING),
            "code": pd.array(repeated("code")[sort], dtype=convert.STRING),
            "reason": pd.array(np.concatenate([f.reasons for f in failures])[sort], dtype=convert.STRING),
        }
    )


def compile_mapping(
    mapping: Mapping[str, str],
    schema: ProfileSchema,
    source_columns: Sequence[str] | None = None,
) -> CompiledMapping:
    """Checks a mapping of attribute path -> source column or expression.

    A value that is exactly one of ``source_columns`` is that column, even with
    spaces or dots in its name; anything else is an expression. When
    ``source_columns`` is given, unknown columns are reported now rather than
    on the first chunk. Raises ConfigurationError naming the attribute.
    """
    if not isinstance(mapping, Mapping) or not mapping:
        raise ConfigurationError("a mapping needs at least one 'attribute: column or expression' entry")
    known = None if source_columns is None else list(source_columns)
    fields = []
    for target, value in mapping.items():
        try:
            attribute = schema.get(target)
            expression = _compile_value(value, known)
        except ConfigurationError as exc:
            raise MappingError(str(target), exc) from exc
        fields.append(FieldMapping(attribute, expression))
    return CompiledMapping(fields)


def _compile_value(value: object, source_columns: list[str] | None) -> Expression:
    """Compiles one mapping value: an exact source column name, else an expression."""
    if not isinstance(value, str) or not value.strip():
        shown = repr(value) if isinstance(value, str) else type(value).__name__
        raise ConfigurationError(f"expected a source column name or an expression, got {shown}")
    if source_columns is not None and value in source_columns:
        return Expression(value, Column(value, 0), frozenset({value}))
    return compile_expression(value, source_columns)


def check_columns(mapping: CompiledMapping, columns: Iterable[str]) -> None:
    """Raises ConfigurationError if a chunk with ``columns`` lacks a column the mapping reads."""
    available = list(columns)
    present = set(available)
    for field in mapping.fields:
        for name in sorted(field.expression.columns - present):
            cause = ConfigurationError(unknown_column_message(name, available))
            raise MappingError(field.attribute.path, cause)
