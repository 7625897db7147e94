"""Log lines are structured and never carry a secret (issue 2: a secret type masks itself in logs)."""

from __future__ import annotations

import io
import json
import logging

from ml_connector.logging import configure_logging
from ml_connector.secrets import Secret


def _logger_output(fmt: str) -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    configure_logging(level="DEBUG", fmt=fmt, stream=stream)
    return logging.getLogger("ml_connector.test"), stream


def test_json_lines_carry_context_and_no_secret() -> None:
    secret = Secret("cs1.logging-test-secret-value")
    log, stream = _logger_output("json")
    log.info(
        "token request with %s failed",
        secret.reveal(),
        extra={"connection": "east", "flow": "invoices", "source_id": "ST-1"},
    )
    line = json.loads(stream.getvalue().strip())
    assert line["connection"] == "east"
    assert line["flow"] == "invoices"
    assert line["level"] == "INFO"
    assert "logging-test-secret-value" not in stream.getvalue()


def test_text_lines_mask_bearer_tokens_and_secret_objects() -> None:
    secret = Secret("ak1.another-logging-secret")
    log, stream = _logger_output("text")
    log.warning("headers Authorization: Bearer eyJhbGciOiJSUzI1NiJ9.abc.def key=%r", secret)
    try:
        raise RuntimeError(f"boom {secret.reveal()}")
    except RuntimeError:
        log.exception("failed")
    out = stream.getvalue()
    assert "eyJhbGciOiJSUzI1NiJ9" not in out
    assert "another-logging-secret" not in out
    assert "Secret('********')" in out
    assert "RuntimeError" in out
