"""Leases: one holder per (connection, flow) across processes sharing a store.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 04:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import ml_connector.store.types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "leases",
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("holder", sa.String(length=120), nullable=False),
        sa.Column(
            "expires_at", ml_connector.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "acquired_at", ml_connector.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_leases")),
    )


def downgrade() -> None:
    op.drop_table("leases")
