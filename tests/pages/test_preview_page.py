"""Preview: a stream's 1,000-row sample, its column profile, malformed rows and bad patterns."""

from __future__ import annotations

from pathlib import Path

from tests.pages.apptest import open_page, texts


def test_contacts_sample_and_profile() -> None:
    at = open_page("pages/preview.py")
    at.selectbox(key="preview.connection").set_value("demo_files").run()
    at.selectbox(key="preview.stream.demo_files").set_value("contacts.csv").run()
    assert not at.exception
    sample, profile = at.dataframe[0].value, at.dataframe[1].value
    assert len(sample) == 1000
    assert "email" in sample.columns
    assert list(profile.columns) == ["column", "type", "null_pct", "distinct", "examples"]
    assert set(profile["column"]) == set(sample.columns)
    assert profile.set_index("column").loc["customer_id", "distinct"] == 1000
    assert not at.warning  # the demo contacts parse cleanly


def test_a_typed_pattern_with_malformed_rows_warns_with_the_count(demo_workspace: Path) -> None:
    folder = demo_workspace / "demo" / "data" / "broken"
    folder.mkdir(parents=True, exist_ok=True)
    good = "\n".join(f'{{"id": {i}, "email": "p{i}@example.com"}}' for i in range(5))
    (folder / "events.jsonl").write_text(good + '\n{not json\n{"id": 9\n', encoding="utf-8")
    at = open_page("pages/preview.py")
    at.text_input(key="preview.custom.demo_files").set_value("broken/*.jsonl").run()
    assert not at.exception
    assert "2 malformed rows" in texts(at.warning)


def test_a_pattern_matching_nothing_shows_an_error() -> None:
    at = open_page("pages/preview.py")
    at.text_input(key="preview.custom.demo_files").set_value("nothing/here/*.csv").run()
    assert not at.exception
    assert at.error
    assert not at.dataframe


def test_browse_and_preview_a_postgres_table() -> None:
    import uuid

    import sqlalchemy as sa

    from core.services import Workspace
    from tests.services import POSTGRES, require_service

    require_service(*POSTGRES)
    schema = f"preview_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/test")
    with engine.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        conn.exec_driver_sql(
            f'CREATE TABLE "{schema}".customers (id int primary key, email text, seen timestamptz)'
        )
        conn.exec_driver_sql(
            f"INSERT INTO \"{schema}\".customers SELECT g, 'c' || g || '@example.com', now() "
            "FROM generate_series(1, 2500) g"
        )
    Workspace.open().save_connection(
        "pg_preview",
        "postgres",
        {"host": "127.0.0.1", "database": "test", "username": "postgres", "schema": schema},
    )
    try:
        at = open_page("pages/preview.py")
        at.selectbox(key="preview.connection").set_value("pg_preview").run()
        at.selectbox(key="preview.stream.pg_preview").set_value(f"{schema}.customers").run()
        assert not at.exception
        sample, profile = at.dataframe[0].value, at.dataframe[1].value
        assert len(sample) == 1000  # the 1,000-row sample, not the whole table
        assert len(at.dataframe) == 2 and "Object to sample" not in [box.label for box in at.selectbox]
        types = profile.set_index("column")["type"]
        assert (types["id"], types["email"], types["seen"]) == ("integer", "string", "timestamp")
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        engine.dispose()


def test_browse_a_folders_objects_and_sample_one(demo_workspace: Path) -> None:
    folder = demo_workspace / "demo" / "data" / "drops"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "early.csv").write_text("id,email\n1,a@x.io\n2,b@x.io\n", encoding="utf-8")
    (folder / "late.csv").write_text("id,email,tier\n3,c@x.io,gold\n", encoding="utf-8")
    at = open_page("pages/preview.py")
    at.text_input(key="preview.custom.demo_files").set_value("drops/*.csv").run()
    assert not at.exception
    sample, objects = at.dataframe[0].value, at.dataframe[2].value
    assert len(sample) == 3  # every matching object, in order
    assert set(objects["name"]) == {"drops/early.csv", "drops/late.csv"}
    sizes = objects.set_index("name")["size"]
    assert sizes["drops/late.csv"] == (folder / "late.csv").stat().st_size
    assert objects["modified"].notna().all()

    picker = at.selectbox(key="preview.object.demo_files.drops/*.csv")
    assert picker.options[0] == "All 2 matching objects"
    picker.set_value("drops/late.csv").run()
    assert not at.exception
    sample = at.dataframe[0].value
    assert sample["email"].tolist() == ["c@x.io"] and "tier" in sample.columns
