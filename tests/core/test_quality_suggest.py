"""Tests for expectations suggested from a mapped sample's profile."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.quality import QualitySuite, SuggestedExpectation, suggest_expectations
from core.quality.suggest import EMAIL_REGEX

ROWS = 200
IDENTITIES = {"crmId": "crm_id", "personalEmail.address": "email", "mobilePhone.number": "phone"}
TYPES = {
    "crmId": "string",
    "personalEmail.address": "string",
    "mobilePhone.number": "string",
    "person.firstName": "string",
    "loyalty.tier": "string",
    "loyalty.points": "integer",
    "commerce.totalSpent": "number",
    "person.birthDate": "date",
    "consents.marketing.email": "boolean",
    "homeAddress.city": "string",
}


def mapped_sample(rows: int = ROWS) -> pd.DataFrame:
    """A CRM export as the mapping produces it: identities, a 3-value tier, free text, numbers."""
    rng = np.random.default_rng(3)
    emails = np.array([f"customer{i}@example.org" for i in range(rows)], dtype=object)
    emails[[5, 17]] = None
    emails[9] = "no-at-sign"
    phones = np.array([f"+4479{i:08d}" for i in range(rows)], dtype=object)
    phones[::7] = None
    cities = np.array(["Paris", "Lyon", "Lille", None], dtype=object)
    return pd.DataFrame(
        {
            "crmId": pd.array([f"CRM-{i:05d}" for i in range(rows)], dtype="string"),
            "personalEmail.address": emails,
            "mobilePhone.number": phones,
            "person.firstName": [f"Name{i}" for i in range(rows)],
            "loyalty.tier": rng.choice(np.array(["bronze", "silver", "gold"], dtype=object), rows),
            "loyalty.points": pd.array(rng.integers(0, 5000, rows), dtype="Int64"),
            "commerce.totalSpent": rng.uniform(5, 250, rows).round(2),
            "person.birthDate": pd.to_datetime("1970-01-01")
            + pd.to_timedelta(rng.integers(0, 15000, rows), "D"),
            "consents.marketing.email": rng.choice([True, False], rows),
            "homeAddress.city": cities[rng.integers(0, 4, rows)],
        }
    )


def specs(suggestions: list[SuggestedExpectation]) -> dict[tuple[str, str], dict]:
    return {
        (s.expectation.removeprefix("expect_column_"), s.column): s.spec[s.expectation] for s in suggestions
    }


@pytest.fixture(scope="module")
def suggested() -> list[SuggestedExpectation]:
    return suggest_expectations(mapped_sample(), IDENTITIES, TYPES)


def test_not_null_on_identities_and_on_fields_never_empty(suggested: list[SuggestedExpectation]) -> None:
    not_null = {column for kind, column in specs(suggested) if kind == "values_to_not_be_null"}
    assert not_null == {
        "crmId",
        "personalEmail.address",  # an identity, although 2 sample rows have none
        "mobilePhone.number",
        "person.firstName",
        "loyalty.tier",
        "loyalty.points",
        "commerce.totalSpent",
        "person.birthDate",
        "consents.marketing.email",
    }  # not homeAddress.city, which is empty in some rows
    email = next(s for s in suggested if s.column == "personalEmail.address")
    assert "identity (email)" in email.reason and "2 of the sample's 200 rows (1%)" in email.reason
    assert "every one of the sample's 200 rows" in specs_reason(
        suggested, "values_to_not_be_null", "loyalty.tier"
    )


def specs_reason(suggestions: list[SuggestedExpectation], kind: str, column: str) -> str:
    return next(
        s.reason for s in suggestions if s.expectation == f"expect_column_{kind}" and s.column == column
    )


def test_email_regex_on_the_email_identity(suggested: list[SuggestedExpectation]) -> None:
    found = specs(suggested)
    assert found[("values_to_match_regex", "personalEmail.address")]["regex"] == EMAIL_REGEX
    assert "1 of the sample's 198 values does not" in specs_reason(
        suggested, "values_to_match_regex", "personalEmail.address"
    )
    assert ("values_to_match_regex", "mobilePhone.number") not in found
    assert ("values_to_match_regex", "consents.marketing.email") not in found  # a flag, not an address


def test_set_membership_on_the_low_cardinality_column_only(suggested: list[SuggestedExpectation]) -> None:
    sets = {
        column: spec["value_set"]
        for (kind, column), spec in specs(suggested).items()
        if kind == "values_to_be_in_set"
    }
    assert sets == {
        "loyalty.tier": ["bronze", "gold", "silver"],
        "homeAddress.city": ["Lille", "Lyon", "Paris"],
    }
    assert "3 distinct values over the sample's 200" in specs_reason(
        suggested, "values_to_be_in_set", "loyalty.tier"
    )


def test_no_set_on_high_cardinality_text_nor_on_small_samples() -> None:
    sample = mapped_sample()
    sample["person.firstName"] = [f"Name{i % 11}" for i in range(ROWS)]  # 11 distinct values
    assert not any(
        s.column == "person.firstName" and "in_set" in s.expectation
        for s in suggest_expectations(sample, IDENTITIES, TYPES)
    )
    small = suggest_expectations(mapped_sample(49), IDENTITIES, TYPES)
    assert not any("in_set" in s.expectation for s in small)


def test_ranges_on_numeric_fields_with_a_margin(suggested: list[SuggestedExpectation]) -> None:
    sample, found = mapped_sample(), specs(suggested)
    points = found[("values_to_be_between", "loyalty.points")]
    assert points["min_value"] == 0 and isinstance(points["max_value"], int)
    assert "never below 0" in specs_reason(suggested, "values_to_be_between", "loyalty.points")
    assert sample["loyalty.points"].max() * 1.05 < points["max_value"] <= sample["loyalty.points"].max() * 1.2
    spent = found[("values_to_be_between", "commerce.totalSpent")]
    assert 0 <= spent["min_value"] < sample["commerce.totalSpent"].min()
    assert sample["commerce.totalSpent"].max() < spent["max_value"] < 300
    ranged = {column for kind, column in found if kind == "values_to_be_between"}
    assert ranged == {"loyalty.points", "commerce.totalSpent"}  # not dates, flags, ids


def test_negative_values_get_a_negative_bound() -> None:
    sample = pd.DataFrame({"balance": [-120.5, 10.0, 300.25] * 20})
    (between,) = [s for s in suggest_expectations(sample) if "between" in s.expectation]
    kwargs = between.spec[between.expectation]
    assert kwargs["min_value"] < -120.5 and kwargs["max_value"] > 300.25
    assert "from -120.5 to 300.25" in between.reason


def test_unique_on_the_primary_key_like_field_only(suggested: list[SuggestedExpectation]) -> None:
    unique = [s for s in suggested if s.expectation == "expect_column_values_to_be_unique"]
    assert [s.column for s in unique] == ["crmId"]  # phones and names are distinct too, but no key
    assert "all 200 values in the sample are distinct" in unique[0].reason
    assert not any(
        "unique" in s.expectation for s in suggest_expectations(mapped_sample(19), IDENTITIES, TYPES)
    )


def test_a_key_named_field_is_unique_without_identities_and_floats_never_are() -> None:
    sample = pd.DataFrame({"order.id": range(100), "order.total": np.linspace(1, 2, 100)})
    unique = [s.column for s in suggest_expectations(sample) if "unique" in s.expectation]
    assert unique == ["order.id"]
    sample["order.id"] = [1, *range(99)]
    assert not any("unique" in s.expectation for s in suggest_expectations(sample))


def test_emails_are_recognised_by_content_without_identities_or_types() -> None:
    sample = pd.DataFrame({"contact": [f"p{i}@shop.example" for i in range(30)] + [None]})
    found = specs(suggest_expectations(sample))
    assert ("values_to_match_regex", "contact") in found


def test_every_suggestion_parses_and_the_sample_passes_all_but_the_flagged_ones(
    suggested: list[SuggestedExpectation],
) -> None:
    suite = QualitySuite.parse([dict(s.spec) for s in suggested])
    failing = {(r.expectation, r.column) for r in suite.results(mapped_sample()) if not r.success}
    assert failing == {
        ("expect_column_values_to_not_be_null", "personalEmail.address"),
        ("expect_column_values_to_not_be_null", "mobilePhone.number"),
        ("expect_column_values_to_match_regex", "personalEmail.address"),
    }  # exactly those whose reason warns that sample rows would be quarantined
    warned = {(s.expectation, s.column) for s in suggested if "would be quarantined" in s.reason}
    assert warned == failing


def test_nothing_to_suggest_on_an_empty_sample() -> None:
    assert suggest_expectations(pd.DataFrame({"a": pd.Series([], dtype="string")})) == []
