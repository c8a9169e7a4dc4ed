"""Tests of mapping suggestions by name and content: quality on sample datasets, conflicts, conversions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from connectors.files import FilesConnector
from core.demo import write_contacts
from core.errors import ConfigurationError
from core.mapping import ATTRIBUTE_FORMATS, ProfileSchema, Suggestion, compile_mapping, suggest
from core.mapping.schema import normalise_name
from core.mapping.suggest import candidates

SCHEMA = ProfileSchema.default()
ROWS = 300


def _text(values: object) -> pd.Series:
    return pd.Series(values).astype("str")


def _frames() -> dict[str, pd.DataFrame]:
    """Three realistic samples, all text as the files connector delivers them."""
    rng = np.random.default_rng(1)
    ids = pd.Series(np.arange(1, ROWS + 1)).astype(str)
    first = pd.Series(np.array(["Anna", "Ben", "Chloé", "David", "Elena"])[rng.integers(0, 5, ROWS)])
    born = pd.Series(pd.Timestamp("1950-01-01") + pd.to_timedelta(rng.integers(0, 18000, ROWS), unit="D"))
    signed = pd.Series(pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 300, ROWS), unit="D"))
    crm_export = pd.DataFrame(
        {
            "cust_id": "C" + ids.str.zfill(6),
            "First Name": first,
            "Last Name": np.array(["Müller", "Martin", "García"])[rng.integers(0, 3, ROWS)],
            "e_mail": first.str.lower() + "." + ids + "@example.com",
            "Mobile": "+49 151 " + _text(rng.integers(1000000, 9999999, ROWS)),
            "DOB": born.dt.strftime("%d/%m/%Y"),
            "Country": np.array(["DE", "FR", "at", "CH "])[rng.integers(0, 4, ROWS)],
            "Notes": np.array(["VIP", "called back", ""])[rng.integers(0, 3, ROWS)],
        }
    )
    marketing_list = pd.DataFrame(
        {
            "EmailAddress": "user" + ids + "@mail.example.org",
            "FirstName": first,
            "opt_in": np.array(["Y", "N"])[rng.integers(0, 2, ROWS)],
            "zip": _text(rng.integers(1000, 99999, ROWS)).str.zfill(5),
            "country": np.array(["Germany", "France", "Spain", "United Kingdom"])[rng.integers(0, 4, ROWS)],
            "Campaign": np.array(["spring", "summer"])[rng.integers(0, 2, ROWS)],
            "Signup Date": signed.dt.strftime("%m/%d/%Y"),
        }
    )
    meaningless_names = pd.DataFrame(
        {
            "col1": "p" + ids + "@example.net",
            "col2": "+33 6 " + _text(rng.integers(10000000, 99999999, ROWS)),
            "col3": born.dt.strftime("%d.%m.%Y"),
            "field_4": np.array(["red", "green", "blue"])[rng.integers(0, 3, ROWS)],
            "col5": _text(rng.integers(0, 500, ROWS)),
        }
    )
    return {
        "crm_export": crm_export.astype("str"),
        "marketing_list": marketing_list.astype("str"),
        "meaningless_names": meaningless_names.astype("str"),
    }


FRAMES = _frames()
EXPECTED = {
    "crm_export": {
        ("cust_id", "crmId"),
        ("First Name", "person.firstName"),
        ("Last Name", "person.lastName"),
        ("e_mail", "personalEmail.address"),
        ("Mobile", "mobilePhone.number"),
        ("DOB", "person.birthDate"),
        ("Country", "homeAddress.countryCode"),
    },
    "marketing_list": {
        ("EmailAddress", "personalEmail.address"),
        ("FirstName", "person.firstName"),
        ("opt_in", "consents.marketing.email"),
        ("zip", "homeAddress.postalCode"),
        ("country", "homeAddress.countryCode"),
        ("Signup Date", "createdAt"),
    },
    "meaningless_names": {
        ("col1", "personalEmail.address"),
        ("col2", "mobilePhone.number"),
        ("col3", "person.birthDate"),
    },
}
DEMO_EXPECTED = {
    ("customer_id", "crmId"),
    ("first_name", "person.firstName"),
    ("last_name", "person.lastName"),
    ("email", "personalEmail.address"),
    ("phone", "mobilePhone.number"),
    ("country", "homeAddress.countryCode"),
    ("points", "loyalty.points"),
    ("tier", "loyalty.tier"),
    ("signup_date", "createdAt"),
    ("updated_at", "updatedAt"),
}


@pytest.fixture(scope="module")
def demo_sample(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """The demo CRM file, sampled through the files connector exactly as the studio gets it."""
    folder: Path = tmp_path_factory.mktemp("demo")
    write_contacts(folder / "contacts.csv")
    return FilesConnector({"url": str(folder)}).sample("contacts.csv", 1000)


def _pairs(suggestions: list[Suggestion], above: float = 0.0) -> set[tuple[str, str]]:
    return {(s.column, s.attribute) for s in suggestions if s.confidence > above}


def _check_quality(suggestions: list[Suggestion], expected: set[tuple[str, str]]) -> None:
    """Every expected pair is suggested (recall 1) and nothing wrong is suggested with confidence > 0.5."""
    assert expected - _pairs(suggestions) == set()
    assert _pairs(suggestions, above=0.5) - expected == set()


# --- quality on sample datasets -------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(FRAMES))
def test_suggestions_find_the_expected_mapping(name: str) -> None:
    _check_quality(suggest(FRAMES[name], SCHEMA), EXPECTED[name])


def test_suggestions_for_the_demo_crm_file(demo_sample: pd.DataFrame) -> None:
    suggestions = suggest(demo_sample, SCHEMA)
    _check_quality(suggestions, DEMO_EXPECTED)
    assert not any(s.column.startswith("_tributary_") for s in suggestions)
    # Its dirt (a few non-emails, 'n/a' points) costs a little confidence, not the pair.
    by_column = {s.column: s for s in suggestions}
    assert 0.9 < by_column["email"].confidence < 0.95
    assert "99% of values look like email addresses" in by_column["email"].reason


def test_the_demo_mapping_from_suggestions_runs_with_only_the_files_dirt(demo_sample: pd.DataFrame) -> None:
    mapping = {s.attribute: s.expression for s in suggest(demo_sample, SCHEMA)}
    result = compile_mapping(mapping, SCHEMA, list(demo_sample.columns)).apply(demo_sample)
    assert set(result.errors["field"]) == {"loyalty.points"}  # the demo's 'n/a' points
    assert len(result.errors) < 0.01 * len(demo_sample)


@pytest.mark.parametrize("name", sorted(FRAMES))
def test_every_candidate_has_a_confidence_a_reason_and_its_identity(name: str) -> None:
    for suggestion in candidates(FRAMES[name], SCHEMA):
        assert 0.0 <= suggestion.confidence <= 1.0
        assert suggestion.reason
        assert suggestion.identity == SCHEMA.get(suggestion.attribute).identity


def test_identities_carry_their_namespace() -> None:
    identities = {s.attribute: s.identity for s in suggest(FRAMES["crm_export"], SCHEMA)}
    assert identities["crmId"] == "crm_id"
    assert identities["personalEmail.address"] == "email"
    assert identities["mobilePhone.number"] == "phone"
    assert identities["person.firstName"] is None


def test_reasons_say_which_alias_and_how_many_values() -> None:
    by_column = {s.column: s for s in suggest(FRAMES["crm_export"], SCHEMA)}
    assert (
        by_column["e_mail"].reason == "name matches alias 'e_mail'; 100% of values look like email addresses"
    )
    assert by_column["cust_id"].reason == "name matches alias 'cust_id'"
    assert by_column["Country"].reason.endswith("100% of values are ISO country codes")


def test_suggestions_follow_the_sample_column_order() -> None:
    frame = FRAMES["crm_export"]
    columns = [s.column for s in suggest(frame, SCHEMA)]
    assert columns == [c for c in frame.columns if c in set(columns)]


# --- names ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "target"),
    [
        ("EmailAddr", "personalEmail.address"),
        ("emial", "personalEmail.address"),
        ("phonenumbr", "mobilePhone.number"),
        ("customer_email_addr", "personalEmail.address"),
    ],
)
def test_near_names_are_suggested_with_less_confidence(column: str, target: str) -> None:
    (suggestion,) = suggest(pd.DataFrame({column: pd.Series([], dtype="str")}), SCHEMA)
    assert suggestion.attribute == target
    assert 0.5 <= suggestion.confidence < 0.85
    assert suggestion.reason.startswith("name resembles")


def test_the_attribute_path_beats_an_alias() -> None:
    (suggestion,) = suggest(pd.DataFrame({"personalEmail.address": ["a@b.com"]}), SCHEMA)
    assert (suggestion.attribute, suggestion.confidence) == ("personalEmail.address", 1.0)


def test_unrelated_names_with_unremarkable_values_get_nothing() -> None:
    frame = pd.DataFrame({"favourite_colour": ["red", "blue"], "col9": ["x", "y"], "Notes": ["a", "b"]})
    assert suggest(frame, SCHEMA) == []


def test_aliases_point_at_one_attribute_each() -> None:
    owners: dict[str, set[str]] = {}
    for attribute in SCHEMA:
        for name in (attribute.path, *attribute.aliases):
            owners.setdefault(normalise_name(name), set()).add(attribute.path)
    assert {name: paths for name, paths in owners.items() if len(paths) > 1} == {}


@pytest.mark.parametrize(
    ("column", "target"),
    [
        ("e_mail", "personalEmail.address"),
        ("email_address", "personalEmail.address"),
        ("mail", "personalEmail.address"),
        ("mobile", "mobilePhone.number"),
        ("cell", "mobilePhone.number"),
        ("msisdn", "mobilePhone.number"),
        ("phone_number", "mobilePhone.number"),
        ("tel", "mobilePhone.number"),
        ("dob", "person.birthDate"),
        ("birth_date", "person.birthDate"),
        ("birthday", "person.birthDate"),
        ("zip", "homeAddress.postalCode"),
        ("postcode", "homeAddress.postalCode"),
        ("postal_code", "homeAddress.postalCode"),
        ("country_code", "homeAddress.countryCode"),
        ("fname", "person.firstName"),
        ("given_name", "person.firstName"),
        ("lname", "person.lastName"),
        ("surname", "person.lastName"),
        ("family_name", "person.lastName"),
        ("CRM ID", "crmId"),
        ("customer_id", "crmId"),
    ],
)
def test_synonyms(column: str, target: str) -> None:
    assert SCHEMA.match_name(column)[target].score == 0.9


# --- conflicts and contradictions -----------------------------------------------------------------


def test_each_column_and_each_attribute_is_used_once_the_most_confident_winning() -> None:
    frame = pd.DataFrame(
        {
            "email": ["n/a", "unknown", "-"],  # named right, holds no emails
            "e_mail": ["a@x.com", "b@x.com", "c@x.com"],
            "customer_email": ["d@x.com", "e@x.com", "f@x.com"],
        }
    )
    suggestions = suggest(frame, SCHEMA)
    email = [s for s in suggestions if s.attribute == "personalEmail.address"]
    assert [s.column for s in email] == ["e_mail"]
    assert len({s.column for s in suggestions}) == len(suggestions)
    assert len({s.attribute for s in suggestions}) == len(suggestions)
    # The runner-ups stay available to the UI.
    assert ("email", "personalEmail.address") in _pairs(candidates(frame, SCHEMA))


def test_ties_go_to_the_earlier_column() -> None:
    frame = pd.DataFrame({"mobile": ["+44 7700 900123"], "phone": ["+44 7700 900456"]})
    by_column = {s.column: s for s in suggest(frame, SCHEMA)}
    assert by_column["mobile"].attribute == "mobilePhone.number"
    # The other phone is left the next phone attribute, on its values alone.
    assert (by_column["phone"].attribute, by_column["phone"].confidence) == ("homePhone.number", 0.44)


def test_content_that_contradicts_the_name_lowers_the_confidence() -> None:
    agreeing = suggest(pd.DataFrame({"email": ["a@x.com", "b@x.com"]}), SCHEMA)[0]
    contradicting = candidates(pd.DataFrame({"email": ["+44 7700 900123", "+44 7700 900456"]}), SCHEMA)
    by_attribute = {s.attribute: s for s in contradicting}
    assert agreeing.confidence > 0.9
    assert by_attribute["personalEmail.address"].confidence < 0.5
    assert "but only 0% of values look like email addresses" in by_attribute["personalEmail.address"].reason
    # What the values do look like is suggested from them alone.
    assert by_attribute["mobilePhone.number"].reason == "100% of values look like phone numbers"


def test_a_text_attribute_holding_emails_is_contradicted() -> None:
    frame = pd.DataFrame({"name": ["a@x.com", "b@x.com"]})
    by_attribute = {s.attribute: s for s in candidates(frame, SCHEMA)}
    assert by_attribute["person.fullName"].confidence < 0.5
    assert [s.attribute for s in suggest(frame, SCHEMA)] == ["personalEmail.address"]


def test_an_unhelpfully_named_column_of_emails_gets_a_moderate_content_only_suggestion() -> None:
    values = [f"user{i}@example.com" for i in range(95)] + ["n/a"] * 5
    (suggestion,) = suggest(pd.DataFrame({"col7": values}), SCHEMA)
    assert suggestion.attribute == "personalEmail.address"
    assert 0.5 < suggestion.confidence < 0.7
    assert suggestion.reason == "95% of values look like email addresses"


def test_content_alone_needs_most_values_to_agree() -> None:
    values = [f"user{i}@example.com" for i in range(60)] + ["n/a"] * 40
    assert suggest(pd.DataFrame({"field_3": values}), SCHEMA) == []


# --- expressions ----------------------------------------------------------------------------------


def test_a_day_first_text_date_gets_a_to_date_that_compiles_and_converts_the_sample() -> None:
    frame = FRAMES["crm_export"]
    (dob,) = [s for s in suggest(frame, SCHEMA) if s.column == "DOB"]
    assert dob.expression == "to_date(DOB, '%d/%m/%Y')"
    assert "dates written like 31/12/1990" in dob.reason
    result = compile_mapping({dob.attribute: dob.expression}, SCHEMA, list(frame.columns)).apply(frame)
    assert result.errors.empty
    expected = pd.to_datetime(frame["DOB"], format="%d/%m/%Y")
    assert (result.frame["person.birthDate"] == expected).all()


@pytest.mark.parametrize("name", sorted(FRAMES))
def test_the_suggested_mapping_compiles_and_converts_every_row(name: str) -> None:
    frame = FRAMES[name]
    mapping = {s.attribute: s.expression for s in suggest(frame, SCHEMA)}
    result = compile_mapping(mapping, SCHEMA, list(frame.columns)).apply(frame)
    assert result.errors.empty
    assert result.frame.notna().all().all()


@pytest.mark.parametrize(
    ("values", "expression"),
    [
        (["12/31/1990", "01/02/1985"], "to_date(`Date of Birth`, '%m/%d/%Y')"),  # a day above 12 second
        (["31.12.90", "01.02.85"], "to_date(`Date of Birth`, '%d.%m.%y')"),
        (["01/02/1990", "03/04/1985"], "to_date(`Date of Birth`, '%d/%m/%Y')"),  # cannot tell: day first
        (["1990-12-31", "1985-02-01"], "Date of Birth"),  # ISO: read as it is
    ],
)
def test_date_formats(values: list[str], expression: str) -> None:
    frame = pd.DataFrame({"Date of Birth": values})
    (suggestion,) = suggest(frame, SCHEMA)
    assert suggestion.expression == expression
    result = compile_mapping({suggestion.attribute: expression}, SCHEMA, ["Date of Birth"]).apply(frame)
    assert result.errors.empty


def test_timestamps_with_a_time_and_unix_times_get_their_conversion() -> None:
    frame = pd.DataFrame(
        {
            "created_at": ["31/12/2024 23:59", "01/02/2025 08:00"],
            "updated_at": pd.array([1_700_000_000, 1_700_086_400], dtype="Int64"),
        }
    )
    expressions = {s.attribute: s.expression for s in suggest(frame, SCHEMA)}
    assert expressions == {
        "createdAt": "to_timestamp(created_at, '%d/%m/%Y %H:%M')",
        "updatedAt": "to_timestamp(updated_at, 'unix')",
    }
    result = compile_mapping(expressions, SCHEMA, list(frame.columns)).apply(frame)
    assert result.errors.empty
    assert str(result.frame["createdAt"].iloc[0]) == "2024-12-31 23:59:00+00:00"


def test_typed_columns_are_judged_by_their_values() -> None:
    frame = pd.DataFrame(
        {
            "points": pd.array([10, 20], dtype="Int64"),
            "opt_in": [True, False],
            "birthday": pd.to_datetime(["1980-01-01", "1990-06-30"]),
            "total_spent": [10.5, 3.25],
        }
    )
    suggestions = suggest(frame, SCHEMA)
    assert [s.expression for s in suggestions] == list(frame.columns)
    assert all(s.confidence == 0.95 for s in suggestions)


def test_empty_and_all_null_columns_rely_on_the_name() -> None:
    frame = pd.DataFrame({"email": [None, None], "col1": [None, None]})
    assert suggest(frame, SCHEMA) == [
        Suggestion("personalEmail.address", "email", "email", 0.9, "name matches alias 'email'", "email")
    ]
    assert suggest(pd.DataFrame(), SCHEMA) == []


# --- the schema's formats -------------------------------------------------------------------------


def test_formats_are_declared_in_the_schema_and_checked() -> None:
    formats = {a.path: a.format for a in SCHEMA if a.format}
    assert formats["personalEmail.address"] == "email"
    assert set(formats.values()) == set(ATTRIBUTE_FORMATS)
    extended = SCHEMA.extend({"contact.fax": {"type": "string", "format": "phone", "aliases": ["fax"]}})
    assert extended.get("contact.fax").format == "phone"
    with pytest.raises(ConfigurationError, match="unknown format 'fax'"):
        SCHEMA.extend({"contact.fax": {"type": "string", "format": "fax"}})


def test_a_conversion_of_a_column_named_like_a_keyword_still_compiles():
    from core.mapping import compile_expression
    from core.mapping.suggest import _expression

    for column in ["in", "Not", "Date of birth", "a`b", "null"]:
        expression = _expression(column, "to_date({}, '%d/%m/%Y')")
        assert compile_expression(expression).columns == frozenset({column})


def test_a_standard_object_mapping_from_the_connector_comes_first_and_is_checked_against_values() -> None:
    from core.mapping.suggest import StandardMapping

    sample = pd.DataFrame(
        {
            "Id": ["0035e00000A1", "0035e00000A2"],
            "FirstName": ["Ann", "Bob"],
            "Email": ["ann@example.com", "bob@example.com"],
            "SystemModstamp": ["2026-01-01T10:00:00.000+0000", "2026-01-02T11:00:00.000+0000"],
            "Id2": ["x", "y"],
        }
    )
    standard = StandardMapping.from_metadata(
        {
            "suggested_mapping": {
                "crmId": "Id",
                "person.firstName": "FirstName",
                "personalEmail.address": "Email",
                "updatedAt": "SystemModstamp",
                "mobilePhone.number": "MobilePhone",  # not in this sample: skipped
            },
            "suggested_identities": {"crm_id": "crmId", "email": "personalEmail.address"},
        },
        "Salesforce Contact",
    )
    assert standard is not None
    found = {s.attribute: s for s in suggest(sample, ProfileSchema.default(), standard)}
    assert found["crmId"].column == "Id" and found["crmId"].identity == "crm_id"
    assert "standard mapping of Salesforce Contact" in found["crmId"].reason
    assert found["crmId"].confidence >= 0.9
    assert found["updatedAt"].column == "SystemModstamp"
    assert "ISO 8601" in found["updatedAt"].reason  # the values were checked too
    assert "mobilePhone.number" not in found
    without = {s.attribute: s.column for s in suggest(sample, ProfileSchema.default())}
    assert without.get("crmId") != "Id"  # the name alone would not have said it
    assert StandardMapping.from_metadata({}, "x") is None


def test_a_standard_mapping_may_be_an_expression_over_sample_columns() -> None:
    from core.mapping.suggest import StandardMapping

    sample = pd.DataFrame(
        {"post_visid_high": ["1", "2"], "post_visid_low": ["7", "8"], "mcvisid": ["a", "b"]}
    )
    visitor = "concat(post_visid_high, '_', post_visid_low)"
    standard = StandardMapping(
        {"analyticsVisitorId": visitor, "ecid": "mcvisid", "crmId": "concat(evar9, '')"},
        {},
        "Adobe Analytics",
    )
    found = {s.attribute: s for s in suggest(sample, ProfileSchema.default(), standard)}
    assert found["analyticsVisitorId"].expression == visitor
    assert found["analyticsVisitorId"].column == "post_visid_high"
    assert found["ecid"].column == "mcvisid"
    assert "crmId" not in found  # evar9 is not in the sample
