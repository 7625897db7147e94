"""Guards that turn a pagination loop into an error instead of a hang (STYLE "HTTP, auth, retries").

The system clients own their pagers (Fusion's keyset pager, ServiceTitan's page and export
pagers); each one feeds a :class:`PageGuard` what it is about to follow:

* :meth:`PageGuard.token` — a continuation token (``continueFrom``) seen before means the server
  is sending us round in a circle;
* :meth:`PageGuard.offset` / :meth:`PageGuard.page_number` — must strictly increase;
* :meth:`PageGuard.key` — a keyset position (e.g. ``(LastUpdateDate, id)``) must strictly increase;
* :meth:`PageGuard.page` — "``hasMore`` but no rows" can never make progress;
* ``max_pages`` — a hard ceiling for a single run, as a last line of defence.

Every violation raises :class:`~ml_connector.http.errors.PaginationLoopError` (a FatalError).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from ml_connector.http.errors import PaginationLoopError


class SeenTokens:
    """Continuation tokens already followed; :meth:`add` raises on a repeat."""

    def __init__(self, *, what: str = "pager") -> None:
        self.what = what
        self._seen: set[Hashable] = set()

    def add(self, token: Hashable) -> None:
        if token in self._seen:
            raise PaginationLoopError(
                f"{self.what}: continuation token {_short(token)} was returned twice; "
                "following it would loop forever"
            )
        self._seen.add(token)

    def __contains__(self, token: object) -> bool:
        return token in self._seen

    def __len__(self) -> int:
        return len(self._seen)


class PageGuard:
    """All the loop checks for one pagination run (see the module docstring)."""

    def __init__(self, *, what: str = "pager", max_pages: int | None = None) -> None:
        self.what = what
        self.max_pages = max_pages
        self.pages = 0
        self._tokens = SeenTokens(what=what)
        self._last_offset: int | None = None
        self._last_key: Any = None

    def token(self, token: Hashable) -> None:
        """About to follow ``token``."""
        self._tokens.add(token)

    def offset(self, offset: int) -> None:
        """About to read from ``offset``; it must be greater than the last one."""
        if self._last_offset is not None and offset <= self._last_offset:
            raise PaginationLoopError(
                f"{self.what}: offset {offset} after {self._last_offset}; "
                "the pager is not moving forward"
            )
        self._last_offset = offset

    def page_number(self, number: int) -> None:
        """About to read page ``number`` (same rule as offsets)."""
        self.offset(number)

    def key(self, key: Any) -> None:
        """About to read rows after keyset position ``key`` (comparable, e.g. a tuple)."""
        if self._last_key is not None and not key > self._last_key:
            raise PaginationLoopError(
                f"{self.what}: keyset position {_short(key)} does not follow "
                f"{_short(self._last_key)}; the pager is not moving forward"
            )
        self._last_key = key

    def page(self, *, rows: int, has_more: bool) -> None:
        """Record a page received; raises when it cannot make progress or the ceiling is hit."""
        self.pages += 1
        if has_more and rows == 0:
            raise PaginationLoopError(
                f"{self.what}: page {self.pages} says hasMore but holds no rows"
            )
        if self.max_pages is not None and self.pages > self.max_pages:
            raise PaginationLoopError(
                f"{self.what}: more than {self.max_pages} pages in one run; refusing to go on"
            )


def _short(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
