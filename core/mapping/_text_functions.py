"""Text, hashing and JSON functions of the expression language.

Regular expressions are Python's (:mod:`re`); pandas runs them through
pyarrow's RE2 where the two agree, so columns are never looped over in Python.
Hashes and JSON documents are computed once per distinct value.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from core.mapping import convert
from core.mapping.functions import (
    LENGTH,
    NON_EMPTY_TEXT,
    POSITION,
    TEXT,
    Constant,
    Evaluated,
    one_of,
    register,
)


def _is_regex(value: object) -> bool:
    if not isinstance(value, str) or value == "":
        return False
    try:
        re.compile(value)
    except re.error:
        return False
    return True


PATTERN = Constant("a regular expression in quotes (Python syntax), such as '[0-9]+'", _is_regex)
PART = Constant(
    "a whole number other than 0 (1 = first part, -1 = last)", lambda v: type(v) is int and v != 0
)
GROUP = Constant("a whole number of at least 0 (0 = the whole match)", lambda v: type(v) is int and v >= 0)
FILL = Constant("a single character in quotes", lambda v: isinstance(v, str) and len(v) == 1)
_JSON_PATH = re.compile(r"(?:[^.\[\]]+|\[-?\d+\])(?:\.[^.\[\]]+|\[-?\d+\])*")
JSON_PATH = Constant(
    "a path in quotes such as 'address.city' or 'tags[0]'",
    lambda v: isinstance(v, str) and _JSON_PATH.fullmatch(v) is not None,
)


# --- text ---------------------------------------------------------------------------------------


@register("lower", family="text", signature="lower(text)", doc="Lower-cases text.", example="lower(email)")
def _lower(text: pd.Series) -> pd.Series:
    return convert.as_string(text).str.lower()


@register("upper", family="text", signature="upper(text)", doc="Upper-cases text.", example="upper(country)")
def _upper(text: pd.Series) -> pd.Series:
    return convert.as_string(text).str.upper()


@register(
    "trim",
    family="text",
    signature="trim(text)",
    doc="Removes leading and trailing whitespace.",
    example="trim(first_name)",
)
def _trim(text: pd.Series) -> pd.Series:
    return convert.as_string(text).str.strip()


@register(
    "concat",
    family="text",
    signature="concat(value, ...)",
    doc="Joins values as text, skipping nulls; null only when every value is null.",
    example="concat(first_name, ' ', last_name)",
)
def _concat(value: pd.Series, *values: pd.Series) -> pd.Series:
    texts = [convert.as_string(v) for v in (value, *values)]
    all_null = np.logical_and.reduce([convert.flags(t.isna()) for t in texts])
    joined = texts[0].fillna("")
    for text in texts[1:]:
        joined = joined + text.fillna("")
    return joined.mask(all_null)


@register(
    "substr",
    family="text",
    signature="substr(text, start[, length])",
    doc="Part of the text from character `start` (1 = first), `length` characters long or to the end.",
    example="substr(postcode, 1, 4)",
    constants={"start": POSITION, "length": LENGTH},
)
def _substr(text: pd.Series, start: int, length: int | None = None) -> pd.Series:
    stop = None if length is None else start - 1 + length
    return convert.as_string(text).str.slice(start - 1, stop)


@register(
    "replace",
    family="text",
    signature="replace(text, old, new)",
    doc="Replaces every occurrence of the text `old` (not a pattern) with `new`.",
    example="replace(phone, ' ', '')",
    constants={"old": NON_EMPTY_TEXT, "new": TEXT},
)
def _replace(text: pd.Series, old: str, new: str) -> pd.Series:
    return convert.as_string(text).str.replace(old, new, regex=False)


@register(
    "split",
    family="text",
    signature="split(text, separator, part)",
    doc="Part number `part` of the text cut at each `separator` (1 = first, -1 = last); null past the end.",
    example="split(full_name, ' ', 1)",
    constants={"separator": NON_EMPTY_TEXT, "part": PART},
)
def _split(text: pd.Series, separator: str, part: int) -> pd.Series:
    parts = convert.as_string(text).str.split(separator, regex=False)
    return parts.str.get(part - 1 if part > 0 else part).astype(convert.STRING)


def _group_in_pattern(constants: Mapping[str, object]) -> tuple[str, str] | None:
    """regex_extract's group must exist in its pattern."""
    pattern, group = constants.get("pattern"), constants.get("group")
    if isinstance(pattern, str) and isinstance(group, int):
        groups = re.compile(pattern).groups
        if group > groups:
            have = "no groups" if groups == 0 else f"{groups} group{'s' if groups > 1 else ''}"
            return "group", f"a group of the pattern, which has {have}"
    return None


_LEADING_FLAGS = re.compile(r"^\(\?[aiLmsux]+\)")


@register(
    "regex_extract",
    family="text",
    signature="regex_extract(text, pattern[, group])",
    doc=(
        "The part of the text that matches `pattern`: its bracketed group number `group` "
        "(0 = the whole match; by default group 1 if the pattern has one); null when nothing matches."
    ),
    example=r"regex_extract(email, '@(.+)$')",
    constants={"pattern": PATTERN, "group": GROUP},
    check=_group_in_pattern,
)
def _regex_extract(text: pd.Series, pattern: str, group: int | None = None) -> pd.Series:
    if group is None:
        group = 1 if re.compile(pattern).groups else 0
    if group == 0:
        # A bracket around the whole pattern captures the whole match; leading (?i)-style flags stay first.
        flags = _LEADING_FLAGS.match(pattern)
        prefix = flags.group() if flags else ""
        pattern, group = f"{prefix}({pattern[len(prefix) :]})", 1
    extracted = convert.as_string(text).str.extract(pattern, expand=True)
    return extracted.iloc[:, group - 1].astype(convert.STRING)


