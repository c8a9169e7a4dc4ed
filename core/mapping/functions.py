"""The functions an expression may call, kept in a registry the docs are generated from.

Each function receives whole columns (pandas Series; literals arrive already
broadcast) and returns a Series, or an :class:`Evaluated` when some rows can
fail. Parameters listed in ``constants`` must be literals: they arrive as
Python values and are checked when the expression is compiled. A function
that declares a keyword-only ``index`` parameter receives the chunk's index
(``now()``, ``uuid()`` have no column to take the row count from); one
registered with ``branches=True`` receives :class:`Evaluated` arguments and
decides itself which rows' failures count (``if`` and ``case`` only fail a
row for the branch they choose).

The functions themselves live in one module per family
(``_text_functions``, ``_number_functions``, ``_date_functions``,
``_logic_functions``, ``_identity_functions``), imported at the bottom of this
one so that importing the registry registers them all. ``python -m
core.mapping.functions`` rewrites ``docs/functions.md`` from the registry.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from core.mapping import convert


@dataclass(frozen=True)
class Evaluated:
    """Values of an expression, with the reason each failed row failed (NA where it did not)."""

    values: pd.Series
    reasons: pd.Series | None = None

    @property
    def failed(self) -> np.ndarray:
        """Boolean mask of the rows that failed."""
        if self.reasons is None:
            return np.zeros(len(self.values), dtype=bool)
        return convert.flags(self.reasons.notna())


@dataclass(frozen=True)
class Constant:
    """A parameter that must be a literal: what it must be, and a test of a value."""

    description: str
    accepts: Callable[[object], bool]


#: A cross-argument check of the literal constants of a call, by parameter name: returns
#: ``(parameter, problem)`` when they do not fit together, else None.
ConstantsCheck = Callable[[Mapping[str, object]], "tuple[str, str] | None"]

#: The families of the function reference, in the order the docs list them.
FAMILIES: dict[str, str] = {
    "text": "Text",
    "hashing": "Hashing",
    "numbers": "Numbers",
    "dates": "Dates and times",
    "logic": "Logic and nulls",
    "conversion": "Type conversion",
    "json": "JSON",
    "identity": "Identifiers and identity normalisers",
    "other": "Other",
}


@dataclass(frozen=True)
class FunctionSpec:
    """A registered function: its implementation, arity and documentation."""

    name: str
    impl: Callable[..., pd.Series | Evaluated]
    min_args: int
    #: None means any number of arguments.
    max_args: int | None
    signature: str
    doc: str
    example: str
    #: Argument position -> what the literal there must be.
    constants: Mapping[int, Constant] = field(default_factory=dict)
    #: A key of FAMILIES: where the docs list the function.
    family: str = "other"
    #: Parameter names by position (the constants check reports by name).
    params: tuple[str, ...] = ()
    check: ConstantsCheck | None = None
    #: The implementation takes ``index=`` (the chunk's index) as a keyword.
    takes_index: bool = False
    #: The implementation takes Evaluated arguments and returns every row's reasons itself.
    branches: bool = False


#: Every function an expression may call, by lower-case name.
FUNCTIONS: dict[str, FunctionSpec] = {}

F = TypeVar("F", bound=Callable[..., Any])


def register(
    name: str,
    *,
    signature: str,
    doc: str,
    example: str,
    family: str = "other",
    constants: Mapping[str, Constant] | None = None,
    check: ConstantsCheck | None = None,
    branches: bool = False,
) -> Callable[[F], F]:
    """Registers a function; its arity comes from the Python signature (``*args`` = any number more)."""
    if family not in FAMILIES:
        raise ValueError(f"unknown function family {family!r}; known: {', '.join(FAMILIES)}")

    def decorate(impl: F) -> F:
        params = list(inspect.signature(impl).parameters.values())
        positional = [p for p in params if p.kind is p.POSITIONAL_OR_KEYWORD]
        variadic = any(p.kind is p.VAR_POSITIONAL for p in params)
        names = [p.name for p in positional]
        FUNCTIONS[name] = FunctionSpec(
            name=name,
            impl=impl,
            min_args=sum(p.default is p.empty for p in positional),
            max_args=None if variadic else len(names),
            signature=signature,
            doc=doc,
            example=example,
            constants={names.index(param): rule for param, rule in (constants or {}).items()},
            family=family,
            params=tuple(names),
            check=check,
            takes_index=any(p.kind is p.KEYWORD_ONLY and p.name == "index" for p in params),
            branches=branches,
        )
        return impl

    return decorate


POSITION = Constant("a whole number of at least 1", lambda v: type(v) is int and v >= 1)
LENGTH = Constant("a whole number of at least 0", lambda v: type(v) is int and v >= 0)
TEXT = Constant("a string in quotes", lambda v: isinstance(v, str))
NON_EMPTY_TEXT = Constant("a non-empty string in quotes", lambda v: isinstance(v, str) and v != "")


def one_of(*choices: str) -> Constant:
    """A constant that must be one of a few words, in any case."""
    listed = ", ".join(f"'{c}'" for c in choices)
    return Constant(f"one of {listed}", lambda v: isinstance(v, str) and v.lower() in choices)


def converted(result: convert.Converted, source: pd.Series, function: str, type_: str) -> Evaluated:
    """Wraps a conversion, with reasons such as "to_int: 'abc' is not an integer"."""
    why = convert.reasons(source, result.failed, f"{function}: ", " " + convert.PROBLEMS[type_])
    return Evaluated(result.values, why)


def function_reference() -> str:
    """Returns the registered functions as Markdown: one table per family, in FAMILIES order."""
    sections: list[str] = []
    for family, title in FAMILIES.items():
        specs = sorted((s for s in FUNCTIONS.values() if s.family == family), key=lambda s: s.name)
        if not specs:
            continue
        lines = [f"## {title}", "", "| Function | Does | Example |", "|---|---|---|"]
        for spec in specs:
            cells = (f"`{spec.signature}`", spec.doc, f"`{spec.example}`")
            lines.append("| " + " | ".join(_table_cell(c) for c in cells) + " |")
        sections.append("\n".join(lines))
    return "\n\n".join(sections)


def _table_cell(text: str) -> str:
    """Escapes what would break a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


