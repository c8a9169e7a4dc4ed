"""Quality-suite panels: the suite as a list, a form per expectation type, suggestions, results.

The forms are generated from :data:`core.quality.EXPECTATION_TYPES`, so each
one produces an item :class:`core.quality.QualitySuite` accepts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import streamlit as st

from core.quality import EXPECTATION_TYPES, ExpectationResult, Parameter, SuggestedExpectation
from ui.i18n import t


def _title(name: str) -> str:
    kind = EXPECTATION_TYPES.get(name)
    return kind.title if kind else name


def _describe(item: Mapping[str, Mapping[str, Any]]) -> tuple[str, str, str]:
    """(expectation, field, other parameters) of one ``quality:`` item, for a table."""
    ((name, kwargs),) = item.items()
    others = ", ".join(f"{k}={v}" for k, v in kwargs.items() if k != "column")
    return name, str(kwargs.get("column") or "—"), others


def suite_editor(quality: Sequence[Mapping[str, Any]], *, key: str) -> list[dict[str, Any]]:
    """The suite's expectations with a checkbox to keep each; returns the ones kept."""
    if not quality:
        st.info(t("No expectation yet: add one below, or accept a suggestion."), icon=":material/info:")
        return []
    rows = [_describe(item) for item in quality]
    frame = pd.DataFrame(
        {
            "keep": True,
            "check": [_title(name) for name, _, _ in rows],
            "field": [field for _, field, _ in rows],
            "parameters": [others for _, _, others in rows],
            "expectation": [name for name, _, _ in rows],
        }
    )
    edited = st.data_editor(
        frame,
        hide_index=True,
        key=key,
        width="stretch",
        disabled=["check", "field", "parameters", "expectation"],
        column_config={
            "keep": st.column_config.CheckboxColumn(t("Keep"), help=t("Untick to remove it from the suite")),
            "check": t("Check"),
            "field": "Field",
            "parameters": st.column_config.TextColumn("Parameters", width="large"),
            "expectation": "Great Expectations type",
        },
    )
    return [dict(item) for item, keep in zip(quality, edited["keep"], strict=True) if keep]


def expectation_form(fields: Sequence[str], *, key: str) -> dict[str, Any] | None:
    """A form for one new expectation; returns its ``quality:`` item when the user adds it."""
    names = list(EXPECTATION_TYPES)
    name = st.selectbox(t("Check"), names, format_func=_title, key=f"{key}.type")
    kind = EXPECTATION_TYPES[name]
    st.caption(
        kind.description + ("" if kind.row_level else " (judged on the whole run; quarantines nothing)")
    )
    kwargs: dict[str, Any] = {}
    inputs = st.columns(min(len(kind.parameters), 4) or 1)
    for index, parameter in enumerate(kind.parameters):
        with inputs[index % len(inputs)]:
            value = _parameter_input(parameter, fields, key=f"{key}.{name}.{parameter.name}")
        if value is not None:
            kwargs[parameter.name] = value
    if not st.button(t("Add to the suite"), icon=":material/add:", key=f"{key}.add"):
        return None
    missing = [p for p in kind.required if p not in kwargs]
    if missing:
        st.error(f"Fill in {', '.join(missing)} first.", icon=":material/error:")
        return None
    return {name: kwargs}


def _parameter_input(parameter: Parameter, fields: Sequence[str], *, key: str) -> Any:
    """One widget for one parameter; None when left empty."""
    label = parameter.name.replace("_", " ").capitalize() + (" *" if parameter.required else "")
    help_text = parameter.help or None
    if parameter.type == "column":
        return st.selectbox(label, list(fields), key=key, help=help_text, index=None)
    if parameter.type == "bool":
        checked = st.checkbox(label, value=bool(parameter.default), key=key, help=help_text)
        return checked if checked != bool(parameter.default) else None
    if parameter.type == "choice":
        return st.selectbox(label, list(parameter.choices), key=key, help=help_text, index=None)
    text = st.text_input(label, key=key, help=help_text).strip()
    if not text:
        return None
    if parameter.type in ("number", "integer"):
        try:
            number = float(text)
        except ValueError:
            return text  # a date bound; the suite says if it is not one
        return int(number) if parameter.type == "integer" or number.is_integer() else number
    if parameter.type == "list":
        return [part.strip() for part in text.split(",") if part.strip()]
    return text


