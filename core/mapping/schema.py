"""The customer-profile schema: the attributes a mapping may write, and the names that point at them.

The default schema ships as data (``profile_schema.yaml``); a dataflow adds
its own attributes with :meth:`ProfileSchema.extend`.
:meth:`ProfileSchema.match_name` tells which attributes a source column's
name points at, by path, alias and near spelling.
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
#: What an attribute's values look like, beyond their type; suggestions compare a sample's values with it.
ATTRIBUTE_FORMATS = ("email", "phone", "country_code", "birth_date")

_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_SPEC_KEYS = frozenset({"type", "description", "identity", "aliases", "format", "personal"})


@dataclass(frozen=True)
class Attribute:
    """One profile attribute: a dotted path, a type, and an optional identity namespace."""

    path: str
    type: str
    description: str = ""
    identity: str | None = None
    #: Source column names that suggest this attribute (see ``core.mapping.suggest``).
    aliases: tuple[str, ...] = ()
    #: What the values look like (one of ATTRIBUTE_FORMATS), so a sample's content can suggest it.
    format: str | None = None
    #: Personal data (a name, an address, an email): hidden from viewers without the personal data grant.
    personal: bool = False

    def __post_init__(self) -> None:
        validate_path(self.path)
        if self.type not in ATTRIBUTE_TYPES:
            raise ConfigurationError(
                f"attribute {self.path!r}: unknown type {self.type!r}; "
                f"use one of {', '.join(ATTRIBUTE_TYPES)}"
            )
        if self.format is not None and self.format not in ATTRIBUTE_FORMATS:
            raise ConfigurationError(
                f"attribute {self.path!r}: unknown format {self.format!r}; "
                f"use one of {', '.join(ATTRIBUTE_FORMATS)}"
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
    format_ = spec.get("format")
    personal = spec.get("personal", False)
    if not isinstance(personal, bool):
        raise ConfigurationError(f"attribute {path!r}: 'personal' must be true or false")
    if not isinstance(description, str):
        raise ConfigurationError(f"attribute {path!r}: 'description' must be text")
    if identity is not None and not (isinstance(identity, str) and identity):
        raise ConfigurationError(f"attribute {path!r}: 'identity' must be a namespace name")
    if not isinstance(aliases, list | tuple) or not all(isinstance(a, str) for a in aliases):
        raise ConfigurationError(f"attribute {path!r}: 'aliases' must be a list of names")
    if format_ is not None and not isinstance(format_, str):
        raise ConfigurationError(
            f"attribute {path!r}: 'format' must be one of {', '.join(ATTRIBUTE_FORMATS)}"
        )
    return Attribute(path, spec["type"], description, identity, tuple(aliases), format_, personal)


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
        self._names: _NameIndex | None = None

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
                    attribute.format or existing.format,
                    attribute.personal or existing.personal,
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

    def match_name(self, name: str, near: bool = True) -> dict[str, NameMatch]:
        """Attribute path -> how strongly a source column's name points at it.

        The exact path scores 1.0; the same name once normalised, or an alias,
        0.9 ("E-mail" and "e_mail" -> personalEmail.address); an alias after an
        owner prefix 0.85 ("customer_email"). With ``near``, a name that matches
        none of these is compared word by word: 0.5 to 0.75 ("EmailAddr").
        """
        if self._names is None:
            self._names = _NameIndex(self)  # built once: the schema never changes
        return self._names.match(name, near)

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


# --- column names -> attributes -------------------------------------------------------------------


@dataclass(frozen=True)
class NameMatch:
    """How strongly a column name points at an attribute (0..1), and why, for a person."""

    score: float
    reason: str


_PATH_SCORE = 1.0
_NAME_SCORE = 0.9
_OWNER_SCORE = 0.85
_NEAR_MIN = 0.75  # word similarity below which a near name is no evidence
# Column-name prefixes that say whose value it is, not what it is ("customer_email").
_OWNER_PREFIXES = ("customer", "cust", "client", "contact", "user", "member", "primary")
# Abbreviations too short for the prefix rule (which already reads "addr" as "address").
_ABBREVIATIONS = {"no": "number", "nr": "number", "dt": "date", "cd": "code"}
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def _words(name: str) -> tuple[str, ...]:
    """Splits a name into lower-case words: "customerEmail_Addr" -> ("customer", "email", "addr")."""
    words = re.split(r"[^a-z0-9]+", _CAMEL.sub(" ", name).lower())
    return tuple(_ABBREVIATIONS.get(word, word) for word in words if word)


class _NameIndex:
    """A schema's paths and aliases, normalised once, to compare column names with."""

    def __init__(self, schema: ProfileSchema) -> None:
        # Normalised name -> {path: [(name as written, what it is)]}.
        self.exact: dict[str, dict[str, list[tuple[str, str]]]] = {}
        self.spellings: list[tuple[str, str, tuple[str, ...]]] = []  # (path, what it is, words)
        for attribute in schema:
            named = [(attribute.path, "the attribute path")]
            named += [(alias, f"alias {alias!r}") for alias in attribute.aliases]
            for text, what in named:
                self.exact.setdefault(normalise_name(text), {}).setdefault(attribute.path, []).append(
                    (text, what)
                )
                # Each name is also one word, so that "phonenumbr" is near "phone_number".
                for words in {_words(text), (normalise_name(text),)}:
                    self.spellings.append((attribute.path, what, words))
        self.by_word: dict[str, list[int]] = {}
        for index, (_, _, words) in enumerate(self.spellings):
            for word in set(words):
                self.by_word.setdefault(word, []).append(index)
        self._similar: dict[str, dict[str, float]] = {}

    def match(self, name: str, near: bool) -> dict[str, NameMatch]:
        """See :meth:`ProfileSchema.match_name`."""
        key = normalise_name(name)
        found: dict[str, NameMatch] = {}
        for path, spellings in self.exact.get(key, {}).items():
            if path == name:
                found[path] = NameMatch(_PATH_SCORE, "name is the attribute path")
            else:
                found[path] = NameMatch(_NAME_SCORE, f"name matches {self._closest(name, spellings)}")
        for prefix in _OWNER_PREFIXES:
            if key.startswith(prefix) and key != prefix:
                for path, spellings in self.exact.get(key[len(prefix) :], {}).items():
                    what = f"{self._closest(name, spellings)} after the prefix {prefix!r}"
                    found.setdefault(path, NameMatch(_OWNER_SCORE, f"name matches {what}"))
        return self._near(name) if near and not found else found

    @staticmethod
    def _closest(name: str, spellings: list[tuple[str, str]]) -> str:
        """What a name matched, preferring the spelling with the same words ("e_mail" for "E-mail")."""
        words = _words(name)
        return next((what for text, what in spellings if _words(text) == words), spellings[0][1])

    def _near(self, name: str) -> dict[str, NameMatch]:
        """Near names, scored by how well their words and the column's words cover each other."""
        words = _words(name)
        while len(words) > 1 and words[0] in _OWNER_PREFIXES:
            words = words[1:]
        similar = [self._similar_words(word) for word in words]
        found: dict[str, NameMatch] = {}
        for index in sorted({i for s in similar for word in s for i in self.by_word[word]}):
            path, what, theirs = self.spellings[index]
            covered = sum(max(s.get(w, 0.0) for w in theirs) for s in similar)
            covering = sum(max(s.get(w, 0.0) for s in similar) for w in theirs)
            similarity = (covered + covering) / (len(similar) + len(theirs))
            score = round(0.5 + similarity - _NEAR_MIN, 3)
            if similarity >= _NEAR_MIN and score > found.get(path, NameMatch(0.0, "")).score:
                found[path] = NameMatch(score, f"name resembles {what}")
        return found

    def _similar_words(self, word: str) -> dict[str, float]:
        """The schema's words like ``word``, with a 0..1 similarity; remembered per word."""
        if word in self._similar:
            return self._similar[word]
        similar: dict[str, float] = {}
        matcher = difflib.SequenceMatcher(b=word, autojunk=False)
        for known in self.by_word:
            if known == word:
                similar[known] = 1.0
            elif min(len(known), len(word)) >= 3 and (known.startswith(word) or word.startswith(known)):
                similar[known] = 0.9
            else:
                matcher.set_seq1(known)
                if matcher.real_quick_ratio() >= _NEAR_MIN and matcher.quick_ratio() >= _NEAR_MIN:
                    ratio = matcher.ratio()
                    if ratio >= _NEAR_MIN:
                        similar[known] = ratio
        self._similar[word] = similar
        return similar


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
