"""Procurement reads and receiving writes (oracle-fusion-api.md §4.1–§4.3).

Suppliers and purchase orders change while we read them, so they are read by key
(:mod:`.pagination`); a backfill reads disjoint ``LastUpdateDate`` windows side by side.
Receiving receipt requests are processed asynchronously by Fusion: create one, then follow its
``ProcessingStatusCode`` and the lines' ``processingErrors``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar, overload

from pydantic import BaseModel

from ml_connector.clock import ensure_aware
from ml_connector.systems.fusion import query
from ml_connector.systems.fusion.base import FusionBase
from ml_connector.systems.fusion.children import (
    PO_CHILDREN,
    RECEIVING_CHILDREN,
    SUPPLIER_CHILDREN,
    Child,
    complete,
)
from ml_connector.systems.fusion.errors import ReceivingTimeout
from ml_connector.systems.fusion.models import (
    CollectionPage,
    PurchaseOrder,
    ReceivingReceiptRequest,
    Supplier,
)
from ml_connector.systems.fusion.pagination import (
    STAMP,
    Bound,
    KeysetSpec,
    Window,
    keyset_pages,
    split_point,
    split_range,
)
from ml_connector.systems.parsing import parse_timestamp

R = TypeVar("R", bound=BaseModel)

SUPPLIER_EXPAND = "addresses,sites,contacts"
PO_EXPAND = "lines.schedules"
RECEIVING_EXPAND = "lines.processingErrors"
#: Header states after which nothing more will happen (INFERRED names, reference §4.3).
RECEIVING_FINAL = frozenset({"SUCCESS", "ERROR", "COMPLETED", "PROCESSED", "FAILED"})


@dataclass(frozen=True, kw_only=True)
class WindowPage(Generic[R]):
    """One page of one window of :meth:`ProcurementApi.read_windows`.

    Pages of different windows arrive interleaved, in no particular order; within one window they
    arrive in (``LastUpdateDate``, id) order. A flow tracks the highest ``LastUpdateDate`` it has
    durably processed per window itself and moves its cursor only when every window is done.
    """

    window: Window
    records: tuple[R, ...]


@dataclass(frozen=True, kw_only=True)
class _Done:
    window: Window


@dataclass(frozen=True, kw_only=True)
class _Resource:
    path: str
    id_attr: str
    expand: str
    children: Mapping[str, Child]


_RESOURCES: dict[str, _Resource] = {
    "suppliers": _Resource(
        path="suppliers", id_attr="SupplierId", expand=SUPPLIER_EXPAND, children=SUPPLIER_CHILDREN
    ),
    "purchaseOrders": _Resource(
        path="purchaseOrders", id_attr="POHeaderId", expand=PO_EXPAND, children=PO_CHILDREN
    ),
}
_RECEIVING = _Resource(
    path="receivingReceiptRequests",
    id_attr="HeaderInterfaceId",
    expand=RECEIVING_EXPAND,
    children=RECEIVING_CHILDREN,
)


def po_filter(
    procurement_bus: Sequence[str] | None = None, statuses: Sequence[str] | None = None
) -> str | None:
    """``q`` clauses for the PO flow's filters (business units by name, ``StatusCode`` set)."""
    return (
        query.all_of(
            query.isin("ProcurementBU", procurement_bus) if procurement_bus else None,
            query.isin("StatusCode", statuses) if statuses else None,
        )
        or None
    )


