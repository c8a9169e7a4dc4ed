"""What every database connector does alike, run on real PostgreSQL, MariaDB and SQLite.

Discover, sample, chunked full reads, incremental reads with ties, custom
queries and hostile table and column names. Each test runs once per engine.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    event,
    insert,
    inspect,
    select,
)
from sqlalchemy import text as sql_text

from connectors.base import (
    ORIGIN_COLUMN,
    RAW_COLUMN,
    ROW_ERROR_COLUMN,
    ConnectorError,
    CursorRequest,
    StreamNotFoundError,
)
from tests.connectors.conftest import Scratch

META = [ORIGIN_COLUMN, ROW_ERROR_COLUMN, RAW_COLUMN]
UTC = "UTC"


@pytest.fixture(params=["postgres", "mariadb", "sqlite"])
def db(request: pytest.FixtureRequest) -> Scratch:
    """The scratch area of each engine in turn."""
    return request.getfixturevalue(request.param)


def stamp(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz=UTC)


def make_events(db: Scratch) -> Table:
    """events(id pk, updated_at, label): ties at 11:00 inserted in reverse key order."""
    metadata = MetaData()
    events = Table(
        "events",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("updated_at", DateTime(timezone=False), nullable=False),
        Column("label", String(20)),
    )
    metadata.create_all(db.engine)
    rows = [
        (5, "2024-01-01 12:00"),
        (4, "2024-01-01 11:00"),
        (3, "2024-01-01 11:00"),
        (6, "2024-01-01 09:00"),
        (2, "2024-01-01 11:00"),
        (1, "2024-01-01 10:00"),
    ]
    with db.engine.begin() as connection:
        connection.execute(
            insert(events),
            [{"id": i, "updated_at": pd.Timestamp(t).to_pydatetime(), "label": f"e{i}"} for i, t in rows],
        )
    return events


def read_all(connector: Any, stream: str, **kwargs: Any) -> tuple[pd.DataFrame, list[int]]:
    chunks = list(connector.read(stream, **kwargs))
    return pd.concat(chunks, ignore_index=True), [len(c) for c in chunks]


def test_discover_lists_tables_and_views_with_keys_types_and_cursors(db: Scratch) -> None:
    make_events(db)
    db.run("CREATE VIEW recent AS SELECT id, label FROM events WHERE id > 2")
    streams = {s.name: s for s in db.connector().discover()}
    events, recent = streams[db.stream("events")], streams[db.stream("recent")]
    assert [(f.name, f.type) for f in events.fields] == [
        ("id", "integer"),
        ("updated_at", "timestamp"),
        ("label", "string"),
    ]
    assert events.primary_key_candidates == ("id",)
    assert events.cursor_candidates[0] == "updated_at"  # the timestamp before the id
    assert "id" in events.cursor_candidates
    assert events.metadata["kind"] == "table" and events.metadata["table"] == "events"
    assert recent.metadata["kind"] == "view" and recent.primary_key_candidates == ()
    assert [f.name for f in recent.fields] == ["id", "label"]
    assert sorted(db.connector().sample(db.stream("recent"), 10)["id"]) == [3, 4, 5, 6]  # views read too


def test_unknown_stream_names_close_matches(db: Scratch) -> None:
    make_events(db)
    with pytest.raises(StreamNotFoundError) as caught:
        db.connector().sample(db.stream("evnets"))
    assert repr(db.stream("events")) in caught.value.user_message


def test_full_read_comes_in_bounded_chunks_in_key_order(db: Scratch) -> None:
    metadata = MetaData()
    numbers = Table("numbers", metadata, Column("n", Integer, primary_key=True, autoincrement=False))
    metadata.create_all(db.engine)
    with db.engine.begin() as connection:  # inserted out of order, so the order must come from ORDER BY
        connection.execute(insert(numbers), [{"n": n} for n in reversed(range(1, 2501))])
    frame, sizes = read_all(db.connector(), db.stream("numbers"), chunk_size=400)
    assert sizes == [400] * 6 + [100]
    assert frame["n"].tolist() == list(range(1, 2501))
    assert frame[ORIGIN_COLUMN].iloc[0] == f"{db.stream('numbers')}#1"
    assert list(frame.columns) == ["n", *META]


def test_empty_table_yields_one_empty_chunk_with_typed_columns(db: Scratch) -> None:
    make_events(db)
    db.run("DELETE FROM events")
    chunks = list(db.connector().read(db.stream("events")))
    assert len(chunks) == 1 and chunks[0].empty
    assert list(chunks[0].columns) == ["id", "updated_at", "label", *META]
    assert str(chunks[0]["id"].dtype) == "Int64"


def test_incremental_read_is_inclusive_and_ordered_by_cursor_then_key(db: Scratch) -> None:
    make_events(db)
    connector = db.connector()
    request = CursorRequest("updated_at", stamp("2024-01-01 11:00"), ("id",))
    frame, sizes = read_all(connector, db.stream("events"), chunk_size=2, cursor=request)
    assert frame["id"].tolist() == [2, 3, 4, 5]  # ties at the start kept, ordered by key
    assert sizes == [2, 2]
    everything, _ = read_all(
        connector, db.stream("events"), cursor=CursorRequest("updated_at", None, ("id",))
    )
    assert everything["id"].tolist() == [6, 1, 2, 3, 4, 5]


def test_incremental_start_in_another_time_zone_is_the_same_instant(db: Scratch) -> None:
    make_events(db)
    start = pd.Timestamp("2024-01-01 13:00", tz="Europe/Paris")  # 12:00 UTC
    frame, _ = read_all(db.connector(), db.stream("events"), cursor=CursorRequest("updated_at", start))
    assert frame["id"].tolist() == [5]


def test_an_unknown_cursor_column_is_explained(db: Scratch) -> None:
    make_events(db)
    with pytest.raises(ConnectorError) as caught:
        list(db.connector().read(db.stream("events"), cursor=CursorRequest("changed_at", None, ("id",))))
    assert "has no column 'changed_at'; its columns: 'id', 'updated_at', 'label'" in caught.value.user_message


def test_rows_updated_between_reads_come_back(db: Scratch) -> None:
    events = make_events(db)
    connector = db.connector()
    first, _ = read_all(connector, db.stream("events"), cursor=CursorRequest("updated_at", None, ("id",)))
    high = first["updated_at"].max()
    with db.engine.begin() as connection:
        later = pd.Timestamp("2024-01-01 13:00").to_pydatetime()
        connection.execute(events.update().where(events.c.id == 1).values(updated_at=later, label="moved"))
        connection.execute(insert(events).values(id=7, updated_at=high.to_pydatetime(), label="late tie"))
    second, _ = read_all(
        connector, db.stream("events"), cursor=CursorRequest("updated_at", high.tz_localize(UTC), ("id",))
    )
    assert second["id"].tolist() == [5, 7, 1]  # the ties at the start (the engine drops seen ones), then 1
    assert second.set_index("id").loc[1, "label"] == "moved"


def test_custom_query_stream_reads_and_filters_by_cursor(db: Scratch) -> None:
    make_events(db)
    connector = db.connector()
    table = db.stream("events")
    query = (
        f"SELECT id, label, updated_at, 'it''s 10:30 :not_a_bind 100%' AS note FROM {table} "
        "WHERE id <> 6 -- the comment ends the query;"
    )
    sample = connector.sample("recent events", 3, {"query": query})
    assert len(sample) == 3
    assert sample["note"].iloc[0] == "it's 10:30 :not_a_bind 100%"
    assert sample[ORIGIN_COLUMN].tolist() == ["recent events#1", "recent events#2", "recent events#3"]
    request = CursorRequest("updated_at", stamp("2024-01-01 11:00"), ("id",))
    frame, _ = read_all(connector, "recent events", options={"query": query}, cursor=request, chunk_size=2)
    assert frame["id"].tolist() == [2, 3, 4, 5]
    assert str(frame["id"].dtype) == "Int64"


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("DELETE FROM events", "must be a SELECT or WITH query, not DELETE"),
        ("SELECT 1; DROP TABLE events", "more than one statement"),
        ("SELECT 1 AS x; -- fine\n; DROP TABLE events", "more than one statement"),
        ("SELECT * INTO copied FROM events", "SELECT ... INTO"),
        ("", None),  # an empty query means: read the table
    ],
)
def test_custom_queries_that_are_not_one_select_are_rejected(
    db: Scratch, query: str, reason: str | None
) -> None:
    make_events(db)
    connector = db.connector()
    if reason is None:
        assert len(connector.sample(db.stream("events"), 10, {"query": query})) == 6
        return
    with pytest.raises(ConnectorError) as caught:
        connector.sample("q", 10, {"query": query})
    assert reason in caught.value.user_message
    assert "'q'" in caught.value.user_message
    assert db.scalar("SELECT count(*) FROM events") == 6  # nothing was run


HOSTILE_TABLE = 'we"ird'
HOSTILE_COLUMNS = [
    "select",
    "it's",
    "a;b",
    "x -- y",
    "clients_été",
    "has space",
    'quo"te',
    "Robert'); DROP TABLE events;--",
]


def make_hostile(db: Scratch) -> Table:
    """Tables and columns named to break any SQL built by formatting names into text."""
    metadata = MetaData()
    table = Table(
        HOSTILE_TABLE,
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column('updated"at', DateTime),
        *(Column(name, String(40)) for name in HOSTILE_COLUMNS),
    )
    Table("clients_été", metadata, Column("id", Integer, primary_key=True, autoincrement=False))
    Table("it's; DROP TABLE events; --", metadata, Column("select", Integer))
    metadata.create_all(db.engine)
    with db.engine.begin() as connection:
        connection.execute(
            insert(table),
            [
                {"id": i, 'updated"at': pd.Timestamp(f"2024-01-0{i}").to_pydatetime()}
                | {name: f"{name}={i}" for name in HOSTILE_COLUMNS}
                for i in (1, 2, 3)
            ],
        )
    return table


def test_hostile_names_are_quoted_never_injected(db: Scratch) -> None:
    make_events(db)
    make_hostile(db)
    connector = db.connector()
    statements: list[str] = []
    event.listen(connector.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))

    names = {s.name: s for s in connector.discover()}
    weird = names[db.stream(HOSTILE_TABLE)]
    assert [f.name for f in weird.fields] == ["id", 'updated"at', *HOSTILE_COLUMNS]
    assert {db.stream("clients_été"), db.stream("it's; DROP TABLE events; --")} <= set(names)

    sample = connector.sample(db.stream(HOSTILE_TABLE), 2)
    assert sample["Robert'); DROP TABLE events;--"].tolist() == ["Robert'); DROP TABLE events;--=1"] * 1 + [
        "Robert'); DROP TABLE events;--=2"
    ]
    request = CursorRequest('updated"at', stamp("2024-01-02"), ("id",))
    frame, _ = read_all(connector, db.stream(HOSTILE_TABLE), cursor=request)
    assert frame["id"].tolist() == [2, 3]
    assert frame["select"].tolist() == ["select=2", "select=3"]
    assert frame["clients_été"].tolist() == ["clients_été=2", "clients_été=3"]
    odd, _ = read_all(connector, db.stream("it's; DROP TABLE events; --"))
    assert list(odd.columns[:1]) == ["select"] and odd.empty

    assert db.scalar("SELECT count(*) FROM events") == 6  # nothing injected
    assert inspect(db.engine).has_table("events")
    quoted = {"postgres": '"we""ird"', "mariadb": '`we"ird`', "sqlite": '"we""ird"'}
    reads = [s for s in statements if "FROM" in s and "ird" in s]
    assert reads and all(any(q in s for q in quoted.values()) for s in reads)


def test_sample_is_limited_and_in_key_order(db: Scratch) -> None:
    make_events(db)
    connector = db.connector()
    statements: list[str] = []
    event.listen(connector.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    frame = connector.sample(db.stream("events"), 4)
    assert frame["id"].tolist() == [1, 2, 3, 4]
    data_reads = [s for s in statements if "updated_at" in s and "FROM" in s]
    assert len(data_reads) == 1 and "LIMIT" in data_reads[0].upper()
    assert connector.sample(db.stream("events"), 0).empty


def test_the_test_tables_hold_what_they_should(db: Scratch) -> None:
    # guards the fixtures: the scratch area is really where the connector reads
    events = make_events(db)
    with db.engine.connect() as connection:
        assert connection.execute(select(events.c.id).order_by(events.c.id)).scalars().all() == [
            1,
            2,
            3,
            4,
            5,
            6,
        ]
        assert connection.execute(sql_text("SELECT count(*) FROM events")).scalar() == 6
