"""Encrypted secrets and the master-key check value."""

from __future__ import annotations

from sqlalchemy import delete, select

from ml_connector.secrets import KEY_CHECK_NAME, Cipher, Secret
from ml_connector.store.repos.base import Repo
from ml_connector.store.schema import secrets, store_meta


class SecretRepo(Repo):
    """Needs the :class:`Cipher`: values never leave this class unencrypted except as a Secret."""

    async def ensure_key(self, cipher: Cipher) -> None:
        """First use stores a check value; later uses verify the key against it."""
        row = (
            await self._conn.execute(
                select(store_meta.c.value).where(store_meta.c.key == KEY_CHECK_NAME)
            )
        ).first()
        if row is None:
            await self._conn.execute(
                store_meta.insert().values(
                    key=KEY_CHECK_NAME, value=cipher.key_check(), updated_at=self._clock.now()
                )
            )
            return
        cipher.verify_key_check(row.value)

    async def set(self, cipher: Cipher, name: str, value: Secret) -> bool:
        """Store or replace; True when the name is new."""
        await self.ensure_key(cipher)
        now = self._clock.now()
        blob = cipher.encrypt(name, value.reveal())
        stmt = self.insert_or(secrets).values(
            name=name, ciphertext=blob, created_at=now, updated_at=now
        )
        existed = await self.exists(name)
        stmt = stmt.on_conflict_do_update(
            index_elements=[secrets.c.name],
            set_={"ciphertext": stmt.excluded.ciphertext, "updated_at": stmt.excluded.updated_at},
        )
        await self._conn.execute(stmt)
        return not existed

    async def add(self, cipher: Cipher, name: str, value: Secret) -> bool:
        """Store only if the name is absent (two processes racing keep the first value); True if
        this call stored it."""
        await self.ensure_key(cipher)
        now = self._clock.now()
        stmt = (
            self.insert_or(secrets)
            .values(
                name=name,
                ciphertext=cipher.encrypt(name, value.reveal()),
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing(index_elements=[secrets.c.name])
            .returning(secrets.c.name)
        )
        return (await self._conn.execute(stmt)).first() is not None

    async def exists(self, name: str) -> bool:
        row = (
            await self._conn.execute(select(secrets.c.name).where(secrets.c.name == name))
        ).first()
        return row is not None

    async def get(self, cipher: Cipher, name: str) -> Secret | None:
        row = (
            await self._conn.execute(select(secrets.c.ciphertext).where(secrets.c.name == name))
        ).first()
        if row is None:
            return None
        return Secret(cipher.decrypt(name, row.ciphertext))

    async def names(self) -> list[str]:
        rows = (await self._conn.execute(select(secrets.c.name).order_by(secrets.c.name))).all()
        return [r.name for r in rows]

    async def delete(self, name: str) -> bool:
        result = await self._conn.execute(delete(secrets).where(secrets.c.name == name))
        return bool(result.rowcount)
