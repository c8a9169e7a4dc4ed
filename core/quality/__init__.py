"""Data-quality rules: Great Expectations expectation suites validated on each chunk of mapped records.

* :data:`EXPECTATION_TYPES` — the expectation types on offer, described for a form builder.
* :class:`QualitySuite` — a dataflow's ``quality:`` list: ``validate`` (rows to quarantine, per
  chunk), ``evaluate`` (the same plus each expectation's result), ``results`` (on a sample,
  with failing examples).
* :func:`suggest_expectations` — expectations a sample's profile suggests.
* :class:`ValidationSummary` — a run's per-expectation totals, accumulated chunk by chunk.

Importing this package does not import Great Expectations; parsing or validating a suite does,
once per process.
"""

from __future__ import annotations

from core.quality.catalog import EXPECTATION_TYPES, ExpectationType, Parameter
from core.quality.expectation import Expectation
from core.quality.results import ExpectationResult, FailingExample, SuiteEvaluation
from core.quality.suggest import SuggestedExpectation, suggest_expectations
from core.quality.suite import FAILURE_CODE, FAILURE_COLUMNS, QualitySuite, supported_expectations
from core.quality.summary import ExpectationSummary, ValidationSummary

__all__ = [
    "EXPECTATION_TYPES",
    "FAILURE_CODE",
    "FAILURE_COLUMNS",
    "Expectation",
    "ExpectationResult",
    "ExpectationSummary",
    "ExpectationType",
    "FailingExample",
    "Parameter",
    "QualitySuite",
    "SuggestedExpectation",
    "SuiteEvaluation",
    "ValidationSummary",
    "suggest_expectations",
    "supported_expectations",
]
