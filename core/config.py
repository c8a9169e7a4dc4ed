"""Configuration as code: ``apply`` YAML into the store, ``export`` it back out.

Secrets are written as ``${ENV_VAR}`` references; ``apply`` resolves them from
the environment and stores the values encrypted, ``export`` writes the
references back, never the values.
"""

from __future__ import annotations

import os
import re
import types
import typing
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from core.errors import ConfigurationError, TributaryError
from core.models import ProfilesSpec, WorkspaceSpec
from core.profiles.settings import read_settings, save_settings, validate_settings
from core.safe_yaml import MAX_YAML_BYTES, load_yaml
from core.services import Workspace, secret_fields

_REFERENCE = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
_INLINE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        found = sorted([*path.glob("*.yml"), *path.glob("*.yaml")])
        if not found:
            raise ConfigurationError(f"{path} holds no .yml or .yaml file.")
        return found
    if not path.exists():
        raise ConfigurationError(f"{path} does not exist.")
    return [path]


def _allowed_keys(model: Any, loc: tuple[Any, ...]) -> list[str]:
    """The keys allowed at ``loc`` (the error's location minus its last part)."""
    current: Any = model
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return []
            current = field.annotation
        elif typing.get_origin(current) is dict:
            current = typing.get_args(current)[1]
        else:
            return []
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _unwrap(annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args[0] if len(args) == 1 else annotation
    return annotation


def load_file(path: Path) -> WorkspaceSpec:
    """Parses and validates one YAML file; errors name the file, the key and what is allowed."""
    with path.open("rb") as handle:  # never more than the bound: load_yaml refuses what is over it
        data = load_yaml(handle.read(MAX_YAML_BYTES + 1), str(path)) or {}
    if not isinstance(data, dict):
        raise ConfigurationError(f"{path}: expected a mapping with 'connections' and/or 'dataflows'.")
    try:
        return WorkspaceSpec.model_validate(data)
    except ValidationError as error:
        lines = []
        for item in error.errors(include_url=False, include_input=False, include_context=False):
            loc = tuple(item["loc"])
            key = ".".join(str(p) for p in loc)
            message = item["msg"]
            if item["type"] == "extra_forbidden":
                allowed = _allowed_keys(WorkspaceSpec, loc[:-1])
                message = "unknown key" + (f"; allowed: {', '.join(allowed)}" if allowed else "")
            lines.append(f"{path}: {key}: {message}")
        raise ConfigurationError("\n".join(lines)) from None


def _resolve(value: Any, where: str) -> tuple[Any, str | None]:
    """Replaces ``${VAR}`` references with the environment's values."""
    if not isinstance(value, str):
        return value, None
    whole = _REFERENCE.match(value)

    def lookup(name: str) -> str:
        if name not in os.environ:
            raise ConfigurationError(f"{where}: the environment variable {name} is not set.")
        return os.environ[name]

    if whole:
        return lookup(whole.group(1)), whole.group(1)
    return _INLINE.sub(lambda m: lookup(m.group(1)), value), None


def apply(workspace: Workspace, path: str | Path) -> dict[str, list[str]]:
    """Creates or updates what the YAML file(s) describe; returns what was applied."""
    applied: dict[str, list[str]] = {"connections": [], "dataflows": []}
    specs = [(file, load_file(file)) for file in _files(Path(path))]
    profiles = _profiles_section(workspace, specs)  # validated before anything is saved
    attributes: dict[str, Any] = dict(workspace.setting("attributes", {}))
    for _file, spec in specs:
        attributes.update(spec.attributes)
    if attributes:
        workspace.schema.extend(attributes)  # validates before anything is saved
        workspace.save_setting("attributes", attributes)
    for file, spec in specs:
        for name, connection in spec.connections.items():
            config, refs = {}, {}
            try:
                secrets = secret_fields(workspace._connector_class(connection.connector).config_model)
            except TributaryError as error:
                raise ConfigurationError(
                    f"{file}: connections.{name}.connector: {error.user_message}"
                ) from None
            for key, value in connection.config.items():
                config[key], ref = _resolve(value, f"{file}: connections.{name}.config.{key}")
                if ref and key in secrets:
                    refs[key] = ref
            with _prefixed(file):
                workspace.save_connection(name, connection.connector, config, connection.description, refs)
            applied["connections"].append(name)
    for file, spec in specs:
        for name, dataflow in spec.dataflows.items():
            with _prefixed(file):
                workspace.save_dataflow(name, dataflow)
            applied["dataflows"].append(name)
    if profiles is not None:
        file, section, known = profiles
        with _prefixed(file):
            save_settings(workspace, section, known)
        applied["profiles"] = ["profiles"]
    return applied


def _profiles_section(
    workspace: Workspace, specs: list[tuple[Path, WorkspaceSpec]]
) -> tuple[Path, ProfilesSpec, set[str]] | None:
    """The one ``profiles:`` section of the files, checked against the dataflows they will leave."""
    found = [(file, spec.profiles) for file, spec in specs if spec.profiles is not None]
    if not found:
        return None
    if len(found) > 1:
        raise ConfigurationError(
            f"'profiles:' is in both {found[0][0]} and {found[1][0]}; keep the section in one file"
        )
    file, section = found[0]
    assert section is not None
    known = {row["name"] for row in workspace.store.dataflow_rows()}
    known |= {name for _, spec in specs for name in spec.dataflows}
    with _prefixed(file):
        validate_settings(section, known)
    return file, section, known


@contextmanager
def _prefixed(file: Path) -> Iterator[None]:
    """Names the file in any error raised while applying what it describes."""
    try:
        yield
    except TributaryError as error:
        raise ConfigurationError(f"{file}: {error.user_message}", code=error.code) from None


def export(workspace: Workspace) -> str:
    """The workspace as YAML, secrets as ``${ENV}`` references."""
    spec = {
        "attributes": workspace.setting("attributes", {}),
        "connections": {
            row["name"]: workspace.connection_spec(row["name"], masked=False).model_dump(mode="json")
            for row in workspace.store.connection_rows()
        },
        "dataflows": {
            row["name"]: workspace.dataflow_spec(row["name"]).model_dump(mode="json", exclude_none=True)
            for row in workspace.store.dataflow_rows()
        },
    }
    if not spec["attributes"]:
        del spec["attributes"]
    profiles = read_settings(workspace).model_dump(mode="json")
    if profiles != ProfilesSpec().model_dump(mode="json"):
        spec["profiles"] = profiles
    return yaml.safe_dump(spec, sort_keys=False, allow_unicode=True)
