"""The only place that touches Great Expectations: loaded lazily, once per process, behind a lock.

``import great_expectations`` takes several seconds, so nothing here imports it at module
level; :func:`state` does on first use. GX's pandas execution engine keeps per-batch state,
so validations are serialised with one lock (they are CPU-bound under the GIL anyway).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from core.quality.catalog import EXPECTATION_TYPES

# GX keys Tributary does not offer: mostly (each failing row is quarantined instead), GX's
# batch and row-condition plumbing, and column_index (a mapping does not promise an order).
_HIDDEN_KEYS = frozenset({"mostly", "batch_id", "row_condition", "condition_parser", "column_index"})
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
    from great_expectations.execution_engine import pandas_execution_engine
    from great_expectations.expectations.expectation import ColumnMapExpectation
    from great_expectations.expectations.registry import (
        get_expectation_impl,
        list_registered_expectation_implementations,
    )

    # GX fingerprints every batch (an md5 over pd.util.hash_pandas_object, twice per validation)
    # for a marker nobody reads; that was half the time of validating a 50k-row chunk. Frames
    # at or above this size in bytes are not fingerprinted.
    if hasattr(pandas_execution_engine, "HASH_THRESHOLD"):
        pandas_execution_engine.HASH_THRESHOLD = 0

    registered = set(list_registered_expectation_implementations())
    classes: dict[str, type] = {}
    for name, kind in EXPECTATION_TYPES.items():
        if name in registered:
            cls = get_expectation_impl(name)
            # a row-level type must say which rows failed, which only column-map ones do
            if not kind.row_level or issubclass(cls, ColumnMapExpectation):
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
    """Keys GX lets a user give an expectation: its column, argument and success keys, less hidden ones."""
    keys: list[str] = ["column"] if "column" in getattr(cls, "__fields__", {}) else []
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


_NO_ROWS = np.empty(0, dtype=np.intp)


@dataclass(frozen=True)
class Outcome:
    """One expectation's result on a frame.

    Attributes:
        success: GX's verdict.
        positions: positions of the failing rows (row-level expectations).
        observed: GX's observed value (aggregate expectations), as a plain Python value.
        error: why GX could not evaluate the expectation, or None.
    """

    success: bool
    positions: np.ndarray = field(default_factory=lambda: _NO_ROWS)
    observed: Any = None
    error: str | None = None


def run(frame: pd.DataFrame, specs: Sequence[tuple[str, Mapping[str, Any]]]) -> list[Outcome]:
    """Validate ``frame`` (which must have a RangeIndex) against all specs in one GX suite call."""
    gx_state = state()
    expectations = [build(gx_state.classes[name], kwargs, tag=i) for i, (name, kwargs) in enumerate(specs)]
    outcomes = [Outcome(False, error="GX returned no result") for _ in specs]
    with _LOCK:
        suite = gx_state.suite_cls(name="tributary quality", expectations=expectations)
        batch = gx_state.batch_definition.get_batch(batch_parameters={"dataframe": frame})
        report = batch.validate(suite, result_format=_RESULT_FORMAT)
    for result in report.results:
        index = int((result.expectation_config.meta or {})[_TAG])
        error = _exception_message(result.exception_info)
        details = result.result or {}
        if error is not None:
            outcomes[index] = Outcome(False, error=error)
        elif result.success:
            outcomes[index] = Outcome(True, observed=_plain(details.get("observed_value")))
        elif "unexpected_index_list" in details:
            positions = np.asarray(details["unexpected_index_list"], dtype=np.intp)
            outcomes[index] = Outcome(False, positions)
        elif "element_count" in details:  # a column-map expectation that did not list its rows
            outcomes[index] = Outcome(False, error="GX did not say which rows failed")
        else:
            outcomes[index] = Outcome(False, observed=_plain(details.get("observed_value")))
    return outcomes


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds (JSON-friendly); anything else unchanged."""
    return value.item() if isinstance(value, np.generic) else value


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
