"""Profile settings: identity rules and merge policies saved, applied from YAML, exported, and rebuilt."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from core import config
from core.errors import ConfigurationError
from core.models import ProfilesSpec
from core.profiles import BLOCKED_SETTING, REGION_SETTING, load_rules
from core.profiles.cli import main
from core.services import Workspace
from tests.profiles.test_query import Customers, ingest_customers


@pytest.fixture
def customers(any_workspace: Workspace, tmp_path: Path) -> Customers:
    return ingest_customers(any_workspace, tmp_path / "source")


def test_settings_round_trip_and_shape_the_rules_new_runs_use(workspace: Workspace) -> None:
    profiles = workspace.profiles
    assert profiles.settings() == ProfilesSpec()  # built-ins until something is saved
    spec = ProfilesSpec(
        default_region="fr",
        namespaces={"member_code": {"type": "person", "normaliser": "lower", "limit": 1, "priority": 2}},
        blocked={"email": [" noreply@shop.fr ", ""], "*": ["n.a."], "phone": []},
    )
    profiles.save_settings(spec)
    saved = profiles.settings()
    assert saved.default_region == "FR"
    assert saved.blocked == {"email": ["noreply@shop.fr"], "*": ["n.a."]}  # blanks and empty lists dropped
    with workspace.engine.connect() as conn:
        rules = load_rules(conn)
    assert rules.namespace("member_code").limit == 1
    assert rules.identify("member_code", " ABC ") == ("abc", None)
    assert rules.identify("phone", "06 12 34 56 78") == ("+33612345678", None)
    assert rules.identify("email", "NoReply@shop.fr")[0] is None


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (ProfilesSpec(default_region="XX"), "'XX' is not a region code"),
        (ProfilesSpec(namespaces={"email": {"limit": 0}}), "limit"),
        (ProfilesSpec(namespaces={"pin": {"normaliser": "soundex"}}), "normaliser"),
        (ProfilesSpec(policies={"crm_first": {"kind": "precedence", "order": ["nowhere"]}}), "nowhere"),
        (ProfilesSpec(policies={"crm_first": {"kind": "precedence"}}), "needs an order"),
    ],
)
def test_a_wrong_setting_says_what_to_fix_and_saves_nothing(workspace: Workspace, spec, message) -> None:
    with pytest.raises(ConfigurationError, match=message):
        workspace.profiles.save_settings(spec)
    assert workspace.setting(REGION_SETTING) is None and workspace.setting(BLOCKED_SETTING) is None


def test_yaml_applies_and_exports_the_profiles_section(customers: Customers, tmp_path: Path) -> None:
    workspace = customers.workspace
    path = tmp_path / "profiles.yml"
    section = {
        "default_region": "GB",
        "blocked": {"email": ["ann@example.com"]},
        "policies": {"crm_first": {"kind": "precedence", "order": ["crm", "shop"]}},
    }
    path.write_text(yaml.safe_dump({"profiles": section}))
    applied = config.apply(workspace, path)
    assert applied["profiles"] == ["profiles"]
    exported = yaml.safe_load(config.export(workspace))["profiles"]
    assert exported["default_region"] == "GB"
    assert exported["blocked"] == {"email": ["ann@example.com"]}
    assert exported["policies"] == {"crm_first": {"kind": "precedence", "order": ["crm", "shop"]}}
    assert "crm_first" in workspace.profiles.policies()


def test_yaml_with_a_wrong_profiles_section_applies_nothing(workspace: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "all.yml"
    path.write_text(
        yaml.safe_dump(
            {
                "connections": {"files": {"connector": "files", "config": {"url": str(tmp_path)}}},
                "profiles": {"policies": {"p": {"kind": "precedence", "order": ["ghost"]}}},
            }
        )
    )
    with pytest.raises(ConfigurationError, match=r"all\.yml: merge policy 'p': no dataflow named ghost"):
        config.apply(workspace, path)
    assert workspace.connections().empty


def test_two_files_with_a_profiles_section_are_refused(workspace: Workspace, tmp_path: Path) -> None:
    for name in ("a.yml", "b.yml"):
        (tmp_path / name).write_text(yaml.safe_dump({"profiles": {"default_region": "FR"}}))
    with pytest.raises(ConfigurationError, match="keep the section in one file"):
        config.apply(workspace, tmp_path)


def test_rebuild_applies_a_new_block_list_to_records_already_linked(customers: Customers, capsys) -> None:
    profiles = customers.workspace.profiles
    ann = profiles.lookup("email", "ann@example.com")
    assert ann is not None and ann.dataflows == ["crm", "loyalty", "shop"]
    spec = profiles.settings()
    spec.blocked = {"email": ["ann@example.com"]}
    profiles.save_settings(spec)
    # saving changes how new records link; the ones already linked wait for a rebuild
    assert profiles.lookup("loyalty_id", "L1").dataflows == ["crm", "loyalty", "shop"]  # type: ignore[union-attr]

    assert main(["rebuild"], workspace=customers.workspace) == 0
    assert "records in" in capsys.readouterr().out
    crm = profiles.lookup("crm_id", "C1")
    loyalty = profiles.lookup("loyalty_id", "L1")
    assert crm is not None and loyalty is not None
    assert crm.dataflows == ["crm", "shop"]  # still linked by the CRM id the order carries
    assert loyalty.dataflows == ["loyalty"]
    refused = loyalty.trail[loyalty.trail["rule"] == "blocked_value"]
    assert refused["value"].tolist() == ["ann@example.com"]
    assert profiles.lookup("email", "ann@example.com") is None
