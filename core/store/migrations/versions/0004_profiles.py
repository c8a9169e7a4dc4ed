"""Unified profiles: each record's profile, the profiles, and the linking decisions (why merged or not).

Frozen: a later schema change is a new revision, never an edit here.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "profile_members",
        sa.Column("dataflow_id", sa.Integer(), nullable=False),
        sa.Column("source_key", sa.Text(), nullable=False),
        sa.Column("profile_id", sa.String(length=40), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("dataflow_id", "source_key"),
    )
    op.create_index("ix_profile_members_profile", "profile_members", ["profile_id"])
    op.create_table(
        "profiles",
        sa.Column("profile_id", sa.String(length=40), nullable=False),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.Column("identities", sa.JSON(), nullable=False),
        sa.Column("dataflows", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("profile_id"),
    )
    op.create_table(
        "profile_decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("profile_id", sa.String(length=40), nullable=True),
        sa.Column("dataflow_id", sa.Integer(), nullable=True),
        sa.Column("source_key", sa.Text(), nullable=True),
        sa.Column("namespace", sa.String(length=100), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("rule", sa.String(length=50), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_profile_decisions_profile", "profile_decisions", ["profile_id"])
    op.create_index("ix_profile_decisions_record", "profile_decisions", ["dataflow_id", "source_key"])


def downgrade() -> None:
    op.drop_index("ix_profile_decisions_record", table_name="profile_decisions")
    op.drop_index("ix_profile_decisions_profile", table_name="profile_decisions")
    op.drop_table("profile_decisions")
    op.drop_table("profiles")
    op.drop_index("ix_profile_members_profile", table_name="profile_members")
    op.drop_table("profile_members")
