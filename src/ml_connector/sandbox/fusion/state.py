"""In-memory state of one simulated Fusion pod.

Records are kept in dicts keyed by their id (insertion order = creation order), so item GETs are O(1) and a
collection GET is one pass plus at most one sort. The ``add_*``/``update_*`` methods are the seam the data
generator and the tests use; every change goes through :meth:`FusionState.touch`, which moves
``LastUpdateDate`` (millisecond precision, strictly forward per record) from the injected clock.

Counters and tokens live in :class:`Meta`, outside the data, so a batch rollback (``snapshot``/``restore``)
never undoes them. The page indexes of the big collections (``index.py``) live here too, outside the
data: they follow the tables lazily and rebuild when a rollback replaces one.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from ml_connector.clock import Clock, SystemClock

from .index import PageIndex
from .records import (
    AccountCombination,
    BusinessUnit,
    Currency,
    PaymentTerm,
    POLine,
    POSchedule,
    PurchaseOrder,
    ReceiptRequest,
    Stamped,
    Supplier,
    SupplierAddress,
    SupplierContact,
    SupplierSite,
)
from .records_ar import (
    CustomerAccount,
    CustomerSite,
    ReceiptApplication,
    ReceiptMethod,
    ReceivablesInvoice,
    StandardReceipt,
    TransactionSource,
    TransactionType,
)

FIRST_ID = 300100000000000  # 15-digit ids like a real pod (reference §3.9)
_DATA_FIELDS = (
    "next_id",
    "business_units",
    "currencies",
    "payment_terms",
    "combinations",
    "suppliers",
    "purchase_orders",
    "receipt_requests",
    "transaction_types",
    "transaction_sources",
    "receipt_methods",
    "accounts",
    "invoices",
    "receipts",
    "applications",
)


@dataclass(kw_only=True)
class Meta:
    """Bookkeeping that survives batch rollbacks: tokens and request counters."""

    tokens: dict[str, datetime] = field(default_factory=dict)  # access token -> expiry
    token_requests: int = 0
    api_requests: Counter[str] = field(default_factory=Counter)  # "GET suppliers"
    errors: Counter[str] = field(default_factory=Counter)  # "404"


class FusionState:
    """All data of the simulated pod plus the methods that seed and change it."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock: Clock = clock or SystemClock()
        self.meta = Meta()
        self.next_id = FIRST_ID
        self.business_units: dict[int, BusinessUnit] = {}
        self.currencies: dict[str, Currency] = {}
        self.payment_terms: dict[int, PaymentTerm] = {}
        self.combinations: dict[int, AccountCombination] = {}
        self.suppliers: dict[int, Supplier] = {}
        self.purchase_orders: dict[int, PurchaseOrder] = {}
        self.receipt_requests: dict[int, ReceiptRequest] = {}
        self.transaction_types: dict[int, TransactionType] = {}
        self.transaction_sources: dict[int, TransactionSource] = {}
        self.receipt_methods: dict[int, ReceiptMethod] = {}
        self.accounts: dict[int, CustomerAccount] = {}
        self.invoices: dict[int, ReceivablesInvoice] = {}
        self.receipts: dict[int, StandardReceipt] = {}
        self.applications: dict[int, ReceiptApplication] = {}
        self.indexes: dict[str, PageIndex] = {}  # resource name -> its page index

    def page_index(self, resource: str, key: str, table: Mapping[Any, Any]) -> PageIndex:
        """The page index of ``resource`` (rows keyed by ``key``), in step with ``table``."""
        index = self.indexes.get(resource)
        if index is None:
            index = self.indexes[resource] = PageIndex(key)
        index.sync(table)
        return index

    # --- time, ids, tokens ---------------------------------------------------------------------

    def now(self) -> datetime:
        """The clock's time truncated to milliseconds, as Fusion renders it."""
        now = self.clock.now()
        return now.replace(microsecond=now.microsecond // 1000 * 1000)

    def today(self) -> date:
        return self.now().date()

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id - 1

    def stamps(self) -> dict[str, Any]:
        now = self.now()
        return {"CreationDate": now, "LastUpdateDate": now}

    def touch(self, record: Stamped) -> None:
        """Move ``LastUpdateDate``: to now, and at least 1 ms past its old value, so it always moves."""
        record.LastUpdateDate = max(self.now(), record.LastUpdateDate + timedelta(milliseconds=1))

    def revoke_tokens(self) -> None:
        """Invalidate every issued access token (fault injection: the next call gets 401)."""
        self.meta.tokens.clear()

    # --- batch support -------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """A deep copy of the data (not of Meta); costs O(size), used only by the batch endpoint."""
        return copy.deepcopy({name: getattr(self, name) for name in _DATA_FIELDS})

    def restore(self, snap: Mapping[str, Any]) -> None:
        for name in _DATA_FIELDS:
            setattr(self, name, snap[name])

    # --- setup ---------------------------------------------------------------------------------

    def add_business_unit(self, name: str, **attrs: Any) -> BusinessUnit:
        bu = BusinessUnit(BusinessUnitId=self.new_id(), BusinessUnitName=name, **attrs)
        self.business_units[bu.BusinessUnitId] = bu
        return bu

    def add_currency(self, code: str, name: str, **attrs: Any) -> Currency:
        cur = Currency(CurrencyCode=code, Name=name, **attrs)
        self.currencies[code] = cur
        return cur

    def add_payment_term(self, name: str, due_days: int, **attrs: Any) -> PaymentTerm:
        term = PaymentTerm(TermId=self.new_id(), Name=name, DueDays=due_days, **attrs)
        self.payment_terms[term.TermId] = term
        return term

    def add_account_combination(
        self, segments: Sequence[str], *, chart_id: int = 5237, **attrs: Any
    ) -> AccountCombination:
        combo = AccountCombination(
            _CODE_COMBINATION_ID=self.new_id(),
            _CHART_OF_ACCOUNTS_ID=chart_id,
            segments=tuple(segments),
            **attrs,
        )
        self.combinations[combo._CODE_COMBINATION_ID] = combo
        return combo

    def add_transaction_type(self, name: str, **attrs: Any) -> TransactionType:
        tt = TransactionType(TransactionTypeId=self.new_id(), Name=name, **attrs)
        self.transaction_types[tt.TransactionTypeId] = tt
        return tt

    def add_transaction_source(self, name: str, **attrs: Any) -> TransactionSource:
        ts = TransactionSource(TransactionSourceId=self.new_id(), Name=name, **attrs)
        self.transaction_sources[ts.TransactionSourceId] = ts
        return ts

    def add_receipt_method(self, name: str, **attrs: Any) -> ReceiptMethod:
        rm = ReceiptMethod(ReceiptMethodId=self.new_id(), Name=name, **attrs)
        self.receipt_methods[rm.ReceiptMethodId] = rm
        return rm

    # --- customers -----------------------------------------------------------------------------

    def add_customer_account(
        self, name: str, *, number: str | None = None, **attrs: Any
    ) -> CustomerAccount:
        account_id = self.new_id()
        acct = CustomerAccount(
            AccountId=account_id,
            AccountNumber=number or str(10000 + len(self.accounts) + 1),
            CustomerId=self.new_id(),
            CustomerName=name,
            **attrs,
        )
        self.accounts[account_id] = acct
        return acct

    def add_customer_site(
        self,
        account_id: int,
        business_unit: str,
        *,
        name: str,
        number: str | None = None,
        **attrs: Any,
    ) -> CustomerSite:
        acct = self.accounts[account_id]
        site = CustomerSite(
            SiteUseId=self.new_id(),
            SiteNumber=number or str(20000 + sum(len(a.sites) for a in self.accounts.values()) + 1),
            SiteName=name,
            AccountId=account_id,
            AccountNumber=acct.AccountNumber,
            BusinessUnit=business_unit,
            **attrs,
        )
        acct.sites.append(site)
        return site

    def update_customer_account(self, account_id: int, **attrs: Any) -> CustomerAccount:
        acct = self.accounts[account_id]
        for name, value in attrs.items():
            setattr(acct, name, value)
        return acct

    def account_by_number(self, number: str) -> CustomerAccount | None:
        return next((a for a in self.accounts.values() if a.AccountNumber == number), None)

    # --- suppliers -----------------------------------------------------------------------------

    def add_supplier(self, name: str, *, number: str | None = None, **attrs: Any) -> Supplier:
        supplier_id = self.new_id()
        sup = Supplier(
            SupplierId=supplier_id,
            SupplierPartyId=self.new_id(),
            Supplier=name,
            SupplierNumber=number or str(5000 + len(self.suppliers) + 1),
            **self.stamps(),
            **attrs,
        )
        self.suppliers[supplier_id] = sup
        return sup

    def update_supplier(self, supplier_id: int, **attrs: Any) -> Supplier:
        sup = self.suppliers[supplier_id]
        for name, value in attrs.items():
            setattr(sup, name, value)
        self.touch(sup)
        return sup

    def add_supplier_address(self, supplier_id: int, name: str, **attrs: Any) -> SupplierAddress:
        sup = self.suppliers[supplier_id]
        addr = SupplierAddress(
            SupplierAddressId=self.new_id(), AddressName=name, **self.stamps(), **attrs
        )
        sup.addresses.append(addr)
        self.touch(sup)
        return addr

    def add_supplier_site(
        self, supplier_id: int, name: str, business_unit_id: int, **attrs: Any
    ) -> SupplierSite:
        sup = self.suppliers[supplier_id]
        bu = self.business_units[business_unit_id]
        site = SupplierSite(
            SupplierSiteId=self.new_id(),
            SupplierSite=name,
            ProcurementBUId=bu.BusinessUnitId,
            ProcurementBU=bu.BusinessUnitName,
            **self.stamps(),
            **attrs,
        )
        sup.sites.append(site)
        self.touch(sup)
        return site

    def add_supplier_contact(self, supplier_id: int, **attrs: Any) -> SupplierContact:
        sup = self.suppliers[supplier_id]
        contact = SupplierContact(SupplierContactId=self.new_id(), **self.stamps(), **attrs)
        sup.contacts.append(contact)
        self.touch(sup)
        return contact

    # --- purchase orders -----------------------------------------------------------------------

    def add_purchase_order(
        self,
        supplier_id: int,
        business_unit_id: int,
        lines: Iterable[Mapping[str, Any]],
        *,
        number: str | None = None,
        **attrs: Any,
    ) -> PurchaseOrder:
        """Add an approved PO. Each line mapping holds POLine attributes; ``RequestedDeliveryDate``
        (and other POSchedule attributes under ``schedule``) go to the line's single schedule."""
        sup = self.suppliers[supplier_id]
        bu = self.business_units[business_unit_id]
        po_lines: list[POLine] = []
        for n, spec in enumerate(lines, start=1):
            spec = dict(spec)
            need_by = spec.pop("RequestedDeliveryDate", None)
            sched_attrs = dict(spec.pop("schedule", {}))
            qty = Decimal(str(spec.pop("Quantity", 1)))
            price = Decimal(str(spec.pop("Price", 0)))
            schedule = POSchedule(
                LineLocationId=self.new_id(),
                ScheduleNumber=1,
                Quantity=qty,
                RequestedDeliveryDate=need_by,
                **sched_attrs,
            )
            po_lines.append(
                POLine(
                    POLineId=self.new_id(),
                    LineNumber=spec.pop("LineNumber", n),
                    Quantity=qty,
                    Price=price,
                    Amount=qty * price,
                    schedules=[schedule],
                    **spec,
                )
            )
        po = PurchaseOrder(
            POHeaderId=self.new_id(),
            OrderNumber=number or str(1000 + len(self.purchase_orders) + 1),
            SupplierId=sup.SupplierId,
            Supplier=sup.Supplier,
            ProcurementBUId=bu.BusinessUnitId,
            ProcurementBU=bu.BusinessUnitName,
            BillToBUId=bu.BusinessUnitId,
            BillToBU=bu.BusinessUnitName,
            Ordered=sum((line.Amount for line in po_lines), Decimal(0)),
            lines=po_lines,
            **self.stamps(),
            **attrs,
        )
        self.purchase_orders[po.POHeaderId] = po
        return po

    def update_purchase_order(self, po_header_id: int, **attrs: Any) -> PurchaseOrder:
        po = self.purchase_orders[po_header_id]
        for name, value in attrs.items():
            setattr(po, name, value)
        self.touch(po)
        return po

    def po_by_number(self, number: str) -> PurchaseOrder | None:
        return next((p for p in self.purchase_orders.values() if p.OrderNumber == number), None)

    # --- lookups by name (small tables: a scan is fine) ----------------------------------------

    def business_unit_named(self, name: str) -> BusinessUnit | None:
        return next((b for b in self.business_units.values() if b.BusinessUnitName == name), None)

    def transaction_type_named(self, name: str) -> TransactionType | None:
        return next((t for t in self.transaction_types.values() if t.Name == name), None)

    def transaction_source_named(self, name: str) -> TransactionSource | None:
        return next((t for t in self.transaction_sources.values() if t.Name == name), None)

    def receipt_method_named(self, name: str) -> ReceiptMethod | None:
        return next((r for r in self.receipt_methods.values() if r.Name == name), None)

    def payment_term_named(self, name: str) -> PaymentTerm | None:
        return next((t for t in self.payment_terms.values() if t.Name == name), None)
