"""ServiceTitan's two ways of reading many records (servicetitan-api.md §4, §5).

**Page lists** (``page``/``pageSize``/``hasMore``): :func:`iter_list` asks for ``sort=+Id`` where
the endpoint takes ``sort``. Offset paging is only safe when rows cannot move between pages
(DESIGN §3.2 rule 1): in id order an update leaves a row where it is, and an insert lands at the
end, so nothing shifts back across a page boundary. Rows already yielded in this run are not
yielded again (a server that ignores ``sort`` may repeat a row; it can never be skipped silently
by dedup). ``active=Any`` is the caller's business (it knows whether the endpoint has ``active``).

**Export feeds** (``from``/``continueFrom``/``hasMore``): :class:`ExportFeed` yields
:class:`ExportBatch` pages and fetches the next page while the caller processes the current one
(DESIGN §4: one sequential cursor per feed, so the only parallelism is prefetch). It stops after
the page with ``hasMore: false``; a ``continueFrom`` seen before raises
:class:`~ml_connector.http.PaginationLoopError`. The caller stores ``continue_from`` once the
batch is durable and resumes from it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from ml_connector.http import PageGuard, PaginationLoopError, TransportFailure
from ml_connector.systems.servicetitan.errors import SYSTEM
from ml_connector.systems.servicetitan.models import ExportPage, Page
from ml_connector.systems.servicetitan.session import STSession, st_time

M = TypeVar("M", bound=BaseModel)

DEFAULT_PAGE_SIZE = 500
#: rows parsed between two turns of the event loop while a prefetch is in flight
PARSE_CHUNK = 50
MAX_PAGE_SIZE = 5000


def parse_rows(model: type[M], rows: list[dict[str, Any]], resource: str) -> list[M]:
    """Validate each row; a row that does not parse is a drift bug worth stopping for."""
    out: list[M] = []
    for row in rows:
        try:
            out.append(model.model_validate(row))
        except ValidationError as exc:
            ident = row.get("id") if isinstance(row, dict) else None
            raise TransportFailure(
                system=SYSTEM,
                resource=resource,
                method="GET",
                cause=f"record {ident} does not parse as {model.__name__}: "
                f"{exc.error_count()} error(s), first at {exc.errors()[0]['loc']}: "
                f"{exc.errors()[0]['msg']}",
            ) from None
    return out


E = TypeVar("E", bound=BaseModel)


def parse_envelope(model: type[E], raw: object, resource: str) -> E:
    """A page or export envelope; anything else is a typed failure, not a pydantic traceback."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise TransportFailure(
            system=SYSTEM,
            resource=resource,
            method="GET",
            cause=f"the answer is not a {model.__name__} envelope ({exc.error_count()} error(s))",
        ) from None


async def iter_list(
    session: STSession,
    namespace: str,
    path: str,
    model: type[M],
    *,
    resource: str,
    params: Mapping[str, Any] | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
    sort_by_id: bool = True,
    max_pages: int | None = None,
) -> AsyncIterator[M]:
    """Every record of a page list, page by page, as ``model`` instances."""
    size = max(1, min(page_size, MAX_PAGE_SIZE))
    guard = PageGuard(what=f"{SYSTEM} {resource}", max_pages=max_pages)
    seen: set[int] = set()
    page = 1
    while True:
        guard.page_number(page)
        query: dict[str, Any] = dict(params or {})
        query.update(page=str(page), pageSize=str(size))
        if sort_by_id:
            query["sort"] = "+Id"
        raw = await session.get_json(namespace, path, resource=resource, params=query)
        envelope = parse_envelope(Page, raw, resource)
        guard.page(rows=len(envelope.data), has_more=envelope.hasMore)
        for record in parse_rows(model, envelope.data, resource):
            ident = getattr(record, "id", None)
            if isinstance(ident, int):
                if ident in seen:
                    continue
                seen.add(ident)
            yield record
        if not envelope.hasMore:
            return
        page += 1


@dataclass(frozen=True, kw_only=True)
class ExportBatch(Generic[M]):
    """One export page: its records, the token to resume *after* it, and whether more follow."""

    items: list[M]
    continue_from: str
    has_more: bool


FetchPage = Callable[[str], Awaitable[ExportPage]]


def export_start(start: str | datetime | None) -> str:
    """The ``from`` value: a stored token as is, a datetime as ``YYYY-MM-DDTHH:MM:SSZ``."""
    if start is None:
        return ""
    if isinstance(start, datetime):
        return st_time(start)
    return start


class ExportFeed(Generic[M]):
    """Async iterator of :class:`ExportBatch` with one page of prefetch.

    Use ``async with feed: async for batch in feed: ...`` (or call :meth:`aclose`) so a caller
    that stops early does not leave the prefetch running.
    """

    def __init__(
        self,
        fetch: FetchPage,
        model: type[M],
        *,
        start: str | datetime | None,
        resource: str,
        max_pages: int | None = None,
    ) -> None:
        self._fetch = fetch
        self._model = model
        self._resource = resource
        self._guard = PageGuard(what=f"{SYSTEM} {resource}", max_pages=max_pages)
        self._next: str | None = export_start(start)
        if isinstance(start, str) and start:
            self._guard.token(start)  # the server must move past the token we resume from
        self._pending: asyncio.Task[ExportPage] | None = None
        self._sent = ""
        self._done = False
        self.prefetched = 0

    def _launch(self, token: str) -> None:
        self._sent = token
        self._pending = asyncio.ensure_future(self._fetch(token))

    def __aiter__(self) -> ExportFeed[M]:
        return self

    async def __anext__(self) -> ExportBatch[M]:
        if self._done:
            raise StopAsyncIteration
        if self._pending is None:
            assert self._next is not None
            self._launch(self._next)
        assert self._pending is not None
        try:
            page, token = self._accept(await self._pending)
            items: list[M] = []
            for start in range(0, len(page.data), PARSE_CHUNK):
                if self._pending is not None:
                    # hand the loop to the prefetch between chunks: its request goes out (and
                    # its answer is read) while this page is parsed, instead of after
                    await asyncio.sleep(0)
                rows = page.data[start : start + PARSE_CHUNK]
                items.extend(parse_rows(self._model, rows, self._resource))
            return ExportBatch(items=items, continue_from=token, has_more=page.hasMore)
        except BaseException:
            self._done = True  # a failed feed is not resumed from the wrong place
            raise
        finally:
            if self._done and self._pending is not None and self._pending.done():
                if not self._pending.cancelled():
                    self._pending.exception()  # read, so asyncio does not log it as unseen
                self._pending = None

    def _accept(self, page: ExportPage) -> tuple[ExportPage, str]:
        """Check the page, launch the prefetch; the page and the token to resume after it."""
        self._pending = None
        sent = self._sent
        self._guard.page(rows=len(page.data), has_more=page.hasMore)
        # Never hand back an empty token: resuming from "" would restart the feed from the top.
        token = page.continueFrom or sent
        if page.hasMore:
            if not page.continueFrom:
                raise PaginationLoopError(
                    f"{SYSTEM} {self._resource}: hasMore without a continueFrom token"
                )
            self._guard.token(token)
            self._launch(token)  # prefetch while the caller works on this page
            self.prefetched += 1
        else:
            self._done = True
        return page, token

    async def aclose(self) -> None:
        """Stop, cancelling a prefetch in flight."""
        self._done = True
        task, self._pending = self._pending, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)  # the result is unwanted
        elif task is not None and not task.cancelled():
            task.exception()  # retrieve it so asyncio does not log "never retrieved"

    async def __aenter__(self) -> ExportFeed[M]:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