class ProcurementApi(FusionBase):
    """Suppliers, purchase orders and receiving (mixed into FusionClient)."""

    async def _read_all(self, path: str, params: Mapping[str, str]) -> list[dict[str, Any]]:
        return await self._all(path, params, what=f"fusion {path}")

    async def _complete(self, res: _Resource, item: dict[str, Any]) -> dict[str, Any]:
        """Fill expanded children cut short by the pod (see :mod:`.children`)."""
        await complete(self._read_all, f"{res.path}/{item[res.id_attr]}", item, res.children)
        return item

    def _until(self, since: datetime, until: datetime | None) -> tuple[datetime, datetime]:
        since = ensure_aware(since)
        until = ensure_aware(until) if until is not None else self._clock.now()
        return since, until

    async def _keyset(
        self,
        res: _Resource,
        model: type[R],
        *,
        since: datetime,
        until: datetime,
        extra_q: str | None,
        bound: Bound | None = None,
    ) -> AsyncIterator[list[R]]:
        spec = KeysetSpec(
            id_attr=res.id_attr,
            page_size=self.page_size,
            extra_q=extra_q,
            params=(("expand", res.expand), ("onlyData", "true")),
        )

        async def fetch(params: dict[str, str]) -> dict[str, Any]:
            return await self._page(res.path, params)

        what = f"fusion {res.path} keyset pager"
        pages = keyset_pages(fetch, spec, since=since, until=until, what=what, bound=bound)
        async for items in pages:
            yield [model.model_validate(await self._complete(res, item)) for item in items]

    async def supplier_pages(
        self, since: datetime, *, until: datetime | None = None
    ) -> AsyncIterator[list[Supplier]]:
        """Like :meth:`suppliers_changed_since`, one list per page — for flows that make a page's
        writes durable before moving their cursor (DESIGN §3.2 rule 1)."""
        lo, hi = self._until(since, until)
        async for page in self._keyset(
            _RESOURCES["suppliers"], Supplier, since=lo, until=hi, extra_q=None
        ):
            yield page

    async def suppliers_changed_since(
        self, since: datetime, *, until: datetime | None = None
    ) -> AsyncIterator[Supplier]:
        """Suppliers with ``since <= LastUpdateDate < until`` (until defaults to now, the run's
        start), with addresses, sites and contacts, in (``LastUpdateDate``, ``SupplierId``) order."""
        async for page in self.supplier_pages(since, until=until):
            for supplier in page:
                yield supplier

    async def purchase_order_pages(
        self,
        since: datetime,
        *,
        until: datetime | None = None,
        procurement_bus: Sequence[str] | None = None,
        statuses: Sequence[str] | None = None,
    ) -> AsyncIterator[list[PurchaseOrder]]:
        """Like :meth:`purchase_orders_changed_since`, one list per page."""
        lo, hi = self._until(since, until)
        extra = po_filter(procurement_bus, statuses)
        async for page in self._keyset(
            _RESOURCES["purchaseOrders"], PurchaseOrder, since=lo, until=hi, extra_q=extra
        ):
            yield page

    async def purchase_orders_changed_since(
        self,
        since: datetime,
        *,
        until: datetime | None = None,
        procurement_bus: Sequence[str] | None = None,
        statuses: Sequence[str] | None = None,
    ) -> AsyncIterator[PurchaseOrder]:
        """Purchase orders changed in ``[since, until)`` with lines and schedules, optionally only
        in the given procurement business units (by name) and ``StatusCode`` values."""
        async for page in self.purchase_order_pages(
            since, until=until, procurement_bus=procurement_bus, statuses=statuses
        ):
            for order in page:
                yield order

    @overload
    def read_windows(
        self,
        resource: Literal["suppliers"],
        since: datetime,
        until: datetime,
        *,
        windows: int = 4,
        extra_q: str | None = None,
    ) -> AsyncIterator[WindowPage[Supplier]]: ...

    @overload
    def read_windows(
        self,
        resource: Literal["purchaseOrders"],
        since: datetime,
        until: datetime,
        *,
        windows: int = 4,
        extra_q: str | None = None,
    ) -> AsyncIterator[WindowPage[PurchaseOrder]]: ...

    def read_windows(
        self,
        resource: str,
        since: datetime,
        until: datetime,
        *,
        windows: int = 4,
        extra_q: str | None = None,
    ) -> AsyncIterator[WindowPage[Any]]:
        """Read ``[since, until)`` as ``windows`` disjoint ``LastUpdateDate`` windows side by side,
        each paged by key; at most the pod's concurrency cap of requests are in flight. A reader
        with rows left while fewer than ``windows`` read hands the upper half of its range to a
        new reader (a window with a new ``index``), so uneven stamps still keep every slot busy.

        Yields :class:`WindowPage` values as they arrive (order across windows is arbitrary).
        Leaving the loop early cancels the readers. ``extra_q`` narrows the rows (e.g.
        :func:`po_filter`).
        """
        if resource not in _RESOURCES:
            raise ValueError(f"read_windows supports {sorted(_RESOURCES)}, not {resource!r}")
        model: type[BaseModel] = Supplier if resource == "suppliers" else PurchaseOrder
        return self._windows(_RESOURCES[resource], model, since, until, windows, extra_q)

    async def _newest(self, res: _Resource, window: Window, extra_q: str | None) -> datetime | None:
        """The newest ``LastUpdateDate`` in ``window`` (one row, no children): where splitting
        what is left of the window makes sense. None when the window is empty."""
        order = f"{STAMP}:desc,{res.id_attr}:desc"
        q = query.all_of(
            query.cmp(STAMP, ">=", window.since), query.cmp(STAMP, "<", window.until), extra_q
        )
        params = {"q": q, "orderBy": order, "onlyData": "true", "limit": "1", "offset": "0"}
        rows = CollectionPage.model_validate(await self._page(res.path, params)).items
        return parse_timestamp(rows[0].get(STAMP)) if rows else None

    async def _windows(
        self,
        res: _Resource,
        model: type[BaseModel],
        since: datetime,
        until: datetime,
        windows: int,
        extra_q: str | None,
    ) -> AsyncIterator[WindowPage[Any]]:
        queue: asyncio.Queue[WindowPage[Any] | _Done | Exception] = asyncio.Queue(
            maxsize=2 * windows
        )
        tasks: list[asyncio.Task[None]] = []
        running = 0

        def start(window: Window, newest: datetime | None = None) -> None:
            nonlocal running
            running += 1
            tasks.append(asyncio.create_task(reader(window, newest)))

        async def reader(window: Window, newest: datetime | None = None) -> None:
            nonlocal running
            bound = Bound(until=window.until, newest=newest)
            try:
                if newest is None:
                    bound.newest = await self._newest(res, window, extra_q)
                pages = self._keyset(
                    res, model, since=window.since, until=window.until, extra_q=extra_q, bound=bound
                )
                async for page in pages:
                    await queue.put(WindowPage(window=window, records=tuple(page)))
                    # a free slot and rows left: the upper half of them goes to a new reader
                    cut = split_point(bound) if running < windows else None
                    if cut is not None:
                        start(Window(index=len(tasks), since=cut, until=bound.until), bound.newest)
                        bound.until = cut
                        window = Window(index=window.index, since=window.since, until=cut)
                running -= 1
                await queue.put(_Done(window=window))
            except Exception as exc:  # handed to the consumer, which re-raises it
                await queue.put(exc)

        for part in split_range(since, until, windows):
            start(part)
        try:
            done = 0
            while done < len(tasks):
                item = await queue.get()
                if isinstance(item, _Done):
                    done += 1
                elif isinstance(item, Exception):
                    raise item
                else:
                    yield item
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def purchase_order(self, order_number: str) -> PurchaseOrder | None:
        """One PO by its number, with lines and schedules; None if there is none."""
        row = await self._first(
            "purchaseOrders",
            {"q": query.eq("OrderNumber", order_number), "expand": PO_EXPAND, "onlyData": "true"},
        )
        if row is None:
            return None
        return PurchaseOrder.model_validate(await self._complete(_RESOURCES["purchaseOrders"], row))

    # --- receiving -------------------------------------------------------------------------

    async def create_receiving_request(self, payload: Mapping[str, Any]) -> ReceivingReceiptRequest:
        """POST a receipt request (header + ``lines``). Never retried blindly: on
        :class:`~ml_connector.http.WriteMaybeCommitted` adopt with :meth:`find_receiving_request`."""
        body = await self._session.send_json("POST", "receivingReceiptRequests", payload)
        return ReceivingReceiptRequest.model_validate(body)

    async def receiving_request(self, header_interface_id: int) -> ReceivingReceiptRequest:
        """The request with its lines and their ``processingErrors``."""
        body = await self._session.get_json(
            f"receivingReceiptRequests/{int(header_interface_id)}",
            {"expand": RECEIVING_EXPAND, "onlyData": "true"},
        )
        return ReceivingReceiptRequest.model_validate(await self._complete(_RECEIVING, body))

    async def find_receiving_request(self, receipt_number: str) -> ReceivingReceiptRequest | None:
        """Adopt lookup by the business key the flow sets (``ReceiptNumber``)."""
        row = await self._first(
            "receivingReceiptRequests",
            {
                "q": query.eq("ReceiptNumber", receipt_number),
                "expand": RECEIVING_EXPAND,
                "onlyData": "true",
            },
        )
        if row is None:
            return None
        return ReceivingReceiptRequest.model_validate(await self._complete(_RECEIVING, row))

    async def wait_for_receiving_request(
        self, header_interface_id: int, *, max_wait: float = 300.0, interval: float = 10.0
    ) -> ReceivingReceiptRequest:
        """Poll until the header leaves ``PENDING`` (on the injected clock); returns the final
        request — check ``ProcessingStatusCode`` and each line's ``processingErrors``. Raises
        :class:`ReceivingTimeout` (retriable) if it is still pending after ``max_wait`` seconds."""
        started = self._clock.monotonic()
        while True:
            request = await self.receiving_request(header_interface_id)
            status = (request.ProcessingStatusCode or "").upper()
            if status in RECEIVING_FINAL:
                return request
            if self._clock.monotonic() - started + interval > max_wait:
                raise ReceivingTimeout(
                    f"fusion receivingReceiptRequests {header_interface_id} still "
                    f"{status or 'unprocessed'} after {max_wait:.0f} s",
                    retry_after=interval,
                )
            await self._clock.sleep(interval)
