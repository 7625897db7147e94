"""First-time setup shared by ``init`` and ``demo``: config, key, schema, sandbox secrets."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from pathlib import Path

from ml_connector.runtime.context import AppContext
from ml_connector.secrets import Secret, create_key_file
from ml_connector.settings import DEFAULT_KEY_NAME, load_config
from ml_connector.starter import SANDBOX_SECRETS, render_starter
from ml_connector.store.engine import redact_db_url
from ml_connector.store.migrate import upgrade

Say = Callable[[str], None]


def prepare(path: Path, environ: Mapping[str, str], say: Say) -> AppContext:
    """Write the starter config if absent, create the key and migrate the store.

    Nothing existing is replaced; a broken existing config stops everything before anything is
    written (the ConfigError propagates).
    """
    if path.exists():
        say(f"config   {path} exists, kept")
        load_config(path, environ=environ)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render_starter(str(uuid.uuid4())), encoding="utf-8")
        say(f"config   {path} written (points at the sandbox)")
    loaded = load_config(path, environ=environ)
    key_path = loaded.directory / DEFAULT_KEY_NAME
    if environ.get("ML_CONNECTOR_MASTER_KEY"):
        say("key      ML_CONNECTOR_MASTER_KEY is set; no key file needed")
    elif create_key_file(key_path):
        say(
            f"key      {key_path} created (mode 0600) — back it up: secrets cannot be read without it"
        )
    else:
        say(f"key      {key_path} exists, kept")
    app_ctx = AppContext(config=loaded, environ=environ)
    status = upgrade(app_ctx.database_url)
    say(f"store    {redact_db_url(app_ctx.database_url)} at schema {status.current}")
    return app_ctx


async def store_sandbox_secrets(app_ctx: AppContext, say: Say) -> None:
    """Store the sandbox credentials under the names the starter config expects (never replaced)."""
    store = app_ctx.open_store()
    stored: list[str] = []
    try:
        async with store.transaction() as tx:
            cipher = app_ctx.cipher()
            await tx.secrets.ensure_key(cipher)
            for name, value in SANDBOX_SECRETS.items():
                if not await tx.secrets.exists(name):
                    await tx.secrets.set(cipher, name, Secret(value))
                    stored.append(name)
    finally:
        await store.close()
    say(
        f"secrets  sandbox credentials stored: {', '.join(stored)}"
        if stored
        else "secrets  already set, kept"
    )
