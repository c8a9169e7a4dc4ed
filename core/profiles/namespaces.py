"""Identity namespaces: how each kind of identifier is normalised, trusted and limited.

A dataflow's spec names, per namespace, the attribute that holds its value
(``identities: {email: personalEmail.address}``). Here each namespace gets:

- a **type**, ``person`` (identifies a human: email, phone, CRM id) or
  ``device`` (identifies a browser or device: ECID, cookie, device id);
- a **normaliser**: ``email`` (trim, lower-case, must be an address),
  ``phone`` (E.164, numbers without +country code read in the workspace's
  default region), ``trim`` or ``lower`` (trim then lower-case);
- a **limit**: the most distinct values of the namespace one profile may hold
  (``None``: no limit). A link that would exceed it is dropped;
- a **priority**: 1 is the most trusted. Links are made most trusted first,
  so when a limit forces a choice, stronger identities have already shaped
  the profiles.

Built-ins (``profiles.namespaces`` may override any field, and add others):

============  ======  ==========  =====  ========
namespace     type    normaliser  limit  priority
============  ======  ==========  =====  ========
crm_id        person  trim        1      1
loyalty_id    person  trim        1      2
email         person  email       5      3
phone         person  phone       5      4
ecid          device  trim        10     5
cookie_id     device  trim        50     6
device_id     device  trim        10     6
============  ======  ==========  =====  ========

Why these limits: a person has one account in each system of record (a
second CRM id on one profile means two people were merged), a few emails and
phones (personal, work), one ECID per browser and many cookies over time.
A namespace a dataflow uses that is neither built in nor configured is a
``person`` namespace, trimmed, with no limit and priority 10.

Blocked values never link records: empty values are simply absent; built-in
placeholders (``test@test.com``, ``noemail@…``, ``0000000000``,
``1234567890``, ``unknown``, ``n/a``, ``null``, ``none``, ``-``, ``0``…) and
the workspace's ``profiles.blocked`` (``{namespace: [values]}``, ``"*"`` for
every namespace) are matched after normalisation, and on the trimmed,
lower-cased text for values that do not normalise. Values that fail their
normaliser (not an email, not a valid phone number) do not link either.

Phones: ``profiles.default_region`` (default ``"US"``, as libphonenumber's
own examples) is the region numbers written without ``+country`` are read
in; a workspace of French customers sets ``"FR"`` so that ``0612345678`` is
``+33612345678``. An empty value requires the country code.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import Connection, select

from core.errors import ConfigurationError
from core.mapping import convert
from core.mapping._identity_functions import EMAIL_PATTERN, e164
from core.mapping.functions import FUNCTIONS
from core.store import tables as t

NAMESPACES_SETTING = "profiles.namespaces"
BLOCKED_SETTING = "profiles.blocked"
REGION_SETTING = "profiles.default_region"
DEFAULT_REGION = "US"
#: Where namespaces nobody configured rank: after every built-in.
CUSTOM_PRIORITY = 10

Kind = Literal["person", "device"]
Normaliser = Literal["email", "phone", "trim", "lower"]


@dataclass(frozen=True)
class Namespace:
    """One kind of identifier: its type, normaliser, per-profile limit and linking priority."""

    name: str
    kind: Kind = "person"
    normaliser: Normaliser = "trim"
    limit: int | None = None
    priority: int = CUSTOM_PRIORITY
    builtin: bool = False


BUILTINS: dict[str, Namespace] = {
    ns.name: ns
    for ns in (
        Namespace("crm_id", "person", "trim", 1, 1, True),
        Namespace("loyalty_id", "person", "trim", 1, 2, True),
        Namespace("email", "person", "email", 5, 3, True),
        Namespace("phone", "person", "phone", 5, 4, True),
        Namespace("ecid", "device", "trim", 10, 5, True),
        Namespace("cookie_id", "device", "trim", 50, 6, True),
        Namespace("device_id", "device", "trim", 10, 6, True),
    )
}

# Placeholders people type when a form insists, compared lower-cased after trimming.
_PLACEHOLDERS = frozenset(
    {"unknown", "n/a", "na", "n.a.", "null", "none", "nil", "-", "--", "---", ".", "?", "0", "-1",
     "undefined", "not available", "not applicable", "test", "xxx", "xxxx", "tbd"}
)  # fmt: skip
_EMAIL_PLACEHOLDERS = frozenset(
    {
        "test@test.com",
        "test@example.com",
        "example@example.com",
        "email@email.com",
        "email@example.com",
        "none@none.com",
        "no@no.com",
        "a@a.com",
        "abc@abc.com",
        "x@x.com",
        "noemail@noemail.com",
        "user@example.com",
    }
)
# Local parts that say "no address" on any domain: noemail@shop.com, no-reply@crm.io.
_EMAIL_PLACEHOLDER_LOCAL = (
    r"^(?:no-?e?-?mail|no\.email|no-?reply|do-?not-?reply|none|null|unknown|nobody|n/?a|test|"
    r"invalid|dummy|fake)@"
)
_PHONE_PLACEHOLDER_DIGITS = frozenset({"1234567890", "0123456789", "123456789", "12345678", "0987654321"})
# Any run of 7+ equal digits at the end of a number (+33600000000, 555-1111111) is made up.
_PHONE_LAYOUT = r"[\s.\-()/]"
_PHONE_CACHE: dict[tuple[str | None, str], str | None] = {}
_PHONE_CACHE_SIZE = 500_000
_MISSING = object()
_PHONE_REPEATED = "(?:" + "|".join(f"{d}{{7}}" for d in range(10)) + ")$"
_PHONE_ONE_DIGIT = "^(?:" + "|".join(f"{d}+" for d in range(10)) + ")$"
_EMAIL_RE = re.compile(EMAIL_PATTERN)
_EMAIL_LOCAL_RE = re.compile(_EMAIL_PLACEHOLDER_LOCAL)
_PHONE_REPEATED_RE = re.compile(_PHONE_REPEATED)
_PHONE_ONE_DIGIT_RE = re.compile(_PHONE_ONE_DIGIT)
_RULES_CACHE: dict[str, IdentityRules] = {}


class _NamespaceSetting(BaseModel):
    """One entry of ``profiles.namespaces``; fields left out keep the built-in's (or the default)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,99}$")
    type: Kind | None = None
    normaliser: Normaliser | None = None
    limit: int | None = Field(default=None, ge=1)
    priority: int | None = Field(default=None, ge=1)

    @field_validator("type", "normaliser", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value


@dataclass(frozen=True)
class NormalisedValues:
    """A column of identity values made comparable: what links, and what was refused and why."""

    #: the normalised value of each row, NA where the row does not link
    values: pd.Series
    #: the trimmed text as received (NA where empty)
    text: pd.Series
    #: rows whose value is a placeholder or on the workspace's block list
    blocked: np.ndarray
    #: rows whose value is on the workspace's list (a subset of ``blocked``)
    blocked_by_user: np.ndarray
    #: rows whose value does not normalise (not an email, not a phone number)
    invalid: np.ndarray
    #: for invalid rows, why (NA elsewhere)
    reasons: pd.Series


@dataclass(frozen=True)
class IdentityRules:
    """The workspace's namespaces, block lists and phone region: everything linking depends on."""

    namespaces: Mapping[str, Namespace] = field(default_factory=lambda: dict(BUILTINS))
    blocked: Mapping[str, frozenset[str]] = field(default_factory=dict)
    default_region: str | None = DEFAULT_REGION

    @classmethod
    def from_settings(
        cls,
        namespaces: Iterable[Mapping[str, Any]] | Mapping[str, Mapping[str, Any]] | None = None,
        blocked: Mapping[str, Iterable[str]] | None = None,
        default_region: str | None = DEFAULT_REGION,
    ) -> IdentityRules:
        """Rules from the settings' values; raises ConfigurationError when one is malformed."""
        known = dict(BUILTINS)
        for entry in _entries(namespaces):
            try:
                parsed = _NamespaceSetting.model_validate(entry)
            except ValidationError as error:
                raise ConfigurationError(_problems(error)) from None
            base = known.get(parsed.name, Namespace(parsed.name))
            # "limit": null lifts a built-in's limit; leaving "limit" out keeps it
            lifted = "limit" in parsed.model_fields_set and parsed.limit is None
            known[parsed.name] = replace(
                base,
                kind=parsed.type or base.kind,
                normaliser=parsed.normaliser or base.normaliser,
                limit=None if lifted else (parsed.limit or base.limit),
                priority=parsed.priority or base.priority,
            )
        region = (default_region or "").strip().upper() or None
        if region is not None and region not in _regions():
            raise ConfigurationError(
                f"{REGION_SETTING}: {region!r} is not a region code such as 'US', 'GB' or 'FR'"
            )
        rules = cls(known, {}, region)
        lists: dict[str, frozenset[str]] = {}
        for name, values in (blocked or {}).items():
            if isinstance(values, str) or not isinstance(values, Iterable):
                raise ConfigurationError(f"{BLOCKED_SETTING}: {name!r} must list values")
            texts = pd.Series([str(v) for v in values], dtype=convert.STRING)
            forms = set(texts.str.strip().str.lower().dropna())
            if name != "*":
                forms |= set(rules._normalised(name, texts)[0].dropna())
            lists[name] = frozenset(forms)
        return cls(known, lists, region)

    def namespace(self, name: str) -> Namespace:
        """The namespace called ``name``: built-in, configured, or a plain trimmed person id."""
        return self.namespaces.get(name) or Namespace(name)

    def normalise(self, name: str, values: pd.Series) -> NormalisedValues:
        """Normalises one namespace's column; blocked, invalid and empty rows come back NA."""
        text = convert.clean_text(values)
        normalised, reasons = self._normalised(name, text)
        folded = text.str.lower()
        user = self.blocked.get(name, frozenset()) | self.blocked.get("*", frozenset())
        by_user = convert.flags(normalised.isin(user)) | convert.flags(folded.isin(user))
        builtin = convert.flags(folded.isin(_PLACEHOLDERS)) | self._placeholder(name, text, normalised)
        blocked = by_user | builtin
        invalid = convert.flags(reasons.notna()) & ~blocked
        linkable = convert.flags(normalised.notna()) & ~blocked
        return NormalisedValues(
            values=normalised.where(linkable),
            text=text,
            blocked=blocked,
            blocked_by_user=by_user,
            invalid=invalid,
            reasons=reasons.where(invalid),
        )

    def identify(self, name: str, value: Any) -> tuple[str | None, str | None]:
        """One value as the graph stores it, or (None, why it links no one): a lookup's path.

        Decides exactly as :meth:`normalise` does for a column (a property test
        holds them equal), but in plain Python for a typed ASCII value: a
        one-row pandas pass costs ~4 ms, more than all of a lookup's queries.
        Other values (accents, control characters, non-strings) take the column path.
        """
        if not (isinstance(value, str) and value.isascii() and value.strip(" ").isprintable()):
            return self._identify_column(name, value)
        text = value.strip(" ")
        if not text:
            return None, f"an empty {name} identifies no one"
        folded = text.lower()
        kind = self.namespace(name).normaliser
        normalised: str | None
        if kind == "email":
            normalised = folded if _EMAIL_RE.search(folded) else None
        elif kind == "phone":
            normalised = _phone(text, self.default_region)
        else:
            normalised = folded if kind == "lower" else text
        user = self.blocked.get(name, frozenset()) | self.blocked.get("*", frozenset())
        if (
            normalised in user
            or folded in user
            or folded in _PLACEHOLDERS
            or (normalised is not None and self._is_placeholder(kind, text, normalised))
        ):
            return None, _blocked_message(name, value)
        if normalised is None:  # invalid: the column path words the reason as a run does
            return self._identify_column(name, value)
        return normalised, None

    def _identify_column(self, name: str, value: Any) -> tuple[str | None, str | None]:
        result = self.normalise(name, pd.Series([value], dtype=object))
        if bool(result.blocked[0]):
            return None, _blocked_message(name, value)
        if bool(result.invalid[0]):
            return None, str(result.reasons.iloc[0])
        normalised = result.values.iloc[0]
        if pd.isna(normalised):
            return None, f"an empty {name} identifies no one"
        return str(normalised), None

    @staticmethod
    def _is_placeholder(kind: str, text: str, normalised: str) -> bool:
        """One value's :meth:`_placeholder` (the normaliser's built-in placeholders)."""
        if kind == "email":
            return normalised in _EMAIL_PLACEHOLDERS or bool(_EMAIL_LOCAL_RE.search(normalised))
        if kind == "phone":
            digits = re.sub(r"\D", "", text)
            return (
                digits in _PHONE_PLACEHOLDER_DIGITS
                or bool(_PHONE_ONE_DIGIT_RE.search(digits))
                or bool(_PHONE_REPEATED_RE.search(normalised))
            )
        return False

    def _normalised(self, name: str, text: pd.Series) -> tuple[pd.Series, pd.Series]:
        """(values, reasons): the normaliser's output, and why rows failed (NA where they did not)."""
        kind = self.namespace(name).normaliser
        no_reasons = pd.Series(pd.NA, index=text.index, dtype=convert.STRING)
        if kind == "email":
            result = FUNCTIONS["normalize_email"].impl(text)
        elif kind == "phone":
            return _phones(text, self.default_region)
        else:
            trimmed = convert.clean_text(text)
            return (trimmed.str.lower() if kind == "lower" else trimmed), no_reasons
        reasons = no_reasons if result.reasons is None else result.reasons.astype(convert.STRING)
        return result.values.astype(convert.STRING), reasons

    def _placeholder(self, name: str, text: pd.Series, normalised: pd.Series) -> np.ndarray:
        """Rows whose value is a built-in placeholder of this namespace's normaliser."""
        kind = self.namespace(name).normaliser
        if kind == "email":
            return convert.flags(normalised.isin(_EMAIL_PLACEHOLDERS)) | convert.flags(
                normalised.str.contains(_EMAIL_PLACEHOLDER_LOCAL, regex=True)
            )
        if kind == "phone":
            digits = text.str.replace(r"\D", "", regex=True)
            return (
                convert.flags(digits.isin(_PHONE_PLACEHOLDER_DIGITS))
                | convert.flags(digits.str.contains(_PHONE_ONE_DIGIT, regex=True))
                | convert.flags(normalised.str.contains(_PHONE_REPEATED, regex=True))
            )
        return np.zeros(len(text), dtype=bool)


def _phones(text: pd.Series, region: str | None) -> tuple[pd.Series, pd.Series]:
    """(E.164 numbers, reasons) for trimmed texts: ``normalize_phone`` once per distinct number, cached.

    libphonenumber takes ~0.1 ms a number, so the work is cut twice: layout
    (spaces, dots, dashes, brackets, which it ignores anyway) is removed first
    so that one number written four ways is parsed once, and a bounded
    process-wide cache remembers numbers already seen (a scheduler re-reading
    a full-refresh source, the same phone arriving from another dataflow).
    """
    compact = text.str.replace(_PHONE_LAYOUT, "", regex=True)
    codes, uniques = pd.factorize(compact, use_na_sentinel=True)
    known = {u: _PHONE_CACHE.get((region, u), _MISSING) for u in uniques}
    unseen = [u for u, value in known.items() if value is _MISSING]
    if unseen:
        parsed = FUNCTIONS["normalize_phone"].impl(pd.Series(unseen, dtype=convert.STRING), region).values
        found = dict(zip(unseen, parsed.astype(object).where(parsed.notna(), None).tolist(), strict=True))
        known.update(found)
        if len(_PHONE_CACHE) + len(found) > _PHONE_CACHE_SIZE:
            _PHONE_CACHE.clear()
        _PHONE_CACHE.update(((region, u), value) for u, value in found.items())
    numbers = pd.array([known[u] for u in uniques], dtype=convert.STRING).take(codes, allow_fill=True)
    values = pd.Series(numbers, index=text.index)
    failed = convert.flags(text.notna()) & convert.flags(values.isna())
    where = f"in region {region}" if region else "(with no default region it needs a +country code)"
    reasons = convert.reasons(text, failed, "normalize_phone: ", f" is not a valid phone number {where}")
    return values, reasons if reasons is not None else pd.Series(
        pd.NA, index=text.index, dtype=convert.STRING
    )


def _phone(text: str, region: str | None) -> str | None:
    """One trimmed text's E.164 number (None when invalid), through :func:`_phones`' cache."""
    compact = re.sub(_PHONE_LAYOUT, "", text)
    known = _PHONE_CACHE.get((region, compact), _MISSING)
    if known is _MISSING:
        try:
            known = e164(compact, region)
        except ValueError:
            known = None
        if len(_PHONE_CACHE) >= _PHONE_CACHE_SIZE:
            _PHONE_CACHE.clear()
        _PHONE_CACHE[(region, compact)] = known
    return known  # type: ignore[return-value]


def _blocked_message(name: str, value: Any) -> str:
    return f"{str(value).strip()!r} is a blocked {name} value (a placeholder), which links no one"


def load_rules(conn: Connection) -> IdentityRules:
    """The workspace's identity rules, from its settings (built-ins when none are set).

    Rules built from the same settings are reused: building them normalises
    the block lists, which would otherwise be paid by every lookup.
    """
    keys = (NAMESPACES_SETTING, BLOCKED_SETTING, REGION_SETTING)
    query = select(t.settings.c.key, t.settings.c.value).where(t.settings.c.key.in_(keys))
    rows = {key: value for key, value in conn.execute(query)}
    signature = json.dumps(rows, sort_keys=True, default=str)
    rules = _RULES_CACHE.get(signature)
    if rules is None:
        rules = IdentityRules.from_settings(
            rows.get(NAMESPACES_SETTING),
            rows.get(BLOCKED_SETTING),
            rows.get(REGION_SETTING, DEFAULT_REGION),
        )
        if len(_RULES_CACHE) >= 16:
            _RULES_CACHE.clear()
        _RULES_CACHE[signature] = rules
    return rules


def _entries(
    namespaces: Iterable[Mapping[str, Any]] | Mapping[str, Mapping[str, Any]] | None,
) -> list[Mapping[str, Any]]:
    """The setting's entries as a list, whether written as a list or as ``{name: {...}}``."""
    if namespaces is None:
        return []
    if isinstance(namespaces, Mapping):
        return [{"name": name, **dict(entry or {})} for name, entry in namespaces.items()]
    return list(namespaces)


def _problems(error: ValidationError) -> str:
    """One line per problem of a namespace entry, never echoing the input."""
    lines = []
    for item in error.errors(include_url=False, include_input=False, include_context=False):
        where = ".".join(str(part) for part in item["loc"]) or "(entry)"
        lines.append(f"{NAMESPACES_SETTING}: {where}: {item['msg']}")
    return "\n".join(lines)


def _regions() -> frozenset[str]:
    import phonenumbers  # its metadata is large: loaded when a region is checked

    return frozenset(phonenumbers.SUPPORTED_REGIONS)
