"""The one place that masks secrets before anything is logged, stored in the audit trail or shown.

Three layers, applied together by :func:`redact_text` and the helpers built on it:

* **by name** — headers (``Authorization``, ``ST-App-Key``, ``Cookie`` and any header whose name
  contains ``signature``, ``token``, ``key``, ``secret`` or ``password``) and form or query fields
  (``client_secret``, ``password``, ``access_token``…) keep their name and lose their value;
* **by value** — a process-wide :data:`SECRETS` registry of known secret values (client secrets,
  app keys, issued tokens), filled at run time by the secrets store and the token cache, so a secret
  that slips into an error message or a URL is still masked wherever it appears;
* **by shape** — ``Bearer …``/``Basic …`` credentials and ``name=value`` / ``"name": "value"`` pairs
  with a secret field name in free text.

:class:`RedactingFilter` applies all of it to every log record (message, arguments and the
formatted traceback). Attach it to the *handlers* (a filter on a logger does not see records that
propagate from child loggers); :func:`install_redaction` does that.

The audit trail stores :func:`summarize_request` / :func:`summarize_response`: method, redacted URL,
status, elapsed time and size — never bodies, which carry customer data and sometimes credentials.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Mapping
from urllib.parse import parse_qsl, quote, quote_plus, urlencode

import httpx

MASK = "***"

#: Headers masked whatever their value.
SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "st-app-key", "cookie", "set-cookie"}
)
#: A header whose name contains one of these is masked too (``X-ServiceTitan-Signature``, ``X-Api-Key``).
SECRET_HEADER_PARTS = ("signature", "token", "key", "secret", "password")

#: Form and query fields masked whatever their value.
SECRET_FIELDS = frozenset(
    {
        "client_secret",
        "password",
        "passwd",
        "access_token",
        "refresh_token",
        "id_token",
        "assertion",
        "client_assertion",
        "servicetitanapplicationkey",
        "app_key",
        "api_key",
        "apikey",
        "secret",
        "token",
        "signature",
        "sig",
    }
)
#: A field whose name contains one of these is masked too. (Not "token" or "key": a paging
#: ``pageToken`` or a ``businessKey`` is not a credential and is needed to debug.)
SECRET_FIELD_PARTS = ("secret", "password", "passwd")

#: Registered values shorter than this are refused: masking "a" everywhere helps nobody.
MIN_SECRET_LENGTH = 4


def is_secret_header(name: str) -> bool:
    """Whether a header's value must never be shown."""
    lowered = name.lower()
    return lowered in SECRET_HEADERS or any(part in lowered for part in SECRET_HEADER_PARTS)


def is_secret_field(name: str) -> bool:
    """Whether a form, query or JSON field's value must never be shown."""
    lowered = name.lower()
    return lowered in SECRET_FIELDS or any(part in lowered for part in SECRET_FIELD_PARTS)


class SecretRegistry:
    """Known secret values to mask wherever they appear, in their raw and URL-encoded forms.

    Process-wide (see :data:`SECRETS`) because a log line can come from anywhere. Thread-safe: logging
    happens on any thread. Values are kept only in memory.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None

    def register(self, value: str | None) -> None:
        """Mask ``value`` from now on (ignored when empty or shorter than :data:`MIN_SECRET_LENGTH`)."""
        if not value or len(value) < MIN_SECRET_LENGTH:
            return
        forms = {value, quote(value, safe=""), quote_plus(value, safe="")}
        with self._lock:
            if forms <= self._values:
                return
            self._values |= forms
            self._pattern = None

    def unregister(self, value: str | None) -> None:
        """Stop masking ``value`` (a replaced token), so the registry does not grow without bound."""
        if not value:
            return
        forms = {value, quote(value, safe=""), quote_plus(value, safe="")}
        with self._lock:
            self._values -= forms
            self._pattern = None

    def clear(self) -> None:
        """Forget every value (tests)."""
        with self._lock:
            self._values.clear()
            self._pattern = None

    def __contains__(self, value: object) -> bool:
        with self._lock:
            return value in self._values

    def __len__(self) -> int:
        with self._lock:
            return len(self._values)

    def mask(self, text: str) -> str:
        """``text`` with every registered value replaced by :data:`MASK`."""
        with self._lock:
            if not self._values:
                return text
            if self._pattern is None:
                # Longest first, so a value that contains another is masked whole.
                ordered = sorted(self._values, key=len, reverse=True)
                self._pattern = re.compile("|".join(re.escape(v) for v in ordered))
            pattern = self._pattern
        return pattern.sub(MASK, text)


#: The process-wide registry. The secrets store and the token cache register values here.
SECRETS = SecretRegistry()


def register_secret(value: str | None) -> None:
    """Register ``value`` with the process-wide registry."""
    SECRETS.register(value)


def unregister_secret(value: str | None) -> None:
    """Remove ``value`` from the process-wide registry."""
    SECRETS.unregister(value)


_FIELD_NAMES = "|".join(sorted((re.escape(n) for n in SECRET_FIELDS), key=len, reverse=True))
_ANY_SECRET_NAME = rf"(?:[\w.-]*(?:secret|password|passwd)[\w.-]*|{_FIELD_NAMES})"
_SHAPES: tuple[tuple[re.Pattern[str], str], ...] = (
    # Authorization-style credentials: "Bearer eyJ…", "Basic dXNlcjpw…"
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{4,}"), rf"\1 {MASK}"),
    # JSON-ish "client_secret": "value"
    (
        re.compile(rf"""(?i)(["']{_ANY_SECRET_NAME}["']\s*:\s*)(["'])(?:\\.|(?!\2).)*\2"""),
        rf"\1\2{MASK}\2",
    ),
    # name=value in forms, query strings and messages
    (re.compile(rf"(?i)(?<![\w.-])({_ANY_SECRET_NAME})=([^&\s'\",;]+)"), rf"\1={MASK}"),
    # header-style "ST-App-Key: value" / "Authorization: value" in free text
    (
        re.compile(
            r"(?i)\b(authorization|st-app-key|cookie|[\w-]*signature)(\s*:\s*)([^\s,;'\"]+)"
        ),
        rf"\1\2{MASK}",
    ),
)


def redact_text(text: str, *, registry: SecretRegistry = SECRETS) -> str:
    """Mask registered values and credential-shaped substrings in free text."""
    text = registry.mask(text)
    for pattern, replacement in _SHAPES:
        text = pattern.sub(replacement, text)
    return text


def redact_headers(
    headers: Mapping[str, str] | httpx.Headers | Iterable[tuple[str, str]],
    *,
    registry: SecretRegistry = SECRETS,
) -> dict[str, str]:
    """Headers with secret values masked; names are kept so a reader sees what was sent."""
    items = headers.items() if isinstance(headers, Mapping | httpx.Headers) else headers
    out: dict[str, str] = {}
    for name, value in items:
        out[name] = MASK if is_secret_header(name) else redact_text(value, registry=registry)
    return out


def redact_form(body: str | bytes, *, registry: SecretRegistry = SECRETS) -> str:
    """An ``application/x-www-form-urlencoded`` body (or query string) with secret fields masked."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    pairs = parse_qsl(text, keep_blank_values=True)
    masked = [(k, MASK if is_secret_field(k) else v) for k, v in pairs]
    # Registered values are masked after encoding too, in case one sits in a harmless-looking field.
    return redact_text(urlencode(masked, safe="*"), registry=registry)


