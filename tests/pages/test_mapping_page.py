"""Mapping: edit a dataflow's mapping, preview it on a sample (quarantined rows), save it."""

from __future__ import annotations

from core.services import Workspace
from tests.pages.apptest import open_page, texts


def _editor_key(name: str) -> str:
    version = int(Workspace.open().dataflows().set_index("name").at[name, "version"])
    return f"mapping.fields.{name}.{version}"


def _row_of(name: str, target: str) -> int:
    return list(Workspace.open().dataflow_spec(name).mapping).index(target)


def test_preview_shows_mapped_output_and_quarantined_rows_with_reasons() -> None:
    at = open_page("pages/mapping.py")
    at.selectbox(key="mapping.dataflow").set_value("crm_contacts").run()
    editor = at.data_editor[0].value
    assert "loyalty.points" in set(editor["target"])
    at.button(key="mapping.preview").click().run()
    assert not at.exception
    assert "would be quarantined" in texts(at.warning)
    mapped, quarantined = at.dataframe[-2].value, at.dataframe[-1].value  # the two result tabs
    assert len(mapped) == 1000
    assert "personalEmail.address" in mapped.columns
    assert len(quarantined) > 0
    assert {"row", "field", "code", "reason"} <= set(quarantined.columns)
    assert quarantined["reason"].str.contains("to_int").any()  # the demo's "n/a" points


def test_an_unknown_source_column_shows_an_error_not_a_traceback() -> None:
    at = open_page("pages/mapping.py")
    at.selectbox(key="mapping.dataflow").set_value("crm_contacts").run()
    row = _row_of("crm_contacts", "person.firstName")
    at.session_state[_editor_key("crm_contacts")] = {
        "edited_rows": {row: {"source": "no_such_column"}},
        "added_rows": [],
        "deleted_rows": [],
    }
    at.button(key="mapping.preview").click().run()
    assert not at.exception
    assert "no_such_column" in texts(at.error)


def test_save_stores_the_edited_mapping() -> None:
    at = open_page("pages/mapping.py")
    at.selectbox(key="mapping.dataflow").set_value("shop_orders").run()
    row = _row_of("shop_orders", "order.status")
    at.session_state[_editor_key("shop_orders")] = {
        "edited_rows": {row: {"source": "upper(status)"}},
        "added_rows": [],
        "deleted_rows": [],
    }
    at.button(key="mapping.save").click().run()
    assert not at.exception
    assert "Saved the mapping of **shop_orders**" in texts(at.success)
    assert Workspace.open().dataflow_spec("shop_orders").mapping["order.status"] == "upper(status)"
