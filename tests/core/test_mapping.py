"""Tests of the profile schema, compile_mapping / apply, type coercion and suggest_mapping."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from core.errors import ConfigurationError
from core.mapping import (
    ATTRIBUTE_TYPES,
    ERROR_COLUMNS,
    Attribute,
    MappingError,
    MappingResult,
    ProfileSchema,
    check_columns,
    compile_mapping,
    suggest_mapping,
)

SCHEMA = ProfileSchema.default()


def mapped(mapping: dict[str, str], chunk: pd.DataFrame, schema: ProfileSchema = SCHEMA) -> MappingResult:
    """Compiles against the chunk's columns and applies."""
    return compile_mapping(mapping, schema, list(chunk.columns)).apply(chunk)


def as_list(series: pd.Series) -> list:
    """Values with NA as None."""
    return [None if pd.isna(v) else v for v in series.tolist()]


# --- schema ---------------------------------------------------------------------------------------

REQUIRED = {
    "crmId": "string",
    "loyaltyId": "string",
    "person.firstName": "string",
    "person.lastName": "string",
    "person.birthDate": "date",
    "person.gender": "string",
    "personalEmail.address": "string",
    "mobilePhone.number": "string",
    "homePhone.number": "string",
    "homeAddress.street1": "string",
    "homeAddress.city": "string",
    "homeAddress.postalCode": "string",
    "homeAddress.countryCode": "string",
    "homeAddress.region": "string",
    "loyalty.points": "integer",
    "loyalty.tier": "string",
    "loyalty.joinedAt": "date",
    "commerce.lastPurchaseAt": "timestamp",
    "commerce.totalSpent": "number",
    "commerce.orderCount": "integer",
    "consents.marketing.email": "boolean",
    "order.id": "string",
    "order.total": "number",
    "order.currency": "string",
    "order.placedAt": "timestamp",
    "order.status": "string",
}


def test_default_schema_has_the_required_attributes_and_types() -> None:
    for path, type_ in REQUIRED.items():
        assert path in SCHEMA
        assert SCHEMA.get(path).type == type_, path
    assert len(SCHEMA) > len(REQUIRED)
    assert all(a.description for a in SCHEMA.attributes)
    assert {a.type for a in SCHEMA.attributes} == set(ATTRIBUTE_TYPES)


def test_default_schema_marks_identities() -> None:
    identities = {a.path: a.identity for a in SCHEMA.attributes if a.identity}
    assert identities["crmId"] == "crm_id"
    assert identities["personalEmail.address"] == "email"
    assert identities["mobilePhone.number"] == "phone"
    assert SCHEMA.get("person.firstName").identity is None


def test_default_schema_is_loaded_once() -> None:
    assert ProfileSchema.default() is ProfileSchema.default()
    assert isinstance(SCHEMA.attributes, tuple)
    assert "nope" not in SCHEMA and 42 not in SCHEMA


def test_unknown_attribute_suggests_close_matches() -> None:
    with pytest.raises(ConfigurationError) as caught:
        SCHEMA.get("loyalty.point")
    assert caught.value.user_message == "unknown attribute 'loyalty.point'; did you mean 'loyalty.points'?"


def test_unknown_attribute_finds_a_leaf_or_alias() -> None:
    with pytest.raises(ConfigurationError, match=r"did you mean 'person\.firstName'"):
        SCHEMA.get("firstName")
    with pytest.raises(ConfigurationError, match=r"did you mean 'personalEmail\.address'"):
        SCHEMA.get("email")


def test_unknown_attribute_without_a_match_says_how_to_add_it() -> None:
    with pytest.raises(ConfigurationError, match=r"unknown attribute 'zzz' .*add it as an extra attribute"):
        SCHEMA.get("zzz")