def suggestions_picker(suggestions: Sequence[SuggestedExpectation], *, key: str) -> list[dict[str, Any]]:
    """Suggested expectations with why; returns the ones ticked."""
    if not suggestions:
        st.caption(t("Nothing to suggest from this sample."))
        return []
    rows = [_describe(s.spec) for s in suggestions]
    frame = pd.DataFrame(
        {
            "add": False,
            "check": [_title(name) for name, _, _ in rows],
            "field": [field for _, field, _ in rows],
            "parameters": [others for _, _, others in rows],
            "why": [s.reason for s in suggestions],
        }
    )
    edited = st.data_editor(
        frame,
        hide_index=True,
        key=key,
        width="stretch",
        disabled=["check", "field", "parameters", "why"],
        column_config={
            "add": st.column_config.CheckboxColumn("Add"),
            "why": st.column_config.TextColumn("Why", width="large"),
        },
    )
    return [dict(s.spec) for s, add in zip(suggestions, edited["add"], strict=True) if add]


def results_table(results: Sequence[ExpectationResult]) -> None:
    """Each expectation's outcome on the sample, with failing examples."""
    failed = sum(not r.success for r in results)
    if failed:
        st.warning(f"{failed} of {len(results)} checks fail on the sample.", icon=":material/rule:")
    else:
        st.success(f"All {len(results)} checks pass on the sample.", icon=":material/check_circle:")
    st.dataframe(_results_frame([_result_row(r) for r in results]), hide_index=True, width="stretch")


def run_validation(validation: Mapping[str, Any] | None) -> None:
    """A run's validation summary: each expectation's totals over the run's chunks."""
    if not isinstance(validation, Mapping):
        st.caption(t("This dataflow had no quality suite when the run started."))
        return
    entries = validation.get("expectations", [])
    verdict = "passed" if validation.get("success") else "failed"
    st.caption(
        f"The suite {verdict} over {validation.get('chunks', 0)} chunk(s) · "
        f"Great Expectations {validation.get('gx_version', '?')}"
    )
    rows = [
        {
            "ok": entry.get("success"),
            "check": _title(entry.get("expectation", "")),
            "field": entry.get("column") or "—",
            "evaluated": entry.get("evaluated"),
            "unexpected": entry.get("unexpected"),
            "unexpected_pct": entry.get("unexpected_percent"),
            "observed": "" if entry.get("observed_value") is None else str(entry.get("observed_value")),
            "examples": ", ".join(map(str, entry.get("examples", [])))[:200],
            "error": entry.get("error") or "",
        }
        for entry in entries
    ]
    st.dataframe(_results_frame(rows), hide_index=True, width="stretch")


def _result_row(result: ExpectationResult) -> dict[str, Any]:
    return {
        "ok": result.success,
        "check": _title(result.expectation),
        "field": result.column or "—",
        "evaluated": result.evaluated,
        "unexpected": result.unexpected,
        "unexpected_pct": result.unexpected_percent,
        "observed": "" if result.observed_value is None else str(result.observed_value),
        "examples": ", ".join(
            f"row {e.row + 1 if isinstance(e.row, int) else e.row}: {e.value}" for e in result.examples
        ),
        "error": result.error or "",
    }


def _results_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(
        rows,
        columns=[
            "ok",
            "check",
            "field",
            "evaluated",
            "unexpected",
            "unexpected_pct",
            "observed",
            "examples",
            "error",
        ],
    )
    return frame.rename(
        columns={
            "ok": "Passed",
            "check": t("Check"),
            "field": "Field",
            "evaluated": "Evaluated",
            "unexpected": "Failing rows",
            "unexpected_pct": "Failing %",
            "observed": "Observed",
            "examples": "Failing examples",
            "error": "Could not check",
        }
    )
