"""Group commit for the inbox: many webhook requests, one transaction per batch.

Each request hands its event to :meth:`InboxWriter.submit` and waits; a single writer task takes
whatever is queued (up to ``max_batch``), writes it in one transaction and wakes every waiter with
its own result. Under light load a batch is one event and nothing waits longer than one commit;
under heavy load the batches grow, which is what keeps acknowledgement fast on SQLite (DESIGN §5).
A request is answered 2xx only after its batch committed (DESIGN §3.2 rule 4).

On SQLite a batch's whole transaction (``BEGIN IMMEDIATE``, one multi-row insert, ``COMMIT``)
runs in one trip to a thread of the writer's own, on a synchronous connection with the store's
pragmas, instead of one trip to aiosqlite's thread per statement: under half the CPU per batch,
and fewer hand-overs between the event loop and a thread, which is what a small batch's latency is
made of on a busy machine. Several processes writing the same file still take turns through
``BEGIN IMMEDIATE`` and the busy timeout. PostgreSQL batches use the store's own async engine.

``on_commit`` (the distributed runner's ``web``) hears which connections got new events. It runs
in a background task of its own, never on the acknowledgement path nor between two batches:
connections that get new events while it runs are gathered and heard by its next call. If it fails
the events stay in the inbox for the next periodic drain.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import Engine, create_engine

from ml_connector.clock import Clock
from ml_connector.store import Store
from ml_connector.store.engine import _sqlite_hooks, is_sqlite, parse_url, sync_url
from ml_connector.store.records import NewInboxEvent
from ml_connector.store.repos.inbox import enqueue_in

log = logging.getLogger(__name__)


class _SqliteLane:
    """A batch's whole SQLite transaction in one trip to one thread, on one pooled connection.

    The connection is opened, used and closed on that thread only."""

    def __init__(self, url: str, clock: Clock) -> None:
        self._clock = clock
        self._engine: Engine = create_engine(sync_url(url), pool_size=1, max_overflow=0)
        _sqlite_hooks(self._engine)  # WAL, busy timeout, BEGIN IMMEDIATE: as the store's engine
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="inbox-writer")

    async def enqueue(self, events: Sequence[NewInboxEvent]) -> list[bool]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, self._enqueue, events)

    def _enqueue(self, events: Sequence[NewInboxEvent]) -> list[bool]:
        with self._engine.begin() as conn:
            return enqueue_in(conn, self._clock, events)

    async def aclose(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._thread, self._engine.dispose)
        self._thread.shutdown(wait=True)


def _file_backed_sqlite(url: str) -> bool:
    return is_sqlite(url) and parse_url(url).database not in (None, "", ":memory:")


class InboxWriter:
    def __init__(
        self,
        store: Store,
        *,
        max_batch: int = 500,
        on_commit: Callable[[set[str]], Awaitable[None]] | None = None,
    ) -> None:
        self._store = store
        self._max_batch = max_batch
        self._on_commit = on_commit
        # an in-memory database is private to its connection: it goes through the store's engine
        self._lane = _SqliteLane(store.url, store.clock) if _file_backed_sqlite(store.url) else None
        self._queue: asyncio.Queue[tuple[NewInboxEvent, asyncio.Future[bool]]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._unheard: set[str] = set()
        self._notifier: asyncio.Task[None] | None = None
        self.batches = 0
        self.events = 0

    async def submit(self, event: NewInboxEvent) -> bool:
        """Durably store ``event``; True if new, False if it was already in the inbox."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="inbox-writer")
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        await self._queue.put((event, future))
        return await future

    async def _run(self) -> None:
        while True:
            first = await self._queue.get()
            batch = [first]
            while len(batch) < self._max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except asyncio.QueueEmpty:
                    break
            await self._write(batch)

    async def _write(self, batch: list[tuple[NewInboxEvent, asyncio.Future[bool]]]) -> None:
        # one order of inserts in every process: two receivers storing the same events at once
        # (ServiceTitan retries, several web processes) then wait on each other, never deadlock
        batch.sort(key=lambda item: (item[0].connection, item[0].event_key))
        events = [event for event, _ in batch]
        try:
            if self._lane is not None:
                results = await self._lane.enqueue(events)
            else:
                async with self._store.transaction() as tx:
                    results = await tx.inbox.enqueue(events)
        except Exception as exc:  # every waiter learns the batch failed; none is acknowledged
            log.error("inbox write of %d events failed: %s", len(batch), exc.__class__.__name__)
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        self.batches += 1
        self.events += len(batch)
        for (_, future), new in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(new)
        fresh = {event.connection for (event, _), new in zip(batch, results, strict=True) if new}
        if fresh and self._on_commit is not None:
            self._unheard |= fresh
            if self._notifier is None or self._notifier.done():
                self._notifier = asyncio.create_task(self._notify(), name="inbox-notify")

    async def _notify(self) -> None:
        assert self._on_commit is not None
        await asyncio.sleep(0)  # let the woken requests answer first
        while self._unheard:
            connections, self._unheard = self._unheard, set()
            try:
                await self._on_commit(connections)
            except Exception as exc:  # the events are durable; the periodic drain finds them
                log.warning("after storing events: %s", exc.__class__.__name__)

    async def aclose(self, *, notify_timeout: float = 10.0) -> None:
        """Stop writing; give the last ``on_commit`` call up to ``notify_timeout`` s to finish."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._notifier is not None:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._notifier, timeout=notify_timeout)
            self._notifier = None
        if self._lane is not None:
            await self._lane.aclose()
            self._lane = None