def test_extend_adds_user_attributes_without_changing_the_original() -> None:
    extended = SCHEMA.extend(
        {
            "loyalty.referrals": "integer",
            "preferences.store": {"type": "string", "description": "Favourite store", "aliases": ["store"]},
            "crmId": {"type": "string", "description": "Salesforce contact id"},
        }
    )
    assert extended.get("loyalty.referrals") == Attribute("loyalty.referrals", "integer")
    assert extended.get("preferences.store").description == "Favourite store"
    # Restating an attribute keeps what was not restated.
    assert extended.get("crmId").description == "Salesforce contact id"
    assert extended.get("crmId").identity == "crm_id"
    assert "loyalty.referrals" not in SCHEMA
    assert len(extended) == len(SCHEMA) + 2


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"loyalty.points": "string"}, "already exists with type 'integer'"),
        ({"a.b": "text"}, "unknown type 'text'"),
        ({"a.b": {"description": "x"}}, "missing 'type'"),
        ({"a.b": {"type": "string", "colour": "red"}}, "unknown key(s) colour"),
        ({"a.b": 5}, "expected a type name or a mapping"),
        ({"person": "string"}, "'person' clashes with 'person.firstName'"),
        ({"crmId.extra": "string"}, "'crmId' clashes with 'crmId.extra'"),
        ({"a.b": {"type": "string", "aliases": "b"}}, "'aliases' must be a list"),
    ],
)
def test_extend_rejects_bad_attributes(extra: dict, message: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        SCHEMA.extend(extra)
    assert message in caught.value.user_message


@pytest.mark.parametrize("path", ["", "a..b", ".a", "a.", "1abc", "a.1b", "first name", "a-b", "a.b c"])
def test_attribute_paths_must_be_dotted_identifiers(path: str) -> None:
    with pytest.raises(ConfigurationError, match="invalid attribute path"):
        Attribute(path, "string")


@pytest.mark.parametrize("path", ["a", "_a", "a1.b_2", "consents.marketing.email"])
def test_valid_attribute_paths(path: str) -> None:
    assert Attribute(path, "string").path == path


def test_schema_from_mapping_needs_attributes() -> None:
    with pytest.raises(ConfigurationError, match="non-empty 'attributes'"):
        ProfileSchema.from_mapping({"attributes": {}})
    schema = ProfileSchema.from_mapping({"attributes": {"x": "integer"}})
    assert schema.paths == ("x",)


# --- compile_mapping ------------------------------------------------------------------------------


def test_unknown_target_attribute_is_named() -> None:
    with pytest.raises(ConfigurationError) as caught:
        compile_mapping({"loyalty.point": "points"}, SCHEMA, ["points"])
    assert caught.value.user_message == (
        "mapping for 'loyalty.point': unknown attribute 'loyalty.point'; did you mean 'loyalty.points'?"
    )


def test_expression_error_names_the_target_and_the_position() -> None:
    with pytest.raises(MappingError) as caught:
        compile_mapping({"personalEmail.address": "lower(trim(email)"}, SCHEMA, ["email"])
    assert caught.value.user_message == (
        "mapping for 'personalEmail.address': lower(trim(email) at character 18: expected ')'"
    )
    assert (caught.value.target, caught.value.position, caught.value.code) == (
        "personalEmail.address",
        18,
        "expression",
    )
    assert isinstance(caught.value, ConfigurationError)


def test_unknown_source_column_is_named_with_the_available_ones() -> None:
    with pytest.raises(ConfigurationError) as caught:
        compile_mapping({"loyalty.points": "to_int(pionts)"}, SCHEMA, ["points", "tier"])
    assert caught.value.user_message == (
        "mapping for 'loyalty.points': to_int(pionts) at character 8: unknown column 'pionts' "
        "(did you mean 'points'?); available columns: points, tier"
    )


@pytest.mark.parametrize("value", ["", "   ", None, 5])
def test_mapping_values_must_be_text(value: object) -> None:
    with pytest.raises(ConfigurationError, match="mapping for 'crmId': expected a source column name"):
        compile_mapping({"crmId": value}, SCHEMA, ["id"])  # type: ignore[dict-item]


def test_empty_mapping_is_rejected() -> None:
    with pytest.raises(ConfigurationError, match="at least one"):
        compile_mapping({}, SCHEMA)


def test_plain_column_names_match_exactly_even_with_spaces_and_dots() -> None:
    chunk = pd.DataFrame({"First Name": ["Ann"], "address.city": ["Leeds"], "if": ["x"], "a-b": ["y"]})
    compiled = compile_mapping(
        {
            "person.firstName": "First Name",
            "homeAddress.city": "address.city",
            "loyalty.tier": "if",
            "order.status": "a-b",
        },
        SCHEMA,
        list(chunk.columns),
    )
    assert compiled.source_columns == frozenset({"First Name", "address.city", "if", "a-b"})
    result = compiled.apply(chunk)
    assert result.frame.iloc[0].tolist() == ["Ann", "Leeds", "x", "y"]


def test_targets_and_source_columns() -> None:
    compiled = compile_mapping(
        {"person.fullName": "concat(first, ' ', `last name`)", "crmId": "id", "loyalty.tier": "'gold'"},
        SCHEMA,
        ["first", "last name", "id"],
    )
    assert compiled.targets == ("person.fullName", "crmId", "loyalty.tier")
    assert compiled.source_columns == frozenset({"first", "last name", "id"})


def test_without_source_columns_missing_columns_fail_on_apply_naming_the_target() -> None:
    compiled = compile_mapping({"crmId": "customer_id"}, SCHEMA)
    with pytest.raises(ConfigurationError) as caught:
        compiled.apply(pd.DataFrame({"customer": ["1"]}))
    assert caught.value.user_message.startswith(
        "mapping for 'crmId': customer_id at character 1: unknown column"
    )
    with pytest.raises(ConfigurationError, match="mapping for 'crmId': unknown column 'customer_id'"):
        check_columns(compiled, ["customer"])
    check_columns(compiled, ["customer_id"])  # no error


# --- apply: coercion ------------------------------------------------------------------------------

CHUNK = pd.DataFrame(
    {
        "name": ["Ann", "  ", "", None, "Bob "],
        "points": ["10", "abc", "3.5", None, " 7 "],
        "spent": ["1.5", "2", "x", "", "-3e2"],
        "opt": ["yes", "N", "maybe", None, "TRUE"],
        "dob": ["1990-01-05", "05/06/1991", "31/02/1990", None, "not a date"],
        "seen": ["2024-01-05T10:00:00+02:00", "2024-01-05 10:00", "nope", None, "Jan 6 2024 3:30pm"],
    },
    index=[100, 101, 102, 103, 104],
)
CHUNK_MAPPING = {
    "person.firstName": "name",
    "loyalty.points": "points",
    "commerce.totalSpent": "spent",
    "consents.marketing.email": "opt",
    "person.birthDate": "dob",
    "commerce.lastPurchaseAt": "seen",
}


def test_frame_has_one_column_per_target_in_the_target_dtype() -> None:
    frame = mapped(CHUNK_MAPPING, CHUNK).frame
    assert list(frame.columns) == list(CHUNK_MAPPING)
    assert frame.index.equals(CHUNK.index)
    dtypes = {column: str(dtype) for column, dtype in frame.dtypes.items()}
    assert dtypes == {
        "person.firstName": "string",
        "loyalty.points": "Int64",
        "commerce.totalSpent": "Float64",
        "consents.marketing.email": "boolean",
        "person.birthDate": "datetime64[s]",
        "commerce.lastPurchaseAt": "datetime64[us, UTC]",
    }


def test_strings_keep_their_text_and_blanks_become_null() -> None:
    frame = mapped(CHUNK_MAPPING, CHUNK).frame
    assert as_list(frame["person.firstName"]) == ["Ann", None, None, None, "Bob "]


def test_integers_numbers_and_booleans_are_coerced() -> None:
    frame = mapped(CHUNK_MAPPING, CHUNK).frame
    assert as_list(frame["loyalty.points"]) == [10, None, None, None, 7]
    assert as_list(frame["commerce.totalSpent"]) == [1.5, 2.0, None, None, -300.0]
    assert as_list(frame["consents.marketing.email"]) == [True, False, None, None, True]


def test_dates_are_normalised_and_timestamps_are_utc() -> None:
    frame = mapped(CHUNK_MAPPING, CHUNK).frame
    assert as_list(frame["person.birthDate"]) == [
        pd.Timestamp("1990-01-05"),
        pd.Timestamp("1991-05-06"),
        None,
        None,
        None,
    ]
    assert as_list(frame["commerce.lastPurchaseAt"]) == [
        pd.Timestamp("2024-01-05T08:00:00Z"),
        pd.Timestamp("2024-01-05T10:00:00Z"),
        None,
        None,
        pd.Timestamp("2024-01-06T15:30:00Z"),
    ]


def test_values_that_do_not_fit_the_type_are_reported_with_their_row() -> None:
    errors = mapped(CHUNK_MAPPING, CHUNK).errors
    assert list(errors.columns) == list(ERROR_COLUMNS)
    assert set(errors["code"]) == {"type_error"}
    assert list(zip(errors["row"], errors["field"], errors["reason"], strict=True)) == [
        (101, "loyalty.points", "loyalty.points: 'abc' is not an integer"),
        (102, "loyalty.points", "loyalty.points: '3.5' is not an integer"),
        (102, "commerce.totalSpent", "commerce.totalSpent: 'x' is not a number"),
        (
            102,
            "consents.marketing.email",
            "consents.marketing.email: 'maybe' is not a boolean (expected true/false, yes/no, y/n or 1/0)",
        ),
        (102, "person.birthDate", "person.birthDate: '31/02/1990' is not a date"),
        (102, "commerce.lastPurchaseAt", "commerce.lastPurchaseAt: 'nope' is not a timestamp"),
        (104, "person.birthDate", "person.birthDate: 'not a date' is not a date"),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("true", True), ("FALSE", False), ("Yes", True), ("no", False), ("y", True), ("N", False),
        ("1", True), ("0", False), (" yes ", True),
    ],
)  # fmt: skip
def test_boolean_words(text: str, expected: bool) -> None:
    result = mapped({"consents.marketing.sms": "v"}, pd.DataFrame({"v": [text]}))
    assert result.frame["consents.marketing.sms"].tolist() == [expected]
    assert result.errors.empty


