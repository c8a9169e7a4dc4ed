"""The sync state of a partitioned source: one row per object, so workers commit apart.

An incremental dataflow over files or objects reads each object once per
version. Each object has a row in ``cursor_partitions``: the version ingested
completely (``version``), and the read in progress — the version being read
(``reading``), the chunks of it committed (``chunks_done``), the run that
reads it (``run_id``: the first run of a resumed series) and its cursor
progress in this object. Every chunk's transaction moves its object's row by
compare-and-swap on ``chunks_done``, so two attempts at one object (a worker
thought dead that was not) can never both commit the same chunk; rows of
different objects never contend, whichever process writes them.

The run-level part of the state (watermark, the run a resume continues) stays
in ``cursors.state``; :meth:`core.store.repository.Store.cursor_state` shows
the completed versions there under ``objects``, as before.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from core.errors import RunFailedError
from core.store import tables as t
from core.store.repository import utcnow

_rows = t.cursor_partitions


@dataclass(frozen=True)
class Claim:
    """Where a read of one object starts.

    Attributes:
        skip: chunks already committed by this run series: read past them.
        progress: the cursor progress those chunks made (``{"run_max": ...}``), or None.
        done: the series already ingested this version completely: nothing to read.
    """

    skip: int = 0
    progress: Mapping[str, Any] | None = None
    done: bool = False


def done_versions(conn: Connection, dataflow_id: int) -> dict[str, str]:
    """The version of each object ingested completely, by name."""
    query = select(_rows.c.name, _rows.c.version).where(
        _rows.c.dataflow_id == dataflow_id, _rows.c.version.is_not(None)
    )
    return {str(name): str(version) for name, version in conn.execute(query)}


def register(conn: Connection, dataflow_id: int, names: Iterable[str]) -> None:
    """Adds a row for each object that has none yet (before workers move them)."""
    known = set(conn.execute(select(_rows.c.name).where(_rows.c.dataflow_id == dataflow_id)).scalars())
    now = utcnow()
    rows = [
        {"dataflow_id": dataflow_id, "name": name, "chunks_done": 0, "updated_at": now}
        for name in dict.fromkeys(names)
        if name not in known
    ]
    if rows:
        conn.execute(insert(_rows), rows)


def claim(conn: Connection, dataflow_id: int, name: str, version: str, run_id: int) -> Claim:
    """Starts (or resumes) reading ``version`` of an object for run series ``run_id``.

    A read of the same version by the same series resumes after its
    committed chunks; any other progress in the row is replaced.
    """
    row = (
        conn.execute(
            select(_rows).where(_rows.c.dataflow_id == dataflow_id, _rows.c.name == name).with_for_update()
        )
        .mappings()
        .first()
    )
    if row is None:
        register(conn, dataflow_id, [name])
    elif row["run_id"] == run_id and row["reading"] == version:
        return Claim(int(row["chunks_done"]), row["progress"])
    elif row["run_id"] == run_id and row["reading"] is None and row["version"] == version:
        return Claim(done=True)
    conn.execute(
        update(_rows)
        .where(_rows.c.dataflow_id == dataflow_id, _rows.c.name == name)
        .values(reading=version, chunks_done=0, run_id=run_id, progress=None, updated_at=utcnow())
    )
    return Claim()


def advance(
    conn: Connection,
    dataflow_id: int,
    name: str,
    version: str,
    run_id: int,
    chunks_done: int,
    progress: Mapping[str, Any] | None,
) -> None:
    """Records one more committed chunk of the object, in the chunk's transaction.

    Raises:
        RunFailedError: another attempt committed this chunk first (code ``partition_superseded``).
    """
    moved = conn.execute(
        update(_rows)
        .where(*_reading(dataflow_id, name, version, run_id), _rows.c.chunks_done == chunks_done - 1)
        .values(
            chunks_done=chunks_done,
            progress=None if progress is None else dict(progress),
            updated_at=utcnow(),
        )
    ).rowcount
    if moved != 1:
        raise _superseded(name)


def finish(
    conn: Connection, dataflow_id: int, name: str, version: str, run_id: int, chunks_done: int
) -> None:
    """Marks the object ingested at ``version``: later runs skip it until it changes.

    Raises:
        RunFailedError: another attempt finished or moved it (code ``partition_superseded``).
    """
    moved = conn.execute(
        update(_rows)
        .where(*_reading(dataflow_id, name, version, run_id), _rows.c.chunks_done == chunks_done)
        .values(version=version, reading=None, updated_at=utcnow())
    ).rowcount
    if moved != 1:
        raise _superseded(name)


def progress_of(conn: Connection, dataflow_id: int, run_id: int) -> list[tuple[str, Mapping[str, Any]]]:
    """The cursor progress run series ``run_id`` made in each object it read, in name order."""
    query = (
        select(_rows.c.name, _rows.c.progress)
        .where(_rows.c.dataflow_id == dataflow_id, _rows.c.run_id == run_id, _rows.c.progress.is_not(None))
        .order_by(_rows.c.name)
    )
    return [(str(name), dict(progress)) for name, progress in conn.execute(query)]


def clear(conn: Connection, dataflow_id: int) -> None:
    """Forgets every object of a dataflow (a completed full refresh starts the next sync over)."""
    conn.execute(delete(_rows).where(_rows.c.dataflow_id == dataflow_id))


def _reading(dataflow_id: int, name: str, version: str, run_id: int) -> tuple[Any, ...]:
    return (
        _rows.c.dataflow_id == dataflow_id,
        _rows.c.name == name,
        _rows.c.run_id == run_id,
        _rows.c.reading == version,
    )


def _superseded(name: str) -> RunFailedError:
    return RunFailedError(
        f"Another attempt at {name!r} committed its chunks first (a worker thought lost was still running); "
        "this attempt stopped without writing. Run the dataflow again: it resumes where the object stands.",
        code="partition_superseded",
    )
