"""``STState``: everything the ServiceTitan simulator knows, and how seeds and tests change it.

The behaviour is split by concern (``state_core``, ``state_master``, ``state_purchasing``,
``state_accounting``); this class only puts the mixins together. Tables are keyed by the names the
admin endpoint accepts (``vendors``, ``purchase_orders``, ``invoices`` …).
"""

from __future__ import annotations

from ml_connector.clock import Clock
from ml_connector.sandbox import credentials
from ml_connector.sandbox.servicetitan.state_accounting import (
    AccountingMixin,
    InvoiceItemSeed,
    PaymentApplication,
)
from ml_connector.sandbox.servicetitan.state_core import Conflict, Invalid, Listener
from ml_connector.sandbox.servicetitan.state_purchasing import POItemInput, ReceiptItemInput

__all__ = [
    "Conflict",
    "Invalid",
    "InvoiceItemSeed",
    "Listener",
    "POItemInput",
    "PaymentApplication",
    "ReceiptItemInput",
    "STState",
]


class STState(AccountingMixin):
    """The simulator's data for one tenant.

    Every ``modifiedOn``/``createdOn`` comes from ``self.clock``. To build history (records
    created "last month"), give the state a :class:`~ml_connector.clock.FakeClock` starting in the
    past, advance it while adding, then set ``state.clock = SystemClock()`` (or the app's clock)
    before serving: stamps stay increasing because the real clock is later.
    """

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        tenant_id: int = credentials.SERVICETITAN_TENANT_ID,
        first_id: int = 1001,
    ) -> None:
        super().__init__(clock=clock, tenant_id=tenant_id, first_id=first_id)
