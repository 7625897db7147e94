"""Secrets at rest: encrypted, bound to their name, refused under the wrong master key."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from ml_connector.errors import SecretError
from ml_connector.secrets import (
    Cipher,
    Secret,
    create_key_file,
    generate_master_key,
    load_master_key,
)
from ml_connector.store import Store


def _cipher() -> Cipher:
    return Cipher(base64.urlsafe_b64decode(generate_master_key()))


async def test_secret_round_trip_and_no_plaintext_in_the_database(
    store: Store, migrated_url: str
) -> None:
    cipher = _cipher()
    async with store.transaction() as tx:
        assert await tx.secrets.set(cipher, "fusion.client_secret", Secret("s3cret-value-XYZ"))
        assert not await tx.secrets.set(cipher, "fusion.client_secret", Secret("s3cret-value-XYZ2"))
    async with store.transaction() as tx:
        value = await tx.secrets.get(cipher, "fusion.client_secret")
        assert await tx.secrets.names() == ["fusion.client_secret"]
    assert value is not None
    assert value.reveal() == "s3cret-value-XYZ2"
    if migrated_url.startswith("sqlite"):
        raw = Path(migrated_url.removeprefix("sqlite:///")).read_bytes()
        for wal in Path(migrated_url.removeprefix("sqlite:///")).parent.glob("*-wal"):
            raw += wal.read_bytes()
        assert b"s3cret" not in raw
    else:
        engine = create_engine(migrated_url.replace("postgresql+psycopg", "postgresql+psycopg"))
        with engine.connect() as conn:
            dump = conn.execute(text("SELECT ciphertext FROM secrets")).scalars().all()
        engine.dispose()
        assert all(b"s3cret" not in bytes(blob) for blob in dump)


async def test_wrong_master_key_is_refused_clearly(store: Store) -> None:
    async with store.transaction() as tx:
        await tx.secrets.set(_cipher(), "servicetitan.app_key", Secret("ak1.some-app-key-value"))
    other = _cipher()
    async with store.transaction() as tx:
        with pytest.raises(SecretError, match="does not match this store"):
            await tx.secrets.set(other, "x", Secret("value-1234"))
        with pytest.raises(SecretError, match="does not decrypt with this master key"):
            await tx.secrets.get(other, "servicetitan.app_key")


def test_ciphertext_is_bound_to_its_name() -> None:
    cipher = _cipher()
    blob = cipher.encrypt("a", "value")
    assert cipher.decrypt("a", blob) == "value"
    with pytest.raises(SecretError):
        cipher.decrypt("b", blob)


def test_secret_masks_itself() -> None:
    secret = Secret("cs1.very-secret-client-value")
    assert "very-secret" not in repr(secret)
    assert "very-secret" not in str(secret)
    assert "very-secret" not in f"{secret} {secret!r} {secret:>40}"
    assert "very-secret" not in secret.masked()
    assert Secret("short").masked() == "•••••• (5 chars)"
    with pytest.raises(TypeError):
        import pickle

        pickle.dumps(secret)


def test_key_file_is_created_0600_and_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "ml-connector.key"
    assert create_key_file(path)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    before = path.read_text()
    assert not create_key_file(path)
    assert path.read_text() == before
    assert len(load_master_key({}, path)) == 32


def test_master_key_errors_are_clear(tmp_path: Path) -> None:
    missing = tmp_path / "none.key"
    with pytest.raises(
        SecretError, match="no master key: set ML_CONNECTOR_MASTER_KEY or run `ml-connector init`"
    ):
        load_master_key({}, missing)
    with pytest.raises(SecretError, match="not 32 bytes"):
        load_master_key({"ML_CONNECTOR_MASTER_KEY": "short"}, missing)
    loose = tmp_path / "loose.key"
    loose.write_text(generate_master_key())
    os.chmod(loose, 0o644)
    with pytest.raises(SecretError, match="readable by others"):
        load_master_key({}, loose)
    key = generate_master_key()
    assert load_master_key({"ML_CONNECTOR_MASTER_KEY": key}, missing) == base64.urlsafe_b64decode(
        key
    )


def test_unreadable_key_file_is_a_clear_error(tmp_path: Path) -> None:
    not_a_file = tmp_path / "ml-connector.key"
    not_a_file.mkdir(mode=0o700)
    with pytest.raises(SecretError, match="cannot be read"):
        load_master_key({}, not_a_file)


async def test_add_keeps_the_first_value(store: Store) -> None:
    """Two web processes creating the dashboard's session key at once keep one key."""
    cipher = _cipher()
    async with store.transaction() as tx:
        assert await tx.secrets.add(cipher, "dashboard.session_key", Secret("first-key-value-1"))
    async with store.transaction() as tx:
        assert not await tx.secrets.add(cipher, "dashboard.session_key", Secret("second-key-val"))
        value = await tx.secrets.get(cipher, "dashboard.session_key")
    assert value is not None
    assert value.reveal() == "first-key-value-1"
