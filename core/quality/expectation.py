"""One quality rule: a catalog expectation type with its arguments, parsed and checked from YAML."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from core.errors import ConfigurationError
from core.quality import _gx
from core.quality._text import did_you_mean, show
from core.quality.catalog import EXPECTATION_TYPES, ExpectationType, Parameter

EXAMPLE = "- expect_column_values_to_not_be_null: {column: crmId}"
_MOSTLY = " (each failing row is quarantined; the error threshold bounds how many)"


@dataclass(frozen=True)
class Expectation:
    """One GX expectation: its name (``type``) and its arguments."""

    type: str
    kwargs: Mapping[str, Any]

    def __post_init__(self) -> None:
        object.__setattr__(self, "kwargs", MappingProxyType(copy.deepcopy(dict(self.kwargs))))

    @property
    def kind(self) -> ExpectationType:
        """The catalog entry of this expectation's type."""
        return EXPECTATION_TYPES[self.type]

    @property
    def row_level(self) -> bool:
        """True when failing values quarantine their rows; False for aggregate expectations."""
        return self.kind.row_level

    @property
    def column(self) -> str | None:
        """The field this expectation checks, or None for whole-table ones (row count)."""
        column = self.kwargs.get("column")
        return None if column is None else str(column)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """Export as the YAML shape ``{type: kwargs}``."""
        return {self.type: copy.deepcopy(dict(self.kwargs))}


def parse_expectation(position: int, item: Any) -> Expectation:
    """Validate one ``{name: {kwargs}}`` entry of the quality list against the catalog and GX.

    Raises:
        ConfigurationError: naming the item, its expectation and what to change.
    """
    if not isinstance(item, Mapping) or len(item) != 1:
        raise ConfigurationError(
            f"quality item {position} must be a single-key mapping such as `{EXAMPLE}`, got {show(item)}"
        )
    name, kwargs = next(iter(item.items()))
    gx_state = _gx.state()
    if not isinstance(name, str) or name not in EXPECTATION_TYPES or name not in gx_state.classes:
        raise ConfigurationError(_unknown_name(position, name, gx_state))
    kind = EXPECTATION_TYPES[name]
    label = f"quality item {position} ({name})"
    if kwargs is None:
        kwargs = {}
    if not isinstance(kwargs, Mapping):
        example = "{column: crmId}" if "column" in kind.parameter_names else "{min_value: 1}"
        raise ConfigurationError(f"{label}: its value must be a mapping of arguments such as {example}")
    allowed = kind.parameter_names
    for key in kwargs:
        if key not in allowed:
            raise ConfigurationError(
                f"{label}: unknown key {show(key)}{did_you_mean(str(key), allowed)}"
                + (_MOSTLY if key == "mostly" else "")
                + f". Allowed keys: {', '.join(allowed) or '(none)'}"
            )
    for key in kind.required:
        if key not in kwargs:
            raise ConfigurationError(f"{label}: missing key '{key}': {kind.parameter(key).help}")
    for key, value in kwargs.items():
        _check_value(label, kind.parameter(key), value)
    if "min_value" in allowed:
        _check_bounds(label, kwargs)
    try:
        _gx.build(gx_state.classes[name], kwargs)
    except Exception as exc:  # pydantic's ValidationError (GX's own pydantic copy)
        key, message = _gx.model_errors(exc)[0]
        if key in allowed:
            raise ConfigurationError(
                f"{label}: '{key}' is invalid ({message}, got {show(kwargs.get(key))}); "
                f"it must be {kind.parameter(key).help}"
            ) from None
        raise ConfigurationError(f"{label}: {message}. Allowed keys: {', '.join(allowed)}") from None
    return Expectation(name, kwargs)


def _check_value(label: str, parameter: Parameter, value: Any) -> None:
    """Checks by the catalog's parameter type; numbers and dates are left to GX's model."""
    key, kind = parameter.name, parameter.type
    if isinstance(value, Mapping):
        raise ConfigurationError(f"{label}: '{key}' must be {parameter.help}, not a mapping")
    if value is None and not parameter.required:
        return  # GX's default ("no bound", "any")
    if kind == "column" and not (isinstance(value, str) and value):
        raise ConfigurationError(f"{label}: 'column' must be {parameter.help}, got {show(value)}")
    if kind == "regex":
        _check_regex(label, key, value, parameter.help)
        return
    valid = {
        "str": isinstance(value, str),
        "bool": isinstance(value, bool),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "list": isinstance(value, list | tuple),
        "choice": value in parameter.choices,
    }.get(kind, True)
    if not valid:
        raise ConfigurationError(
            f"{label}: '{key}' is invalid (got {show(value)}); it must be {parameter.help}"
        )
    if kind == "list" and parameter.items == "regex":
        if not value:
            raise ConfigurationError(f"{label}: '{key}' must be {parameter.help}, got an empty list")
        for pattern in value:
            _check_regex(label, key, pattern, "a regular expression")


def _check_regex(label: str, key: str, pattern: Any, help_text: str) -> None:
    if not isinstance(pattern, str):
        raise ConfigurationError(f"{label}: '{key}' must be {help_text}, got {show(pattern)}")
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ConfigurationError(f"{label}: '{key}' {show(pattern)} is not a valid regex: {exc}") from None


def _check_bounds(label: str, kwargs: Mapping[str, Any]) -> None:
    """A range needs a bound, in order: GX checks neither for every range type."""
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    if low is None and high is None:
        raise ConfigurationError(
            f"{label}: 'min_value' and 'max_value' cannot both be empty: give at least one bound"
        )
    if low is None or high is None:
        return
    try:
        reversed_bounds = bool(low > high)
    except TypeError:
        raise ConfigurationError(f"{label}: 'min_value' and 'max_value' must be comparable") from None
    if reversed_bounds:
        raise ConfigurationError(f"{label}: 'min_value' {show(low)} is above 'max_value' {show(high)}")


def _unknown_name(position: int, name: Any, gx_state: _gx.GxState) -> str:
    """Explain an unsupported expectation name, with close matches and the supported list."""
    supported = tuple(name for name in EXPECTATION_TYPES if name in gx_state.classes)
    text = str(name)
    if text in gx_state.registered:
        head = (
            f"quality item {position}: {text} is a Great Expectations expectation, but not one "
            "Tributary offers (it could not quarantine rows, or its answer would depend on how a "
            f"run splits into chunks){did_you_mean(text, supported)}."
        )
    else:
        head = f"quality item {position}: unknown expectation {show(name)}{did_you_mean(text, supported)}."
    return f"{head} Supported: {', '.join(supported)}"
