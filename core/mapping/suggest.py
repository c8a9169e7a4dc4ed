"""Suggests a mapping from a sample, by column names and by what the values look like, with a confidence.

Names point at attributes through :meth:`ProfileSchema.match_name` (paths,
aliases, owner prefixes, near spellings). Values are measured with pyarrow on
whole columns (:mod:`core.mapping.values`), as the share of the non-blank
values that look like what an attribute holds: emails, phone numbers, country
codes, dates (and the format they need), numbers, booleans. Values that agree with a name raise its
confidence, values that contradict it lower it, and a column whose name says
nothing ("col7") is suggested on its values alone, with less confidence.
Then each column gets at most one attribute and each attribute one column,
the most confident pairs first.

A connector that knows a standard object (Salesforce Contact, Dynamics
contact) describes its mapping in the stream's metadata; it is passed here as
a :class:`StandardMapping` and its pairs come first, still checked against
the values (a date field gets its conversion).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd

from connectors.base import META_PREFIX, SUGGESTED_IDENTITIES, SUGGESTED_MAPPING
from core.mapping.render import render
from core.mapping.schema import Attribute, ProfileSchema
from core.mapping.syntax import Column
from core.mapping.values import AGREES, ColumnValues


@dataclass(frozen=True)
class Suggestion:
    """A proposed mapping entry: which column feeds which attribute, how, and how sure we are."""

    attribute: str
    column: str
    #: What to put in the mapping: the column itself, or a conversion such as ``to_date(dob, '%d/%m/%Y')``.
    expression: str
    #: 0..1: about 0.9 and above, name and values agree; about 0.5, only one of them speaks for the pair.
    confidence: float
    #: Why, for a person: "name matches alias 'e_mail'; 98% of values look like email addresses".
    reason: str
    #: The identity namespace when the attribute is an identity (``email``, ``crm_id``), else None.
    identity: str | None = None


@dataclass(frozen=True)
class StandardMapping:
    """A connector's mapping of a standard object onto the profile (from ``StreamInfo.metadata``).

    Attributes:
        mapping: attribute path -> the source field that holds it.
        identities: identity namespace -> attribute path (overrides the schema's own).
        source: what the mapping is of, for the reason shown ("Salesforce Contact").
    """

    mapping: Mapping[str, str]
    identities: Mapping[str, str] = field(default_factory=dict)
    source: str = "the source"

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any], source: str) -> StandardMapping | None:
        """The standard mapping a stream's metadata carries, or None."""
        mapping = metadata.get(SUGGESTED_MAPPING) or {}
        if not mapping:
            return None
        return cls(dict(mapping), dict(metadata.get(SUGGESTED_IDENTITIES) or {}), source)


#: A standard object's pair starts here, raised or lowered by what the values say.
_STANDARD = 0.96

# Confidence of a suggestion on values alone, at 100% of them, per attribute format. The first
# attribute with a format gets it; later ones (workEmail after personalEmail) get less.
_VALUES_ONLY = {"email": 0.6, "phone": 0.55, "country_code": 0.5, "birth_date": 0.45}
_LATER_TARGET = 0.8
# Below this a pair is not worth showing, even as a runner-up.
_FLOOR = 0.2


def suggest(
    sample: pd.DataFrame, schema: ProfileSchema | None = None, standard: StandardMapping | None = None
) -> list[Suggestion]:
    """Suggests at most one attribute per column of ``sample``, in the sample's column order.

    Each attribute is used once: where two columns want it, the more confident
    pair wins, then the earlier column. Columns without a plausible attribute
    are left out; :func:`candidates` lists the runner-ups too.
    """
    order = {str(column): position for position, column in enumerate(sample.columns)}
    return sorted(assign(candidates(sample, schema, standard)), key=lambda s: order[s.column])


def candidates(
    sample: pd.DataFrame, schema: ProfileSchema | None = None, standard: StandardMapping | None = None
) -> list[Suggestion]:
    """Every plausible (column, attribute) pair of ``sample``, most confident first."""
    schema = schema or ProfileSchema.default()
    rank = {path: position for position, path in enumerate(schema.paths)}
    targets = _values_only_targets(schema)
    scored: list[tuple[Suggestion, int]] = _standard_pairs(sample, schema, standard)
    seen: set[str] = set()
    for position, column in enumerate(sample.columns):
        label = str(column)
        if label.startswith(META_PREFIX) or label in seen:
            continue
        seen.add(label)
        values = ColumnValues(sample.iloc[:, position])
        named = schema.match_name(label)
        for path, match in named.items():
            scored.append((_named(label, schema.get(path), match.score, match.reason, values), position))
        for attribute, weight in targets:
            share, says = values.format_share(str(attribute.format))
            if attribute.path not in named and share >= AGREES:
                fit = values.fit(attribute)
                expression = _expression(label, None if fit is None else fit.conversion)
                scored.append((_suggestion(attribute, label, expression, weight * share, says), position))
    scored.sort(key=lambda pair: (-pair[0].confidence, pair[1], rank[pair[0].attribute]))
    return [suggestion for suggestion, _ in scored if suggestion.confidence >= _FLOOR]


def assign(pairs: Iterable[Suggestion]) -> list[Suggestion]:
    """Keeps the pairs, best first, whose column and attribute no pair kept before has taken."""
    columns: set[str] = set()
    attributes: set[str] = set()
    kept = []
    for pair in pairs:
        if pair.column not in columns and pair.attribute not in attributes:
            columns.add(pair.column)
            attributes.add(pair.attribute)
            kept.append(pair)
    return kept


def suggest_mapping(source_columns: Iterable[str], schema: ProfileSchema | None = None) -> dict[str, str]:
    """Proposes attribute path -> source column from column names alone, when there is no sample.

    "E-mail Address", "email" and "customer_email" all suggest
    ``personalEmail.address``. Only exact, normalised, alias and owner-prefixed
    names count. Each attribute and each column is used once, the better name
    winning, then the earlier column; the result follows the columns' order.
    """
    schema = schema or ProfileSchema.default()
    rank = {path: position for position, path in enumerate(schema.paths)}
    columns = list(source_columns)
    pairs = [
        (-match.score, position, rank[path], Suggestion(path, str(column), str(column), match.score, ""))
        for position, column in enumerate(columns)
        for path, match in schema.match_name(str(column), near=False).items()
    ]
    pairs.sort(key=lambda pair: pair[:3])
    chosen = {s.column: s.attribute for s in assign(pair[3] for pair in pairs)}
    return {chosen[str(column)]: column for column in columns if str(column) in chosen}


def _values_only_targets(schema: ProfileSchema) -> list[tuple[Attribute, float]]:
    """The attributes a column may be suggested for on its values alone, with their weight."""
    targets = []
    firsts: dict[str, Attribute] = {}
    for attribute in schema:
        if attribute.format is not None:
            later = firsts.setdefault(attribute.format, attribute) is not attribute
            targets.append((attribute, _VALUES_ONLY[attribute.format] * (_LATER_TARGET if later else 1)))
    return targets


def _standard_pairs(
    sample: pd.DataFrame, schema: ProfileSchema, standard: StandardMapping | None
) -> list[tuple[Suggestion, int]]:
    """The standard object's pairs whose field is in the sample and attribute in the schema."""
    if standard is None:
        return []
    columns = {str(column): position for position, column in enumerate(sample.columns)}
    namespaces = {path: namespace for namespace, path in standard.identities.items()}
    pairs = []
    why = f"the standard mapping of {standard.source}"
    for path, source in standard.mapping.items():
        if path not in schema.paths:
            continue
        if source in columns:
            values = ColumnValues(sample.iloc[:, columns[source]])
            pair = _named(source, schema.get(path), _STANDARD, why, values)
            position = columns[source]
        else:  # an expression (concat(post_visid_high, '_', post_visid_low)): kept when its columns are here
            used = _expression_columns(path, source, schema, list(columns))
            if not used:
                continue
            first = min(used, key=columns.__getitem__)
            pair = _suggestion(schema.get(path), first, source, _STANDARD, why)
            position = columns[first]
        pairs.append((replace(pair, identity=namespaces.get(path, pair.identity)), position))
    return pairs


def _expression_columns(path: str, expression: str, schema: ProfileSchema, columns: list[str]) -> list[str]:
    """The sample columns an expression reads, or [] when it does not compile against them."""
    from core.errors import ConfigurationError
    from core.mapping.mapper import compile_mapping

    try:
        compiled = compile_mapping({path: expression}, schema, columns)
    except ConfigurationError:
        return []
    return sorted(compiled.source_columns)


def _named(column: str, attribute: Attribute, score: float, why: str, values: ColumnValues) -> Suggestion:
    """Scores a pair its name proposes, raised or lowered by what the values say."""
    fit = values.fit(attribute)
    if fit is None:
        return _suggestion(attribute, column, column, score, why)
    if fit.share >= AGREES:
        confidence = score + (1 - score) * (fit.share - AGREES) / (1 - AGREES) / 2
        reason = f"{why}; {fit.says}"
    else:
        confidence = score * (0.4 + 0.6 * fit.share / AGREES)
        reason = f"{why}, but {fit.says}"
    return _suggestion(attribute, column, _expression(column, fit.conversion), confidence, reason)


def _suggestion(
    attribute: Attribute, column: str, expression: str, confidence: float, reason: str
) -> Suggestion:
    """Builds a Suggestion with the confidence clipped to 0..1 and rounded for display."""
    clipped = round(min(max(confidence, 0.0), 1.0), 3)
    return Suggestion(attribute.path, column, expression, clipped, reason, attribute.identity)


def _expression(column: str, conversion: str | None) -> str:
    """The mapping value: the column's name, or the conversion applied to it."""
    if conversion is None:
        return column
    return conversion.format(render(Column(column, 0)))  # quoted when it is not a plain name
