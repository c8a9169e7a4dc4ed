"""Partitions of a dataflow's sync state get a row each, so that workers can commit them concurrently.

The versions of the objects an incremental dataflow has ingested used to sit
in the one JSON document of ``cursors.state`` (under ``objects``); they move
to ``cursor_partitions``, one row per object, and the key leaves the document.
The object an interrupted run was reading (the resume point's ``segment``)
takes its committed chunks along, so the next run still resumes after them.

Frozen: a later schema change is a new revision, never an edit here.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_cursors = sa.table(
    "cursors",
    sa.column("dataflow_id", sa.Integer()),
    sa.column("state", sa.JSON()),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)
_partitions = sa.table(
    "cursor_partitions",
    sa.column("dataflow_id", sa.Integer()),
    sa.column("name", sa.Text()),
    sa.column("version", sa.Text()),
    sa.column("reading", sa.Text()),
    sa.column("chunks_done", sa.Integer()),
    sa.column("run_id", sa.Integer()),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    op.create_table(
        "cursor_partitions",
        sa.Column("dataflow_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("version", sa.Text(), nullable=True),
        sa.Column("reading", sa.Text(), nullable=True),
        sa.Column("chunks_done", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("progress", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["dataflow_id"], ["dataflows.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("dataflow_id", "name"),
    )
    bind = op.get_bind()
    now = datetime.now(UTC)
    for dataflow_id, state in bind.execute(sa.select(_cursors.c.dataflow_id, _cursors.c.state)).all():
        state = dict(state or {})
        objects = state.pop("objects", None)
        if objects is None:
            continue
        rows = {
            name: {"dataflow_id": dataflow_id, "name": name, "version": version, "reading": None}
            for name, version in dict(objects).items()
        }
        resume = dict(state.get("resume") or {})
        segment = resume.pop("segment", None)
        if segment is not None and resume.get("segment_version") is not None:
            # an object a killed run was reading: its committed chunks become that object's progress
            rows.setdefault(segment, {"dataflow_id": dataflow_id, "name": segment, "version": None})
            rows[segment].update(
                reading=resume.pop("segment_version"),
                chunks_done=int(resume.pop("chunks_done", 0)),
                run_id=resume.get("run_id"),
            )
            state["resume"] = resume
        if rows:
            bind.execute(
                sa.insert(_partitions),
                [
                    {"chunks_done": 0, "run_id": None, "reading": None, **row, "updated_at": now}
                    for row in rows.values()
                ],
            )
        bind.execute(
            sa.update(_cursors)
            .where(_cursors.c.dataflow_id == dataflow_id)
            .values(state=state, updated_at=now)
        )


def downgrade() -> None:
    bind = op.get_bind()
    done = bind.execute(
        sa.select(_partitions.c.dataflow_id, _partitions.c.name, _partitions.c.version).where(
            _partitions.c.version.is_not(None)
        )
    ).all()
    objects: dict[int, dict[str, str]] = {}
    for dataflow_id, name, version in done:
        objects.setdefault(dataflow_id, {})[name] = version
    now = datetime.now(UTC)
    for dataflow_id, versions in objects.items():
        state = bind.execute(
            sa.select(_cursors.c.state).where(_cursors.c.dataflow_id == dataflow_id)
        ).scalar()
        merged = {**dict(state or {}), "objects": versions}
        if state is None:
            bind.execute(sa.insert(_cursors).values(dataflow_id=dataflow_id, state=merged, updated_at=now))
        else:
            bind.execute(
                sa.update(_cursors)
                .where(_cursors.c.dataflow_id == dataflow_id)
                .values(state=merged, updated_at=now)
            )
    op.drop_table("cursor_partitions")
