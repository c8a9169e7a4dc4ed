"""The only place that touches Great Expectations: loaded lazily, once per process, behind a lock.

``import great_expectations`` takes several seconds, so nothing here imports it at module
level; :func:`state` does on first use. GX's pandas execution engine keeps per-batch state,
so validations are serialised with one lock (they are CPU-bound under the GIL anyway).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

# Row-level (column-map) expectations whose pandas implementation flags individual rows.
# Left out on purpose: like-pattern ones (SQL only), be_of_type / be_in_type_list (judge a
# pandas column's dtype, not its rows), increasing / decreasing / z-scores / outliers (depend
# on the chunk's order or statistics) and match_json_schema (one non-JSON value fails the
# whole column).
ROW_LEVEL = (
    "expect_column_values_to_not_be_null",
    "expect_column_values_to_be_null",
    "expect_column_values_to_match_regex",
    "expect_column_values_to_not_match_regex",
    "expect_column_values_to_match_regex_list",
    "expect_column_values_to_not_match_regex_list",
    "expect_column_values_to_be_in_set",
    "expect_column_values_to_not_be_in_set",
    "expect_column_values_to_be_between",
    "expect_column_values_to_be_unique",
    "expect_column_value_lengths_to_be_between",
    "expect_column_value_lengths_to_equal",
    "expect_column_values_to_match_strftime_format",
    "expect_column_values_to_be_dateutil_parseable",
    "expect_column_values_to_be_json_parseable",
)
# GX keys that make no sense when each failing row is quarantined.
_HIDDEN_KEYS = frozenset({"mostly", "batch_id", "row_condition", "condition_parser"})
_TAG = "tributary_index"
_RESULT_FORMAT = {
    "result_format": "COMPLETE",
    "partial_unexpected_count": 0,
    "exclude_unexpected_values": True,
    "return_unexpected_index_query": False,
}


@dataclass(frozen=True)
class GxState:
    """A ready GX context: supported classes, all registered names, a dataframe batch definition."""

    classes: Mapping[str, type]
    registered: frozenset[str]
    batch_definition: Any
    suite_cls: type


_LOCK = threading.RLock()
_STATE: GxState | None = None


def state() -> GxState:
    """Import GX and build the ephemeral context on first call; later calls are free."""
    global _STATE
    if _STATE is not None:
        return _STATE
    with _LOCK:
        if _STATE is None:
            _STATE = _build_state()
        return _STATE


def _build_state() -> GxState:
    """Create the ephemeral context, a pandas data source and a whole-dataframe batch definition."""
    import great_expectations as gx
    from great_expectations.core import ExpectationSuite
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )
    from great_expectations.expectations.expectation import ColumnMapExpectation
    from great_expectations.expectations.registry import (
        get_expectation_impl,
        list_registered_expectation_implementations,
    )

    registered = set(list_registered_expectation_implementations())
    classes: dict[str, type] = {}
    for name in ROW_LEVEL:
        if name in registered:
            cls = get_expectation_impl(name)
            if issubclass(cls, ColumnMapExpectation):
                classes[name] = cls
    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
    )
    context = gx.get_context(mode="ephemeral", project_config=config)
    asset = context.data_sources.add_pandas("tributary").add_dataframe_asset("chunk")
    batch_definition = asset.add_batch_definition_whole_dataframe("whole chunk")
    return GxState(
        classes=classes,
        registered=frozenset(registered),
        batch_definition=batch_definition,
        suite_cls=ExpectationSuite,
    )


def allowed_keys(cls: type) -> tuple[str, ...]:
    """Keys a user may give an expectation: GX's domain, argument and success keys, less hidden ones."""
    keys: list[str] = ["column"]
    for key in (*getattr(cls, "args_keys", ()), *getattr(cls, "success_keys", ())):
        if key not in keys and key not in _HIDDEN_KEYS:
            keys.append(key)
    return tuple(keys)


def required_keys(cls: type) -> tuple[str, ...]:
    """Keys the GX model requires (its pydantic fields without a default)."""
    fields = getattr(cls, "__fields__", {})
    return tuple(key for key in allowed_keys(cls) if key in fields and fields[key].required)


def build(cls: type, kwargs: Mapping[str, Any], tag: int | None = None) -> Any:
    """Instantiate a GX expectation (a pydantic model), raising pydantic's ValidationError."""
    meta = {_TAG: tag} if tag is not None else None
    return cls(**kwargs, meta=meta)


def model_errors(error: Exception) -> list[tuple[str, str]]:
    """Turn a pydantic ValidationError into ``(key, message)`` pairs; key is "" for whole-model errors."""
    errors = getattr(error, "errors", None)
    if not callable(errors):
        return [("", str(error))]
    pairs: list[tuple[str, str]] = []
    for item in errors():
        loc = item.get("loc") or ("",)
        key = "" if loc[0] == "__root__" else str(loc[0])
        message = str(item.get("msg", ""))
        if "dict" in message:  # GX's suite-parameter alternative, which Tributary does not offer
            continue
        pairs.append((key, message))
    return pairs or [("", str(error))]


@dataclass(frozen=True)
class Outcome:
    """One expectation's result: positions of failing rows, or why GX could not evaluate it."""

    positions: np.ndarray
    error: str | None = None


def run(frame: pd.DataFrame, specs: Sequence[tuple[str, Mapping[str, Any]]]) -> list[Outcome]:
    """Validate ``frame`` (which must have a RangeIndex) against all specs in one GX suite call."""
    gx_state = state()
    expectations = [build(gx_state.classes[name], kwargs, tag=i) for i, (name, kwargs) in enumerate(specs)]
    empty = np.empty(0, dtype=np.intp)
    outcomes = [Outcome(empty, "GX returned no result") for _ in specs]
    with _LOCK:
        suite = gx_state.suite_cls(name="tributary quality", expectations=expectations)
        batch = gx_state.batch_definition.get_batch(batch_parameters={"dataframe": frame})
        report = batch.validate(suite, result_format=_RESULT_FORMAT)
    for result in report.results:
        index = int((result.expectation_config.meta or {})[_TAG])
        error = _exception_message(result.exception_info)
        if error is not None:
            outcomes[index] = Outcome(empty, error)
        elif result.success:
            outcomes[index] = Outcome(empty)
        elif "unexpected_index_list" in result.result:
            positions = np.asarray(result.result["unexpected_index_list"], dtype=np.intp)
            outcomes[index] = Outcome(positions)
        else:
            outcomes[index] = Outcome(empty, "GX did not say which rows failed")
    return outcomes


def _exception_message(info: Any) -> str | None:
    """Find the first raised exception's message in GX's (possibly nested) ``exception_info``."""
    if not isinstance(info, Mapping):
        return None
    if info.get("raised_exception"):
        return str(info.get("exception_message") or "unknown error")
    for value in info.values():
        message = _exception_message(value)
        if message is not None:
            return message
    return None
