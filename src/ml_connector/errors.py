"""The error tree.

Three families matter to the code that decides what to do next:

* :class:`FatalError` — retrying cannot help (bad request, unknown resource, broken config).
* :class:`RetriableError` — a transient fault (429, 502/503/504, timeouts); back off and try again.
* :class:`NeedsAttentionError` — the data needs a person (unmapped customer, invalid GL
  combination); the record goes to the attention queue with ``reason`` and ``suggestion``.

:class:`MaybeCommittedError` is a write whose outcome is unknown (the request left, no answer
came back): the caller must look the record up by its business key before writing again.

Messages never carry secrets; :class:`ConfigError` and :class:`StoreError` are shown to users as one
line and exit code 2.
"""

from __future__ import annotations


class ConnectorError(Exception):
    """Base of every error this package raises on purpose."""


class ConfigError(ConnectorError):
    """The configuration is missing or invalid. ``str()`` is one line naming the key."""


class SecretError(ConnectorError):
    """A secret is missing, or the master key is missing or wrong."""


class StoreError(ConnectorError):
    """The state store cannot be reached or its schema does not match the code."""


class FatalError(ConnectorError):
    """Retrying will not help."""


class RetriableError(ConnectorError):
    """A transient failure; ``retry_after`` is the server's hint in seconds, if any."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class MaybeCommittedError(ConnectorError):
    """A write may or may not have taken effect; look it up by business key before retrying."""


class NeedsAttentionError(ConnectorError):
    """The record cannot be processed until a person acts.

    ``reason`` is a short stable code (``unmapped_customer``, ``invalid_gl_combination``…),
    ``message`` says what is wrong and ``suggestion`` what to do about it.
    """

    def __init__(self, reason: str, message: str, *, suggestion: str = "") -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.suggestion = suggestion
