"""Match proposals: links ``ml-connector match`` proposes between records both sides already have.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import ml_connector.store.types

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "match_proposals",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("connection", sa.String(length=63), nullable=False),
        sa.Column("entity", sa.String(length=40), nullable=False),
        sa.Column("source_system", sa.String(length=20), nullable=False),
        sa.Column("source_id", sa.String(length=100), nullable=False),
        sa.Column("source_label", sa.String(length=300), nullable=False),
        sa.Column("target_system", sa.String(length=20), nullable=False),
        sa.Column("target_id", sa.String(length=100), nullable=False),
        sa.Column("target_label", sa.String(length=300), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("ambiguous", sa.Boolean(), nullable=False),
        sa.Column("why_ambiguous", sa.Text(), nullable=True),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("candidates", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("decided_at", ml_connector.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("applied_at", ml_connector.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at", ml_connector.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "updated_at", ml_connector.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_match_proposals")),
        sa.UniqueConstraint(
            "connection",
            "entity",
            "source_id",
            name=op.f("uq_match_proposals_connection_entity_source_id"),
        ),
    )
    with op.batch_alter_table("match_proposals", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_match_proposals_connection_entity_state"),
            ["connection", "entity", "state"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_match_proposals_connection_entity_target_id"),
            ["connection", "entity", "target_id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("match_proposals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_match_proposals_connection_entity_target_id"))
        batch_op.drop_index(batch_op.f("ix_match_proposals_connection_entity_state"))
    op.drop_table("match_proposals")
