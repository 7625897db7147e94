"""Knobs of the ServiceTitan simulator.

Defaults are the sandbox credentials and the limits the reference gives (servicetitan-api.md §1, §4,
§9; DESIGN §5 for the export page size). Everything a benchmark or a fault test may want to move is
here, so nobody patches module constants.
"""

from __future__ import annotations

from dataclasses import dataclass

from ml_connector.sandbox import credentials

#: Every scope the sandbox app is granted (reference §1.1 names them per operation).
ALL_SCOPES: tuple[str, ...] = (
    "tn.inv.vendors:r",
    "tn.inv.vendors:w",
    "tn.inv.purchaseorders:r",
    "tn.inv.purchaseorders:w",
    "tn.inv.receipts:r",
    "tn.inv.receipts:w",
    "tn.inv.purchaseordertypes:r",
    "tn.inv.warehouses:r",
    "tn.acc.invoices:r",
    "tn.acc.invoices:w",
    "tn.acc.payments:r",
    "tn.acc.payments:w",
    "tn.acc.paymenttypes:r",
    "tn.crm.customers:r",
    "tn.stt.businessunits:r",
    "tn.jpm.jobs:r",
    "tn.pb.materials:r",
    "tn.pb.equipment:r",
)


@dataclass(frozen=True, kw_only=True)
class STSimConfig:
    """Simulator settings; frozen so one app's behaviour cannot drift while it serves."""

    tenant_id: int = credentials.SERVICETITAN_TENANT_ID
    client_id: str = credentials.SERVICETITAN_CLIENT_ID
    client_secret: str = credentials.SERVICETITAN_CLIENT_SECRET
    app_key: str = credentials.SERVICETITAN_APP_KEY
    scopes: tuple[str, ...] = ALL_SCOPES
    token_ttl_seconds: int = 900
    #: More token requests than this per client within 60 s → 429 (reference §1.1: throttled, number unknown).
    token_requests_per_minute: int = 20
    #: Requests per second per app key + tenant (reference §9: "60 calls per second per application").
    requests_per_second: int = 60
    default_page_size: int = 50
    max_page_size: int = 5000
    #: Rows per export page (DESIGN §5: 500 by default; the real size is server-chosen).
    export_page_size: int = 500
    #: With ``includeRecentChanges=true``, start each export page this many records early (§5: the
    #: same results may appear on consecutive requests). 0 = no duplicates.
    recent_changes_overlap: int = 0
