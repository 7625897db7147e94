"""The state store's tables (DESIGN §3.1).

The Alembic migrations in ``store/migrations`` must produce exactly this schema; a test compares them
on SQLite and PostgreSQL. Change both together: edit this file, then add a migration.

State columns hold the string values of the enums in :mod:`ml_connector.store.states`.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from ml_connector.store.types import UTCDateTime

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)

# A BIGINT primary key that still autoincrements on SQLite (where only INTEGER does).
IdType = BigInteger().with_variant(Integer(), "sqlite")

store_meta = Table(
    "store_meta",
    metadata,
    Column("key", String(100), primary_key=True),
    Column("value", LargeBinary, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

connections = Table(
    "connections",
    metadata,
    Column("name", String(63), primary_key=True),
    Column("fusion_base_url", String(500), nullable=False),
    Column("servicetitan_tenant_id", BigInteger, nullable=False),
    Column("config_hash", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

secrets = Table(
    "secrets",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("ciphertext", LargeBinary, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

cursors = Table(
    "cursors",
    metadata,
    Column("connection", String(63), primary_key=True),
    Column("flow", String(40), primary_key=True),
    Column("watermark", UTCDateTime, nullable=True),
    Column("tiebreak", String(100), nullable=True),
    Column("token", Text, nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
)

links = Table(
    "links",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("connection", String(63), nullable=False),
    Column("entity", String(40), nullable=False),
    Column("source_system", String(20), nullable=False),
    Column("source_id", String(100), nullable=False),
    Column("target_system", String(20), nullable=False),
    Column("target_id", String(100), nullable=False),
    Column("version_hash", String(64), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("connection", "entity", "source_id"),
    Index(None, "connection", "entity", "target_id"),
)

inbox = Table(
    "inbox",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("connection", String(63), nullable=False),
    Column("origin", String(20), nullable=False),
    Column("event_key", String(200), nullable=False),
    Column("event_type", String(100), nullable=False),
    Column("entity_type", String(40), nullable=True),
    Column("entity_id", String(100), nullable=True),
    Column("payload", JSON, nullable=True),
    Column("state", String(20), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("received_at", UTCDateTime, nullable=False),
    Column("available_at", UTCDateTime, nullable=False),
    Column("claimed_by", String(100), nullable=True),
    Column("lease_until", UTCDateTime, nullable=True),
    Column("finished_at", UTCDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    #: the first failed try: an item's retry window counts from here (decision 0013)
    Column("first_failed_at", UTCDateTime, nullable=True),
    UniqueConstraint("connection", "event_key"),
    Index(None, "state", "available_at"),
)

writes = Table(
    "writes",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("connection", String(63), nullable=False),
    Column("flow", String(40), nullable=False),
    Column("target_system", String(20), nullable=False),
    Column("operation", String(20), nullable=False),
    Column("business_key", String(200), nullable=False),
    Column("payload_hash", String(64), nullable=False),
    Column("state", String(20), nullable=False),
    Column("target_id", String(100), nullable=True),
    Column("error", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index(None, "connection", "flow", "business_key"),
    Index(None, "state"),
)

audit = Table(
    "audit",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("connection", String(63), nullable=False),
    Column("flow", String(40), nullable=False),
    Column("run_id", String(40), nullable=True),
    Column("source_system", String(20), nullable=False),
    Column("source_id", String(100), nullable=False),
    Column("source_version", String(100), nullable=True),
    Column("target_system", String(20), nullable=True),
    Column("target_id", String(100), nullable=True),
    Column("action", String(20), nullable=False),
    Column("dry_run", Boolean, nullable=False, default=False),
    Column("decisions", JSON, nullable=False),
    Column("request_summary", JSON, nullable=True),
    Column("response_summary", JSON, nullable=True),
    Column("error_class", String(200), nullable=True),
    Column("error_message", Text, nullable=True),
    Column("attempt", Integer, nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("ended_at", UTCDateTime, nullable=False),
    Index(None, "connection", "flow", "source_id"),
    Index(None, "target_id"),
    Index(None, "ended_at"),
)

attention = Table(
    "attention",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("connection", String(63), nullable=False),
    Column("flow", String(40), nullable=False),
    Column("source_system", String(20), nullable=False),
    Column("source_id", String(100), nullable=False),
    Column("reason", String(60), nullable=False),
    Column("message", Text, nullable=False),
    Column("suggestion", Text, nullable=False),
    Column("state", String(20), nullable=False),
    Column("source_record", JSON, nullable=True),
    Column("decisions", JSON, nullable=True),
    Column("occurrences", Integer, nullable=False, default=1),
    Column("comment", Text, nullable=True),
    Column("decided_by", String(100), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index(None, "connection", "flow", "source_id"),
    Index(None, "state"),
)

leases = Table(
    "leases",
    metadata,
    Column("name", String(120), primary_key=True),
    Column("holder", String(120), nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("acquired_at", UTCDateTime, nullable=False),
)

match_proposals = Table(
    "match_proposals",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("connection", String(63), nullable=False),
    Column("entity", String(40), nullable=False),
    Column("source_system", String(20), nullable=False),
    Column("source_id", String(100), nullable=False),
    Column("source_label", String(300), nullable=False),
    Column("target_system", String(20), nullable=False),
    Column("target_id", String(100), nullable=False),
    Column("target_label", String(300), nullable=False),
    Column("score", Float, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("ambiguous", Boolean, nullable=False, default=False),
    Column("why_ambiguous", Text, nullable=True),
    Column("evidence", JSON, nullable=False),
    Column("candidates", JSON, nullable=False),
    Column("state", String(20), nullable=False),
    Column("decided_by", String(100), nullable=True),
    Column("decided_at", UTCDateTime, nullable=True),
    Column("applied_at", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("connection", "entity", "source_id"),
    Index(None, "connection", "entity", "state"),
    Index(None, "connection", "entity", "target_id"),
)
