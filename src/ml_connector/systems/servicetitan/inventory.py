"""Inventory and pricebook: vendors (F1), purchase orders (F2), receipts (F3), SKUs, PO lookups.

Reads send ``active=Any`` wherever the endpoint has ``active`` (servicetitan-api.md §11.1: an
inactive vendor or receipt is otherwise invisible, and a deactivation would look like a deletion).

Finding our own records again (DESIGN §3.2 rule 2): vendors by ``externalData`` (application guid +
key + values); purchase orders, which have neither ``externalData`` nor a vendor filter, by
``number`` or by a ``createdOnOrAfter`` window from the recorded intent, matched here on the
``summary`` (our ``memo``) and vendor.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from datetime import datetime
from typing import Any

from ml_connector.systems.servicetitan.base import STBase, chunks
from ml_connector.systems.servicetitan.errors import NotFound
from ml_connector.systems.servicetitan.models import (
    PurchaseOrder,
    PurchaseOrderType,
    Receipt,
    Sku,
    Vendor,
    Warehouse,
)
from ml_connector.systems.servicetitan.payloads import (
    ExternalDataInput,
    PurchaseOrderInput,
    VendorInput,
    cancel_request,
    purchase_order_request,
    vendor_request,
)
from ml_connector.systems.servicetitan.session import st_time

INV = "inventory"


def _window(
    params: dict[str, Any], prefix: str, on_or_after: datetime | None, before: datetime | None
) -> None:
    if on_or_after is not None:
        params[f"{prefix}OnOrAfter"] = st_time(on_or_after)
    if before is not None:
        params[f"{prefix}Before"] = st_time(before, ceil=True)


class InventoryApi(STBase):
    # -- vendors ------------------------------------------------------------------------------

    def vendors_changed_since(
        self, since: datetime | None = None, *, before: datetime | None = None
    ) -> AsyncIterator[Vendor]:
        """Vendors modified at or after ``since`` (all when None), active or not."""
        params: dict[str, Any] = {"active": "Any"}
        _window(params, "modified", since, before)
        return self._list(INV, "vendors", Vendor, resource="vendors", params=params)

    async def vendors_by_ids(self, ids: Iterable[int]) -> list[Vendor]:
        return await self._by_ids(
            INV, "vendors", Vendor, ids, resource="vendors", params={"active": "Any"}
        )

    async def get_vendor(self, vendor_id: int) -> Vendor:
        return await self._get(
            INV, f"vendors/{vendor_id}", Vendor, resource="vendors/{id}", ident=vendor_id
        )

    async def create_vendor(self, vendor: VendorInput) -> int:
        """Create; returns the new id. A lost answer raises ``WriteMaybeCommitted``: look the
        vendor up with :meth:`find_vendors_by_external_data` before writing again."""
        return await self._write("POST", INV, "vendors", vendor_request(vendor), resource="vendors")

    async def update_vendor(self, vendor_id: int, vendor: VendorInput) -> int:
        """PATCH the vendor with every field of ``vendor`` (external data merged)."""
        return await self._write(
            "PATCH",
            INV,
            f"vendors/{vendor_id}",
            vendor_request(vendor, update=True),
            resource="vendors/{id}",
            ident=vendor_id,
        )

    async def mark_vendor(self, vendor_id: int, external: ExternalDataInput) -> int:
        """PATCH only the vendor's ``externalData`` (merged): how an accepted match proposal
        marks a vendor someone entered by hand as the Fusion supplier it is."""
        body = {
            "externalData": ExternalDataInput(
                application_guid=external.application_guid,
                values=external.values,
                patch_mode=external.patch_mode or "Merge",
            ).to_request()
        }
        return await self._write(
            "PATCH", INV, f"vendors/{vendor_id}", body, resource="vendors/{id}", ident=vendor_id
        )

    async def find_vendors_by_external_data(
        self, application_guid: str, key: str, values: Iterable[str]
    ) -> list[Vendor]:
        """Vendors carrying ``key`` = one of ``values`` under ``application_guid`` (50 per call)."""
        found: list[Vendor] = []
        unique = list(dict.fromkeys(values))
        for start in range(0, len(unique), 50):
            params = {
                "active": "Any",
                "externalDataApplicationGuid": application_guid,
                "externalDataKey": key,
                "externalDataValues": ",".join(unique[start : start + 50]),
            }
            found += await self._collect(INV, "vendors", Vendor, resource="vendors", params=params)
        return found

    # -- purchase orders ----------------------------------------------------------------------

    def purchase_orders(
        self,
        *,
        number: str | None = None,
        statuses: Iterable[str] = (),
        created_on_or_after: datetime | None = None,
        created_before: datetime | None = None,
        modified_on_or_after: datetime | None = None,
        modified_before: datetime | None = None,
    ) -> AsyncIterator[PurchaseOrder]:
        """Purchase orders matching every filter given (no ``active`` on this endpoint)."""
        params: dict[str, Any] = {}
        if number is not None:
            params["number"] = number
        wanted = list(statuses)
        if wanted:
            params["status"] = wanted
        _window(params, "created", created_on_or_after, created_before)
        _window(params, "modified", modified_on_or_after, modified_before)
        return self._list(
            INV, "purchase-orders", PurchaseOrder, resource="purchase-orders", params=params
        )

    async def purchase_orders_by_ids(self, ids: Iterable[int]) -> list[PurchaseOrder]:
        return await self._by_ids(
            INV, "purchase-orders", PurchaseOrder, ids, resource="purchase-orders"
        )

    async def find_purchase_orders(
        self,
        *,
        number: str | None = None,
        created_on_or_after: datetime | None = None,
        memo: str | None = None,
        vendor_id: int | None = None,
    ) -> list[PurchaseOrder]:
        """Our POs again after a lost create: by ``number``, or created since the recorded intent,
        narrowed here to the ``summary`` we wrote as ``memo`` and the vendor."""
        if number is None and created_on_or_after is None:
            raise ValueError("find_purchase_orders needs a number or a created_on_or_after")
        found: list[PurchaseOrder] = []
        async for order in self.purchase_orders(
            number=number, created_on_or_after=created_on_or_after
        ):
            if memo is not None and (order.summary or "").strip() != memo.strip():
                continue
            if vendor_id is not None and order.vendorId != vendor_id:
                continue
            found.append(order)
        return found

    async def get_purchase_order(self, order_id: int) -> PurchaseOrder:
        return await self._get(
            INV,
            f"purchase-orders/{order_id}",
            PurchaseOrder,
            resource="purchase-orders/{id}",
            ident=order_id,
        )

    async def create_purchase_order(self, order: PurchaseOrderInput) -> int:
        """Create (status ``Pending``); a lost answer raises ``WriteMaybeCommitted``: look the PO
        up with :meth:`find_purchase_orders` (``memo`` + ``created_on_or_after``) first."""
        return await self._write(
            "POST",
            INV,
            "purchase-orders",
            purchase_order_request(order),
            resource="purchase-orders",
        )

    async def update_purchase_order(self, order_id: int, order: PurchaseOrderInput) -> int:
        """PATCH the PO; ``order.items`` replaces the whole set, each line with its ``id``."""
        return await self._write(
            "PATCH",
            INV,
            f"purchase-orders/{order_id}",
            purchase_order_request(order, update=True),
            resource="purchase-orders/{id}",
            ident=order_id,
        )

    async def cancel_purchase_order(self, order_id: int, reason: str = "Other") -> int:
        return await self._write(
            "PATCH",
            INV,
            f"purchase-orders/{order_id}/cancellation",
            cancel_request(reason),
            resource="purchase-orders/{id}/cancellation",
            ident=order_id,
        )

    async def purchase_order_types(self) -> list[PurchaseOrderType]:
        return await self._collect(
            INV,
            "purchase-order-types",
            PurchaseOrderType,
            resource="purchase-order-types",
            params={"active": "Any"},
        )

    async def warehouses(self) -> list[Warehouse]:
        return await self._collect(
            INV, "warehouses", Warehouse, resource="warehouses", params={"active": "Any"}
        )

    # -- receipts -----------------------------------------------------------------------------

    async def receipts_changed_since(
        self,
        since: datetime | None = None,
        *,
        purchase_order_ids: Iterable[int] | None = None,
    ) -> AsyncIterator[Receipt]:
        """Receipts modified at or after ``since``, active or not, in id order; optionally only
        for some POs (50 PO ids per call). There is no receipt export and no GET by id (§6.3).

        No upper bound is sent on purpose (DESIGN §3.2 rule 1): the list is paged by offset, and
        with ``modifiedBefore`` a receipt modified mid-read would leave the filtered set and
        shift a later one back across a page boundary, unread. Without it a changed row keeps its
        place in id order; the caller drops rows newer than its window itself."""
        params: dict[str, Any] = {"active": "Any"}
        _window(params, "modified", since, None)
        batches: list[list[int] | None] = (
            list(chunks(purchase_order_ids)) if purchase_order_ids is not None else [None]
        )
        for batch in batches:
            query = dict(params)
            if batch is not None:
                query["purchaseOrderIds"] = ",".join(str(i) for i in batch)
            async for receipt in self._list(
                INV, "receipts", Receipt, resource="receipts", params=query
            ):
                yield receipt

    # -- pricebook ----------------------------------------------------------------------------

    async def skus(self) -> AsyncIterator[Sku]:
        """Every material, then every piece of equipment, active or not (``ml-connector match``)."""
        for kind, label in (("materials", "Material"), ("equipment", "Equipment")):
            params = {"active": "Any"}
            async for sku in self._list("pricebook", kind, Sku, resource=kind, params=params):
                yield sku.model_copy(update={"skuType": label})

    async def sku_by_code(self, code: str) -> Sku | None:
        """The material with this code, else the equipment with it, else None.

        The lists have no code filter in the spec: ``searchText`` narrows, the exact code decides.
        """
        for kind, label in (("materials", "Material"), ("equipment", "Equipment")):
            params = {"active": "Any", "searchText": code}
            async for sku in self._list("pricebook", kind, Sku, resource=kind, params=params):
                if sku.code.strip().lower() == code.strip().lower():
                    return sku.model_copy(update={"skuType": label})
        return None

    async def sku_by_id(self, sku_id: int) -> Sku | None:
        """The material with this id, else the equipment with it, else None (a SKU linked by
        ``ml-connector match``: its code need not follow the item number)."""
        try:
            material = await self._get(
                "pricebook", f"materials/{sku_id}", Sku, resource="materials/{id}", ident=sku_id
            )
            return material.model_copy(update={"skuType": "Material"})
        except NotFound:
            pass
        try:
            equipment = await self._get(
                "pricebook", f"equipment/{sku_id}", Sku, resource="equipment/{id}", ident=sku_id
            )
            return equipment.model_copy(update={"skuType": "Equipment"})
        except NotFound:
            return None

    async def skus_by_code(self, codes: Iterable[str]) -> dict[str, Sku]:
        """``{code: sku}`` for the codes found (materials first, then equipment)."""
        out: dict[str, Sku] = {}
        for code in dict.fromkeys(codes):
            sku = await self.sku_by_code(code)
            if sku is not None:
                out[code] = sku
        return out
