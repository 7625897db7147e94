"""The migrations produce exactly the models' schema, and version checks refuse mismatches."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from ml_connector.errors import StoreError
from ml_connector.store.engine import create_sync_engine
from ml_connector.store.migrate import check_schema, head_revision, schema_status, upgrade
from ml_connector.store.schema import metadata


def test_migrations_produce_exactly_the_models_schema(migrated_url: str) -> None:
    engine = create_sync_engine(migrated_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(context, metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_every_table_is_created(migrated_url: str) -> None:
    engine = create_sync_engine(migrated_url)
    try:
        with engine.connect() as conn:
            from sqlalchemy import inspect

            tables = set(inspect(conn).get_table_names())
    finally:
        engine.dispose()
    expected = {
        "connections",
        "secrets",
        "cursors",
        "links",
        "inbox",
        "writes",
        "audit",
        "attention",
    }
    assert expected <= tables


def test_fresh_database_is_refused_until_migrated(database_url: str) -> None:
    with pytest.raises(StoreError, match="not initialised: run `ml-connector migrate`"):
        check_schema(database_url)
    status = upgrade(database_url)
    assert status.up_to_date
    check_schema(database_url)


def test_upgrade_is_idempotent(migrated_url: str) -> None:
    assert upgrade(migrated_url).current == head_revision()


def _set_revision(url: str, revision: str) -> None:
    engine = create_sync_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": revision})
    finally:
        engine.dispose()


def test_newer_schema_is_refused_and_not_migrated(migrated_url: str) -> None:
    _set_revision(migrated_url, "9999_from_the_future")
    with pytest.raises(StoreError, match="newer than this ml-connector"):
        check_schema(migrated_url)
    with pytest.raises(StoreError, match="newer than this ml-connector"):
        upgrade(migrated_url)
    assert schema_status(migrated_url).current == "9999_from_the_future"


def test_unreachable_database_is_one_clear_error() -> None:
    url = "postgresql+psycopg://nobody@127.0.0.1:1/none"
    with pytest.raises(StoreError, match="cannot open the store") as info:
        check_schema(url)
    assert "\n" not in str(info.value)
