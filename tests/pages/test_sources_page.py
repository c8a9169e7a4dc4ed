"""Sources: the catalog, the saved connections, the connection form (test, save, errors)."""

from __future__ import annotations

from pathlib import Path

from connectors import CATALOG, REGISTRY
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
    planned = [name for entries in CATALOG.values() for name, _ in entries if name not in REGISTRY]
    assert "Available" in shown and ("Coming" in shown) == bool(planned)  # every entry may be built
    assert "demo_files" in set(at.dataframe[0].value["name"])


def test_add_a_files_connection_test_it_then_save_it(tmp_path: Path) -> None:
    (tmp_path / "people.csv").write_text("id,email\n1,a@example.com\n", encoding="utf-8")
    at = open_page("pages/sources.py")
    at.selectbox(key="sources.connector").set_value("files").run()  # the catalog lists Adobe first
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
    at.selectbox(key="sources.connector").set_value("files").run()  # the catalog lists Adobe first
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


def test_add_a_postgres_connection_with_a_wrong_password_then_right_settings() -> None:
    from tests.services import POSTGRES, require_service

    require_service(*POSTGRES)
    form = "sources.postgres.+ New connection"
    at = open_page("pages/sources.py")
    at.selectbox(key="sources.connector").set_value("postgres").run()
    assert not at.exception
    at.text_input(key=f"{form}.host").set_value("127.0.0.1")
    at.text_input(key=f"{form}.database").set_value("no_such_database_here")
    at.text_input(key=f"{form}.username").set_value("postgres")
    at.text_input(key=f"{form}.password").set_value("Sup3r-Secret-Pw")
    at.button(key="sources.test").click().run()
    assert not at.exception
    shown = texts(at.error)
    assert "no_such_database_here" in shown
    assert "Sup3r-Secret-Pw" not in shown + texts(at.success) + texts(at.markdown)

    at.text_input(key=f"{form}.database").set_value("test")
    at.text_input(key="sources.name.+ New connection").set_value("shop_db")
    at.button(key="sources.test").click().run()
    assert at.success and not at.error, texts(at.error)
    at.button(key="sources.save").click().run()
    assert "Saved connection **shop_db**" in texts(at.success)
    workspace = Workspace.open()
    assert workspace.connection_spec("shop_db").config["password"] == "********"
    assert workspace.test_connection("shop_db").ok

    import uuid

    import sqlalchemy as sa

    table = f"page_test_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/test")
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE TABLE {table} (id int primary key, email text)")
    try:
        assert f"public.{table}" in {stream.name for stream in workspace.streams("shop_db")}
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP TABLE {table}")
        engine.dispose()
