"""Webhook signatures: HMAC-SHA256 over the raw body, base64 or hex, optionally with a timestamp.

servicetitan-api.md §8.2: the header name, encoding and signed bytes are not public, so all are
configurable; DESIGN §5 sets the default (``X-ServiceTitan-Signature``, base64 of the raw body).
"""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from ml_connector.sandbox.credentials import SERVICETITAN_WEBHOOK_KEY
from ml_connector.sandbox.webhooks import WebhookConfig
from ml_connector.systems.servicetitan.webhooks import Encoding, sign, verify

# RFC 4231 test case 2: a published HMAC-SHA256 vector, so the digest is checked independently.
RFC4231_KEY = "Jefe"
RFC4231_DATA = b"what do ya want for nothing?"
RFC4231_HEX = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"


def test_sign_matches_the_published_vector_in_hex_and_base64() -> None:
    assert sign(RFC4231_DATA, RFC4231_KEY, encoding="hex") == RFC4231_HEX
    expected_b64 = base64.b64encode(bytes.fromhex(RFC4231_HEX)).decode()
    assert sign(RFC4231_DATA, RFC4231_KEY) == expected_b64
    assert sign(RFC4231_DATA, RFC4231_KEY, encoding="base64") == expected_b64


@pytest.mark.parametrize("encoding", ["base64", "hex"])
def test_timestamp_is_signed_as_prefix(encoding: Encoding) -> None:
    body = b'{"eventType":"invoice.updated"}'
    key = SERVICETITAN_WEBHOOK_KEY
    with_ts = sign(body, key, encoding=encoding, timestamp="1700000000")
    assert with_ts == sign(b"1700000000." + body, key, encoding=encoding)
    assert with_ts != sign(body, key, encoding=encoding)
    assert sign(body, key, timestamp=1700000000) == sign(body, key, timestamp="1700000000")


@pytest.mark.parametrize("encoding", ["base64", "hex"])
@pytest.mark.parametrize("timestamp", [None, "1700000000"])
def test_verify_accepts_only_the_right_signature(encoding: Encoding, timestamp: str | None) -> None:
    body = b'{"data":{"id":1,"total":"25.69"}}'
    key = SERVICETITAN_WEBHOOK_KEY

    def check(signature: str, *, data: bytes = body, secret: str = key, **kw: object) -> bool:
        enc: Encoding = kw.get("encoding", encoding)  # type: ignore[assignment]
        ts = kw.get("timestamp", timestamp)
        return verify(data, secret, signature, encoding=enc, timestamp=ts)  # type: ignore[arg-type]

    good = sign(body, key, encoding=encoding, timestamp=timestamp)
    assert check(good)
    assert check(f" {good}\n")
    assert not check(good, data=body + b" ")
    assert not check(good, secret=key[::-1])
    assert not check("")
    assert not check("é" + good)
    assert not check(good, encoding="hex" if encoding == "base64" else "base64")
    if timestamp is not None:
        assert not check(good, timestamp="1700000001")


def test_hex_signatures_compare_case_insensitively() -> None:
    good = sign(RFC4231_DATA, RFC4231_KEY, encoding="hex")
    assert verify(RFC4231_DATA, RFC4231_KEY, good.upper(), encoding="hex")


def test_config_defaults_and_validation() -> None:
    """§8.2: an HMAC key typed in the portal has 32 to 64 characters."""
    config = WebhookConfig(callback_urls=["http://127.0.0.1:8000/hook"])
    assert config.signature_header == "X-ServiceTitan-Signature"
    assert (config.encoding, config.digest, config.envelope) == ("base64", "sha256", "v2")
    assert config.retry_schedule == [10, 30, 60, 300]
    with pytest.raises(ValidationError, match="at least 32"):
        WebhookConfig(hmac_key="k" * 31)
    with pytest.raises(ValidationError, match="at most 64"):
        WebhookConfig(hmac_key="k" * 65)
    with pytest.raises(ValidationError, match="http"):
        WebhookConfig(callback_urls=["ftp://127.0.0.1/hook"])
    with pytest.raises(ValidationError, match="Extra inputs"):
        WebhookConfig(hmac_keys="k" * 40)  # type: ignore[call-arg]


@given(body=st.binary(max_size=512), key=st.text(min_size=32, max_size=64), flip=st.integers())
def test_sign_verify_round_trip_and_tamper(body: bytes, key: str, flip: int) -> None:
    for encoding in ("base64", "hex"):
        signature = sign(body, key, encoding=encoding)  # type: ignore[arg-type]
        assert verify(body, key, signature, encoding=encoding)  # type: ignore[arg-type]
        if body:
            index = flip % len(body)
            tampered = body[:index] + bytes([body[index] ^ 0x01]) + body[index + 1 :]
            assert not verify(tampered, key, signature, encoding=encoding)  # type: ignore[arg-type]
