"""Forms drawn from pydantic models: the model that validates a config also renders its form.

One input per field: text for ``str``, a password box for ``SecretStr`` (always
empty: a stored secret is never sent to the browser, and leaving the box empty
keeps it), a number box for ``int``/``float``, a checkbox for ``bool``, a
select box for ``Literal`` and enums, nested models as indented groups, and a
JSON text area for anything else.
"""

from __future__ import annotations

import enum
import json
import types
import typing
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import streamlit as st
from pydantic import BaseModel, SecretStr, ValidationError
from pydantic.fields import FieldInfo

import connectors
from connectors.base import Connector
from core.errors import ConfigurationError
from ui.i18n import t

#: Returned for a secret box left empty: the caller leaves the field out so the stored value stays.
_OMIT = object()


def connector_class(name: str) -> type[Connector]:
    """The registered connector class (its ``config_model`` and ``options_model`` drive the forms)."""
    try:
        return connectors.connector_class(name)
    except KeyError as error:
        raise ConfigurationError(str(error.args[0])) from None


def model_form(
    model: type[BaseModel],
    values: Mapping[str, Any] | None = None,
    *,
    key: str,
    stored_secrets: Collection[str] = (),
) -> dict[str, Any]:
    """Draws an input per field of ``model`` and returns what the user entered.

    Args:
        model: the pydantic model whose fields become inputs.
        values: current values (a saved config) to start from; defaults otherwise.
        key: a prefix making the widget keys unique (change it to reset the form).
        stored_secrets: secret fields that already have a stored value; their box
            says so, and an empty box leaves the field out of the result.

    Returns:
        The entered values, ready for ``model.model_validate`` (or a Workspace method).
    """
    values = values or {}
    entered: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        current = values[name] if name in values else _default(info)
        value = _field_input(name, info, current, f"{key}.{name}", name in stored_secrets)
        if value is not _OMIT:
            entered[name] = value
    return entered


def field_errors(
    model: type[BaseModel], entered: Mapping[str, Any], stored_secrets: Collection[str] = ()
) -> list[str]:
    """What to fix in a form before it is submitted: one line per field ``model`` rejects, by its label.

    Secret fields left empty because a value is stored count as filled.
    """
    values = {**{name: "stored" for name in stored_secrets}, **entered}
    try:
        model.model_validate(values)
    except ValidationError as error:
        lines = []
        for problem in error.errors():
            path = [str(part) for part in problem["loc"]]
            info = model.model_fields.get(path[0]) if path else None
            label = _translated(info.title or _label(path[0])) if info is not None else ".".join(path)
            lines.append(f"**{label}**: {problem['msg']}")
        return lines
    return []


def _default(info: FieldInfo) -> Any:
    if info.is_required():
        return None
    return info.get_default(call_default_factory=True)


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """(the type without ``None``, whether ``None`` is allowed)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        optional = len(args) < len(typing.get_args(annotation))
        return (args[0] if len(args) == 1 else annotation), optional
    return annotation, False


def _field_input(name: str, info: FieldInfo, current: Any, key: str, stored: bool) -> Any:
    kind, optional = _unwrap(info.annotation)
    label = _translated(info.title or _label(name))
    if info.is_required():
        label += " *"
    help_text = t(info.description) if info.description else None
    if kind is SecretStr:
        text = st.text_input(
            label,
            value="",
            type="password",
            key=key,
            help=help_text,
            placeholder=t("Stored: leave empty to keep it") if stored else "",
            autocomplete="new-password",
        )
        return text if text else _OMIT
    if kind is bool:
        return st.checkbox(label, value=bool(current), key=key, help=help_text)
    if kind in (int, float):
        number = None if current is None else kind(current)
        step = 1 if kind is int else None
        value = st.number_input(label, value=number, step=step, key=key, help=help_text)
        return None if value is None else kind(value)
    choices = _choices(kind)
    if choices is not None:
        index = choices.index(current) if current in choices else (None if optional else 0)
        return st.selectbox(label, choices, index=index, key=key, help=help_text)
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        with st.container(border=True):
            st.markdown(f"**{label}**")
            return model_form(kind, current if isinstance(current, Mapping) else None, key=key)
    if kind in (str, Path):
        text = st.text_input(label, value="" if current is None else str(current), key=key, help=help_text)
        return None if (optional and not text) else text
    shown = "" if current is None else json.dumps(current, default=str)
    raw = st.text_area(label, value=shown, key=key, help=(help_text or "") + " (JSON)", height=80)
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw  # pydantic reports the problem in words


def _translated(label: str) -> str:
    """A field's label in the session's language; "S3: region" is translated after its prefix."""
    prefix, separator, rest = label.rpartition(": ")
    return f"{prefix}{separator}{t(rest)}" if separator else t(label)


def _label(name: str) -> str:
    """``storage_options`` -> "Storage options", ``url`` -> "URL"."""
    words = [word.upper() if word in _ACRONYMS else word for word in name.split("_")]
    text = " ".join(words)
    return text[:1].upper() + text[1:]


_ACRONYMS = frozenset({"url", "uri", "id", "api", "sql", "ssl", "tls", "ssh", "sftp", "http", "https", "dsn"})


def _choices(kind: Any) -> list[Any] | None:
    if typing.get_origin(kind) is typing.Literal:
        return list(typing.get_args(kind))
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return [member.value for member in kind]
    return None
