"""Data-quality rules: Great Expectations expectation suites validated on each chunk of mapped records.

Importing this package does not import Great Expectations; parsing or validating a suite does,
once per process.
"""

from __future__ import annotations

from core.quality.suite import (
    FAILURE_CODE,
    FAILURE_COLUMNS,
    Expectation,
    QualitySuite,
    supported_expectations,
)

__all__ = ["FAILURE_CODE", "FAILURE_COLUMNS", "Expectation", "QualitySuite", "supported_expectations"]
