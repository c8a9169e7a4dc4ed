"""The contract every registered connector honours, and shared type inference."""

from __future__ import annotations

import pandas as pd
import pytest
from pydantic import BaseModel

import connectors
from connectors.base import (
    FIELD_TYPES,
    CheckResult,
    Connector,
    ConnectorConfig,
    StreamOptions,
    infer_field_type,
)


@pytest.mark.parametrize("cls", list(connectors.REGISTRY.values()), ids=list(connectors.REGISTRY))
def test_registered_connectors_declare_the_contract(cls: type[Connector]):
    assert connectors.REGISTRY[cls.name] is cls
    assert cls.title and cls.category in connectors.CATALOG
    assert issubclass(cls.config_model, ConnectorConfig)
    assert issubclass(cls.options_model, StreamOptions)
    assert any(cls.name == name for entries in connectors.CATALOG.values() for name, _ in entries)
    with pytest.raises(ValueError):  # unknown keys are rejected, not ignored
        cls.config_model.model_validate({"surely_not_a_setting": 1})
    assert isinstance(cls.options_model(), BaseModel)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["1", "-2", None], "integer"),
        (["00123", "1"], "string"),  # leading zeros: an identifier
        (["1.5", "2e3"], "number"),
        (["1.5", "inf"], "string"),
        (["true", "False"], "boolean"),
        (["2026-01-02", ""], "date"),
        (["2026-01-02T10:00:00Z", "2026-01-03 11:00"], "timestamp"),
        (["2026-13-45T10:00:00Z"], "string"),
        ([{"a": 1}, None], "json"),
        ([b"\x00", None], "binary"),
        ([None, None], "string"),
    ],
)
def test_infer_field_type(values, expected):
    assert expected in FIELD_TYPES
    assert infer_field_type(pd.Series(values, dtype=object)) == expected


def test_typed_columns_keep_their_type():
    assert infer_field_type(pd.Series([1, 2], dtype="Int64")) == "integer"
    assert infer_field_type(pd.Series(pd.to_datetime(["2026-01-01"], utc=True))) == "timestamp"


def test_check_result_is_a_value():
    assert CheckResult(True, "ok") == CheckResult(True, "ok")
