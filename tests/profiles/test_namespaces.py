"""Identity namespaces: built-ins, settings, normalisers and block lists."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import ConfigurationError
from core.profiles import BLOCKED_SETTING, NAMESPACES_SETTING, REGION_SETTING, IdentityRules, load_rules
from core.profiles.namespaces import BUILTINS


def normalise(rules: IdentityRules, namespace: str, *values: str | None) -> list[str | None]:
    result = rules.normalise(namespace, pd.Series(list(values), dtype=object))
    return [None if pd.isna(v) else v for v in result.values]


def test_builtins_rank_strong_ids_first_with_one_crm_and_loyalty_id_per_profile():
    ranked = sorted(BUILTINS.values(), key=lambda ns: (ns.priority, ns.name))
    assert [ns.name for ns in ranked] == [
        "crm_id", "loyalty_id", "email", "phone", "ecid", "cookie_id", "device_id"
    ]  # fmt: skip
    assert BUILTINS["crm_id"].limit == BUILTINS["loyalty_id"].limit == 1
    assert {ns.name for ns in BUILTINS.values() if ns.kind == "device"} == {"ecid", "cookie_id", "device_id"}
    assert IdentityRules().namespace("member_no").normaliser == "trim"  # an unknown namespace: a trimmed id


def test_emails_are_trimmed_and_lower_cased_and_must_be_addresses():
    rules = IdentityRules()
    emails = normalise(rules, "email", "  Ann.Lee@Example.COM ", "ann.lee@example.com", "nope", "", None)
    assert emails == ["ann.lee@example.com", "ann.lee@example.com", None, None, None]
    result = rules.normalise("email", pd.Series(["not-an-email", "  "]))
    assert result.invalid.tolist() == [True, False]  # empty is absent, not invalid
    assert "not an email address" in result.reasons[0]


@pytest.mark.parametrize(
    "text", ["+33 6 12 34 56 78", "0612345678", "06.12.34.56.78", "+33612345678", "(0)6-12-34-56-78"]
)
def test_phones_in_any_layout_become_one_e164_number_in_the_default_region(text):
    assert normalise(IdentityRules.from_settings(default_region="FR"), "phone", text) == ["+33612345678"]


def test_the_default_region_is_us_and_an_empty_one_needs_a_country_code():
    assert normalise(IdentityRules(), "phone", "(415) 555-2671", "+33612345678") == [
        "+14155552671",
        "+33612345678",
    ]
    strict = IdentityRules.from_settings(default_region="")
    assert normalise(strict, "phone", "4155552671", "+14155552671") == [None, "+14155552671"]


@pytest.mark.parametrize(
    ("namespace", "text"),
    [
        ("email", "test@test.com"),
        ("email", " TEST@Example.com"),
        ("email", "noemail@shop.fr"),
        ("email", "no-reply@crm.io"),
        ("email", "n/a"),
        ("phone", "0000000000"),
        ("phone", "1234567890"),
        ("phone", "+33 6 00 00 00 00"),
        ("phone", "unknown"),
        ("crm_id", "0"),
        ("crm_id", " NULL "),
        ("loyalty_id", "-"),
        ("cookie_id", "undefined"),
    ],
)
def test_placeholders_are_blocked(namespace, text):
    result = IdentityRules.from_settings(default_region="FR").normalise(namespace, pd.Series([text]))
    assert result.blocked.tolist() == [True] and result.blocked_by_user.tolist() == [False]
    assert result.values.isna().all() and not result.invalid.any()


def test_the_workspace_block_list_is_matched_after_normalisation():
    rules = IdentityRules.from_settings(
        blocked={"email": ["Shop@Example.com"], "phone": ["06 11 11 22 22"], "*": ["N.C."]},
        default_region="FR",
    )
    email = rules.normalise("email", pd.Series(["  shop@example.COM", "ann@example.com", "n.c."]))
    assert email.blocked_by_user.tolist() == [True, False, True]
    phone = rules.normalise("phone", pd.Series(["+33611112222", "+33611112223"]))
    assert phone.blocked_by_user.tolist() == [True, False]
    assert rules.normalise("crm_id", pd.Series(["n.c."])).blocked_by_user.tolist() == [True]


def test_custom_namespaces_and_overrides_come_from_settings():
    rules = IdentityRules.from_settings(
        [
            {"name": "member_no", "type": "person", "normaliser": "lower", "limit": 2, "priority": 3},
            {"name": "email", "limit": None},  # lifts the built-in limit
            {"name": "crm_id", "priority": 7},  # keeps the built-in limit
        ]
    )
    member = rules.namespace("member_no")
    assert (member.kind, member.normaliser, member.limit, member.priority) == ("person", "lower", 2, 3)
    assert rules.namespace("email").limit is None
    assert (rules.namespace("crm_id").limit, rules.namespace("crm_id").priority) == (1, 7)
    assert normalise(rules, "member_no", "  AB-12 ") == ["ab-12"]
    as_mapping = IdentityRules.from_settings({"gaming_id": {"type": "device"}})
    assert as_mapping.namespace("gaming_id").kind == "device"


@pytest.mark.parametrize(
    "entry",
    [
        {"name": "x", "normaliser": "soundex"},
        {"name": "x", "limit": 0},
        {"name": "Bad Name"},
        {"name": "x", "colour": 1},
    ],
)
def test_a_malformed_namespace_setting_is_a_configuration_error(entry):
    with pytest.raises(ConfigurationError) as caught:
        IdentityRules.from_settings([entry])
    assert NAMESPACES_SETTING in caught.value.user_message


def test_an_unknown_region_is_a_configuration_error():
    with pytest.raises(ConfigurationError, match="region"):
        IdentityRules.from_settings(default_region="XX")


def test_rules_load_from_the_workspace_settings(workspace):
    workspace.save_setting(REGION_SETTING, "gb")
    workspace.save_setting(BLOCKED_SETTING, {"email": ["info@shop.co.uk"]})
    workspace.save_setting(NAMESPACES_SETTING, [{"name": "member_no", "limit": 1}])
    with workspace.engine.connect() as conn:
        rules = load_rules(conn)
    assert rules.default_region == "GB"
    assert normalise(rules, "phone", "07911 123456") == ["+447911123456"]
    assert normalise(rules, "email", "INFO@shop.co.uk") == [None]
    assert rules.namespace("member_no").limit == 1


# Values a lookup receives: typed emails and phones with stray case, layout and
# placeholders, unicode, control characters, and plain ids.
_TYPED = st.one_of(
    st.sampled_from(
        [
            " Ann.Lee@Example.COM ",
            "test@test.com",
            "NoEmail@shop.fr",
            "a@b",
            "a b@c.de",
            "N/A",
            "0",
            "+33 6 12 34 56 78",
            "0612345678",
            "(0)6-12-34-56-78",
            "0000000000",
            "123-456-7890",
            "+1 (202) 555-0148",
            "2025550148",
            "12345",
            "CRM-001",
            "  crm-001\t",
            "Chloé@exemple.fr",
            "",
            "   ",
            "\x00x",
            "ann@example.com\n",
            "unknown",
            "\uff20",
            "+4407911123456",
        ]
    ),
    st.text(alphabet=st.characters(codec="ascii"), max_size=16),
    st.text(max_size=12),
    st.from_regex(r"[ ]?[A-Za-z0-9.+_-]{1,8}@[A-Za-z0-9-]{1,6}(\.[A-Za-z]{2,3}){1,2}[ ]?", fullmatch=True),
    st.from_regex(r"[ ]?\+?[0-9 ().-]{6,16}[ ]?", fullmatch=True),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(namespace=st.sampled_from(["email", "phone", "crm_id", "member_code", "cookie_id"]), value=_TYPED)
def test_one_typed_value_is_identified_exactly_as_a_column_would_be(namespace, value):
    rules = IdentityRules.from_settings(
        [{"name": "member_code", "normaliser": "lower"}],
        {"email": ["blocked@shop.fr"], "*": ["crm-666"], "phone": ["+12025550199"]},
        "FR",
    )
    assert rules.identify(namespace, value) == rules._identify_column(namespace, value)
