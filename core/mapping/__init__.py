"""Mapping source data onto the customer-profile schema.

- :class:`ProfileSchema` / :class:`Attribute`: the attributes a mapping may write.
- :func:`compile_expression`: the small expression language (see ``syntax``); :func:`parse` reads
  its syntax tree and :func:`render` writes a tree back as text.
- :func:`compile_mapping` -> :class:`CompiledMapping` -> :class:`MappingResult`.
- :func:`suggest` -> :class:`Suggestion`: a first mapping from a sample's names and values, with
  confidences; :func:`suggest_mapping` from column names alone.
"""

from __future__ import annotations

from core.mapping.convert import DTYPES
from core.mapping.expressions import Expression, compile_expression
from core.mapping.functions import FUNCTIONS, Evaluated, FunctionSpec, function_reference, register
from core.mapping.mapper import (
    ERROR_COLUMNS,
    EXPRESSION_ERROR,
    TYPE_ERROR,
    CompiledMapping,
    FieldMapping,
    MappingError,
    MappingResult,
    check_columns,
    compile_mapping,
)
from core.mapping.render import render
from core.mapping.schema import ATTRIBUTE_FORMATS, ATTRIBUTE_TYPES, Attribute, ProfileSchema
from core.mapping.suggest import Suggestion, suggest, suggest_mapping
from core.mapping.syntax import parse
from core.mapping.tokens import ExpressionError

__all__ = [
    "ATTRIBUTE_FORMATS",
    "ATTRIBUTE_TYPES",
    "DTYPES",
    "ERROR_COLUMNS",
    "EXPRESSION_ERROR",
    "FUNCTIONS",
    "TYPE_ERROR",
    "Attribute",
    "CompiledMapping",
    "Evaluated",
    "Expression",
    "ExpressionError",
    "FieldMapping",
    "FunctionSpec",
    "MappingError",
    "MappingResult",
    "ProfileSchema",
    "Suggestion",
    "check_columns",
    "compile_expression",
    "compile_mapping",
    "function_reference",
    "parse",
    "register",
    "render",
    "suggest",
    "suggest_mapping",
]
