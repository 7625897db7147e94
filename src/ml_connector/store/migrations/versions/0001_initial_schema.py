"""Initial schema: the tables of DESIGN §3.1.

Revision ID: 0001
Revises:
Create Date: 2026-12-01 03:19:17.649862
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import ml_connector.store.types

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "attention",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("connection", sa.String(length=63), nullable=False),
        sa.Column("flow", sa.String(length=40), nullable=False),
        sa.Column("source_system", sa.String(length=20), nullable=False),
        sa.Column("source_id", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.String(length=60), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("suggestion", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("source_record", sa.JSON(), nullable=True),
        sa.Column("decisions", sa.JSON(), nullable=True),
        sa.Column("occurrences", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column(
            "created_at", ml_connector.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "updated_at", ml_connector.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attention")),
    )
    with op.batch_alter_table("attention", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_attention_connection_flow_source_id"),
            ["connection", "flow", "source_id"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_attention_state"), ["state"], unique=False)

    op.create_table(
        "audit",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("connection", sa.String(length=63), nullable=False),
        sa.Column("flow", sa.String(length=40), nullable=False),
        sa.Column("run_id", sa.String(length=40), nullable=True),
        sa.Column("source_system", sa.String(length=20), nullable=False),
        sa.Column("source_id", sa.String(length=100), nullable=False),
        sa.Column("source_version", sa.String(length=100), nullable=True),
        sa.Column("target_system", sa.String(length=20), nullable=True),
        sa.Column("target_id", sa.String(length=100), nullable=True),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("decisions", sa.JSON(), nullable=False),
        sa.Column("request_summary", sa.JSON(), nullable=True),
        sa.Column("response_summary", sa.JSON(), nullable=True),
        sa.Column("error_class", sa.String(length=200), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column(
            "started_at", ml_connector.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("ended_at", ml_connector.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit")),
    )
    with op.batch_alter_table("audit", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_audit_connection_flow_source_id"),
            ["connection", "flow", "source_id"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_audit_ended_at"), ["ended_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_target_id"), ["target_id"], unique=False)

    op.create_table(
        "connections",
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("fusion_base_url", sa.String(length=500), nullable=False),
        sa.Column("servicetitan_tenant_id", sa.BigInteger(), nullable=False),
        sa.Column("config_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at", ml_connector.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "updated_at", ml_connector.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_connections")),
    )
    op.create_table(
        "cursors",
        sa.Column("connection", sa.String(length=63), nullable=False),
        sa.Column("flow", sa.String(length=40), nullable=False),
        sa.Column("watermark", ml_connector.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("tiebreak", sa.String(length=100), nullable=True),
        sa.Column("token", sa.Text(), nullable=True),
        sa.Column(
            "updated_at", ml_connector.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("connection", "flow", name=op.f("pk_cursors")),
    )
    op.create_table(
        "inbox",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("connection", sa.String(length=63), nullable=False),
        sa.Column("origin", sa.String(length=20), nullable=False),
        sa.Column("event_key", sa.String(length=200), nullable=False),
        sa.Column("event_type", sa.String(length=100), nullable=False),
        sa.Column("entity_type", sa.String(length=40), nullable=True),
        sa.Column("entity_id", sa.String(length=100), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column(
            "received_at", ml_connector.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "available_at", ml_connector.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("claimed_by", sa.String(length=100), nullable=True),
        sa.Column(
            "lease_until", ml_connector.store.types.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "finished_at", ml_connector.store.types.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbox")),
        sa.UniqueConstraint("connection", "event_key", name=op.f("uq_inbox_connection_event_key")),
    )
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_inbox_state_available_at"), ["state", "available_at"], unique=False
        )

    op.create_table(
        "links",
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
        sa.Column("target_system", sa.String(length=20), nullable=False),
        sa.Column("target_id", sa.String(length=100), nullable=False),
        sa.Column("version_hash", sa.String(length=64), nullable=True),
        sa.Column(
            "created_at", ml_connector.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "updated_at", ml_connector.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_links")),
        sa.UniqueConstraint(
            "connection", "entity", "source_id", name=op.f("uq_links_connection_entity_source_id")
        ),
    )
    with op.batch_alter_table("links", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_links_connection_entity_target_id"),
            ["connection", "entity", "target_id"],
            unique=False,
        )

    op.create_table(
        "secrets",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column(
            "created_at", ml_connector.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "updated_at", ml_connector.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_secrets")),
    )
    op.create_table(
        "store_meta",
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("value", sa.LargeBinary(), nullable=False),
        sa.Column(
            "updated_at", ml_connector.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_store_meta")),
    )
    op.create_table(
        "writes",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("connection", sa.String(length=63), nullable=False),
        sa.Column("flow", sa.String(length=40), nullable=False),
        sa.Column("target_system", sa.String(length=20), nullable=False),
        sa.Column("operation", sa.String(length=20), nullable=False),
        sa.Column("business_key", sa.String(length=200), nullable=False),
        sa.Column("payload_hash", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("target_id", sa.String(length=100), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column(
            "created_at", ml_connector.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "updated_at", ml_connector.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_writes")),
    )
    with op.batch_alter_table("writes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_writes_connection_flow_business_key"),
            ["connection", "flow", "business_key"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_writes_state"), ["state"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("writes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_writes_state"))
        batch_op.drop_index(batch_op.f("ix_writes_connection_flow_business_key"))

    op.drop_table("writes")
    op.drop_table("store_meta")
    op.drop_table("secrets")
    with op.batch_alter_table("links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_links_connection_entity_target_id"))

    op.drop_table("links")
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inbox_state_available_at"))

    op.drop_table("inbox")
    op.drop_table("cursors")
    op.drop_table("connections")
    with op.batch_alter_table("audit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_target_id"))
        batch_op.drop_index(batch_op.f("ix_audit_ended_at"))
        batch_op.drop_index(batch_op.f("ix_audit_connection_flow_source_id"))

    op.drop_table("audit")
    with op.batch_alter_table("attention", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attention_state"))
        batch_op.drop_index(batch_op.f("ix_attention_connection_flow_source_id"))

    op.drop_table("attention")
