"""Structured, redacted logging for every entry point (CLI, daemon, web, workers).

One call, :func:`configure_logging`, installs a single stderr handler with text or JSON output and
the :class:`~ml_connector.http.redaction.RedactingFilter`, so no token, client secret, app key,
HMAC key or password reaches a log line however it got into the message. Context such as
``connection``, ``flow`` and ``source_id`` goes in ``extra={...}`` and is rendered as fields.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from ml_connector.http.redaction import RedactingFilter, redact_text

CONTEXT_FIELDS = ("connection", "flow", "source_id", "target_id", "run_id", "system", "resource")

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


def _context(record: logging.LogRecord) -> dict[str, Any]:
    return {
        key: value
        for key, value in record.__dict__.items()
        if key not in _STANDARD and not key.startswith("_")
    }


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, context fields, exception."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in _context(record).items():
            payload[key] = (
                value if isinstance(value, int | float | bool | type(None)) else str(value)
            )
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return redact_text(json.dumps(payload, ensure_ascii=False, default=str))


class TextFormatter(logging.Formatter):
    """``time level logger: message key=value …``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = _context(record)
        if context:
            line += " " + " ".join(f"{k}={v}" for k, v in context.items())
        return redact_text(line)


def configure_logging(
    *, level: str = "INFO", fmt: str = "text", stream: TextIO | None = None
) -> logging.Handler:
    """Replace the root logger's handlers with one redacting handler; returns it."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("httpx", "httpcore", "uvicorn.access", "alembic"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    return handler
