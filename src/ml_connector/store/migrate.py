"""Schema migrations with Alembic, run from code (no alembic.ini to find).

:func:`check_schema` is what every command calls before touching the store: a schema older than the
code says "run `ml-connector migrate`", a newer one says "upgrade ml-connector"; both are one line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from ml_connector.errors import StoreError
from ml_connector.store.engine import create_sync_engine, redact_db_url

MIGRATIONS = Path(__file__).with_name("migrations")


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def _known_revisions() -> set[str]:
    return {rev.revision for rev in ScriptDirectory.from_config(_config()).walk_revisions()}


@dataclass(frozen=True, kw_only=True)
class SchemaStatus:
    current: str | None
    head: str

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head


def _connect_error(url: str, exc: Exception) -> StoreError:
    detail = (
        str(getattr(exc, "orig", exc)).strip().splitlines()[0] if str(exc) else type(exc).__name__
    )
    return StoreError(
        f"cannot open the store at {redact_db_url(url)}: {detail} "
        "(check database_url / ML_CONNECTOR_DATABASE_URL and that the server is running)"
    )


def _current(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def schema_status(url: str) -> SchemaStatus:
    engine = create_sync_engine(url)
    try:
        return SchemaStatus(current=_current(engine), head=head_revision())
    except (OperationalError, SQLAlchemyError, OSError) as exc:
        raise _connect_error(url, exc) from None
    finally:
        engine.dispose()


def check_schema(url: str) -> None:
    """Refuse, in one line, a store whose schema is not exactly the code's."""
    status = schema_status(url)
    if status.up_to_date:
        return
    if status.current is None:
        raise StoreError(
            f"the store at {redact_db_url(url)} is not initialised: run `ml-connector migrate`"
        )
    if status.current not in _known_revisions():
        raise StoreError(
            f"the store schema (revision {status.current}) is newer than this ml-connector "
            f"(revision {status.head}): upgrade ml-connector"
        )
    raise StoreError(
        f"the store schema (revision {status.current}) is older than this ml-connector "
        f"(revision {status.head}): run `ml-connector migrate`"
    )


def upgrade(url: str, revision: str = "head") -> SchemaStatus:
    """Migrate to ``revision``; refuses a schema newer than the code, writing nothing."""
    engine = create_sync_engine(url)
    try:
        current = _current(engine)
        if current is not None and current not in _known_revisions():
            raise StoreError(
                f"the store schema (revision {current}) is newer than this ml-connector: "
                "upgrade ml-connector before migrating"
            )
        with engine.begin() as conn:
            config = _config()
            config.attributes["connection"] = conn
            command.upgrade(config, revision)
        return SchemaStatus(current=_current(engine), head=head_revision())
    except StoreError:
        raise
    except (OperationalError, SQLAlchemyError, OSError) as exc:
        raise _connect_error(url, exc) from None
    finally:
        engine.dispose()
