"""Tests of the identity normalisers (email, phone, country) and uuid."""

from __future__ import annotations

import re
import uuid

import pandas as pd
import phonenumbers
import pytest

from tests.core.test_expressions import compile_error, evaluate, values

# --- normalize_email ------------------------------------------------------------------------------


def test_normalize_email_trims_and_lower_cases_only() -> None:
    frame = pd.DataFrame(
        {"e": ["  Ann.Lee+News@Example.COM ", "ÉLODIE@exemple.fr", "bob@mail.co.uk", None, "   ", "x@y.z"]}
    )
    result = evaluate("normalize_email(e)", frame)
    assert [None if pd.isna(v) else v for v in result.values] == [
        "ann.lee+news@example.com",  # dots and +tags are kept
        "élodie@exemple.fr",
        "bob@mail.co.uk",
        None,
        None,
        "x@y.z",
    ]
    assert not result.failed.any()


@pytest.mark.parametrize(
    "email",
    [
        "plainaddress",
        "two@@example.com",
        "a@b@example.com",
        "ann@localhost",
        "ann lee@example.com",
        "@example.com",
        "ann@",
        "ann@.com",
        "ann@example.",
        "ann@exa mple.com",
        "ann@example..com",
    ],
)
def test_normalize_email_fails_what_is_not_an_address(email: str) -> None:
    frame = pd.DataFrame({"e": [email, "ok@example.com"]})
    result = evaluate("normalize_email(e)", frame)
    assert result.failed.tolist() == [True, False]
    assert result.reasons is not None
    assert result.reasons.iloc[0] == f"normalize_email: '{email}' is not an email address"


# --- normalize_phone ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("phone", "region", "e164"),
    [
        ("07911 123456", "GB", "+447911123456"),
        ("+44 (0)20 7946 0958", "GB", "+442079460958"),
        ("020 7946 0958", "gb", "+442079460958"),
        ("01 42 68 53 00", "FR", "+33142685300"),
        ("0033 1 42 68 53 00", "FR", "+33142685300"),
        ("+33 1 42 68 53 00", "GB", "+33142685300"),  # a +country code wins over the region
        ("(650) 253-0000", "US", "+16502530000"),
        ("+49 30 901820", None, "+4930901820"),
    ],
)
def test_normalize_phone_writes_e164(phone: str, region: str | None, e164: str) -> None:
    frame = pd.DataFrame({"p": [phone, None]})
    call = f"normalize_phone(p, '{region}')" if region else "normalize_phone(p)"
    result = evaluate(call, frame)
    assert [None if pd.isna(v) else v for v in result.values] == [e164, None]
    assert not result.failed.any()


def test_normalize_phone_fails_invalid_numbers_with_a_reason() -> None:
    frame = pd.DataFrame({"p": ["123", "not a phone", "07911 123456", "+44 7911 123456", ""]})
    with_region = evaluate("normalize_phone(p, 'GB')", frame)
    assert with_region.failed.tolist() == [True, True, False, False, False]
    assert with_region.reasons is not None
    assert with_region.reasons.iloc[0] == "normalize_phone: '123' is not a valid phone number in region GB"
    without = evaluate("normalize_phone(p)", frame)
    assert without.failed.tolist() == [True, True, True, False, False]
    assert without.reasons is not None
    assert without.reasons.iloc[2] == (
        "normalize_phone: '07911 123456' is not a valid phone number "
        "(with no default region it needs a +country code)"
    )


