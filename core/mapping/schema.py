"""The customer-profile schema: the attributes a mapping may write.

The default schema ships as data (``profile_schema.yaml``); a dataflow adds
its own attributes with :meth:`ProfileSchema.extend`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from core.errors import ConfigurationError

#: The types an attribute may have.
ATTRIBUTE_TYPES = ("string", "integer", "number", "boolean", "date", "timestamp")

_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_SPEC_KEYS = frozenset({"type", "description", "identity", "aliases"})


@dataclass(frozen=True)
class Attribute:
    """One profile attribute: a dotted path, a type, and an optional identity namespace."""

    path: str
    type: str
    description: str = ""
    identity: str | None = None
    #: Source column names that suggest this attribute (see ``suggest_mapping``).
    aliases: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        validate_path(self.path)
        if self.type not in ATTRIBUTE_TYPES:
            raise ConfigurationError(
                f"attribute {self.path!r}: unknown type {self.type!r}; "
                f"use one of {', '.join(ATTRIBUTE_TYPES)}"
            )


def validate_path(path: object) -> str:
    """Returns ``path`` if it is a dotted identifier such as ``homeAddress.city``, else raises."""
    if not isinstance(path, str) or not _PATH.fullmatch(path):
        raise ConfigurationError(
            f"invalid attribute path {path!r}: use dot-separated names of letters, digits and "
            "underscores, each not starting with a digit (for example 'homeAddress.city')"
        )
    return path


def _attribute_from_spec(path: str, spec: object) -> Attribute:
    """Builds an Attribute from YAML/user input: a type name or a mapping of fields."""
    validate_path(path)
    if isinstance(spec, str):
        return Attribute(path, spec)
    if not isinstance(spec, Mapping):
        raise ConfigurationError(
            f"attribute {path!r}: expected a type name or a mapping with 'type', got {type(spec).__name__}"
        )
    unknown = sorted(set(map(str, spec)) - _SPEC_KEYS)
    if unknown:
        raise ConfigurationError(
            f"attribute {path!r}: unknown key(s) {', '.join(unknown)}; "
            f"allowed: {', '.join(sorted(_SPEC_KEYS))}"
        )
    if "type" not in spec:
        raise ConfigurationError(f"attribute {path!r}: missing 'type'")
    description = spec.get("description") or ""
    identity = spec.get("identity")
    aliases = spec.get("aliases") or ()
    if not isinstance(description, str):
        raise ConfigurationError(f"attribute {path!r}: 'description' must be text")
    if identity is not None and not (isinstance(identity, str) and identity):
        raise ConfigurationError(f"attribute {path!r}: 'identity' must be a namespace name")
    if not isinstance(aliases, list | tuple) or not all(isinstance(a, str) for a in aliases):
        raise ConfigurationError(f"attribute {path!r}: 'aliases' must be a list of names")
    return Attribute(path, spec["type"], description, identity, tuple(aliases))


class ProfileSchema:
    """An immutable set of attributes, looked up by dotted path."""

    def __init__(self, attributes: Iterable[Attribute]) -> None:
        by_path: dict[str, Attribute] = {}
        for attribute in attributes:
            if attribute.path in by_path:
                raise ConfigurationError(f"attribute {attribute.path!r} is defined twice")
            by_path[attribute.path] = attribute
        _check_no_group_clash(by_path)
        self._by_path = by_path

    @classmethod
    def default(cls) -> ProfileSchema:
        """Returns the schema shipped with Tributary (loaded once)."""
        return _load_default()

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> ProfileSchema:
        """Builds a schema from the YAML form: ``{attributes: {path: spec}}``."""
        attributes = data.get("attributes") if isinstance(data, Mapping) else None
        if not isinstance(attributes, Mapping) or not attributes:
            raise ConfigurationError("a profile schema needs a non-empty 'attributes' mapping")
        return cls(_attribute_from_spec(path, spec) for path, spec in attributes.items())

    @property
    def attributes(self) -> tuple[Attribute, ...]:
        """All attributes, in definition order."""
        return tuple(self._by_path.values())

    @property
    def paths(self) -> tuple[str, ...]:
        """All attribute paths, in definition order."""
        return tuple(self._by_path)

    def extend(self, extra: Mapping[str, str | Mapping[str, Any]]) -> ProfileSchema:
        """Returns a new schema with user attributes added: path -> type or {type, description}.

        Redefining an existing attribute is allowed only with the same type (to
        change its description); a different type raises ConfigurationError.
        """
        merged = dict(self._by_path)
        for path, spec in extra.items():
            attribute = _attribute_from_spec(path, spec)
            existing = merged.get(path)
            if existing is not None and existing.type != attribute.type:
                raise ConfigurationError(
                    f"attribute {path!r} already exists with type {existing.type!r}; "
                    f"it cannot be redefined as {attribute.type!r}"
                )
            if existing is not None:
                # Keep what the user did not restate, so a new description keeps the identity hint.
                attribute = Attribute(
                    path,
                    attribute.type,
                    attribute.description or existing.description,
                    attribute.identity or existing.identity,
                    attribute.aliases or existing.aliases,
                )
            merged[path] = attribute
        return ProfileSchema(merged.values())

    def get(self, path: str) -> Attribute:
        """Returns the attribute at ``path``; raises ConfigurationError with suggestions if unknown."""
        try:
            return self._by_path[path]
        except KeyError:
            pass
        message = f"unknown attribute {path!r}"
        close = self.suggest(path)
        if close:
            message += "; did you mean " + " or ".join(repr(c) for c in close) + "?"
        else:
            message += " (it is not in the profile schema; add it as an extra attribute)"
        raise ConfigurationError(message)

    def suggest(self, path: str, limit: int = 3) -> list[str]:
        """Returns up to ``limit`` attribute paths that look like ``path``."""
        if not isinstance(path, str):
            return []
        # Paths share group prefixes ("loyalty."), so keep only the matches nearly as close as the best.
        scored = sorted(
            ((difflib.SequenceMatcher(None, path, p).ratio(), p) for p in self.paths), reverse=True
        )
        found = [p for score, p in scored[:limit] if score >= max(0.6, scored[0][0] - 0.1)] if scored else []
        # A bare leaf or an alias ("firstName", "email") should still find its attribute.
        wanted = normalise_name(path)
        for attribute in self._by_path.values():
            leaf = attribute.path.rsplit(".", 1)[-1]
            names = {normalise_name(leaf), *map(normalise_name, attribute.aliases)}
            if wanted in names and attribute.path not in found:
                found.append(attribute.path)
        return found[:limit]

    def __contains__(self, path: object) -> bool:
        return path in self._by_path

    def __iter__(self) -> Iterator[Attribute]:
        return iter(self._by_path.values())

    def __len__(self) -> int:
        return len(self._by_path)

    def __repr__(self) -> str:
        return f"ProfileSchema({len(self)} attributes)"


def normalise_name(name: str) -> str:
    """Lower-cases a name and drops everything but letters and digits."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _check_no_group_clash(by_path: Mapping[str, Attribute]) -> None:
    """Rejects a path that is both an attribute and a group (``person`` and ``person.firstName``)."""
    for path in by_path:
        parts = path.split(".")
        for depth in range(1, len(parts)):
            prefix = ".".join(parts[:depth])
            if prefix in by_path:
                raise ConfigurationError(
                    f"attribute {prefix!r} clashes with {path!r}: a path cannot be both a value and a group"
                )


@cache
def _load_default() -> ProfileSchema:
    """Loads profile_schema.yaml from this package."""
    package = __name__.rpartition(".")[0]
    text = resources.files(package).joinpath("profile_schema.yaml").read_text(encoding="utf-8")
    return ProfileSchema.from_mapping(yaml.safe_load(text))
