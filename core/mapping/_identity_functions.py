"""Identifier functions and identity normalisers of the expression language.

Phone numbers (``phonenumbers``, Google's libphonenumber metadata) and
country names (``pycountry``, the ISO 3166 tables and their translations) are
looked up once per distinct value; emails and UUIDs are vectorised.
"""

from __future__ import annotations

import gettext
import os
import re
import unicodedata
import uuid
from functools import cache

import numpy as np
import pandas as pd

from core.mapping import convert
from core.mapping.functions import Constant, Evaluated, register

# --- UUIDs --------------------------------------------------------------------------------------

#: The namespace of ``uuid(value, ...)``: RFC 4122's URL namespace, so anyone can recompute an id.
UUID_NAMESPACE = uuid.NAMESPACE_URL
#: What joins several values into the name a UUID5 is made from (the ASCII unit separator).
UUID_SEPARATOR = "\x1f"


def _random_uuids(count: int) -> np.ndarray:
    """``count`` random version-4 UUIDs as text, made from one read of the OS's random source."""
    raw = np.frombuffer(os.urandom(16 * count), dtype=np.uint8).reshape(count, 16).copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40  # version 4
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80  # RFC 4122 variant
    digits = np.frombuffer(raw.tobytes().hex().encode("ascii"), dtype="S32").astype(str)
    text = pd.Series(digits, dtype=convert.STRING)
    cuts = ((0, 8), (8, 12), (12, 16), (16, 20), (20, 32))
    parts = [text.str.slice(start, stop) for start, stop in cuts]
    joined = parts[0]
    for part in parts[1:]:
        joined = joined + "-" + part
    return joined.to_numpy(dtype=object)


@register(
    "uuid",
    family="identity",
    signature="uuid([value, ...])",
    doc=(
        "Without arguments a random UUID (version 4) per row, new on every run. With values, a stable "
        "UUID (version 5, URL namespace) of the values' text joined by U+001F, nulls as empty; "
        "null when every value is null."
    ),
    example="uuid(source_system, customer_id)",
)
def _uuid(*values: pd.Series, index: pd.Index) -> pd.Series:
    if not values:
        return pd.Series(_random_uuids(len(index)), index=index, dtype=convert.STRING)
    texts = [convert.as_string(v) for v in values]
    all_null = np.logical_and.reduce([convert.flags(t.isna()) for t in texts])
    name = texts[0].fillna("")
    for text in texts[1:]:
        name = name + UUID_SEPARATOR + text.fillna("")
    ids = convert.map_distinct(name.mask(all_null), lambda v: str(uuid.uuid5(UUID_NAMESPACE, v)))
    return ids.values


# --- emails -------------------------------------------------------------------------------------

# One @, something before it, a domain of dot-separated labels, and no whitespace anywhere.
EMAIL_PATTERN = r"^[^@\s]+@[^@\s.]+(?:\.[^@\s.]+)+$"


@register(
    "normalize_email",
    family="identity",
    signature="normalize_email(text)",
    doc=(
        "Trims and lower-cases an email address (nothing else: dots and +tags are kept); rows that "
        "are not an address (one @, a dot in the domain, no spaces) fail."
    ),
    example="normalize_email(email)",
)
def _normalize_email(text: pd.Series) -> Evaluated:
    emails = convert.clean_text(text).str.lower()
    present = convert.flags(emails.notna())
    valid = convert.flags(emails.str.contains(EMAIL_PATTERN, regex=True))
    failed = present & ~valid
    why = convert.reasons(text, failed, "normalize_email: ", " is not an email address")
    return Evaluated(emails.mask(failed), why)


# --- phone numbers ------------------------------------------------------------------------------


@cache
def _regions() -> frozenset[str]:
    import phonenumbers  # imported on first use: its metadata is large

    return frozenset(phonenumbers.SUPPORTED_REGIONS)


REGION = Constant(
    "a two-letter region code in quotes such as 'GB' or 'FR'",
    lambda v: isinstance(v, str) and v.upper() in _regions(),
)


