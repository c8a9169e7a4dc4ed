"""Each object of a partitioned source has its own row of sync state, moved by compare-and-swap."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import insert, select

from core.errors import RunFailedError
from core.store import db, partitions
from core.store import tables as t
from core.store.repository import Store, utcnow


def alembic(engine, action, revision: str) -> None:  # type: ignore[no-untyped-def]
    """Moves the store to ``revision`` with ``command.upgrade`` or ``command.downgrade``."""
    config = db.alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        action(config, revision)


def test_the_upgrade_moves_ingested_objects_and_a_resume_point_to_rows(store_url):
    engine = db.create_store_engine(store_url)
    alembic(engine, command.upgrade, "0005")
    now = utcnow()
    legacy = {
        "objects": {"a.csv": "v1", "b.csv": "v2"},
        "resume": {"run_id": 7, "segment": "c.csv", "segment_version": "v3", "chunks_done": 4, "version": 1},
    }
    with engine.begin() as c:
        c.execute(
            insert(t.connections).values(
                id=1,
                name="drop",
                connector="files",
                config={},
                secret_refs={},
                description="",
                created_at=now,
                updated_at=now,
            )
        )
        c.execute(
            insert(t.dataflows).values(
                id=1, name="d", connection_id=1, spec={}, version=1, enabled=1, created_at=now, updated_at=now
            )
        )
        c.execute(insert(t.cursors).values(dataflow_id=1, state=legacy, updated_at=now))
    db.migrate(engine)

    with engine.connect() as c:
        rows = {
            r.name: (r.version, r.reading, r.chunks_done, r.run_id)
            for r in c.execute(select(t.cursor_partitions).order_by(t.cursor_partitions.c.name))
        }
        document = c.execute(select(t.cursors.c.state)).scalar()
    assert rows == {
        "a.csv": ("v1", None, 0, None),
        "b.csv": ("v2", None, 0, None),
        "c.csv": (None, "v3", 4, 7),
    }
    assert document == {"resume": {"run_id": 7, "version": 1}}
    assert Store(engine).cursor_state(1)["objects"] == {"a.csv": "v1", "b.csv": "v2"}
    with engine.begin() as c:  # the resumed series goes on after the 4 chunks committed
        assert partitions.claim(c, 1, "c.csv", "v3", 7).skip == 4

    alembic(engine, command.downgrade, "0005")
    with engine.connect() as c:
        assert c.execute(select(t.cursors.c.state)).scalar()["objects"] == {"a.csv": "v1", "b.csv": "v2"}
    engine.dispose()


def test_only_one_attempt_commits_each_chunk_of_an_object(any_workspace):
    engine = any_workspace.engine
    any_workspace.save_connection("drop", "files", {"url": "/tmp"})
    any_workspace.save_dataflow(
        "d",
        {
            "source": {"connection": "drop", "stream": "*.csv"},
            "sync": {"mode": "incremental", "primary_key": ["id"]},
            "mapping": {"crmId": "id"},
        },
    )
    with engine.begin() as c:
        partitions.register(c, 1, ["a.csv"])
        first = partitions.claim(c, 1, "a.csv", "v1", run_id=10)
        again = partitions.claim(
            c, 1, "a.csv", "v1", run_id=10
        )  # a second attempt, e.g. a worker thought dead
    assert (first.skip, again.skip) == (0, 0)
    with engine.begin() as c:
        partitions.advance(c, 1, "a.csv", "v1", 10, 1, None)
    with pytest.raises(RunFailedError, match="committed its chunks first"), engine.begin() as c:
        partitions.advance(c, 1, "a.csv", "v1", 10, 1, None)
    with engine.begin() as c:
        assert partitions.claim(c, 1, "a.csv", "v1", run_id=10).skip == 1
        partitions.finish(c, 1, "a.csv", "v1", 10, 1)
        assert partitions.claim(c, 1, "a.csv", "v1", run_id=10).done
        # another series (a new run, or a changed object) starts the object over
        assert partitions.claim(c, 1, "a.csv", "v2", run_id=11).skip == 0
    assert any_workspace.store.cursor_state(1)["objects"] == {"a.csv": "v1"}