def test_typed_source_columns_are_converted_too() -> None:
    chunk = pd.DataFrame(
        {
            "n": [1, 2, 3],
            "f": [1.0, 2.5, np.nan],
            "b": [True, False, True],
            "ts": pd.to_datetime(["2024-01-05 23:00", "2024-01-06 00:00", None]),
        }
    )
    result = mapped(
        {
            "commerce.orderCount": "f",
            "commerce.totalSpent": "n",
            "consents.marketing.email": "n",
            "loyalty.tier": "b",
            "loyalty.joinedAt": "ts",
            "order.placedAt": "ts",
        },
        chunk,
    )
    frame = result.frame
    assert as_list(frame["commerce.orderCount"]) == [1, None, None]
    assert as_list(frame["commerce.totalSpent"]) == [1.0, 2.0, 3.0]
    assert as_list(frame["consents.marketing.email"]) == [True, None, None]
    assert as_list(frame["loyalty.tier"]) == ["true", "false", "true"]
    assert as_list(frame["loyalty.joinedAt"]) == [
        pd.Timestamp("2024-01-05"),
        pd.Timestamp("2024-01-06"),
        None,
    ]
    assert frame["order.placedAt"].iloc[0] == pd.Timestamp("2024-01-05T23:00Z")
    assert as_list(result.errors["row"]) == [1, 1, 2]
    assert as_list(result.errors["field"]) == [
        "commerce.orderCount",
        "consents.marketing.email",
        "consents.marketing.email",
    ]


