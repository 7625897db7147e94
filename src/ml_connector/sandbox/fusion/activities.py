"""Read-only customer views: receivablesCustomerAccountActivities and ...SiteActivities (reference §4.6).

They are computed from the accounts, invoices and applications on each request (one pass over invoices),
so they can never disagree with the invoices and receipts they summarise. Top-level attribute names are
VERIFIED [S53][S81]; ``Status``/``BusinessUnit`` on them and every ``transactionPaymentSchedules``
attribute are INFERRED.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from .records import HIDDEN, Record
from .records_ar import ReceiptApplication, ReceivablesInvoice
from .tree import Ctx


@dataclass(kw_only=True, slots=True)
class PaymentSchedule(Record):
    PaymentScheduleId: int  # = the invoice installment's InstallmentId
    TransactionId: int
    TransactionNumber: str
    TransactionClass: str = "INV"
    TransactionDate: date
    DueDate: date
    InstallmentNumber: int
    EnteredAmount: Decimal
    BalanceDue: Decimal
    Status: str
    BillToSiteUseId: int


@dataclass(kw_only=True, slots=True)
class AccountActivity(Record):
    AccountId: int
    AccountNumber: str
    CustomerId: int
    CustomerName: str
    Status: str
    TotalOpenReceivablesForAccount: Decimal
    TotalTransactionsDueForAccount: Decimal
    schedules: list[PaymentSchedule] = field(default_factory=list, metadata=HIDDEN)
    applications: list[ReceiptApplication] = field(default_factory=list, metadata=HIDDEN)


@dataclass(kw_only=True, slots=True)
class SiteActivity(Record):
    BillToSiteUseId: int
    BillToSiteNumber: str
    BillToSiteAddress: str
    BusinessUnit: str
    Status: str
    AccountId: int
    AccountNumber: str
    CustomerId: int
    CustomerName: str
    TaxpayerIdentificationNumber: str | None
    TaxRegistrationNumber: str | None = None
    TotalOpenReceivablesForSite: Decimal
    TotalTransactionsDueForSite: Decimal


def _schedules(inv: ReceivablesInvoice) -> list[PaymentSchedule]:
    return [
        PaymentSchedule(
            PaymentScheduleId=inst.InstallmentId,
            TransactionId=inv.CustomerTransactionId,
            TransactionNumber=inv.TransactionNumber,
            TransactionDate=inv.TransactionDate,
            DueDate=inst.InstallmentDueDate,
            InstallmentNumber=inst.InstallmentSequenceNumber,
            EnteredAmount=inst.OriginalAmount,
            BalanceDue=inst.InstallmentBalanceDue,
            Status="OP" if inst.InstallmentBalanceDue else "CL",
            BillToSiteUseId=inv.bill_to_site_use_id,
        )
        for inst in inv.receivablesInvoiceInstallments
    ]


def _by_account(ctx: Ctx) -> dict[int, list[PaymentSchedule]]:
    grouped: dict[int, list[PaymentSchedule]] = defaultdict(list)
    for inv in ctx.state.invoices.values():
        grouped[inv.account_id].extend(_schedules(inv))
    return grouped


def _totals(schedules: Sequence[PaymentSchedule], today: date) -> tuple[Decimal, Decimal]:
    open_total = sum((s.BalanceDue for s in schedules), Decimal(0))
    due_total = sum((s.BalanceDue for s in schedules if s.DueDate <= today), Decimal(0))
    return open_total, due_total


def account_activities(ctx: Ctx, parent: Any) -> list[AccountActivity]:
    grouped = _by_account(ctx)
    apps: dict[int, list[ReceiptApplication]] = defaultdict(list)
    for app in ctx.state.applications.values():
        apps[app.account_id].append(app)
    today = ctx.state.today()
    out = []
    for acct in ctx.state.accounts.values():
        schedules = grouped.get(acct.AccountId, [])
        open_total, due_total = _totals(schedules, today)
        out.append(
            AccountActivity(
                AccountId=acct.AccountId,
                AccountNumber=acct.AccountNumber,
                CustomerId=acct.CustomerId,
                CustomerName=acct.CustomerName,
                Status=acct.Status,
                TotalOpenReceivablesForAccount=open_total,
                TotalTransactionsDueForAccount=due_total,
                schedules=schedules,
                applications=apps.get(acct.AccountId, []),
            )
        )
    return out


def site_activities(ctx: Ctx, parent: Any) -> list[SiteActivity]:
    grouped: dict[int, list[PaymentSchedule]] = defaultdict(list)
    for schedules in _by_account(ctx).values():
        for s in schedules:
            grouped[s.BillToSiteUseId].append(s)
    today = ctx.state.today()
    out = []
    for acct in ctx.state.accounts.values():
        for site in acct.sites:
            open_total, due_total = _totals(grouped.get(site.SiteUseId, []), today)
            out.append(
                SiteActivity(
                    BillToSiteUseId=site.SiteUseId,
                    BillToSiteNumber=site.SiteNumber,
                    BillToSiteAddress=site.Address,
                    BusinessUnit=site.BusinessUnit,
                    Status=site.Status,
                    AccountId=acct.AccountId,
                    AccountNumber=acct.AccountNumber,
                    CustomerId=acct.CustomerId,
                    CustomerName=acct.CustomerName,
                    TaxpayerIdentificationNumber=acct.TaxpayerIdentificationNumber,
                    TotalOpenReceivablesForSite=open_total,
                    TotalTransactionsDueForSite=due_total,
                )
            )
    return out
