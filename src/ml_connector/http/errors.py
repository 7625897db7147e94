"""Typed HTTP errors, each a member of the family in :mod:`ml_connector.errors` that says what to do.

Every error names the ``system`` (``fusion``, ``servicetitan``) and the ``resource`` it was talking
to, so a log line or an attention-queue entry is actionable on its own. Messages never carry
secrets or full bodies: at most a short, HTML-stripped, redacted excerpt of the response.
"""

from __future__ import annotations

import html
import re

import httpx

from ml_connector.errors import FatalError, MaybeCommittedError, RetriableError
from ml_connector.http.redaction import redact_text

EXCERPT_CHARS = 200

_TAG = re.compile(r"<[^>]*>")
_DROP_BLOCKS = re.compile(r"(?is)<(script|style|head)\b.*?</\1\s*>")
_SPACE = re.compile(r"\s+")


def body_excerpt(response: httpx.Response | None, limit: int = EXCERPT_CHARS) -> str:
    """A short, one-line, redacted excerpt of a response body, with HTML tags stripped.

    Gateways answer 502/503 with whole HTML pages; the excerpt keeps the words ("Service
    Unavailable") and drops the markup.
    """
    if response is None:
        return ""
    try:
        text = response.text
    except (httpx.ResponseNotRead, UnicodeDecodeError):
        return ""
    if "<" in text and ">" in text:
        text = _TAG.sub(" ", _DROP_BLOCKS.sub(" ", text))
        text = html.unescape(text)
    text = _SPACE.sub(" ", text).strip()
    text = redact_text(text)
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


class HttpStatusError(FatalError):
    """The server answered with a status retrying cannot fix (most 4xx)."""

    def __init__(
        self, *, system: str, resource: str, method: str, status: int, excerpt: str = ""
    ) -> None:
        detail = f": {excerpt}" if excerpt else ""
        super().__init__(f"{system} {method} {resource} failed with HTTP {status}{detail}")
        self.system = system
        self.resource = resource
        self.method = method
        self.status = status
        self.excerpt = excerpt


class TransportFailure(FatalError):
    """The request could not be made at all for a reason retrying cannot fix (bad URL, protocol)."""

    def __init__(self, *, system: str, resource: str, method: str, cause: str) -> None:
        super().__init__(f"{system} {method} {resource} could not be sent: {cause}")
        self.system = system
        self.resource = resource
        self.method = method


class AuthError(FatalError):
    """The API refused our credentials even after a fresh token (or Basic credentials are wrong)."""

    def __init__(self, *, system: str, resource: str, status: int, excerpt: str = "") -> None:
        detail = f": {excerpt}" if excerpt else ""
        super().__init__(
            f"{system} refused the credentials for {resource} (HTTP {status}; an OAuth token "
            f"is refreshed once before this){detail}; check the client id/secret or user/password, "
            "the app key and the granted scopes"
        )
        self.system = system
        self.resource = resource
        self.status = status


class RetriesExhausted(RetriableError):
    """A transient failure outlasted the retry policy (attempt cap or total-time cap).

    Still a :class:`RetriableError`: a later run may succeed; the caller records it and moves on.
    """

    def __init__(
        self,
        *,
        system: str,
        resource: str,
        method: str,
        attempts: int,
        elapsed: float,
        last: str,
        retry_after: float | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(
            f"{system} {method} {resource} still failing after {attempts} attempt(s) in "
            f"{elapsed:.1f} s: {last}",
            retry_after=retry_after,
        )
        self.system = system
        self.resource = resource
        self.method = method
        self.attempts = attempts
        self.elapsed = elapsed
        self.status = status


class WriteMaybeCommitted(MaybeCommittedError):
    """A write left and no clear answer came back (timeout, 5xx): it may have taken effect.

    Never retried here. The caller looks the record up by its business key (DESIGN §3.2 rule 2)
    and adopts it or writes again.
    """

    def __init__(
        self, *, system: str, resource: str, method: str, cause: str, status: int | None = None
    ) -> None:
        super().__init__(
            f"{system} {method} {resource} may or may not have been applied ({cause}); "
            "look it up by business key before writing again"
        )
        self.system = system
        self.resource = resource
        self.method = method
        self.status = status


class TokenEndpointError(FatalError):
    """The token endpoint refused the request for a reason retrying cannot fix."""

    def __init__(self, message: str, *, token_url: str, status: int | None = None) -> None:
        super().__init__(message)
        self.token_url = token_url
        self.status = status


class InvalidClientError(TokenEndpointError):
    """The token endpoint rejected the client credentials (``invalid_client`` and friends)."""


class TokenUnavailable(RetriableError):
    """The token endpoint kept throttling or failing within the backoff bounds."""


class PaginationLoopError(FatalError):
    """A pager saw a continuation token or offset twice: following it would loop forever."""
