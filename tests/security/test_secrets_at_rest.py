"""Secrets at rest (issue 8): the raw database holds no secret in plain text.

After ``init`` on the sandbox (which stores every sandbox credential and the dashboard password)
and a few more secrets set by hand, the whole store is read the way an attacker with a copy of it
would: the SQLite file's bytes (WAL included), or every row of every PostgreSQL table. None of
the values may appear — nor their base64 or hex forms.
"""

from __future__ import annotations

import base64
import sys
from pathlib import Path

from sqlalchemy import MetaData, Table, create_engine, inspect, select
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "web"))

from dash_kit import set_up
from ml_connector.clock import FakeClock
from ml_connector.secrets import Secret
from ml_connector.starter import SANDBOX_SECRETS
from ml_connector.web.dashboard.session import SESSION_KEY_SECRET

EXTRA = {
    "east.fusion.client_secret": "east-fusion-S3cret-value-0001",
    "servicetitan.webhook_key": "rotated-webhook-hmac-key-0002",
}


def _forms(value: str) -> list[bytes]:
    raw = value.encode()
    return [raw, base64.b64encode(raw), raw.hex().encode()]


async def test_no_secret_is_in_the_raw_store(
    tmp_path: Path, clock: FakeClock, database_url: str
) -> None:
    app_ctx = await set_up(tmp_path, clock, {"ML_CONNECTOR_DATABASE_URL": database_url})
    store = app_ctx.open_store()
    try:
        cipher = app_ctx.cipher()
        async with store.transaction() as tx:
            for name, value in EXTRA.items():
                await tx.secrets.set(cipher, name, Secret(value))
            await tx.secrets.set(cipher, SESSION_KEY_SECRET, Secret("session-key-value-0003"))
        async with store.transaction() as tx:  # they read back, so they are stored
            for name, value in EXTRA.items():
                stored = await tx.secrets.get(cipher, name)
                assert stored is not None
                assert stored.reveal() == value
    finally:
        await store.close()
    values = [*SANDBOX_SECRETS.values(), *EXTRA.values(), "session-key-value-0003"]
    assert len(values) >= 8
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        files = list(Path(str(url.database)).parent.glob(Path(str(url.database)).name + "*"))
        dump = b"".join(p.read_bytes() for p in files)
        assert b"secrets" in dump  # the table is there, so the scan reads the right file
    else:
        engine = create_engine(url.set(drivername="postgresql+psycopg"))
        try:
            with engine.connect() as conn:
                tables = inspect(conn).get_table_names()
                assert "secrets" in tables
                parts = []
                for name in tables:
                    table = Table(name, MetaData(), autoload_with=conn)
                    parts += [repr(tuple(row)) for row in conn.execute(select(table))]
        finally:
            engine.dispose()
        dump = "\n".join(parts).encode()
    for value in values:
        for form in _forms(value):
            assert form not in dump, f"a secret is readable in the raw store ({value[:6]}…)"
    key_file = tmp_path / "ml-connector.key"
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