def test_expression_failures_are_expression_errors() -> None:
    chunk = pd.DataFrame({"total": ["10", "5", "x"], "count": ["2", "0", "1"]}, index=["a", "b", "c"])
    result = mapped({"commerce.averageOrderValue": "to_float(total) / to_int(count)"}, chunk)
    assert as_list(result.frame["commerce.averageOrderValue"]) == [5.0, None, None]
    assert result.errors.to_dict("records") == [
        {
            "row": "b",
            "field": "commerce.averageOrderValue",
            "code": "expression_error",
            "reason": "commerce.averageOrderValue: division by zero",
        },
        {
            "row": "c",
            "field": "commerce.averageOrderValue",
            "code": "expression_error",
            "reason": "commerce.averageOrderValue: to_float: 'x' is not a number",
        },
    ]


def test_expression_results_are_coerced_to_the_target_type() -> None:
    chunk = pd.DataFrame({"a": ["3", "4"], "b": ["x", "2.5"]})
    result = mapped({"loyalty.points": "to_float(a) * 1.5", "order.total": "concat(a, '.', a)"}, chunk)
    assert as_list(result.frame["order.total"]) == [3.3, 4.4]
    assert as_list(result.frame["loyalty.points"]) == [None, 6]
    assert result.errors.to_dict("records") == [
        {
            "row": 0,
            "field": "loyalty.points",
            "code": "type_error",
            "reason": "loyalty.points: '4.5' is not an integer",
        }
    ]


