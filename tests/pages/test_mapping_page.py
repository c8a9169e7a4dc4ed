"""Mapping studio: live checks on the cached sample, expression problems, save as a version, dry run,
restore, drift."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st
from streamlit.testing.v1 import AppTest

from core.services import Workspace
from tests.pages.apptest import open_page, texts


def _editor_key(name: str, revision: int = 0) -> str:
    version = int(Workspace.open().dataflows().set_index("name").at[name, "version"])
    return f"mapping.fields.{name}.{version}.{revision}"


def _row_of(name: str, target: str) -> int:
    return list(Workspace.open().dataflow_spec(name).mapping).index(target)


def _edit(at: AppTest, name: str, target: str, source: str) -> None:
    at.session_state[_editor_key(name)] = {
        "edited_rows": {_row_of(name, target): {"source": source}},
        "added_rows": [],
        "deleted_rows": [],
    }


def _frame_with(at: AppTest, *columns: str) -> pd.DataFrame:
    """The first dataframe on the page that has all of ``columns``."""
    for element in at.dataframe:
        if set(columns) <= set(element.value.columns):
            return element.value
    raise AssertionError(f"no table with columns {columns}")


def _studio(name: str) -> AppTest:
    at = open_page("pages/mapping.py")
    at.selectbox(key="mapping.dataflow").set_value(name).run()
    assert not at.exception
    return at


def test_the_sample_maps_live_with_per_field_checks() -> None:
    at = _studio("crm_contacts")
    checks = _frame_with(at, "attribute", "nulls", "failures").set_index("attribute")
    assert checks.loc["loyalty.points", "failures"] > 0  # the demo's "n/a" points
    assert checks.loc["personalEmail.address", "identity"] == "email"
    assert checks.loc["crmId", "failures"] == 0
    mapped = _frame_with(at, "personalEmail.address", "loyalty.points")
    assert len(mapped) == 1000
    assert "would be quarantined" in texts(at.caption) + texts(at.warning)


def test_an_edit_updates_the_checks_without_a_button() -> None:
    at = _studio("crm_contacts")
    _edit(at, "crm_contacts", "loyalty.tier", "upper(tier)")
    at.run()
    mapped = _frame_with(at, "loyalty.tier")
    present = mapped["loyalty.tier"].dropna()
    assert len(present) and (present == present.str.upper()).all()


def test_a_bad_expression_names_its_attribute_and_character_and_the_rest_still_maps() -> None:
    at = _studio("crm_contacts")
    _edit(at, "crm_contacts", "person.firstName", "trim(first_name")
    at.run()
    assert not at.exception
    problems = texts(at.error)
    assert "person.firstName" in problems and "character" in problems
    checks = _frame_with(at, "attribute", "problem").set_index("attribute")
    assert checks.loc["person.firstName", "problem"] != ""
    assert "personalEmail.address" in _frame_with(at, "personalEmail.address").columns


def test_an_unknown_column_is_reported_not_a_traceback() -> None:
    at = _studio("crm_contacts")
    _edit(at, "crm_contacts", "person.firstName", "no_such_column")
    at.run()
    assert not at.exception
    assert "no_such_column" in texts(at.error)


def test_save_stores_the_edit_as_a_new_version_with_the_sample_schema() -> None:
    before = int(Workspace.open().dataflows().set_index("name").at["shop_orders", "version"])
    at = _studio("shop_orders")
    _edit(at, "shop_orders", "order.status", "upper(status)")
    at.run()
    at.button(key="mapping.save").click().run()
    assert not at.exception
    assert "Saved the mapping of **shop_orders**" in texts(at.success)
    ws = Workspace.open()
    assert ws.dataflow_spec("shop_orders").mapping["order.status"] == "upper(status)"
    versions = ws.studio.versions("shop_orders")
    assert int(versions.iloc[0]["version"]) == before + 1
    assert versions.iloc[0]["changes"] == "changed order.status"
    row = ws.store.dataflow_row("shop_orders")
    schema = ws.store.version_row(None, int(row["id"]), before + 1)["source_schema"]
    assert {"order_id", "status", "total"} <= set(schema)


def test_dry_run_on_the_sample_shows_what_a_run_would_do() -> None:
    at = _studio("crm_contacts")
    at.button(key="mapping.dry.sample").click().run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Received"] == "1,000"
    assert int(metrics["Quarantined"]) > 0
    received = int(metrics["Received"].replace(",", ""))
    assert int(metrics["Would ingest"].replace(",", "")) + int(metrics["Quarantined"]) == received


def test_an_older_version_is_restored(demo_workspace: Path) -> None:
    ws = Workspace.open()
    spec = ws.dataflow_spec("shop_orders").model_dump(mode="json", exclude_none=True)
    ws.save_dataflow("shop_orders", {**spec, "mapping": {**spec["mapping"], "order.status": "lower(status)"}})
    version = int(ws.store.dataflow_row("shop_orders")["version"])
    at = _studio("shop_orders")
    at.selectbox(key="mapping.restore.pick.shop_orders").set_value(version - 1).run()
    at.button(key="mapping.restore").click().run()
    assert not at.exception
    restored = Workspace.open()
    assert int(restored.store.dataflow_row("shop_orders")["version"]) == version + 1
    assert restored.dataflow_spec("shop_orders").mapping["order.status"] == spec["mapping"]["order.status"]


def test_drift_is_shown_and_the_new_schema_can_be_accepted(demo_workspace: Path) -> None:
    folder = demo_workspace / "demo" / "data" / "drifting"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "people.csv").write_text("id,email\n1,a@x.io\n", encoding="utf-8")
    ws = Workspace.open()
    ws.save_dataflow(
        "drifting",
        {
            "source": {"connection": "demo_files", "stream": "drifting/people.csv"},
            "sync": {"mode": "full_refresh", "primary_key": ["id"]},
            "mapping": {"crmId": "id", "personalEmail.address": "email"},
        },
    )
    assert ws.run("drifting").status == "succeeded"
    (folder / "people.csv").write_text("id,mail,tier\n1,a@x.io,gold\n", encoding="utf-8")
    at = _studio("drifting")
    shown = texts(at.error)
    assert "'email' was removed" in shown and "personalEmail.address" in shown
    assert "'tier' was added" in shown
    _edit(at, "drifting", "personalEmail.address", "mail")
    at.run()
    at.button(key="mapping.save").click().run()
    assert not at.exception
    assert "'email' was removed" not in texts(at.error)
    assert Workspace.open().run("drifting").status == "succeeded"


def test_suggestions_with_confidence_are_applied_to_the_fields(demo_workspace: Path) -> None:
    folder = demo_workspace / "demo" / "data" / "suggested"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "people.csv").write_text(
        "cust_id,e_mail,DOB\n" + "".join(f"{i},p{i}@x.io,0{i % 9 + 1}/11/1990\n" for i in range(1, 60)),
        encoding="utf-8",
    )
    Workspace.open().save_dataflow(
        "suggested",
        {
            "source": {"connection": "demo_files", "stream": "suggested/people.csv"},
            "sync": {"mode": "full_refresh", "primary_key": ["cust_id"]},
            "mapping": {"crmId": "cust_id"},
        },
    )
    at = _studio("suggested")
    suggestions = _frame_with(at, "accept", "confidence", "reason").set_index("column")
    assert suggestions.loc["e_mail", "attribute"] == "personalEmail.address"
    assert suggestions.loc["e_mail", "accept"]  # confident, and not mapped yet
    assert not suggestions.loc["cust_id", "accept"]  # already mapped
    assert 0 < suggestions.loc["e_mail", "confidence"] <= 1 and suggestions.loc["e_mail", "reason"]
    assert suggestions.loc["DOB", "expression"] == "to_date(DOB, '%d/%m/%Y')"
    at.button(key="mapping.suggest.apply").click().run()
    assert not at.exception
    fields = at.data_editor[0].value.set_index("target")
    assert fields.loc["personalEmail.address", "source"] == "e_mail"
    assert fields.loc["personalEmail.address", "identity"] == "email"
    checks = _frame_with(at, "attribute", "failures").set_index("attribute")
    assert checks.loc["person.birthDate", "failures"] == 0  # the day-first dates convert


def test_quality_tab_adds_an_expectation_validates_the_sample_and_saves_it() -> None:
    at = _studio("shop_orders")
    at.selectbox(key="mapping.quality.new.shop_orders.type").set_value(
        "expect_column_values_to_match_regex"
    ).run()
    at.selectbox(key="mapping.quality.new.shop_orders.expect_column_values_to_match_regex.column").set_value(
        "order.currency"
    ).run()
    at.text_input(key="mapping.quality.new.shop_orders.expect_column_values_to_match_regex.regex").set_value(
        "^EUR$"
    ).run()
    at.button(key="mapping.quality.new.shop_orders.add").click().run()
    assert not at.exception
    suite = _frame_with(at, "keep", "check", "field")
    assert "order.currency" in suite["field"].tolist()
    at.button(key="mapping.quality.validate").click().run()
    from core.quality import EXPECTATION_TYPES

    results = _frame_with(at, "Check", "Failing rows", "Failing examples")
    title = EXPECTATION_TYPES["expect_column_values_to_match_regex"].title
    regex = results[(results["Field"] == "order.currency") & (results["Check"] == title)].iloc[0]
    assert regex["Failing rows"] > 0 and not regex["Passed"]  # GBP and PLN orders
    assert "GBP" in regex["Failing examples"] or "PLN" in regex["Failing examples"]
    at.button(key="mapping.save").click().run()
    assert not at.exception
    quality = Workspace.open().dataflow_spec("shop_orders").quality
    assert {"expect_column_values_to_match_regex": {"column": "order.currency", "regex": "^EUR$"}} in quality


def test_quality_suggestions_from_the_mapped_sample_are_added() -> None:
    at = _studio("crm_contacts")
    offered = _frame_with(at, "add", "check", "why")
    assert len(offered) > 0 and offered["why"].str.len().gt(0).all()
    before = len(_frame_with(at, "keep", "check", "field"))
    at.session_state["mapping.quality.suggest.crm_contacts.0"] = {
        "edited_rows": {0: {"add": True}},
        "added_rows": [],
        "deleted_rows": [],
    }
    at.run()
    at.button(key="mapping.quality.accept").click().run()
    assert not at.exception
    assert len(_frame_with(at, "keep", "check", "field")) == before + 1


def test_a_complete_mapping_from_suggestions_a_few_edits_a_suite_a_dry_run_and_drift(
    demo_workspace: Path,
) -> None:
    """The issue's walk-through on a copy of the demo CRM file, through the studio only."""
    open_page()  # the first page of the session writes the demo files
    folder = demo_workspace / "demo" / "data" / "journey"
    folder.mkdir(parents=True, exist_ok=True)
    original = (demo_workspace / "demo" / "data" / "contacts.csv").read_text(encoding="utf-8")
    (folder / "contacts.csv").write_text(original, encoding="utf-8")
    ws = Workspace.open()
    ws.save_dataflow(
        "journey",
        {
            "source": {"connection": "demo_files", "stream": "journey/contacts.csv"},
            "sync": {"mode": "full_refresh", "primary_key": ["customer_id"]},
            "mapping": {"crmId": "customer_id"},
        },
    )
    st.cache_data.clear()  # the page listed the dataflows before this one existed
    at = _studio("journey")
    at.button(key="mapping.suggest.apply").click().run()  # the confident suggestions, as offered
    fields = at.data_editor[0].value.set_index("target")
    assert {"personalEmail.address", "mobilePhone.number", "person.firstName"} <= set(fields.index)
    assert fields.loc["personalEmail.address", "identity"] == "email"

    row = list(fields.index).index("personalEmail.address")
    at.session_state["mapping.fields.journey.1.1"] = {
        "edited_rows": {row: {"source": "normalize_email(email)"}},
        "added_rows": [{"target": "loyalty.points", "source": "to_int(points)"}],
        "deleted_rows": [],
    }
    at.run()
    checks = _frame_with(at, "attribute", "failures").set_index("attribute")
    assert checks.loc["loyalty.points", "failures"] > 0  # the file's "n/a" points, caught live
    at.session_state["mapping.quality.suggest.journey.1"] = {
        "edited_rows": {0: {"add": True}},
        "added_rows": [],
        "deleted_rows": [],
    }
    at.run()
    at.button(key="mapping.quality.accept").click().run()
    at.button(key="mapping.dry.sample").click().run()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Received"] == "1,000" and int(metrics["Quarantined"]) > 0
    at.button(key="mapping.save").click().run()
    assert not at.exception
    saved = Workspace.open().dataflow_spec("journey")
    assert saved.mapping["personalEmail.address"] == "normalize_email(email)"
    assert saved.quality and saved.identities["email"] == "personalEmail.address"
    run = Workspace.open().run("journey")
    assert run.status in ("succeeded", "partial") and run.ingested + run.failed == run.received

    renamed = original.replace("email", "mail", 1)  # the header's email column is renamed
    (folder / "contacts.csv").write_text(renamed, encoding="utf-8")
    st.cache_data.clear()  # as "Reload sample" does
    at = _studio("journey")
    assert "'email' was removed" in texts(at.error)
    assert Workspace.open().run("journey").error_code == "schema_drift"
