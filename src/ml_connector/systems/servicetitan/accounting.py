"""Accounting, CRM, settings and jobs: what F4 (invoices) and F5 (payments) read and mark.

* Invoices and payments come from the export feeds (:meth:`invoice_feed`, :meth:`payment_feed`),
  or by id (``ids=``, 50 per call; there is no invoice GET by id, §6.4). Accounting lists filter
  with ``activeState=All``, not ``active`` (§4).
* Marking: ``POST invoices/markasexported`` takes an **array** and answers per item; a 200 can hold
  ``success: false`` entries, so the per-item results are returned and failures logged. Payments
  have no ``markasexported``; they use ``POST payments/status`` (§7). Both are idempotent in
  effect (setting a status twice changes nothing), so they are retried like reads.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable
from datetime import datetime

from ml_connector.http import TransportFailure
from ml_connector.systems.servicetitan.base import STBase, chunks
from ml_connector.systems.servicetitan.errors import SYSTEM
from ml_connector.systems.servicetitan.models import (
    BusinessUnit,
    Customer,
    Invoice,
    Job,
    MarkExportedResult,
    Payment,
    PaymentType,
)
from ml_connector.systems.servicetitan.pagination import ExportFeed, parse_rows
from ml_connector.systems.servicetitan.payloads import MarkExported, payment_status_request
from ml_connector.systems.servicetitan.session import st_time

log = logging.getLogger(__name__)

ACC = "accounting"
ALL = {"activeState": "All"}
ANY = {"active": "Any"}


class AccountingApi(STBase):
    # -- invoices and payments ----------------------------------------------------------------

    def invoice_feed(self, start: str | datetime | None = None) -> ExportFeed[Invoice]:
        """``export/invoices`` from a stored ``continueFrom`` token, a datetime, or the start."""
        return self._feed(ACC, "export/invoices", Invoice, resource="export/invoices", start=start)

    def payment_feed(self, start: str | datetime | None = None) -> ExportFeed[Payment]:
        """``export/payments`` from a stored ``continueFrom`` token, a datetime, or the start."""
        return self._feed(ACC, "export/payments", Payment, resource="export/payments", start=start)

    async def invoices_by_ids(self, ids: Iterable[int]) -> list[Invoice]:
        return await self._by_ids(ACC, "invoices", Invoice, ids, resource="invoices", params=ALL)

    async def payments_by_ids(self, ids: Iterable[int]) -> list[Payment]:
        return await self._by_ids(ACC, "payments", Payment, ids, resource="payments", params=ALL)

    def invoices_invoiced_between(
        self, since: datetime, before: datetime
    ) -> AsyncIterator[Invoice]:
        """Invoices (active or not) with ``since <= invoiceDate < before``, streamed page by page
        in id order (``invoicedOnOrAfter`` / ``invoicedOnBefore``, §6.4)."""
        params = {
            **ALL,
            "invoicedOnOrAfter": st_time(since),
            "invoicedOnBefore": st_time(before, ceil=True),
        }
        return self._list(ACC, "invoices", Invoice, resource="invoices", params=params)

    def payments_paid_between(self, since: datetime, before: datetime) -> AsyncIterator[Payment]:
        """Payments (active or not) paid in ``[since, before)``, streamed page by page in id order
        (``paidOnAfter`` / ``paidOnBefore``, §6.5)."""
        params = {**ALL, "paidOnAfter": st_time(since), "paidOnBefore": st_time(before, ceil=True)}
        return self._list(ACC, "payments", Payment, resource="payments", params=params)

    async def mark_invoices_exported(
        self, entries: Iterable[MarkExported | int]
    ) -> list[MarkExportedResult]:
        """Set ``syncStatus = Exported`` on invoices; one result per invoice, failures included."""
        items = [e if isinstance(e, MarkExported) else MarkExported(invoice_id=e) for e in entries]
        results: list[MarkExportedResult] = []
        for start in range(0, len(items), 50):
            body = [item.to_request() for item in items[start : start + 50]]
            raw = await self._session.send_json(
                "POST",
                ACC,
                "invoices/markasexported",
                body,
                resource="invoices/markasexported",
                idempotent=True,
            )
            if not isinstance(raw, list):
                raise TransportFailure(
                    system=SYSTEM,
                    resource="invoices/markasexported",
                    method="POST",
                    cause="expected one result per invoice (a JSON array)",
                )
            results += parse_rows(MarkExportedResult, raw, "invoices/markasexported")
        for result in results:
            if not result.success:
                log.warning(
                    "servicetitan: invoice %s not marked exported: %s",
                    result.invoiceId,
                    result.errorMessage or "no reason given",
                )
        return results

    async def set_payment_status(
        self, payment_ids: Iterable[int], status: str = "Exported"
    ) -> None:
        """``POST payments/status`` for the payments, 50 per call."""
        for batch in chunks(payment_ids):
            await self._session.send_json(
                "POST",
                ACC,
                "payments/status",
                payment_status_request(batch, status),
                resource="payments/status",
                idempotent=True,
            )

    async def payment_types(self) -> list[PaymentType]:
        return await self._collect(
            ACC,
            "payment-types",
            PaymentType,
            resource="payment-types",
            params=ANY,
            sort_by_id=False,
        )

    # -- customers, business units, jobs ------------------------------------------------------

    async def get_customer(self, customer_id: int) -> Customer:
        return await self._get(
            "crm",
            f"customers/{customer_id}",
            Customer,
            resource="customers/{id}",
            ident=customer_id,
        )

    def customers(self) -> AsyncIterator[Customer]:
        """Every customer, active or not, page by page in id order (``ml-connector match``)."""
        return self._list("crm", "customers", Customer, resource="customers", params=ANY)

    async def customers_by_ids(self, ids: Iterable[int]) -> list[Customer]:
        return await self._by_ids(
            "crm", "customers", Customer, ids, resource="customers", params=ANY
        )

    async def find_customers_by_external_data(
        self, application_guid: str, key: str, values: Iterable[str]
    ) -> list[Customer]:
        found: list[Customer] = []
        unique = list(dict.fromkeys(values))
        for start in range(0, len(unique), 50):
            params = {
                **ANY,
                "externalDataApplicationGuid": application_guid,
                "externalDataKey": key,
                "externalDataValues": ",".join(unique[start : start + 50]),
            }
            found += await self._collect(
                "crm", "customers", Customer, resource="customers", params=params
            )
        return found

    async def business_units(self) -> list[BusinessUnit]:
        return await self._collect(
            "settings",
            "business-units",
            BusinessUnit,
            resource="business-units",
            params=ANY,
            sort_by_id=False,
        )

    async def get_business_unit(self, unit_id: int) -> BusinessUnit:
        return await self._get(
            "settings",
            f"business-units/{unit_id}",
            BusinessUnit,
            resource="business-units/{id}",
            ident=unit_id,
        )

    async def get_job(self, job_id: int) -> Job:
        return await self._get("jpm", f"jobs/{job_id}", Job, resource="jobs/{id}", ident=job_id)

    async def jobs_by_ids(self, ids: Iterable[int]) -> list[Job]:
        return await self._by_ids("jpm", "jobs", Job, ids, resource="jobs")