def test_long_bad_values_are_cut_in_reasons() -> None:
    result = mapped({"loyalty.points": "v"}, pd.DataFrame({"v": ["9" * 30 + "x" * 100]}))
    reason = result.errors["reason"].iloc[0]
    assert reason == "loyalty.points: '" + "9" * 30 + "x" * 27 + "...' is not an integer"


def test_clean_chunk_has_an_empty_errors_frame_with_the_columns() -> None:
    result = mapped({"crmId": "id", "loyalty.points": "n"}, pd.DataFrame({"id": ["a"], "n": ["1"]}))
    assert result.errors.empty
    assert list(result.errors.columns) == list(ERROR_COLUMNS)
    assert as_list(result.frame["loyalty.points"]) == [1]


def test_duplicate_index_labels_are_kept() -> None:
    chunk = pd.DataFrame({"n": ["1", "x", "3"]}, index=[7, 7, 8])
    result = mapped({"loyalty.points": "n"}, chunk)
    assert list(result.frame.index) == [7, 7, 8]
    assert as_list(result.frame["loyalty.points"]) == [1, None, 3]
    assert as_list(result.errors["row"]) == [7]


# --- suggest_mapping ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "target"),
    [
        ("email", "personalEmail.address"),
        ("E-mail", "personalEmail.address"),
        ("Email Address", "personalEmail.address"),
        ("customer_email", "personalEmail.address"),
        ("first_name", "person.firstName"),
        ("FirstName", "person.firstName"),
        ("given_name", "person.firstName"),
        ("phone", "mobilePhone.number"),
        ("Mobile", "mobilePhone.number"),
        ("customer_id", "crmId"),
        ("CRM ID", "crmId"),
        ("zip", "homeAddress.postalCode"),
        ("postal_code", "homeAddress.postalCode"),
        ("country", "homeAddress.countryCode"),
        ("points", "loyalty.points"),
        ("tier", "loyalty.tier"),
        ("personalEmail.address", "personalEmail.address"),
        ("date_of_birth", "person.birthDate"),
    ],
)
def test_suggest_mapping_recognises_common_names(column: str, target: str) -> None:
    assert suggest_mapping([column], SCHEMA) == {target: column}


