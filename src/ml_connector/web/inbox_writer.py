"""Group commit for the inbox: many webhook requests, one transaction per batch.

Each request hands its event to :meth:`InboxWriter.submit` and waits; a single writer task takes
whatever is queued (up to ``max_batch``), writes it in one transaction and wakes every waiter with
its own result. Under light load a batch is one event and nothing waits longer than one commit;
under heavy load the batches grow, which is what keeps acknowledgement fast on SQLite (DESIGN §5).
A request is answered 2xx only after its batch committed (DESIGN §3.2 rule 4).

``on_commit`` (the distributed runner's ``web``) hears which connections got new events, after the
waiters are woken, so acknowledgement never waits on it; if it fails the events stay in the inbox
for the next periodic drain.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from ml_connector.store import Store
from ml_connector.store.records import NewInboxEvent

log = logging.getLogger(__name__)


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
        self._queue: asyncio.Queue[tuple[NewInboxEvent, asyncio.Future[bool]]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
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
        try:
            async with self._store.transaction() as tx:
                results = await tx.inbox.enqueue([event for event, _ in batch])
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
            await asyncio.sleep(0)  # let the woken requests answer first
            try:
                await self._on_commit(fresh)
            except Exception as exc:  # the events are durable; the periodic drain finds them
                log.warning("after storing events: %s", exc.__class__.__name__)

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