_REFERENCE = re.compile(r"\$(?:(\d)|\{(\w+)\}|(\$))")


def _python_replacement(replacement: str) -> str:
    """Turns ``$1``, ``${10}``, ``${name}`` and ``$$`` into Python replacement syntax; the rest is literal."""

    def substitute(match: re.Match[str]) -> str:
        number, name, dollar = match.groups()
        if dollar:
            return "$"
        # \1 keeps pyarrow's fast path; \g<..> for group 0, named groups and before a digit.
        follows = match.string[match.end() : match.end() + 1]
        if number and number != "0" and not follows.isdigit():
            return "\\" + number
        return f"\\g<{number or name}>"

    return _REFERENCE.sub(substitute, replacement.replace("\\", "\\\\"))


def _groups_exist(constants: Mapping[str, object]) -> tuple[str, str] | None:
    """regex_replace may only refer to groups its pattern has."""
    pattern, replacement = constants.get("pattern"), constants.get("replacement")
    if not (isinstance(pattern, str) and isinstance(replacement, str)):
        return None
    compiled = re.compile(pattern)
    for number, name, _ in _REFERENCE.findall(replacement):
        group = number or name
        exists = int(group) <= compiled.groups if group.isdigit() else group in compiled.groupindex
        if group and not exists:
            missing = number or name
            return "replacement", f"text whose $ references are groups of the pattern (no group {missing})"
    return None


@register(
    "regex_replace",
    family="text",
    signature="regex_replace(text, pattern, replacement)",
    doc=(
        "Replaces every match of `pattern` with `replacement`, where `$1`…`$9`, `${12}` or `${name}` "
        "is a group, `$0` the match and `$$` a dollar sign."
    ),
    example="regex_replace(phone, '[^0-9+]', '')",
    constants={"pattern": PATTERN, "replacement": TEXT},
    check=_groups_exist,
)
def _regex_replace(text: pd.Series, pattern: str, replacement: str) -> pd.Series:
    return convert.as_string(text).str.replace(pattern, _python_replacement(replacement), regex=True)


@register(
    "pad",
    family="text",
    signature="pad(text, length[, fill[, side]])",
    doc=(
        "Pads the text to `length` characters with `fill` (default a space) on the `side` "
        "'left' (default) or 'right'; longer text is left as it is."
    ),
    example="pad(customer_id, 8, '0')",
    constants={"length": LENGTH, "fill": FILL, "side": one_of("left", "right")},
)
def _pad(text: pd.Series, length: int, fill: str = " ", side: str = "left") -> pd.Series:
    return convert.as_string(text).str.pad(length, side=side.lower(), fillchar=fill)


@register(
    "length",
    family="text",
    signature="length(text)",
    doc="The number of characters of the text (null stays null).",
    example="length(postcode)",
)
def _length(text: pd.Series) -> pd.Series:
    return convert.as_string(text).str.len().astype("Int64")


# --- hashing ------------------------------------------------------------------------------------


def _hasher(algorithm: str) -> Callable[[str], str]:
    def digest(value: str) -> str:
        return hashlib.new(algorithm, value.encode("utf-8")).hexdigest()

    return digest


@register(
    "sha256",
    family="hashing",
    signature="sha256(text)",
    doc="The SHA-256 of the text's UTF-8 bytes, in lower-case hex; for hashed identities.",
    example="sha256(lower(trim(email)))",
)
def _sha256(text: pd.Series) -> pd.Series:
    return convert.map_distinct(text, _hasher("sha256")).values


@register(
    "md5",
    family="hashing",
    signature="md5(text)",
    doc="The MD5 of the text's UTF-8 bytes, in lower-case hex (only where a partner asks for MD5).",
    example="md5(lower(trim(email)))",
)
def _md5(text: pd.Series) -> pd.Series:
    return convert.map_distinct(text, _hasher("md5")).values


# --- JSON ---------------------------------------------------------------------------------------

_STEP = re.compile(r"\[(-?\d+)\]|([^.\[\]]+)")


def _follow(document: object, steps: list[str | int]) -> str | None:
    """The value at the path as text: strings as they are, anything else as compact JSON."""
    for step in steps:
        in_list = (
            isinstance(step, int) and isinstance(document, list) and -len(document) <= step < len(document)
        )
        in_object = isinstance(step, str) and isinstance(document, dict) and step in document
        if not (in_list or in_object):
            return None
        document = document[step]  # type: ignore[index]
    if document is None or isinstance(document, str):
        return document
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


@register(
    "json_get",
    family="json",
    signature="json_get(text, path)",
    doc=(
        "The value at `path` ('address.city', 'tags[0]', 'items[-1].sku') in JSON text, as text "
        "(objects and lists as JSON); null when the path is missing; rows that are not JSON fail."
    ),
    example="json_get(attributes, 'address.city')",
    constants={"path": JSON_PATH},
)
def _json_get(text: pd.Series, path: str) -> Evaluated:
    steps: list[str | int] = [int(index) if index else key for index, key in _STEP.findall(path)]
    if convert.kind(text) == "other":
        # Documents a JSON source already parsed (dicts, lists) are written back once each.
        text = text.map(lambda v: json.dumps(v) if isinstance(v, dict | list) else v)
    result = convert.map_distinct(text, lambda value: _follow(json.loads(value), steps))
    return Evaluated(result.values, convert.reasons(text, result.failed, "json_get: ", " is not valid JSON"))