def test_suggest_mapping_uses_each_attribute_once_and_skips_unknown_columns() -> None:
    columns = ["Customer ID", "email", "e_mail", "favourite_colour", "zip", "mobile", "phone"]
    assert suggest_mapping(columns, SCHEMA) == {
        "crmId": "Customer ID",
        "personalEmail.address": "email",
        "homeAddress.postalCode": "zip",
        "mobilePhone.number": "mobile",
    }


def test_suggestions_compile_against_the_source_columns() -> None:
    columns = ["Customer ID", "First Name", "points"]
    suggestion = suggest_mapping(columns)
    compiled = compile_mapping(suggestion, SCHEMA, columns)
    assert compiled.targets == ("crmId", "person.firstName", "loyalty.points")


def test_suggest_mapping_knows_extended_attributes() -> None:
    schema = SCHEMA.extend({"preferences.store": {"type": "string", "aliases": ["fav_store"]}})
    assert suggest_mapping(["Fav Store", "preferences_store"], schema) == {"preferences.store": "Fav Store"}


# --- volume ---------------------------------------------------------------------------------------


def _column(vocabulary: list[str], picks: np.ndarray) -> pd.Series:
    """A million-row text column drawn from a small vocabulary; formatting each row would be slow."""
    return pd.Series(vocabulary, dtype="str").take(picks).reset_index(drop=True)


@pytest.mark.slow  # about 1-2 s on a quiet laptop, mostly pandas/pyarrow parsing
def test_a_million_rows_map_eight_fields() -> None:
    n = 1_000_000
    rng = np.random.default_rng(7)
    picks = rng.integers(0, 1000, n)
    days = pd.date_range("2000-01-01", periods=1000, freq="D")
    chunk = pd.DataFrame(
        {
            "customer_id": pd.Series(np.arange(n)).astype("str"),
            "first_name": _column(["", " Ann ", "Bob", "Chloé "], picks % 4),
            "email": _column([f"User{i}@Example.COM" for i in range(1000)], picks),
            "points": _column([str(i * 7) for i in range(999)] + ["oops"], picks),
            "opt_in": _column(["yes", "no", "Y", "false"], picks % 4),
            "joined": _column([d.strftime("%Y-%m-%d") for d in days], picks),
            "spent": _column([f"{i * 1.25:.2f}" for i in range(1000)], picks),
            "last": _column([d.strftime("%Y-%m-%dT%H:%M:%SZ") for d in days + pd.Timedelta("90min")], picks),
        }
    )
    compiled = compile_mapping(
        {
            "crmId": "customer_id",
            "person.firstName": "trim(first_name)",
            "personalEmail.address": "lower(trim(email))",
            "loyalty.points": "points",
            "consents.marketing.email": "opt_in",
            "loyalty.joinedAt": "joined",
            "commerce.totalSpent": "to_float(spent) * 2",
            "commerce.lastPurchaseAt": "last",
        },
        SCHEMA,
        list(chunk.columns),
    )
    started = time.perf_counter()
    result = compiled.apply(chunk)
    elapsed = time.perf_counter() - started
    frame = result.frame
    assert frame.shape == (n, 8)
    bad = np.flatnonzero(picks == 999)
    assert result.errors["row"].tolist() == bad.tolist()
    assert set(result.errors["reason"]) == {"loyalty.points: 'oops' is not an integer"}
    first = bad[0]
    assert frame["personalEmail.address"].iloc[first] == "user999@example.com"
    assert frame["person.firstName"].isna().sum() == (picks % 4 == 0).sum()
    assert frame["consents.marketing.email"].sum() == np.isin(picks % 4, [0, 2]).sum()
    assert frame["loyalty.joinedAt"].iloc[first] == days[999]
    assert frame["commerce.totalSpent"].iloc[first] == 999 * 2.5
    assert frame["commerce.lastPurchaseAt"].iloc[first] == (days[999] + pd.Timedelta("90min")).tz_localize(
        "UTC"
    )
    print(f"mapped {n:,} rows x 8 fields in {elapsed:.2f}s")