#: Where the generated function reference lives, from the repository root.
REFERENCE_PATH = Path(__file__).resolve().parents[2] / "docs" / "functions.md"

_REFERENCE_INTRO = """# Expression functions

<!-- Generated from the function registry (core/mapping/functions.py) by
     `python -m core docs`; edit the registry, not this file. -->

A mapping's value can be a calculated field: an expression over the source's
columns, such as `lower(trim(email))` or `if(points > 100, 'gold', 'silver')`.
Columns are written by name (`first_name`, `address.city`) or in backticks
(`` `First Name` ``); strings in single or double quotes. Function names ignore
case.

Operators, loosest first: `or`; `and`; `not`; comparisons `== != < <= > >=`
and `in (...)` / `not in (...)`; `+ -`; `* / %`; unary `-`. Arithmetic reads
text as numbers; `and`, `or` and `not` use three-valued logic with null
(`null and false` is false, `null or true` is true).

A value a function cannot handle (a date that is not a date, a division by
zero, an overflow) never stops a run: that row fails, and is quarantined with
the field and the reason. `if`, `iif` and `case` only fail a row for the branch
they choose.
"""


def reference_page() -> str:
    """Returns the whole ``docs/functions.md`` page, generated from the registry."""
    return _REFERENCE_INTRO + "\n" + function_reference() + "\n"


def write_reference(path: Path = REFERENCE_PATH) -> None:
    """Writes the generated function reference page to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(reference_page(), encoding="utf-8")


# The families register their functions on import; they import the registry above, so they come last.
for _family in ("text", "number", "date", "logic", "identity"):
    importlib.import_module(f"core.mapping._{_family}_functions")

__all__ = [
    "FAMILIES",
    "FUNCTIONS",
    "Constant",
    "Evaluated",
    "FunctionSpec",
    "function_reference",
    "reference_page",
    "register",
    "write_reference",
]

if __name__ == "__main__":
    # Run as a script this file is a second copy of the module; the registry is the imported one.
    from core.mapping.functions import write_reference as write_registered_reference

    write_registered_reference()
    sys.stdout.write(f"wrote {REFERENCE_PATH}\n")
