"""Pagination guards: a loop is an error, not a hang (STYLE "HTTP, auth, retries")."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ml_connector.errors import FatalError
from ml_connector.http import PageGuard, PaginationLoopError, SeenTokens


def test_repeated_continuation_token_raises() -> None:
    """servicetitan-api.md §5: export feeds hand back ``continueFrom`` tokens."""
    guard = PageGuard(what="servicetitan export/invoices")
    guard.token("abc")
    guard.token("def")
    with pytest.raises(PaginationLoopError, match="export/invoices") as caught:
        guard.token("abc")
    assert isinstance(caught.value, FatalError)


def test_seen_tokens() -> None:
    seen = SeenTokens()
    seen.add("t1")
    assert "t1" in seen
    assert len(seen) == 1
    with pytest.raises(PaginationLoopError):
        seen.add("t1")


def test_offset_must_move_forward() -> None:
    guard = PageGuard()
    guard.offset(0)
    guard.offset(500)
    with pytest.raises(PaginationLoopError, match="offset 500"):
        guard.offset(500)
    with pytest.raises(PaginationLoopError):
        guard.offset(0)


def test_page_number_must_move_forward() -> None:
    guard = PageGuard()
    guard.page_number(1)
    guard.page_number(2)
    with pytest.raises(PaginationLoopError):
        guard.page_number(2)


def test_keyset_position_must_move_forward() -> None:
    """DESIGN §3.2 rule 1: Fusion is paged by (LastUpdateDate, id)."""
    guard = PageGuard()
    t = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
    guard.key((t, 10))
    guard.key((t, 11))
    with pytest.raises(PaginationLoopError, match="not moving forward"):
        guard.key((t, 11))


def test_has_more_without_rows_raises() -> None:
    guard = PageGuard()
    guard.page(rows=500, has_more=True)
    guard.page(rows=0, has_more=False)  # an empty last page is fine
    with pytest.raises(PaginationLoopError, match="hasMore"):
        guard.page(rows=0, has_more=True)


def test_max_pages_ceiling() -> None:
    guard = PageGuard(max_pages=3)
    for _ in range(3):
        guard.page(rows=1, has_more=True)
    with pytest.raises(PaginationLoopError, match="more than 3 pages"):
        guard.page(rows=1, has_more=True)
