"""ServiceTitan V2 webhooks: signature and event identity (servicetitan-api.md §8.2, DESIGN §5).

The signature header, its encoding and whether a timestamp is signed are not public, so all three
are settings. The default is HMAC-SHA256 over the raw body, base64. The simulator signs with the
same :func:`sign`, so the two cannot drift apart.

An event is only a hint that something changed: the receiver stores its identity and the worker
fetches the current record through the API. Identity is the event id when there is one, otherwise
(type, entity id, ``modifiedOn``), which also makes ServiceTitan's retries and any replay harmless.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any, Literal

Encoding = Literal["base64", "hex"]


def sign(
    body: bytes, key: str, *, encoding: Encoding = "base64", timestamp: str | int | None = None
) -> str:
    """HMAC-SHA256 of the raw body (or of ``timestamp + "." + body``), base64 or hex encoded."""
    message = body if timestamp is None else f"{timestamp}.".encode() + body
    digest = hmac.new(key.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode() if encoding == "base64" else digest.hex()


def verify(
    body: bytes,
    key: str,
    signature: str,
    *,
    encoding: Encoding = "base64",
    timestamp: str | int | None = None,
) -> bool:
    """Constant-time check of ``signature`` against the raw ``body``.

    Compares the decoded digests, so hex case and base64 padding quirks do not matter, and a
    malformed signature is simply not valid.
    """
    message = body if timestamp is None else f"{timestamp}.".encode() + body
    expected = hmac.new(key.encode(), message, hashlib.sha256).digest()
    text = signature.strip()
    if text.lower().startswith("sha256="):
        text = text[7:]
    try:
        given = bytes.fromhex(text) if encoding == "hex" else base64.b64decode(text, validate=True)
    except (ValueError, binascii.Error):
        return False
    return hmac.compare_digest(expected, given)


class MalformedEvent(ValueError):
    """The body is not a webhook event we can identify (not JSON, not an object, no type)."""


@dataclass(frozen=True, kw_only=True)
class WebhookEvent:
    event_key: str
    event_type: str
    entity_type: str | None
    entity_id: str | None
    payload: dict[str, Any]


#: the inbox's ``entity_id`` column holds this many characters
ENTITY_ID_MAX = 100
_ENTITY_PREFIXES = {
    "invoice": "invoice",
    "payment": "payment",
    "job": "job",
    "customer": "customer",
    "purchaseorder": "purchase_order",
    "vendor": "vendor",
}


def _entity_type(event_type: str) -> str | None:
    lowered = event_type.lower().replace("_", "").replace("-", "")
    for prefix, entity in _ENTITY_PREFIXES.items():
        if lowered.startswith(prefix):
            return entity
    return None


def parse_event(body: bytes) -> WebhookEvent:
    """Identify an event in the V2 envelope (``eventId``, ``eventType``, ``data``) or the V1 one."""
    try:
        payload = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise MalformedEvent("body is not UTF-8") from None
    except json.JSONDecodeError as exc:
        raise MalformedEvent(f"body is not JSON ({exc.msg} at position {exc.pos})") from None
    except ValueError:  # an integer past Python's 4,300-digit conversion limit
        raise MalformedEvent("body is not JSON ServiceTitan sends (a number too long)") from None
    except RecursionError:
        raise MalformedEvent("body is not JSON ServiceTitan sends (nested too deeply)") from None
    if not isinstance(payload, dict):
        raise MalformedEvent("body is not a JSON object")
    info = payload.get("__eventInfo")
    if isinstance(info, dict):  # V1: record fields at the top level
        event_type = str(info.get("webhookType") or "")
        event_id = info.get("eventId")
        entity: Any = payload
    else:
        event_type = str(payload.get("eventType") or payload.get("type") or "")
        event_id = payload.get("eventId") or payload.get("id")
        entity = payload.get("data")
    if not event_type:
        raise MalformedEvent("event has no type (eventType)")
    raw_id = entity.get("id") if isinstance(entity, dict) else None
    # an id longer than the inbox column is no ServiceTitan id: the event is kept (visible,
    # ignored by the worker as having no usable id) instead of failing its whole batch
    entity_id = None if raw_id is None or len(str(raw_id)) > ENTITY_ID_MAX else str(raw_id)
    modified = entity.get("modifiedOn") if isinstance(entity, dict) else None
    if event_id:
        key = f"id:{event_id}"
    elif entity_id is not None:
        key = f"h:{event_type}:{entity_id}:{modified or ''}"
    else:
        digest = hashlib.sha256(body).hexdigest()[:32]
        key = f"b:{event_type}:{digest}"
    return WebhookEvent(
        event_key=key[:200],
        event_type=event_type[:100],
        entity_type=_entity_type(event_type),
        entity_id=entity_id,
        payload=payload,
    )