def e164(text: str, region: str | None) -> str:
    """Formats one phone number as E.164; raises ValueError when it is not a valid number."""
    import phonenumbers

    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(str(exc)) from exc
    if not phonenumbers.is_valid_number(number):
        raise ValueError(text)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@register(
    "normalize_phone",
    family="identity",
    signature="normalize_phone(text[, default_region])",
    doc=(
        "A phone number in E.164 ('+447911123456'); numbers without a +country code are read in "
        "`default_region` (such as 'GB'); rows that are not a valid number fail."
    ),
    example="normalize_phone(phone, 'GB')",
    constants={"default_region": REGION},
)
def _normalize_phone(text: pd.Series, default_region: str | None = None) -> Evaluated:
    region = None if default_region is None else default_region.upper()
    result = convert.map_distinct(convert.clean_text(text), lambda value: e164(value, region))
    where = f"in region {region}" if region else "(with no default region it needs a +country code)"
    why = convert.reasons(text, result.failed, "normalize_phone: ", f" is not a valid phone number {where}")
    return Evaluated(result.values, why)


# --- countries ----------------------------------------------------------------------------------

# Names people write that ISO 3166 does not list (alpha-2 codes and English/local names come from it).
_ALIASES = {
    "uk": "GB", "great britain": "GB", "britain": "GB", "england": "GB", "scotland": "GB",
    "wales": "GB", "northern ireland": "GB", "america": "US", "united states of america": "US",
    "russia": "RU", "south korea": "KR", "korea": "KR", "north korea": "KP", "vietnam": "VN",
    "turkey": "TR", "czech republic": "CZ", "holland": "NL", "the netherlands": "NL",
    "ivory coast": "CI", "macedonia": "MK", "burma": "MM", "swaziland": "SZ", "cape verde": "CV",
    "east timor": "TL", "vatican": "VA", "laos": "LA", "syria": "SY", "moldova": "MD",
    "tanzania": "TZ", "venezuela": "VE", "bolivia": "BO", "iran": "IR", "palestine": "PS",
    "brunei": "BN", "micronesia": "FM", "uae": "AE", "emirates": "AE",
}  # fmt: skip
# Languages whose country names are also recognised ("Deutschland", "España", "Italia").
_LANGUAGES = ("de", "fr", "es", "it", "nl", "pt", "sv", "da", "nb_NO", "fi", "pl")


_ELIDED = "['\u2019\u02bc.]"  # apostrophes and dots join letters: "d'Ivoire" = "divoire", "U.S.A." = "usa"


def _key(name: str) -> str:
    """Folds case, accents, punctuation and spacing: "Côte d'Ivoire" = 'cote divoire', 'U.S.A.' = 'usa'."""
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    letters = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^\w]+", " ", re.sub(_ELIDED, "", letters)).split())


@cache
def _countries() -> dict[str, str]:
    """Every recognised spelling (folded) -> ISO 3166-1 alpha-2; built once."""
    import pycountry

    index: dict[str, str] = {}
    translated: dict[str, set[str]] = {}
    translations = [gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[language])
                    for language in _LANGUAGES]  # fmt: skip
    for country in pycountry.countries:
        code = country.alpha_2
        names = [getattr(country, field, None) for field in ("name", "official_name", "common_name")]
        for name in (code, country.alpha_3, country.numeric, str(int(country.numeric)), *names):
            if name:
                index[_key(name)] = code
        for translation in translations:
            for name in filter(None, names):
                translated.setdefault(_key(translation.gettext(name)), set()).add(code)
    index.update({_key(alias): code for alias, code in _ALIASES.items()})
    # A translated name only counts when it names one country and no English name means otherwise.
    for key, codes in translated.items():
        if len(codes) == 1 and key not in index:
            index[key] = next(iter(codes))
    return index


def _country(text: str) -> str:
    code = _countries().get(_key(text))
    if code is None:
        raise ValueError(text)
    return code


@register(
    "country_code",
    family="identity",
    signature="country_code(text)",
    doc=(
        "The ISO 3166-1 alpha-2 code of a country given by code (GB, gbr, 826), English or local name "
        "('United Kingdom', 'Deutschland') or a common alias ('UK', 'USA'); unknown names fail."
    ),
    example="country_code(country)",
)
def _country_code(text: pd.Series) -> Evaluated:
    result = convert.map_distinct(convert.clean_text(text), _country)
    why = convert.reasons(text, result.failed, "country_code: ", " is not a known country")
    return Evaluated(result.values, why)
