"""Dataflow versions (spec and the source schema it was built on); runs record their version,
validation summary and warnings.

Frozen: a later schema change is a new revision, never an edit here.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dataflow_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dataflow_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("source_schema", sa.JSON(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["dataflow_id"], ["dataflows.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dataflow_id", "version", name="uq_dataflow_versions_version"),
    )
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("dataflow_version", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("validation", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("warnings", sa.JSON(), nullable=True))
    # Every existing dataflow's current spec becomes its first recorded version.
    op.execute(
        "INSERT INTO dataflow_versions (dataflow_id, version, spec, note, created_at) "
        "SELECT id, version, spec, '', updated_at FROM dataflows"
    )


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("warnings")
        batch.drop_column("validation")
        batch.drop_column("dataflow_version")
    op.drop_table("dataflow_versions")
