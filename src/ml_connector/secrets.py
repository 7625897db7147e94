"""Credentials: the masked :class:`Secret` type and authenticated encryption at rest.

Values are encrypted with AES-256-GCM under the installation's master key, with the secret's name as
associated data (a ciphertext copied under another name does not decrypt). The master key comes from
``ML_CONNECTOR_MASTER_KEY`` (url-safe base64 of 32 bytes) or from the key file ``ml-connector.key``
(mode 0600) that ``init`` creates beside the config (DESIGN §5).
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets as _stdlib_secrets
import stat
from collections.abc import Mapping
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ml_connector.errors import SecretError
from ml_connector.http.redaction import SECRETS

MASTER_KEY_ENV = "ML_CONNECTOR_MASTER_KEY"
_NONCE_BYTES = 12
_AAD_PREFIX = b"ml-connector/secret/"
KEY_CHECK_NAME = "__master_key_check__"
_KEY_CHECK_PLAINTEXT = "ml-connector master key check v1"


class Secret:
    """A credential that hides itself in ``repr``, ``str``, f-strings, logs and tracebacks.

    Call :meth:`reveal` only at the point of use (an ``Authorization`` header, an HMAC key).
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str) or not value:
            raise SecretError("a secret must be a non-empty string")
        self._value = value
        # Every secret this process holds is masked in every log line, wherever it appears.
        SECRETS.register(value)

    def reveal(self) -> str:
        return self._value

    def masked(self) -> str:
        """A hint for lists: never more than 3 leading and 2 trailing characters, only for long values."""
        if len(self._value) >= 16:
            return f"{self._value[:3]}…{self._value[-2:]} ({len(self._value)} chars)"
        return f"•••••• ({len(self._value)} chars)"

    def __repr__(self) -> str:
        return "Secret('********')"

    def __str__(self) -> str:
        return "********"

    def __format__(self, spec: str) -> str:
        return "********"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return _stdlib_secrets.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(("Secret", len(self._value)))

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a Secret is not picklable")


def generate_master_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode("ascii")


def _decode_key(text: str, origin: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(text.strip().encode("ascii"))
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raw = b""
    if len(raw) != 32:
        raise SecretError(
            f"the master key in {origin} is not 32 bytes of url-safe base64; "
            "generate one with `ml-connector init` (or restore the right key)"
        )
    return raw


def create_key_file(path: Path) -> bool:
    """Create a new key file with mode 0600; return False if one exists already (never overwritten)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(generate_master_key() + "\n")
    return True


def load_master_key(environ: Mapping[str, str], key_path: Path) -> bytes:
    """The master key from the environment, else from the key file; a clear error otherwise."""
    from_env = environ.get(MASTER_KEY_ENV)
    if from_env:
        return _decode_key(from_env, MASTER_KEY_ENV)
    if not key_path.exists():
        raise SecretError(
            f"no master key: set {MASTER_KEY_ENV} or run `ml-connector init` to create {key_path}"
        )
    try:
        mode = key_path.stat().st_mode
        text = key_path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise SecretError(
            f"the key file {key_path} cannot be read ({exc.__class__.__name__})"
        ) from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretError(
            f"the key file {key_path} is readable by others (mode {stat.S_IMODE(mode):o}): chmod 600 it"
        )
    return _decode_key(text, str(key_path))


class Cipher:
    """AES-256-GCM with the secret name bound as associated data."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def encrypt(self, name: str, value: str) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, value.encode("utf-8"), _AAD_PREFIX + name.encode())

    def decrypt(self, name: str, blob: bytes) -> str:
        try:
            plain = self._aead.decrypt(
                blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], _AAD_PREFIX + name.encode()
            )
        except (InvalidTag, ValueError):
            raise SecretError(
                f"secret {name!r} does not decrypt with this master key: the key is wrong "
                f"({MASTER_KEY_ENV} or the key file differ from the ones used to store it)"
            ) from None
        return plain.decode("utf-8")

    def key_check(self) -> bytes:
        return self.encrypt(KEY_CHECK_NAME, _KEY_CHECK_PLAINTEXT)

    def verify_key_check(self, blob: bytes) -> None:
        try:
            ok = self.decrypt(KEY_CHECK_NAME, blob) == _KEY_CHECK_PLAINTEXT
        except SecretError:
            ok = False
        if not ok:
            raise SecretError(
                "the master key does not match this store: it was initialised with another key "
                f"(check {MASTER_KEY_ENV} or the key file)"
            )
