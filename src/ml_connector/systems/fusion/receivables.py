"""Receivables: invoices, installments, standard receipts, receipt application, customer accounts
and account combinations (oracle-fusion-api.md §4.4–§4.7).

Writes are never retried blindly (DESIGN §3.2 rule 2): a create that may have committed raises
:class:`~ml_connector.http.WriteMaybeCommitted`, and the flow adopts the record through
:meth:`ReceivablesApi.find_invoice` / :meth:`ReceivablesApi.find_receipt` (business keys
``TransactionNumber`` + ``TransactionSource``, ``ReceiptNumber``) before any second attempt.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from ml_connector.errors import ConfigError
from ml_connector.http import PageGuard, PaginationLoopError
from ml_connector.systems.fusion import query
from ml_connector.systems.fusion.base import FusionBase
from ml_connector.systems.fusion.errors import ActionUnavailable, NotFound
from ml_connector.systems.fusion.models import (
    AccountCombination,
    CollectionPage,
    CustomerAccount,
    CustomerAccountSite,
    ReceivablesInvoice,
    ReceivablesInvoiceInstallment,
    StandardReceipt,
)
from ml_connector.systems.fusion.session import ACTION

APPLY_RECEIPT = "applyReceipt"
SITE_FINDER = "CustomerAccountSiteActivitiesFinder"


@dataclass(frozen=True, kw_only=True)
class AppliedReceipt:
    """What ``applyReceipt`` answered (the result shape is INFERRED; ``raw`` keeps all of it)."""

    receipt_id: int
    installment_id: int
    application_id: int | None
    amount_applied: Decimal | None
    unapplied_amount: Decimal | None
    raw: Mapping[str, Any]


@dataclass(frozen=True, kw_only=True)
class CombinationCheck:
    """Whether a segment string can be posted to on a day, and why not."""

    combination: str
    usable: bool
    reason: str
    record: AccountCombination | None = None


def parse_money(value: Any) -> Decimal | None:
    """A lenient amount (number or string) as Decimal; None when absent or unreadable."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return None


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class ReceivablesApi(FusionBase):
    """AR reads and writes (mixed into FusionClient)."""

    _segment_labels: tuple[str, ...] | None
    _segment_separator: str

    # --- invoices ----------------------------------------------------------------------------

    async def find_invoice(self, transaction_number: str, source: str) -> ReceivablesInvoice | None:
        """The invoice with this ``TransactionNumber`` in this ``TransactionSource``, or None."""
        row = await self._first(
            "receivablesInvoices",
            {
                "q": query.all_of(
                    query.eq("TransactionNumber", transaction_number),
                    query.eq("TransactionSource", source),
                ),
                "onlyData": "true",
            },
        )
        return ReceivablesInvoice.model_validate(row) if row is not None else None

    async def create_invoice(self, payload: Mapping[str, Any]) -> ReceivablesInvoice:
        """POST a receivables invoice with ``receivablesInvoiceLines`` and (optionally)
        ``receivablesInvoiceDistributions`` — children can only be sent at creation (§7)."""
        body = await self._session.send_json("POST", "receivablesInvoices", payload)
        return ReceivablesInvoice.model_validate(body)

    async def invoice_installments(
        self, customer_transaction_id: int
    ) -> list[ReceivablesInvoiceInstallment]:
        """The installments (payment schedules) of an invoice; ``InstallmentId`` is what
        ``applyReceipt`` takes."""
        path = f"receivablesInvoices/{int(customer_transaction_id)}/child/receivablesInvoiceInstallments"
        rows = await self._all(path, {"onlyData": "true"}, what="fusion installments")
        return [ReceivablesInvoiceInstallment.model_validate(r) for r in rows]

    # --- receipts ----------------------------------------------------------------------------

    async def create_receipt(self, payload: Mapping[str, Any]) -> StandardReceipt:
        """POST a standard receipt (``Amount``, ``BusinessUnit``, ``ReceiptNumber``,
        ``ReceiptMethod``…). Adopt with :meth:`find_receipt` after ``WriteMaybeCommitted``."""
        body = await self._session.send_json("POST", "standardReceipts", payload)
        return StandardReceipt.model_validate(body)

    async def find_receipt(
        self, receipt_number: str, *, receipt_method: str | None = None
    ) -> StandardReceipt | None:
        """The receipt with this ``ReceiptNumber`` (and ``ReceiptMethod``, when given), or None."""
        clauses = [query.eq("ReceiptNumber", receipt_number)]
        if receipt_method is not None:
            clauses.append(query.eq("ReceiptMethod", receipt_method))
        row = await self._first(
            "standardReceipts", {"q": query.all_of(*clauses), "onlyData": "true"}
        )
        return StandardReceipt.model_validate(row) if row is not None else None

    async def apply_receipt(
        self, receipt_id: int, installment_id: int, amount: Decimal | None = None
    ) -> AppliedReceipt:
        """``POST standardReceipts/{id}/action/applyReceipt`` (26C+). Raises
        :class:`ActionUnavailable` when the pod has no such action, :class:`NotFound` when the
        receipt does not exist. Not idempotent: after ``WriteMaybeCommitted`` read the
        installment's balance before applying again."""
        body: dict[str, Any] = {
            "appliedPaymentScheduleId": int(installment_id),
            "calledFrom": "REST",
        }
        if amount is not None:
            body["amountApplied"] = amount
        path = f"standardReceipts/{int(receipt_id)}/action/{APPLY_RECEIPT}"
        try:
            reply = await self._session.send_json("POST", path, body, content_type=ACTION)
        except NotFound:
            await self._session.get_json(
                f"standardReceipts/{int(receipt_id)}", {"onlyData": "true"}
            )
            raise ActionUnavailable(resource="standardReceipts", action=APPLY_RECEIPT) from None
        result = reply.get("result", reply)
        result = result if isinstance(result, Mapping) else {"result": result}
        return AppliedReceipt(
            receipt_id=int(receipt_id),
            installment_id=int(installment_id),
            application_id=_int_or_none(result.get("ApplicationId")),
            amount_applied=parse_money(result.get("AmountApplied")),
            unapplied_amount=parse_money(result.get("UnappliedAmount")),
            raw=dict(reply),
        )

    async def has_apply_receipt(self) -> bool | None:
        """Whether the pod offers ``applyReceipt``: read one receipt with links and look for the
        action link. None when there is no receipt to look at."""
        page = await self._page("standardReceipts", {"limit": "1", "offset": "0"})
        items = page.get("items") or []
        if not items:
            return None
        receipt = StandardReceipt.model_validate(items[0])
        return receipt.link("action", APPLY_RECEIPT) is not None

    # --- reading a period (reconciliation) ------------------------------------------------------

    async def _by_id_pages(
        self, path: str, id_attr: str, where: str, *, what: str
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Rows matching ``where``, paged by key on the immutable id (``id > last``, ordered by
        id, ``offset`` always 0): a row updated during the read keeps its place, so none is
        skipped or read twice (DESIGN §3.2 rule 1). ``hasMore`` is trusted, not the row count."""
        guard = PageGuard(what=what)
        last: int | None = None
        while True:
            q = query.all_of(where, None if last is None else query.cmp(id_attr, ">", last))
            params = {
                "q": q,
                "orderBy": f"{query.attr(id_attr)}:asc",
                "limit": str(self.page_size),
                "offset": "0",
                "onlyData": "true",
            }
            page = CollectionPage.model_validate(await self._page(path, params))
            guard.page(rows=len(page.items), has_more=page.hasMore)
            if page.items:
                ids = [int(item[id_attr]) for item in page.items]
                if ids != sorted(set(ids)) or (last is not None and ids[0] <= last):
                    raise PaginationLoopError(
                        f"{what}: rows are not in ascending {id_attr} order after {last}; "
                        "refusing to page by key"
                    )
                guard.key(ids[-1])
                last = ids[-1]
                yield page.items
            if not page.hasMore:
                return

    async def invoice_pages_dated(
        self, *, sources: Sequence[str], on_or_after: date, before: date
    ) -> AsyncIterator[list[ReceivablesInvoice]]:
        """Receivables invoices (and credit memos) of the given ``TransactionSource`` values with
        ``on_or_after <= TransactionDate < before``, one list per page, by ``CustomerTransactionId``."""
        where = query.all_of(
            query.isin("TransactionSource", sources),
            query.cmp("TransactionDate", ">=", on_or_after),
            query.cmp("TransactionDate", "<", before),
        )
        async for rows in self._by_id_pages(
            "receivablesInvoices", "CustomerTransactionId", where, what="fusion invoices by date"
        ):
            yield [ReceivablesInvoice.model_validate(r) for r in rows]

    async def receipt_pages_dated(
        self, *, number_prefix: str, on_or_after: date, before: date
    ) -> AsyncIterator[list[StandardReceipt]]:
        """Standard receipts whose ``ReceiptNumber`` starts with ``number_prefix`` and with
        ``on_or_after <= ReceiptDate < before``, one list per page, by ``StandardReceiptId``.
        ``%`` and ``_`` in the prefix act as ``like`` wildcards (reads more, never less)."""
        where = query.all_of(
            f"ReceiptNumber like {query.literal(number_prefix + '%')}",
            query.cmp("ReceiptDate", ">=", on_or_after),
            query.cmp("ReceiptDate", "<", before),
        )
        async for rows in self._by_id_pages(
            "standardReceipts", "StandardReceiptId", where, what="fusion receipts by date"
        ):
            yield [StandardReceipt.model_validate(r) for r in rows]

    # --- customers ---------------------------------------------------------------------------

    async def customer_account(self, account_number: str) -> CustomerAccount | None:
        """The account from ``receivablesCustomerAccountActivities`` by ``AccountNumber``."""
        row = await self._first(
            "receivablesCustomerAccountActivities",
            {"q": query.eq("AccountNumber", account_number), "onlyData": "true"},
        )
        return CustomerAccount.model_validate(row) if row is not None else None

    async def bill_to_sites(self, account_number: str) -> list[CustomerAccountSite]:
        """The account's bill-to sites, through ``CustomerAccountSiteActivitiesFinder``."""
        finder = f"{SITE_FINDER};AccountNumber={query.literal(account_number)}"
        rows = await self._all(
            "receivablesCustomerAccountSiteActivities",
            {"finder": finder, "onlyData": "true"},
            what="fusion customer sites",
        )
        return [CustomerAccountSite.model_validate(r) for r in rows]

    async def sites_by_customer_name(
        self, name: str, *, limit: int = 5
    ) -> list[CustomerAccountSite]:
        """Bill-to sites whose customer name matches (the finder's ``CustomerName``): candidates a
        person can pick from when a ServiceTitan customer has no Fusion account number."""
        finder = f"{SITE_FINDER};CustomerName={query.literal(name)}"
        page = await self._session.get_json(
            "receivablesCustomerAccountSiteActivities",
            {"finder": finder, "onlyData": "true", "limit": str(limit)},
        )
        return [CustomerAccountSite.model_validate(r) for r in page.get("items") or []][:limit]

    async def customer_site_pages(self) -> AsyncIterator[list[CustomerAccountSite]]:
        """Every bill-to site (with its account and address), one list per page, paged by key on
        ``BillToSiteUseId``: what ``ml-connector match`` indexes customer accounts by."""
        async for rows in self._by_id_pages(
            "receivablesCustomerAccountSiteActivities",
            "BillToSiteUseId",
            query.cmp("BillToSiteUseId", ">", 0),
            what="fusion customer sites",
        ):
            yield [CustomerAccountSite.model_validate(r) for r in rows]

    async def customer_account_with_sites(
        self, account_number: str
    ) -> tuple[CustomerAccount, list[CustomerAccountSite]] | None:
        account = await self.customer_account(account_number)
        if account is None:
            return None
        return account, await self.bill_to_sites(account_number)

    # --- account combinations ------------------------------------------------------------------

    async def check_account_combination(
        self, combination: str, *, on: date, segment_labels: Sequence[str] | None = None
    ) -> CombinationCheck:
        """Is the segment string (``01-100-4000-0000-000``) an enabled, postable combination
        active on ``on``? ``accountCombinationsLOV`` names segment attributes after the tenant's
        labels (§4.7), so the labels come from configuration."""
        labels = tuple(segment_labels or self._segment_labels or ())
        if not labels:
            raise ConfigError(
                "fusion segment labels are not configured; they name the accountCombinationsLOV "
                "segment attributes (e.g. company, costCenter, account)"
            )
        values = combination.split(self._segment_separator)
        if len(values) != len(labels):
            return CombinationCheck(
                combination=combination,
                usable=False,
                reason=f"has {len(values)} segments; the chart of accounts has {len(labels)}",
            )
        q = query.all_of(
            *(query.eq(label, value) for label, value in zip(labels, values, strict=True))
        )
        row = await self._first("accountCombinationsLOV", {"q": q, "onlyData": "true"})
        if row is None:
            return CombinationCheck(combination=combination, usable=False, reason="does not exist")
        record = AccountCombination.model_validate(row)
        usable, reason = record.usable_on(on)
        return CombinationCheck(
            combination=combination, usable=usable, reason=reason, record=record
        )