def test_normalize_phone_parses_each_distinct_value_once(monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: list[str] = []
    real = phonenumbers.parse

    def counting(number: str, region: str | None = None) -> phonenumbers.PhoneNumber:
        parsed.append(number)
        return real(number, region)

    monkeypatch.setattr(phonenumbers, "parse", counting)
    frame = pd.DataFrame({"p": ["07911 123456", "020 7946 0958", None, " 07911 123456 "] * 250})
    result = values("normalize_phone(p, 'GB')", frame)
    assert sorted(parsed) == ["020 7946 0958", "07911 123456"]  # trimmed first, so 2 distinct values
    assert result[:4] == ["+447911123456", "+442079460958", None, "+447911123456"]


@pytest.mark.parametrize("region", ["'XX'", "'GBR'", "''", "p"])
def test_normalize_phone_checks_its_region(region: str) -> None:
    error = compile_error(f"normalize_phone(p, {region})")
    assert error.position == 20
    assert "argument 2 of normalize_phone must be a two-letter region code" in error.detail


# --- country_code ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("country", "code"),
    [
        ("GB", "GB"),
        ("gb", "GB"),
        ("UK", "GB"),
        ("United Kingdom", "GB"),
        ("  united kingdom ", "GB"),
        ("GBR", "GB"),
        ("Great Britain", "GB"),
        ("England", "GB"),
        ("USA", "US"),
        ("United States of America", "US"),
        ("United States", "US"),
        ("U.S.A.", "US"),
        ("germany", "DE"),
        ("Deutschland", "DE"),
        ("DEU", "DE"),
        ("Allemagne", "DE"),
        ("España", "ES"),
        ("espana", "ES"),
        ("France", "FR"),
        ("Côte d'Ivoire", "CI"),
        ("cote divoire", "CI"),
        ("Ivory Coast", "CI"),
        ("South Korea", "KR"),
        ("Korea, Republic of", "KR"),
        ("Russia", "RU"),
        ("Türkiye", "TR"),
        ("Turkey", "TR"),
        ("Czech Republic", "CZ"),
        ("Czechia", "CZ"),
        ("Vietnam", "VN"),
        ("Italia", "IT"),
        ("Nederland", "NL"),
        ("Holland", "NL"),
        ("826", "GB"),
        ("250", "FR"),
    ],
)
def test_country_code_reads_codes_names_and_aliases(country: str, code: str) -> None:
    frame = pd.DataFrame({"c": [country]})
    result = evaluate("country_code(c)", frame)
    assert result.values.tolist() == [code]
    assert not result.failed.any()


def test_country_code_fails_unknown_countries_and_keeps_nulls() -> None:
    frame = pd.DataFrame({"c": ["Atlantis", None, "", "XX", "fr"]})
    result = evaluate("country_code(c)", frame)
    assert [None if pd.isna(v) else v for v in result.values] == [None, None, None, None, "FR"]
    assert result.failed.tolist() == [True, False, False, True, False]
    assert result.reasons is not None
    assert result.reasons.iloc[0] == "country_code: 'Atlantis' is not a known country"


def test_country_code_of_numbers_reads_iso_numeric_codes() -> None:
    frame = pd.DataFrame({"c": pd.array([826, 4, None], dtype="Int64")})
    assert values("country_code(c)", frame) == ["GB", "AF", None]


# --- uuid -----------------------------------------------------------------------------------------

_UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def test_uuid_without_arguments_is_a_random_version_4_per_row() -> None:
    frame = pd.DataFrame({"a": range(500)}, index=range(100, 600))
    first = evaluate("uuid()", frame).values
    second = evaluate("uuid()", frame).values
    assert list(first.index) == list(frame.index)
    assert all(_UUID4.match(v) for v in first)
    assert all(uuid.UUID(v).version == 4 for v in first)
    assert first.nunique() == 500
    assert not set(first) & set(second)


def test_uuid_of_values_is_a_stable_version_5() -> None:
    frame = pd.DataFrame({"system": ["crm", "crm", None, "shop"], "id": ["42", "42", None, None]})
    result = values("uuid(system, id)", frame)
    expected = str(uuid.uuid5(uuid.NAMESPACE_URL, "crm\x1f42"))
    assert result[:2] == [expected, expected]
    assert result[2] is None  # every value null
    assert result[3] == str(uuid.uuid5(uuid.NAMESPACE_URL, "shop\x1f"))
    assert values("uuid(id)", frame)[0] == str(uuid.uuid5(uuid.NAMESPACE_URL, "42"))
    assert uuid.UUID(result[0]).version == 5


def test_uuid_separates_values_so_parts_cannot_shift() -> None:
    frame = pd.DataFrame({"a": ["ab", "a"], "b": ["c", "bc"]})
    first, second = values("uuid(a, b)", frame)
    assert first != second
