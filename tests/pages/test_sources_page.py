"""Sources: the catalog, the saved connections, the connection form (test, save, errors)."""

from __future__ import annotations

from pathlib import Path

from core.services import Workspace
from tests.pages.apptest import open_page, texts

NEW_FORM = "sources.files.+ New connection"


def test_catalog_shows_available_and_coming_sources() -> None:
    at = open_page("pages/sources.py")
    assert not at.exception
    shown = texts(at.markdown)
    for category in ("Adobe applications", "Cloud storage", "Databases", "CRM and marketing automation"):
        assert category in shown
    assert "Salesforce" in shown and "Amazon S3" in shown
    assert "Available" in shown and "Coming" in shown
    assert "demo_files" in set(at.dataframe[0].value["name"])


def test_add_a_files_connection_test_it_then_save_it(tmp_path: Path) -> None:
    (tmp_path / "people.csv").write_text("id,email\n1,a@example.com\n", encoding="utf-8")
    at = open_page("pages/sources.py")
    at.text_input(key=f"{NEW_FORM}.url").set_value(str(tmp_path))
    at.text_input(key="sources.name.+ New connection").set_value("local_exports")
    at.button(key="sources.test").click().run()
    assert not at.exception
    assert not at.error, texts(at.error)
    assert at.success, "Test connection shows a success message"

    at.button(key="sources.save").click().run()
    assert not at.exception
    assert "Saved connection **local_exports**" in texts(at.success)
    assert "local_exports" in set(Workspace.open().connections()["name"])
    assert "local_exports" in set(at.dataframe[0].value["name"])  # the table shows it at once


def test_missing_folder_fails_the_test_and_bad_name_fails_the_save(tmp_path: Path) -> None:
    at = open_page("pages/sources.py")
    at.text_input(key=f"{NEW_FORM}.url").set_value(str(tmp_path / "no-such-folder"))
    at.button(key="sources.test").click().run()
    assert not at.exception
    assert at.error and not at.success

    at.text_input(key="sources.name.+ New connection").set_value("bad name!")
    at.text_input(key=f"{NEW_FORM}.url").set_value(str(tmp_path))
    at.button(key="sources.save").click().run()
    assert not at.exception
    assert "must start with a letter" in texts(at.error)
    assert "bad name!" not in set(Workspace.open().connections()["name"])


def test_editing_a_saved_connection_prefills_its_settings() -> None:
    at = open_page("pages/sources.py")
    at.selectbox(key="sources.editing").set_value("demo_files").run()
    assert not at.exception
    url = at.text_input(key="sources.files.demo_files.url").value
    assert url == Workspace.open().connection_spec("demo_files").config["url"]
