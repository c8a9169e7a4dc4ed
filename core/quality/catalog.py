"""The expectation types Tributary offers, described for a form builder; imports nothing from GX.

Each entry names a Great Expectations expectation and says, in words a person reads in the
mapping studio, what it checks and which parameters it takes. :class:`QualitySuite.parse`
accepts exactly these types and parameters, so a form generated from the catalog always
produces a valid ``quality:`` item.

Two levels:

* ``row`` expectations judge each value; a failing row is quarantined with a reason.
* ``aggregate`` expectations judge the data as a whole (row count, mean, a field's presence).
  They never quarantine rows: they pass or fail for the sample they are checked on and, in a
  run, for the run's whole data (see :mod:`core.quality.summary`).

Left out on purpose: like-pattern ones (SQL only), ``be_of_type`` (a mapped field's dtype comes
from its attribute type, not from the data), order- or statistics-dependent ones
(increasing, z-scores) whose answer would change with the chunk boundaries, and
``proportion_of_unique_values``, which a run could only judge by keeping every value seen.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

ParameterType = Literal["column", "str", "number", "integer", "bool", "regex", "list", "choice"]
Level = Literal["row", "aggregate"]


@dataclass(frozen=True)
class Parameter:
    """One argument of an expectation, as a form field.

    Attributes:
        name: GX's keyword argument.
        type: the widget to show: a mapped field picker (``column``), text, number, whole number,
            checkbox, regular expression, list (of ``items``) or one of ``choices``.
        required: whether the item is invalid without it.
        default: the value GX uses when it is left out.
        help: one sentence shown under the field; also used in error messages after "must be".
        items: for lists, the type of each element (``None`` for any plain value).
        choices: for ``choice``, the allowed values.
    """

    name: str
    type: ParameterType
    required: bool = False
    default: Any = None
    help: str = ""
    items: ParameterType | None = None
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class ExpectationType:
    """One GX expectation type the product supports, with what a form needs to build it."""

    name: str
    title: str
    description: str
    level: Level
    parameters: tuple[Parameter, ...]

    @property
    def row_level(self) -> bool:
        """True when failing values quarantine their rows."""
        return self.level == "row"

    @property
    def parameter_names(self) -> tuple[str, ...]:
        """The keys a ``quality:`` item of this type may have, in form order."""
        return tuple(parameter.name for parameter in self.parameters)

    @property
    def required(self) -> tuple[str, ...]:
        """The keys it must have."""
        return tuple(parameter.name for parameter in self.parameters if parameter.required)

    def parameter(self, name: str) -> Parameter:
        """The parameter called ``name`` (KeyError if there is none)."""
        for parameter in self.parameters:
            if parameter.name == name:
                return parameter
        raise KeyError(name)


_COLUMN = Parameter("column", "column", required=True, help="the name of a mapped field, such as crmId")
_VALUE_SET = Parameter(
    "value_set", "list", required=True, help="a list of values, such as [bronze, silver, gold]"
)
_REGEX = Parameter("regex", "regex", required=True, help="a regular expression, such as '^[^@]+@[^@]+$'")
_REGEX_LIST = Parameter(
    "regex_list", "list", required=True, help="a list of regular expressions", items="regex"
)


def _range(kind: Literal["number", "integer"], low: str, high: str) -> tuple[Parameter, ...]:
    """``min_value``/``max_value``/``strict_*``: at least one bound is needed (GX checks it)."""
    return (
        Parameter("min_value", kind, help=low),
        Parameter("max_value", kind, help=high),
        Parameter("strict_min", "bool", default=False, help="true to fail values equal to min_value"),
        Parameter("strict_max", "bool", default=False, help="true to fail values equal to max_value"),
    )


_VALUE_RANGE = _range(
    "number",
    "a number, or a date such as 2020-01-31 for a date field; leave empty for no lower bound",
    "a number, or a date such as 2030-12-31 for a date field; leave empty for no upper bound",
)
_LENGTH_RANGE = _range(
    "integer", "the shortest allowed length, or empty", "the longest allowed length, or empty"
)
_NUMBER_RANGE = _range(
    "number", "a number, or empty for no lower bound", "a number, or empty for no upper bound"
)
_COUNT_RANGE = _range("integer", "the fewest rows, or empty", "the most rows, or empty")


def _row(name: str, title: str, description: str, *parameters: Parameter) -> ExpectationType:
    return ExpectationType(f"expect_{name}", title, description, "row", (_COLUMN, *parameters))


def _aggregate(name: str, title: str, description: str, *parameters: Parameter) -> ExpectationType:
    return ExpectationType(f"expect_{name}", title, description, "aggregate", parameters)


_TYPES = (
    _row(
        "column_values_to_not_be_null",
        "Values are never null",
        "Every record has a value in this field; empty ones are quarantined.",
    ),
    _row(
        "column_values_to_be_null",
        "Values are always null",
        "This field is always empty; a record with a value is quarantined.",
    ),
    _row(
        "column_values_to_be_unique",
        "Values are unique",
        "No two records of the same chunk share a value; every record of a duplicated value is "
        "quarantined. Empty values are ignored.",
    ),
    _row(
        "column_values_to_match_regex",
        "Values match a pattern",
        "Each value matches the regular expression (anywhere, unless anchored with ^ and $).",
        _REGEX,
    ),
    _row(
        "column_values_to_not_match_regex",
        "Values never match a pattern",
        "No value matches the regular expression.",
        _REGEX,
    ),
    _row(
        "column_values_to_match_regex_list",
        "Values match patterns from a list",
        "Each value matches any (or all) of the regular expressions.",
        _REGEX_LIST,
        Parameter(
            "match_on",
            "choice",
            default="any",
            help="'any' or 'all'",
            choices=("any", "all"),
        ),
    ),
    _row(
        "column_values_to_not_match_regex_list",
        "Values match none of a list of patterns",
        "No value matches any of the regular expressions.",
        _REGEX_LIST,
    ),
    _row(
        "column_values_to_be_in_set",
        "Values are in a list",
        "Each value is one of the listed values.",
        _VALUE_SET,
    ),
    _row(
        "column_values_to_not_be_in_set",
        "Values are never in a list",
        "No value is one of the listed values.",
        _VALUE_SET,
    ),
    _row(
        "column_values_to_be_between",
        "Values are within a range",
        "Each number or date is within the bounds; give at least one of them.",
        *_VALUE_RANGE,
    ),
    _row(
        "column_value_lengths_to_be_between",
        "Text length is within a range",
        "Each value has between min_value and max_value characters; give at least one of them.",
        *_LENGTH_RANGE,
    ),
    _row(
        "column_value_lengths_to_equal",
        "Text has an exact length",
        "Each value has exactly this many characters.",
        Parameter("value", "integer", required=True, help="a whole number"),
    ),
    _row(
        "column_values_to_match_strftime_format",
        "Values are dates in a format",
        "Each value is text that reads as a date in the given strftime format.",
        Parameter("strftime_format", "str", required=True, help="a strftime format, such as '%Y-%m-%d'"),
    ),
    _row(
        "column_values_to_be_dateutil_parseable",
        "Values are readable dates",
        "Each value is text that reads as a date or time in some common format.",
    ),
    _row(
        "column_values_to_be_json_parseable",
        "Values are valid JSON",
        "Each value is text holding valid JSON.",
    ),
    _aggregate(
        "column_to_exist",
        "Field exists",
        "The mapped records have this field.",
        _COLUMN,
    ),
    _aggregate(
        "table_row_count_to_be_between",
        "Row count is within a range",
        "The number of records checked is within the bounds: the sample's, or the whole run's.",
        *_COUNT_RANGE,
    ),
    _aggregate(
        "column_mean_to_be_between",
        "Average is within a range",
        "The mean of the field's non-empty values is within the bounds: the sample's, or the whole run's.",
        _COLUMN,
        *_NUMBER_RANGE,
    ),
)

#: The supported expectation types by GX name, in the order a picker shows them.
EXPECTATION_TYPES: MappingProxyType[str, ExpectationType] = MappingProxyType({t.name: t for t in _TYPES})
