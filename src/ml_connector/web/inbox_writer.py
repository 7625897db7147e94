"""Group commit for the inbox: many webhook requests, one transaction per batch.

Each request hands its event to :meth:`InboxWriter.submit` and waits; a single writer task takes
whatever is queued (up to ``max_batch``), writes it in one transaction and wakes every waiter with
its own result. Under light load a batch is one event and nothing waits longer than one commit;
under heavy load the batches grow, which is what keeps acknowledgement fast on SQLite (DESIGN §5).
A request is answered 2xx only after its batch committed (DESIGN §3.2 rule 4).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from ml_connector.store import Store
from ml_connector.store.records import NewInboxEvent

log = logging.getLogger(__name__)


class InboxWriter:
    def __init__(self, store: Store, *, max_batch: int = 500) -> None:
        self._store = store
        self._max_batch = max_batch
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

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
