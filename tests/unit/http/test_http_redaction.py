"""Redaction: secrets never reach logs, errors or the audit trail (STYLE "Habits"; DESIGN §3.1)."""

from __future__ import annotations

import logging

import httpx
import pytest

from ml_connector.http import (
    MASK,
    SECRETS,
    RedactingFilter,
    SecretRegistry,
    install_redaction,
    redact_form,
    redact_headers,
    redact_text,
    redact_url,
    register_secret,
    summarize_request,
    summarize_response,
    unregister_secret,
)
from ml_connector.sandbox import credentials as sandbox

ST_SECRET = sandbox.SERVICETITAN_CLIENT_SECRET
APP_KEY = sandbox.SERVICETITAN_APP_KEY
TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"


def test_headers_masked_by_name() -> None:
    headers = redact_headers(
        {
            "Authorization": f"Bearer {TOKEN}",
            "ST-App-Key": APP_KEY,
            "Cookie": "session=abc123",
            "X-ServiceTitan-Signature": "c2lnbmF0dXJl",
            "X-Api-Key": "k-123456",
            "X-Refresh-Token": "r-123456",
            "Client-Secret": "s-123456",
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
    )
    assert headers["Authorization"] == MASK
    assert headers["ST-App-Key"] == MASK
    assert headers["Cookie"] == MASK
    assert headers["X-ServiceTitan-Signature"] == MASK
    assert headers["X-Api-Key"] == MASK
    assert headers["X-Refresh-Token"] == MASK
    assert headers["Client-Secret"] == MASK
    assert headers["Content-Type"] == "application/json"  # harmless headers kept
    assert headers["Accept"] == "application/json"


def test_httpx_headers_accepted() -> None:
    headers = httpx.Headers({"authorization": "Basic dXNlcjpwYXNz", "x-trace": "t1"})
    assert redact_headers(headers) == {"authorization": MASK, "x-trace": "t1"}


def test_form_body_fields_masked() -> None:
    body = (
        f"grant_type=client_credentials&client_id={sandbox.SERVICETITAN_CLIENT_ID}"
        f"&client_secret={ST_SECRET}&scope=a+b"
    ).encode()
    out = redact_form(body)
    assert ST_SECRET not in out
    assert "client_secret=***" in out
    assert sandbox.SERVICETITAN_CLIENT_ID in out  # the id is not a secret and helps debugging
    assert "grant_type=client_credentials" in out
    assert "password=***" in redact_form("username=u&password=hunter22")


def test_registered_values_masked_everywhere() -> None:
    registry = SecretRegistry()
    secret = "my secret/value+1"
    registry.register(secret)
    registry.register("abc")  # too short to mask: refused
    assert "abc" not in registry
    text = f"raw {secret} quoted my%20secret%2Fvalue%2B1 plus my+secret%2Fvalue%2B1 abc"
    out = redact_text(text, registry=registry)
    assert "secret/value" not in out
    assert "secret%2Fvalue" not in out
    assert out.count(MASK) == 3
    assert out.endswith("abc")
    registry.unregister(secret)
    assert redact_text(secret, registry=registry) == secret


def test_process_wide_registry_used_by_default() -> None:
    register_secret("rotated-value-42")
    assert "rotated-value-42" in SECRETS
    assert redact_text("error: rotated-value-42 rejected") == f"error: {MASK} rejected"
    unregister_secret("rotated-value-42")
    assert "rotated-value-42" not in SECRETS


def test_free_text_shapes() -> None:
    assert TOKEN not in redact_text(f"sent Authorization: Bearer {TOKEN} to host")
    assert "hunter22" not in redact_text('{"username": "u", "password": "hunter22"}')
    assert "hunter22" not in redact_text("{'client_secret': 'hunter22'}")
    assert "hunter22" not in redact_text("body client_secret=hunter22&x=1")
    assert APP_KEY not in redact_text(f"ST-App-Key: {APP_KEY}")
    # ordinary words and paging tokens are left alone
    assert redact_text("continueFrom=abc123 page=2") == "continueFrom=abc123 page=2"


def test_url_redaction() -> None:
    register_secret(APP_KEY)
    url = (
        f"https://user:pa55word@api.test/v2/tenant/1/jobs?page=2"
        f"&servicetitanapplicationkey={APP_KEY}&access_token=abc123&client_secret=zzz999"
    )
    out = redact_url(url)
    assert "pa55word" not in out
    assert APP_KEY not in out
    assert "abc123" not in out
    assert "zzz999" not in out
    assert "page=2" in out
    assert out.startswith("https://user:")
    assert "/v2/tenant/1/jobs" in out
    # a registered value in the path is masked too
    register_secret("tenant-secret-path")
    assert "tenant-secret-path" not in redact_url("https://api.test/x/tenant-secret-path/y")


def test_summaries_never_include_bodies() -> None:
    register_secret(ST_SECRET)
    request = httpx.Request(
        "POST",
        "https://auth.test/connect/token?access_token=abc123",
        data={"client_secret": ST_SECRET, "client_id": "cid"},
    )
    summary = summarize_request(request)
    assert summary["method"] == "POST"
    assert "abc123" not in str(summary)
    assert ST_SECRET not in str(summary)
    assert summary["request_bytes"] == len(request.content)
    response = httpx.Response(200, json={"access_token": TOKEN, "expires_in": 900}, request=request)
    rsummary = summarize_response(response, elapsed=0.25)
    assert rsummary["status"] == 200
    assert rsummary["elapsed_s"] == 0.25
    assert rsummary["response_bytes"] == len(response.content)
    assert TOKEN not in str(rsummary)
    assert set(rsummary) == {"method", "url", "status", "elapsed_s", "response_bytes"}


def test_logging_filter_masks_messages_and_args(caplog: pytest.LogCaptureFixture) -> None:
    register_secret(ST_SECRET)
    register_secret(APP_KEY)
    logger = logging.getLogger("ml_connector.test.redaction")
    flt = install_redaction(caplog.handler)
    try:
        with caplog.at_level(logging.DEBUG, logger=logger.name):
            logger.info("token request with %s for %s", ST_SECRET, "cid")
            logger.warning("headers %s", {"ST-App-Key": APP_KEY})
            logger.error("call failed: Authorization: Bearer %s", TOKEN)
            logger.debug("form client_secret=%s&grant_type=x", "literal-unregistered-1")
            try:
                raise ValueError(f"bad secret {ST_SECRET}")
            except ValueError:
                logger.exception("boom")
    finally:
        caplog.handler.removeFilter(flt)
    text = caplog.text
    for secret in (ST_SECRET, APP_KEY, TOKEN, "literal-unregistered-1"):
        assert secret not in text
        assert all(secret not in r.getMessage() for r in caplog.records)
    assert "token request with *** for cid" in text
    assert "ValueError: bad secret ***" in text  # the traceback is kept, masked


def test_filter_survives_broken_format_string() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%d items %s", ("x",), None)
    assert RedactingFilter().filter(record) is True
    assert record.args is None


def test_install_on_logger_handlers() -> None:
    logger = logging.getLogger("ml_connector.test.install")
    handler = logging.NullHandler()
    logger.addHandler(handler)
    try:
        flt = install_redaction(logger)
        assert flt in handler.filters
    finally:
        logger.removeHandler(handler)
