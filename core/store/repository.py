"""Reads and writes of Tributary's own tables, one small method per question."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Engine, RowMapping, delete, func, insert, select, update

from core.errors import NotFoundError
from core.store import tables as t


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


class Store:
    """The repository over one store engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- connections -------------------------------------------------------
    def connection_row(self, name: str, conn: Connection | None = None) -> RowMapping:
        """The connection named ``name``; NotFoundError lists the known ones."""
        with self._reader(conn) as c:
            row = c.execute(select(t.connections).where(t.connections.c.name == name)).mappings().first()
            if row is None:
                known = c.execute(select(t.connections.c.name)).scalars().all()
                raise NotFoundError(_unknown("connection", name, known))
            return row

    def connection_rows(self) -> list[RowMapping]:
        """All connections, by name."""
        with self.engine.connect() as c:
            return list(c.execute(select(t.connections).order_by(t.connections.c.name)).mappings())

    def upsert_connection(
        self,
        conn: Connection,
        name: str,
        connector: str,
        config: Mapping[str, Any],
        secrets: Mapping[str, bytes],
        secret_refs: Mapping[str, str],
        description: str = "",
    ) -> int:
        """Creates or updates a connection and replaces the given secrets."""
        now = utcnow()
        existing = conn.execute(select(t.connections.c.id).where(t.connections.c.name == name)).scalar()
        values = {
            "connector": connector,
            "config": dict(config),
            "secret_refs": dict(secret_refs),
            "description": description,
            "updated_at": now,
        }
        if existing is None:
            existing = conn.execute(
                insert(t.connections)
                .values(name=name, created_at=now, **values)
                .returning(t.connections.c.id)
            ).scalar_one()
        else:
            conn.execute(update(t.connections).where(t.connections.c.id == existing).values(**values))
        for field, ciphertext in secrets.items():
            conn.execute(
                delete(t.secrets).where(t.secrets.c.connection_id == existing, t.secrets.c.field == field)
            )
            conn.execute(
                insert(t.secrets).values(
                    connection_id=existing, field=field, ciphertext=ciphertext, updated_at=now
                )
            )
        return int(existing)

    def secret_tokens(self, connection_id: int) -> dict[str, bytes]:
        """The encrypted secrets of a connection, by field."""
        with self.engine.connect() as c:
            rows = c.execute(
                select(t.secrets.c.field, t.secrets.c.ciphertext).where(
                    t.secrets.c.connection_id == connection_id
                )
            )
            return {field: bytes(token) for field, token in rows}

    def delete_connection(self, name: str) -> None:
        """Deletes a connection that no dataflow uses."""
        with self.engine.begin() as c:
            row = self.connection_row(name, c)
            users = (
                c.execute(select(t.dataflows.c.name).where(t.dataflows.c.connection_id == row["id"]))
                .scalars()
                .all()
            )
            if users:
                raise NotFoundError(
                    f"Connection {name!r} is used by dataflow(s) {', '.join(users)}; delete those first."
                )
            c.execute(delete(t.secrets).where(t.secrets.c.connection_id == row["id"]))
            c.execute(delete(t.connections).where(t.connections.c.id == row["id"]))

    # -- dataflows ---------------------------------------------------------
    def dataflow_row(self, name: str, conn: Connection | None = None) -> RowMapping:
        """The dataflow named ``name``; NotFoundError lists the known ones."""
        with self._reader(conn) as c:
            row = c.execute(select(t.dataflows).where(t.dataflows.c.name == name)).mappings().first()
            if row is None:
                known = c.execute(select(t.dataflows.c.name)).scalars().all()
                raise NotFoundError(_unknown("dataflow", name, known))
            return row

    def dataflow_rows(self) -> list[RowMapping]:
        """All dataflows, by name."""
        with self.engine.connect() as c:
            return list(c.execute(select(t.dataflows).order_by(t.dataflows.c.name)).mappings())

    def upsert_dataflow(
        self,
        conn: Connection,
        name: str,
        connection_id: int,
        spec: Mapping[str, Any],
        *,
        source_schema: Mapping[str, str | None] | None = None,
        note: str = "",
    ) -> int:
        """Creates a dataflow or, when its spec (or the source schema it was built on) changed,
        saves it as a new version; every version is kept and can be restored."""
        now = utcnow()
        row = conn.execute(select(t.dataflows).where(t.dataflows.c.name == name)).mappings().first()
        enabled = int(bool(spec.get("enabled", True)))
        schema = None if source_schema is None else dict(source_schema)
        if row is None:
            dataflow_id = int(
                conn.execute(
                    insert(t.dataflows)
                    .values(
                        name=name,
                        connection_id=connection_id,
                        spec=dict(spec),
                        version=1,
                        enabled=enabled,
                        created_at=now,
                        updated_at=now,
                    )
                    .returning(t.dataflows.c.id)
                ).scalar_one()
            )
            self._add_version(conn, dataflow_id, 1, spec, schema, note, now)
            return dataflow_id
        current = self.version_row(conn, int(row["id"]), int(row["version"]))
        new_schema = schema is not None and (current is None or current["source_schema"] != schema)
        if row["spec"] != spec or row["connection_id"] != connection_id or new_schema:
            version = int(row["version"]) + 1
            conn.execute(
                update(t.dataflows)
                .where(t.dataflows.c.id == row["id"])
                .values(
                    connection_id=connection_id,
                    spec=dict(spec),
                    version=version,
                    enabled=enabled,
                    updated_at=now,
                )
            )
            if schema is None and current is not None:
                schema = current["source_schema"]  # the source did not change with the mapping
            self._add_version(conn, int(row["id"]), version, spec, schema, note, now)
        return int(row["id"])

    def _add_version(
        self,
        conn: Connection,
        dataflow_id: int,
        version: int,
        spec: Mapping[str, Any],
        schema: Mapping[str, str | None] | None,
        note: str,
        now: datetime,
    ) -> None:
        conn.execute(
            insert(t.dataflow_versions).values(
                dataflow_id=dataflow_id,
                version=version,
                spec=dict(spec),
                source_schema=None if schema is None else dict(schema),
                note=note,
                created_at=now,
            )
        )

    def version_row(self, conn: Connection | None, dataflow_id: int, version: int) -> RowMapping | None:
        """One saved version of a dataflow, or None."""
        with self._reader(conn) as c:
            return (
                c.execute(
                    select(t.dataflow_versions).where(
                        t.dataflow_versions.c.dataflow_id == dataflow_id,
                        t.dataflow_versions.c.version == version,
                    )
                )
                .mappings()
                .first()
            )

    def versions_frame(self, dataflow_id: int) -> pd.DataFrame:
        """Every saved version of a dataflow, newest first."""
        query = (
            select(t.dataflow_versions)
            .where(t.dataflow_versions.c.dataflow_id == dataflow_id)
            .order_by(t.dataflow_versions.c.version.desc())
        )
        with self.engine.connect() as c:
            return pd.DataFrame(c.execute(query).mappings().all())

    def set_source_schema(
        self, conn: Connection, dataflow_id: int, version: int, schema: Mapping[str, str | None]
    ) -> None:
        """Records the source schema a version was first run on, when it was saved without one."""
        conn.execute(
            update(t.dataflow_versions)
            .where(
                t.dataflow_versions.c.dataflow_id == dataflow_id,
                t.dataflow_versions.c.version == version,
                t.dataflow_versions.c.source_schema.is_(None),
            )
            .values(source_schema=dict(schema))
        )

    # -- runs ----------------------------------------------------------------
    def start_run(
        self, dataflow_id: int, trigger: str, mode: str, resumed_from: int | None, version: int | None = None
    ) -> int:
        """Records a new running run and returns its id."""
        with self.engine.begin() as c:
            return int(
                c.execute(
                    insert(t.runs)
                    .values(
                        dataflow_id=dataflow_id,
                        status="running",
                        trigger=trigger,
                        mode=mode,
                        started_at=utcnow(),
                        resumed_from=resumed_from,
                        dataflow_version=version,
                    )
                    .returning(t.runs.c.id)
                ).scalar_one()
            )

    def abandon_running(self, conn: Connection, dataflow_id: int) -> None:
        """Marks runs of a dataflow left 'running' by a dead process as abandoned."""
        conn.execute(
            update(t.runs)
            .where(t.runs.c.dataflow_id == dataflow_id, t.runs.c.status == "running")
            .values(
                status="abandoned",
                finished_at=utcnow(),
                error_code="abandoned",
                error_message="The process running it stopped before it finished; a later run resumed.",
            )
        )

    def add_to_run(self, conn: Connection, run_id: int, **counts: int) -> None:
        """Adds a chunk's counts to a run's counters (``received = received + n``) in its transaction.

        Additive, so chunks committed at once by several workers never overwrite each other's.
        """
        columns = t.runs.c
        conn.execute(
            update(t.runs)
            .where(columns.id == run_id)
            .values({columns[name]: columns[name] + int(n) for name, n in counts.items()})
        )

    def run_totals(self, conn: Connection, run_id: int) -> RowMapping:
        """A run's counters as committed now (received, ingested, failed, deleted, chunks, status)."""
        columns = t.runs.c
        row = (
            conn.execute(
                select(
                    columns.received,
                    columns.ingested,
                    columns.failed,
                    columns.deleted,
                    columns.chunks,
                    columns.status,
                ).where(columns.id == run_id)
            )
            .mappings()
            .first()
        )
        if row is None:
            raise NotFoundError(f"There is no run {run_id}.")
        return row

    def run_row(self, run_id: int) -> RowMapping:
        """One run, with its dataflow's name."""
        with self.engine.connect() as c:
            row = (
                c.execute(
                    select(t.runs, t.dataflows.c.name.label("dataflow"))
                    .join(t.dataflows, t.dataflows.c.id == t.runs.c.dataflow_id)
                    .where(t.runs.c.id == run_id)
                )
                .mappings()
                .first()
            )
        if row is None:
            raise NotFoundError(f"There is no run {run_id}.")
        return row

    def runs_frame(self, dataflow_id: int | None = None, limit: int = 200) -> pd.DataFrame:
        """Recent runs, newest first, with their dataflow's name."""
        query = (
            select(t.runs, t.dataflows.c.name.label("dataflow"))
            .join(t.dataflows, t.dataflows.c.id == t.runs.c.dataflow_id)
            .order_by(t.runs.c.id.desc())
            .limit(limit)
        )
        if dataflow_id is not None:
            query = query.where(t.runs.c.dataflow_id == dataflow_id)
        with self.engine.connect() as c:
            return pd.DataFrame(c.execute(query).mappings().all())

    def errors_frame(self, run_id: int, limit: int = 10_000) -> pd.DataFrame:
        """The quarantined rows of a run with their codes and reasons."""
        query = (
            select(t.run_errors)
            .where(t.run_errors.c.run_id == run_id)
            .order_by(t.run_errors.c.id)
            .limit(limit)
        )
        with self.engine.connect() as c:
            return pd.DataFrame(c.execute(query).mappings().all())

    def count_errors(self, run_id: int) -> int:
        """How many error rows a run recorded."""
        with self.engine.connect() as c:
            return int(
                c.execute(
                    select(func.count()).select_from(t.run_errors).where(t.run_errors.c.run_id == run_id)
                ).scalar_one()
            )

    # -- cursors -------------------------------------------------------------
    def cursor_state(self, dataflow_id: int, conn: Connection | None = None) -> dict[str, Any]:
        """The dataflow's sync state (watermark, resume point), or an empty dict.

        The versions of the objects a partitioned source ingested, kept one row
        each (``core.store.partitions``), show under ``objects``.
        """
        with self._reader(conn) as c:
            state = c.execute(
                select(t.cursors.c.state).where(t.cursors.c.dataflow_id == dataflow_id)
            ).scalar()
            parts = t.cursor_partitions.c
            objects = dict(
                c.execute(
                    select(parts.name, parts.version).where(
                        parts.dataflow_id == dataflow_id, parts.version.is_not(None)
                    )
                ).all()
            )
        state = dict(state or {})
        state.pop("objects", None)
        if objects:
            state["objects"] = objects
        return state

    def save_cursor_state(self, conn: Connection, dataflow_id: int, state: Mapping[str, Any]) -> None:
        """Saves the sync state inside the caller's transaction.

        ``objects`` is left out: each object's version is written on its own
        row, by the transaction that completes it (``core.store.partitions``).
        """
        document = {key: value for key, value in state.items() if key != "objects"}
        changed = conn.execute(
            update(t.cursors)
            .where(t.cursors.c.dataflow_id == dataflow_id)
            .values(state=document, updated_at=utcnow())
        ).rowcount
        if not changed:
            conn.execute(
                insert(t.cursors).values(dataflow_id=dataflow_id, state=document, updated_at=utcnow())
            )

    def _reader(self, conn: Connection | None):  # type: ignore[no-untyped-def]
        return _Borrowed(conn) if conn is not None else self.engine.connect()


class _Borrowed:
    """Context manager that lends an open connection without closing it."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def __enter__(self) -> Connection:
        return self.conn

    def __exit__(self, *_: object) -> None:
        return None


def _unknown(kind: str, name: str, known: list[str] | Any) -> str:
    known = sorted(known)
    if not known:
        return f"There is no {kind} named {name!r}; none exist yet."
    return f"There is no {kind} named {name!r}. Known: {', '.join(known)}."