def redact_url(url: str | httpx.URL, *, registry: SecretRegistry = SECRETS) -> str:
    """A URL with its password, secret query fields and registered values masked."""
    parsed = httpx.URL(str(url)) if not isinstance(url, httpx.URL) else url
    if parsed.password:
        parsed = parsed.copy_with(username=parsed.username, password=MASK)
    if parsed.query:
        pairs = parse_qsl(parsed.query.decode("ascii", "replace"), keep_blank_values=True)
        masked = [(k, MASK if is_secret_field(k) else v) for k, v in pairs]
        parsed = parsed.copy_with(query=urlencode(masked, safe="*").encode("ascii"))
    return redact_text(str(parsed), registry=registry)


def _size(headers: httpx.Headers, content: bytes | None) -> int | None:
    length = headers.get("content-length")
    if length is not None and length.isdigit():
        return int(length)
    return len(content) if content is not None else None


def summarize_request(request: httpx.Request) -> dict[str, str | int | None]:
    """Method, redacted URL and body size of a request; never the body itself."""
    try:
        content: bytes | None = request.content
    except httpx.RequestNotRead:
        content = None
    return {
        "method": request.method,
        "url": redact_url(request.url),
        "request_bytes": _size(request.headers, content),
    }


def summarize_response(
    response: httpx.Response, *, elapsed: float | None = None
) -> dict[str, str | int | float | None]:
    """Method, redacted URL, status, elapsed seconds and size of an exchange; never the body.

    ``elapsed`` overrides ``response.elapsed`` (which httpx sets only once the body is read; a
    response hook measures it on the injected clock instead).
    """
    if elapsed is None:
        try:
            elapsed = response.elapsed.total_seconds()
        except RuntimeError:
            elapsed = None
    try:
        content: bytes | None = response.content
    except httpx.ResponseNotRead:
        content = None
    request = response.request
    return {
        "method": request.method,
        "url": redact_url(request.url),
        "status": response.status_code,
        "elapsed_s": round(elapsed, 6) if elapsed is not None else None,
        "response_bytes": _size(response.headers, content),
    }


class RedactingFilter(logging.Filter):
    """Masks secrets in every record it sees: the rendered message, then the traceback text.

    The message is rendered once (``msg % args``) and the arguments dropped, so a secret passed as
    an argument cannot reach a formatter unmasked.
    """

    def __init__(self, registry: SecretRegistry = SECRETS) -> None:
        super().__init__()
        self._registry = registry
        self._formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not lose the record
            message = f"{record.msg!r} {record.args!r}"
        record.msg = redact_text(message, registry=self._registry)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text, registry=self._registry)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info, registry=self._registry)
        return True


def install_redaction(target: logging.Handler | logging.Logger | None = None) -> RedactingFilter:
    """Attach a :class:`RedactingFilter` to ``target``'s handlers (default: the root logger's).

    Given a handler, the filter goes on that handler. Returns the filter so it can be removed.
    """
    flt = RedactingFilter()
    if isinstance(target, logging.Handler):
        target.addFilter(flt)
        return flt
    logger = target if target is not None else logging.getLogger()
    for handler in logger.handlers:
        if flt not in handler.filters:
            handler.addFilter(flt)
    return flt
