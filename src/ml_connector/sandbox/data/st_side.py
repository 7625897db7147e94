"""ServiceTitan field data for F4 and F5, with the Fusion customer accounts it bills to.

Each ServiceTitan customer has a home location; its Fusion account (number in the customer's
"Fusion Account" custom field) has a bill-to site in that location's business unit, and its
invoices are raised there, one completed job each. Ordinary invoices are Reviewed and Pending
(eligible under the default ``ReceivablesMapping``), dated in the 30 days before the clock, and
never touch the two broken combinations; a share of them is paid in full.

Broken and special kinds made here (once per unit of scale): unmapped customer, inactive Fusion
account, account without a bill-to site in the invoice's BU, disabled and end-dated revenue
combinations, a negative adjustment invoice, a NeedsReview invoice and a payment on it, an
already exported invoice, a partial payment, a payment split over two invoices, and a refund.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from ml_connector.sandbox.fusion import FusionState
from ml_connector.sandbox.servicetitan import InvoiceItemSeed, PaymentApplication, STState

from . import manifest as m
from .catalog import SERVICE_SKU_BASE, SERVICES
from .company import (
    CUSTOMER_FIELD_TYPE_ID,
    DISABLED_AT,
    END_DATED_AT,
    REVENUE_ACCOUNTS,
    combination,
)
from .lines import Line, pick_lines
from .manifest import DataSet, InvoiceExpectation, PaymentExpectation, PaymentTypeInfo, Reason
from .names import LOCATIONS, address_in, customer_name
from .plan import Plan

_CENT = Decimal("0.01")
_ZERO = Decimal(0)


@dataclass(frozen=True, kw_only=True, slots=True)
class _Customer:
    st_id: int
    account_number: str
    site_number: str
    bu_index: int


@dataclass(frozen=True, kw_only=True, slots=True)
class _Invoice:
    st_id: int
    customer: _Customer
    date: datetime
    total: Decimal
    expectation: InvoiceExpectation


class ReceivablesBuilder:
    def __init__(
        self, fusion: FusionState, st: STState, ds: DataSet, plan: Plan, seed: int
    ) -> None:
        self.fusion, self.st, self.ds, self.plan = fusion, st, ds, plan
        self.rng = random.Random(f"{seed}:receivables")
        midnight = ds.as_of.replace(hour=0, minute=0, second=0, microsecond=0)
        self.midnight = midnight
        self.customers: list[_Customer] = []
        self.customers_made = 0
        # a few dozen distinct tuples shared by 200,000 expectations instead of one each
        self._combo_cache: dict[tuple[str, frozenset[str]], tuple[str, ...]] = {}

    def build(self) -> None:
        for _ in range(self.plan.customers):
            self.customers.append(self._customer())
        for _ in range(self.plan.invoices):
            invoice = self._eligible(self._any_customer())
            if self.rng.random() < self.plan.paid_share:
                self._pay([(invoice, invoice.total)])
        for _ in range(self.plan.broken_each):
            self._broken_customers()
            self._broken_invoices()
            self._special_payments()

    # --- customers -------------------------------------------------------------------------------

    def _any_customer(self) -> _Customer:
        return self.customers[self.rng.randrange(len(self.customers))]

    def _customer(
        self, *, bu_index: int | None = None, account: str = "A", site_elsewhere: bool = False
    ) -> _Customer:
        """``account``: ``"A"`` active, ``"I"`` inactive, ``""`` no Fusion account at all."""
        rng = self.rng
        serial = self.customers_made
        self.customers_made += 1
        name, type_ = customer_name(rng, serial)
        index = rng.randrange(len(LOCATIONS)) if bu_index is None else bu_index
        addr = address_in(rng, LOCATIONS[index])
        number, site_number = str(100001 + serial), str(200001 + serial)
        if account:
            acct = self.fusion.add_customer_account(name, number=number, Status=account)
            site_bu = self.ds.business_units[
                (index + 1) % len(LOCATIONS) if site_elsewhere else index
            ]
            self.fusion.add_customer_site(
                acct.AccountId,
                site_bu.fusion_name,
                name=f"{name} ({site_bu.city})",
                number=site_number,
                Address=f"{addr.street}, {addr.city} {addr.state} {addr.zip}",
            )
        fields = (
            [
                {
                    "typeId": CUSTOMER_FIELD_TYPE_ID,
                    "name": self.ds.customer_account_field,
                    "value": number,
                }
            ]
            if account
            else []
        )
        record = self.st.add_customer(
            name,
            type_=type_,
            address_={
                "street": addr.street,
                "unit": "",
                "city": addr.city,
                "state": addr.state,
                "zip": addr.zip,
                "country": "USA",
            },
            customFields=fields,
        )
        return _Customer(
            st_id=record.id, account_number=number, site_number=site_number, bu_index=index
        )

    # --- invoices --------------------------------------------------------------------------------

    def _lines(self, bu_index: int, force: str | None = None) -> list[Line]:
        return pick_lines(self.rng, self.ds.sku_ids, bu_index, force)

    def _invoice(
        self,
        customer: _Customer,
        lines: list[Line],
        *,
        review: str = "Reviewed",
        sync: str = "Pending",
        **extra: Any,
    ) -> _Invoice:
        rng, st = self.rng, self.st
        bu = self.ds.business_units[customer.bu_index]
        date = self.midnight - timedelta(days=rng.randint(1, 30))
        job = st.add_job(
            customer_id=customer.st_id,
            business_unit_id=bu.st_id,
            completedOn=date + timedelta(hours=rng.randint(8, 17)),
        )
        record = st.add_invoice(
            customer_id=customer.st_id,
            business_unit_id=bu.st_id,
            job_id=job.id,
            items=[
                InvoiceItemSeed(
                    sku_id=ln.sku_id,
                    quantity=ln.quantity,
                    price=ln.price,
                    description=ln.description,
                    type=ln.type,
                    cost=ln.cost,
                )
                for ln in lines
            ],
            invoice_date=date,
            due_date=date + timedelta(days=30),
            review_status=review,
            sync_status=sync,
            summary=lines[0].description,
            **extra,
        )
        subtotal = sum((ln.quantity * ln.price for ln in lines), Decimal(0))
        negative = subtotal < 0
        expectation = InvoiceExpectation(
            invoice_id=record.id,
            reference_number=record.fields["referenceNumber"],
            customer_id=customer.st_id,
            account_number=customer.account_number,
            business_unit=bu.fusion_name,
            bill_to_site=customer.site_number,
            transaction_type="Credit Memo" if negative else "Invoice",
            subtotal=subtotal,
            tax=_ZERO,
            total=subtotal,
            combinations=self._combos(bu.cost_center, frozenset(ln.type for ln in lines)),
        )
        return _Invoice(
            st_id=record.id, customer=customer, date=date, total=subtotal, expectation=expectation
        )

    def _combos(self, cost_center: str, types: frozenset[str]) -> tuple[str, ...]:
        key = (cost_center, types)
        found = self._combo_cache.get(key)
        if found is None:
            found = tuple(sorted(combination(cost_center, REVENUE_ACCOUNTS[t]) for t in types))
            self._combo_cache[key] = found
        return found

    def _eligible(self, customer: _Customer, lines: list[Line] | None = None) -> _Invoice:
        invoice = self._invoice(customer, lines or self._lines(customer.bu_index))
        self.ds.expected.invoices.eligible[invoice.st_id] = invoice.expectation
        return invoice

    def _attention(self, kind: str, message: str, invoice: _Invoice) -> None:
        self.ds.expected.invoices.attention[invoice.st_id] = Reason(kind=kind, message=message)
        self.ds.mark(kind, invoice.st_id)

    def _broken_customers(self) -> None:
        unmapped = self._customer(account="")
        self._attention(
            m.UNMAPPED_CUSTOMER,
            f"ServiceTitan customer {unmapped.st_id} has no Fusion account number",
            self._invoice(unmapped, self._lines(unmapped.bu_index)),
        )
        inactive = self._customer(account="I")
        self._attention(
            m.INACTIVE_ACCOUNT,
            f"Fusion account {inactive.account_number} is inactive",
            self._invoice(inactive, self._lines(inactive.bu_index)),
        )
        away = self._customer(site_elsewhere=True)
        bu = self.ds.business_units[away.bu_index].fusion_name
        self._attention(
            m.NO_BILL_TO_SITE,
            f"Fusion account {away.account_number} has no bill-to site in {bu}",
            self._invoice(away, self._lines(away.bu_index)),
        )

    def _broken_invoices(self) -> None:
        combos = {r.kind: c for c, r in self.ds.broken_combinations.items()}
        for (index, item_type), kind in (
            (DISABLED_AT, m.DISABLED_COMBINATION),
            (END_DATED_AT, m.END_DATED_COMBINATION),
        ):
            customer = self._customer(bu_index=index)
            self.customers.append(customer)
            invoice = self._invoice(customer, self._lines(index, force=item_type))
            reason = self.ds.broken_combinations[combos[kind]].message
            self._attention(kind, f"{combos[kind]}: {reason}", invoice)
        original = self._eligible(self._any_customer())
        credit = SERVICES[0]
        adjustment = self._invoice(
            original.customer,
            [
                Line(
                    type="Service",
                    sku_id=SERVICE_SKU_BASE,
                    description=f"Credit: {credit.description}",
                    quantity=Decimal(-1),
                    price=min(credit.price, original.total),
                )
            ],
            adjustmentToId=original.st_id,
        )
        self.ds.expected.invoices.eligible[adjustment.st_id] = adjustment.expectation
        self.ds.mark(m.NEGATIVE_INVOICE, adjustment.st_id)
        customer = self._any_customer()
        review = self._invoice(customer, self._lines(customer.bu_index), review="NeedsReview")
        self.ds.expected.invoices.skipped[review.st_id] = Reason(
            kind=m.INVOICE_NEEDS_REVIEW, message="reviewStatus NeedsReview is not eligible"
        )
        self.ds.mark(m.INVOICE_NEEDS_REVIEW, review.st_id)
        payment, _ = self._payment([(review, review.total)])
        self.ds.expected.payments.attention[payment] = Reason(
            kind=m.PAYMENT_INVOICE_NOT_ELIGIBLE,
            message=f"applied to invoice {review.st_id}, which is not eligible for posting",
        )
        self.ds.mark(m.PAYMENT_INVOICE_NOT_ELIGIBLE, payment)
        customer = self._any_customer()
        exported = self._invoice(
            customer,
            self._lines(customer.bu_index),
            sync="Exported",
            exportId=f"LEGACY-{self.rng.randint(10000, 99999)}",
        )
        self.ds.expected.invoices.skipped[exported.st_id] = Reason(
            kind=m.INVOICE_EXPORTED, message="syncStatus Exported: already in the ledger"
        )
        self.ds.mark(m.INVOICE_EXPORTED, exported.st_id)

    # --- payments --------------------------------------------------------------------------------

    def _payment(self, applied: list[tuple[_Invoice, Decimal]]) -> tuple[int, PaymentTypeInfo]:
        rng = self.rng
        customer = applied[0][0].customer
        latest = max(inv.date for inv, _ in applied)
        lag = min(rng.randint(0, 10), (self.midnight - latest).days)
        ptype = self.ds.payment_types[rng.randrange(len(self.ds.payment_types))]
        record = self.st.add_payment(
            customer_id=customer.st_id,
            type_id=ptype.st_id,
            applied_to=[
                PaymentApplication(invoice_id=inv.st_id, amount=amt) for inv, amt in applied
            ],
            paid_on=min(latest + timedelta(days=lag, hours=rng.randint(9, 17)), self.ds.as_of),
            business_unit_id=self.ds.business_units[customer.bu_index].st_id,
            reference_number=f"CHK-{rng.randint(1000, 99999)}" if ptype.name == "Check" else None,
        )
        return record.id, ptype

    def _pay(self, applied: list[tuple[_Invoice, Decimal]], kind: str | None = None) -> int:
        ident, info = self._payment(applied)
        customer = applied[0][0].customer
        self.ds.expected.payments.eligible[ident] = PaymentExpectation(
            payment_id=ident,
            total=sum((amt for _, amt in applied), Decimal(0)),
            receipt_method=info.receipt_method,
            bank_account=info.bank_account,
            business_unit=self.ds.business_units[customer.bu_index].fusion_name,
            account_number=customer.account_number,
            applications=tuple((inv.st_id, amt) for inv, amt in applied),
        )
        if kind is not None:
            self.ds.mark(kind, ident)
        return ident

    def _special_payments(self) -> None:
        invoice = self._eligible(self._any_customer())
        half = (invoice.total / 2).quantize(_CENT)
        self._pay([(invoice, half)], m.PARTIAL_PAYMENT)
        customer = self._any_customer()
        first, second = self._eligible(customer), self._eligible(customer)
        self._pay([(first, first.total), (second, second.total)], m.SPLIT_PAYMENT)
        paid = self._eligible(self._any_customer())
        original = self._pay([(paid, paid.total)])
        refund = self._refund(paid, original)
        self.ds.expected.payments.attention[refund] = Reason(
            kind=m.REFUND_PAYMENT, message=f"refund of payment {original}: record it in Fusion"
        )
        self.ds.mark(m.REFUND_PAYMENT, refund)

    def _refund(self, invoice: _Invoice, original: int) -> int:
        customer = invoice.customer
        record = self.st.add_payment(
            customer_id=customer.st_id,
            type_id=self.ds.payment_types[0].st_id,
            total=-invoice.total,
            paid_on=self.ds.as_of,  # after the payment it refunds, which is never later
            business_unit_id=self.ds.business_units[customer.bu_index].st_id,
            memo="Refund to customer",
            refundedPaymentId=original,
        )
        return record.id
