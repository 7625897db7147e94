"""What a command needs to run: the loaded config, the environment, the clock, the store, secrets.

Built once per process by the CLI (or the web app, or a worker) and passed down, so nothing below
reads ``os.environ`` or the wall clock on its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from ml_connector.clock import Clock, SystemClock
from ml_connector.errors import SecretError
from ml_connector.secrets import Cipher, Secret, load_master_key
from ml_connector.settings import LoadedConfig, load_config
from ml_connector.store import Store


@dataclass(kw_only=True)
class AppContext:
    config: LoadedConfig
    environ: Mapping[str, str]
    clock: Clock = field(default_factory=SystemClock)
    _cipher: Cipher | None = None

    @property
    def database_url(self) -> str:
        return self.config.database_url

    def reloaded(self) -> AppContext:
        """The same context with the config file read again (a mapping fixed while running).

        A config that no longer validates raises :class:`~ml_connector.errors.ConfigError`.
        """
        return replace(self, config=load_config(self.config.path, environ=self.environ))

    def open_store(self, *, check: bool = True) -> Store:
        return Store.open(self.database_url, clock=self.clock, check=check)

    def cipher(self) -> Cipher:
        if self._cipher is None:
            self._cipher = Cipher(load_master_key(self.environ, self.config.key_path))
        return self._cipher

    async def secret(self, store: Store, name: str, *, connection: str | None = None) -> Secret:
        """``{connection}.{name}`` wins over ``{name}`` (DESIGN §5); a clear error if neither exists."""
        candidates = ([f"{connection}.{name}"] if connection else []) + [name]
        async with store.transaction() as tx:
            for candidate in candidates:
                value = await tx.secrets.get(self.cipher(), candidate)
                if value is not None:
                    return value
        raise SecretError(
            f"secret {candidates[-1]!r} is not set"
            + (f" (nor {candidates[0]!r})" if len(candidates) > 1 else "")
            + f": run `ml-connector secrets set {candidates[-1]}`"
        )
