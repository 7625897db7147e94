"""Chaos soak (issue 8): both simulators with faults, the connector killed at random, then a count.

This process serves the Fusion and ServiceTitan simulators itself (uvicorn in its own event loop,
127.0.0.1), so at the end it reads their state directly. The connector runs as separate
``python -m ml_connector run`` processes in a temporary directory (SQLite, or a fresh database on
the PostgreSQL server of ``--database-url``), with its web app receiving the simulator's webhooks
and posting "as they arrive". Meanwhile:

- both simulators inject faults: 5xx with HTML bodies, 429 with ``Retry-After``, committed writes
  whose answer is lost, token revocation every few hundred calls, and a latency with a long tail;
- the webhook emitter duplicates and reorders events;
- the driver changes data (new and updated suppliers and POs in Fusion, new and touched invoices
  and new payments in ServiceTitan) and keeps a ledger of what the connector now owes;
- the ``run`` process is killed with SIGKILL at random moments and started again.

After the last change and the last kill it waits until nothing is left to do, stops the connector
with SIGTERM, and checks every record: eligible ones exactly once in the target with the right
amounts and applications, ineligible ones in attention, audit rows for all, cursors not beyond what
was written. ``soak/RESULTS.md`` gets the figures; the exit code is 1 if anything was lost,
duplicated or wrong.

After each SIGKILL the driver expires what the dead process held (flow leases and inbox claims)
instead of waiting their 5 minutes out: a killed process cannot renew them, so this is exactly
the state the store reaches when they run out, reached sooner.

    python soak/soak.py --short          # CI: small data, every fault kind, at least one kill
    python soak/soak.py                  # full: 2,650 suppliers, 1,750 POs, 5,650 invoices, ...
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, delete, select, text, update
from sqlalchemy.engine import Engine, make_url

from ml_connector.clock import ensure_aware
from ml_connector.mapping.purchase_orders import po_memo
from ml_connector.mapping.suppliers import SUPPLIER_KEY
from ml_connector.sandbox.data import Plan
from ml_connector.sandbox.data.fusion_side import ProcurementBuilder
from ml_connector.sandbox.data.manifest import DataSet, SupplierExpectation
from ml_connector.sandbox.data.st_side import ReceivablesBuilder, _Customer
from ml_connector.sandbox.faults import FaultConfig, Latency, RateLimitStyle
from ml_connector.sandbox.server import Sandbox, build_sandbox, serve_sandbox
from ml_connector.sandbox.webhooks import WebhookConfig
from ml_connector.store.schema import attention, audit, cursors, inbox, leases, links, writes

HERE = Path(__file__).resolve().parent
CONNECTION = "default"
PREFIX = "ST-"  # the starter mapping's transaction_number_prefix
#: after the chaos phase, a connector idle this long after a complete pass, with work left, is
#: restarted gracefully so its next pass comes now instead of at the schedule's next turn
NUDGE_AFTER_SECONDS = 10.0


@dataclass(frozen=True, kw_only=True)
class Profile:
    scale: float
    chaos_minutes: float  # faults, changes and kills; then the wait for quiescence
    kills: int
    settle_minutes: float  # at most this long to become quiescent after the chaos phase
    change_rounds: int
    new_suppliers: int  # per change round, and so on
    new_pos: int
    new_invoices: int


SHORT = Profile(
    scale=0.1,
    chaos_minutes=0.6,
    kills=2,
    settle_minutes=1.9,
    change_rounds=3,
    new_suppliers=2,
    new_pos=1,
    new_invoices=1,
)
FULL = Profile(
    scale=50.0,
    chaos_minutes=12.0,
    kills=5,
    settle_minutes=180.0,
    change_rounds=10,
    new_suppliers=20,
    new_pos=12,
    new_invoices=60,
)


def fault_config(seed: int, style: RateLimitStyle) -> FaultConfig:
    """The issue's levels. 429 is rolled before 5xx, so the 5xx rate is set a little above 10 %
    to give at least 10 % of all requests (0.945 × 0.12 = 11.3 %); the drop rate likewise for 2 %
    of all writes; and the 429 rate a little above 5 %, so that a sample of it does not land just
    under (a full run at 5 % measured 4.9 %)."""
    return FaultConfig(
        seed=seed,
        rate_429=0.055,
        retry_after_seconds=1,
        rate_429_style=style,
        rate_5xx=0.12,
        rate_drop_after_commit=0.025,
        revoke_tokens_every=250,
        latency=Latency(mean_ms=4.0, sd_ms=3.0, tail_probability=0.01, tail_ms=1500.0),
    )


# -- helpers ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def say(message: str) -> None:
    print(f"[soak {time.strftime('%H:%M:%S')}] {message}", flush=True)


def money(value: Any) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


@dataclass
class Database:
    """The connector's store as the driver sees it (a sync engine; calls go through threads)."""

    url: str  # as the connector gets it
    engine: Engine
    drop: str | None = None  # a PostgreSQL database this soak created
    admin_url: str | None = None

    @classmethod
    def sqlite(cls, directory: Path) -> Database:
        path = directory / "ml-connector.db"
        url = f"sqlite:///{path}"
        return cls(url=url, engine=create_engine(url, connect_args={"timeout": 30}))

    @classmethod
    def postgres(cls, server_url: str) -> Database:
        admin_url = make_url(server_url).set(drivername="postgresql+psycopg")
        name = f"mlc_soak_{secrets.token_hex(5)}"
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        url = admin_url.set(database=name).render_as_string(hide_password=False)
        return cls(
            url=url,
            engine=create_engine(url),
            drop=name,
            admin_url=admin_url.render_as_string(hide_password=False),
        )

    def close(self) -> None:
        self.engine.dispose()
        if self.drop and self.admin_url:
            admin = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{self.drop}" WITH (FORCE)'))
            admin.dispose()

    def expire_dead_holders(self) -> tuple[list[str], int]:
        """What a killed process held runs out now: its flow leases (their names are returned:
        what it was doing) and its inbox claims."""
        with self.engine.begin() as conn:
            held = [str(name) for (name,) in conn.execute(select(leases.c.name)).all()]
            conn.execute(delete(leases))
            freed = conn.execute(
                update(inbox)
                .where(inbox.c.state == "claimed")
                .values(lease_until=datetime(2000, 1, 1, tzinfo=UTC))
            ).rowcount
        return held, int(freed or 0)

    def inbox_counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(inbox.c.state, text("count(*)")).group_by(inbox.c.state)
            ).all()
        return {str(state): int(n) for state, n in rows}

    def pending_writes(self) -> int:
        with self.engine.connect() as conn:
            rows = conn.execute(select(writes.c.id).where(writes.c.state == "pending")).all()
        return len(rows)


# -- the connector as OS processes --------------------------------------------------------------


@dataclass
class Connector:
    directory: Path
    env: dict[str, str]
    proc: asyncio.subprocess.Process | None = None
    starts: int = 0
    kills: list[str] = field(default_factory=list)
    started_at: float = 0.0
    #: exit codes of the SIGTERM restarts that bring the next scheduled pass forward
    nudges: list[int] = field(default_factory=list)

    @property
    def log_path(self) -> Path:
        return self.directory / f"run-{self.starts}.log"

    async def start(self) -> None:
        self.starts += 1
        self.started_at = time.monotonic()
        with self.log_path.open("wb") as log:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "ml_connector", "run", "--grace-seconds", "10",
                cwd=self.directory, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip

    def _jobs(self) -> Iterator[tuple[str, str]]:
        """(``started``/``ended``, flow) of the current process's job log lines, in order."""
        with contextlib.suppress(OSError):
            for line in self.log_path.read_text(errors="replace").splitlines():
                if not line.startswith("{"):
                    continue
                with contextlib.suppress(ValueError):
                    record = json.loads(line)
                    message = str(record.get("message", ""))
                    for what in ("started", "ended"):
                        if message.startswith(f"job {what}"):
                            yield what, str(record.get("flow"))

    def running_jobs(self) -> set[str]:
        """The flows whose job runs now (``run`` runs lease groups side by side), from the log."""
        running: set[str] = set()
        for what, flow in self._jobs():
            if what == "started":
                running.add(flow)
            else:
                running.discard(flow)
        return running

    def running_job(self) -> str:
        return ", ".join(sorted(self.running_jobs())) or "between jobs"

    def idle_after_first_pass(self) -> bool:
        """Every flow ran once since the start (payments is the last) and no job runs now."""
        ended_payments = ("ended", "payments") in self._jobs()
        return ended_payments and not self.running_jobs()

    async def nudge(self) -> None:
        """SIGTERM and start again: the polling flows run at once instead of at their next turn."""
        self.nudges.append(await self.stop())
        await self.start()

    async def kill(self) -> str:
        assert self.proc is not None
        during = self.running_job()
        self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()
        self.kills.append(during)
        return during

    async def stop(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(self.proc.wait(), timeout=60)
        except TimeoutError:
            self.proc.kill()
            return await self.proc.wait()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    def tracebacks(self) -> int:
        total = 0
        for log in self.directory.glob("run-*.log"):
            total += log.read_text(errors="replace").count("Traceback")
        return total


# -- changes while the connector runs -----------------------------------------------------------


@dataclass
class Changer:
    """Makes new and changed records with the data generator's own builders, so each new record's
    expectation lands in the data set's manifest like a generated one's."""

    box: Sandbox
    seed: int
    profile: Profile
    ledger: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        ds = self.dataset
        fusion = self.box.fusion
        plan = Plan.for_scale(1.0)
        self.rng = random.Random(f"{self.seed}:changes")
        self.procurement = ProcurementBuilder(fusion, ds, plan, self.seed + 1)
        self.procurement.suppliers_made = 100_000  # numbers 105001…: never a generated one
        self.procurement.pos_made = 100_000
        self.procurement.names = {s.Supplier for s in fusion.suppliers.values()}
        self.receivables = ReceivablesBuilder(
            fusion, self.box.servicetitan, ds, plan, self.seed + 1
        )
        bu_index = {bu.fusion_name: i for i, bu in enumerate(ds.business_units)}
        seen: set[int] = set()
        for exp in ds.expected.invoices.eligible.values():
            if exp.customer_id in seen or exp.transaction_type != "Invoice":
                continue
            seen.add(exp.customer_id)
            self.receivables.customers.append(
                _Customer(
                    st_id=exp.customer_id,
                    account_number=exp.account_number,
                    site_number=exp.bill_to_site,
                    bu_index=bu_index[exp.business_unit],
                )
            )

    @property
    def dataset(self) -> DataSet:
        assert self.box.dataset is not None
        return self.box.dataset

    def round(self) -> None:
        ds, fusion, st, rng, p = (
            self.dataset,
            self.box.fusion,
            self.box.servicetitan,
            self.rng,
            self.profile,
        )
        expected = ds.expected
        for _ in range(p.new_suppliers):
            sup_id, sites, name, number = self.procurement._supplier()
            self.procurement.good.append((sup_id, sites))
            expected.suppliers.eligible[sup_id] = SupplierExpectation(
                supplier_id=sup_id,
                number=number,
                name=name,
                sites=tuple(f"{ds.business_units[s.bu_index].fusion_name}/{s.name}" for s in sites),
            )
            self.ledger["new supplier (Fusion)"] += 1
        eligible_suppliers = sorted(expected.suppliers.eligible)
        for supplier_id in rng.sample(
            eligible_suppliers, min(p.new_suppliers, len(eligible_suppliers))
        ):
            fusion.update_supplier(supplier_id, AlternateName=f"Soak change {rng.randrange(10**6)}")
            self.ledger["updated supplier (Fusion)"] += 1
        for _ in range(p.new_pos):
            sup_id, site, parts = self.procurement._pick_order()
            po_id, expectation = self.procurement._po(sup_id, site, parts)
            expected.purchase_orders.eligible[po_id] = expectation
            self.ledger["new purchase order (Fusion)"] += 1
        eligible_pos = sorted(expected.purchase_orders.eligible)
        for po_id in rng.sample(eligible_pos, min(p.new_pos, len(eligible_pos))):
            fusion.update_purchase_order(po_id, Description=f"Soak change {rng.randrange(10**6)}")
            self.ledger["updated purchase order (Fusion)"] += 1
        for _ in range(p.new_invoices):
            builder = self.receivables
            invoice = builder._eligible(builder._any_customer())
            self.ledger["new invoice (ServiceTitan)"] += 1
            if rng.random() < 0.6:
                builder._pay([(invoice, invoice.total)])
                self.ledger["new payment (ServiceTitan)"] += 1
        eligible_invoices = sorted(expected.invoices.eligible)
        for invoice_id in rng.sample(
            eligible_invoices, min(p.new_invoices, len(eligible_invoices))
        ):
            st.update_invoice(invoice_id)  # a change that moves nothing: an invoice.updated event
            self.ledger["touched invoice (ServiceTitan)"] += 1


# -- the final check ----------------------------------------------------------------------------


@dataclass
class FlowCount:
    eligible: int = 0
    synced: int = 0
    lost: int = 0
    duplicated: int = 0
    wrong: int = 0
    unexpected: int = 0  # written although not eligible
    attention_expected: int = 0
    attention_missing: int = 0
    without_audit: int = 0
    skipped_without_audit: int = 0
    notes: list[str] = field(default_factory=list)

    def note(self, message: str) -> None:
        if len(self.notes) < 8:
            self.notes.append(message)

    @property
    def ok(self) -> bool:
        return not (
            self.lost
            or self.duplicated
            or self.wrong
            or self.unexpected
            or self.attention_missing
            or self.without_audit
        )


@dataclass
class StoreView:
    attention: dict[str, set[str]]
    audited: dict[str, set[str]]
    cursors: dict[str, tuple[datetime | None, str | None, str | None]]
    links: dict[str, dict[str, str]]

    @classmethod
    def read(cls, db: Database) -> StoreView:
        attn: dict[str, set[str]] = defaultdict(set)
        audited: dict[str, set[str]] = defaultdict(set)
        linked: dict[str, dict[str, str]] = defaultdict(dict)
        with db.engine.connect() as conn:
            for row in conn.execute(select(attention.c.flow, attention.c.source_id)):
                attn[row.flow].add(str(row.source_id))
            query = select(audit.c.flow, audit.c.source_id).where(audit.c.dry_run.is_(False))
            for row in conn.execute(query.distinct()):
                audited[row.flow].add(str(row.source_id))
            link_rows = conn.execute(select(links.c.entity, links.c.source_id, links.c.target_id))
            for link in link_rows:
                linked[link.entity][str(link.source_id)] = str(link.target_id)
            found = {
                row.flow: (row.watermark, row.tiebreak, row.token)
                for row in conn.execute(select(cursors).where(cursors.c.connection == CONNECTION))
            }
        return cls(attention=attn, audited=audited, cursors=found, links=linked)


def check(box: Sandbox, db: Database) -> tuple[dict[str, FlowCount], list[str]]:
    """Every flow against the simulators' state and the store; plus cursor lines."""
    ds = box.dataset
    assert ds is not None
    expected = ds.expected
    view = StoreView.read(db)
    result = {
        name: FlowCount() for name in ("suppliers", "purchase_orders", "invoices", "payments")
    }

    def common(flow: str, outcomes: Any, count: FlowCount) -> None:
        count.eligible = len(outcomes.eligible)
        count.attention_expected = len(outcomes.attention)
        for ident in outcomes.attention:
            if str(ident) not in view.attention.get(flow, set()):
                count.attention_missing += 1
                count.note(f"{flow} {ident} not in attention ({outcomes.attention[ident].kind})")
        for ident in [*outcomes.eligible, *outcomes.attention]:
            if str(ident) not in view.audited.get(flow, set()):
                count.without_audit += 1
                count.note(f"{flow} {ident} has no audit row")
        for ident in outcomes.skipped:
            if str(ident) not in view.audited.get(flow, set()):
                count.skipped_without_audit += 1

    # F1: one ServiceTitan vendor per eligible Fusion supplier, none for the others
    count = result["suppliers"]
    vendors: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for vendor in box.servicetitan.snapshot("vendors"):
        for item in vendor.get("externalData") or []:
            if item["key"] == SUPPLIER_KEY:
                vendors[int(item["value"])].append(vendor)
    for sid, exp in expected.suppliers.eligible.items():
        found = vendors.get(sid, [])
        if not found:
            count.lost += 1
            count.note(f"supplier {sid} has no vendor")
            continue
        count.synced += 1
        count.duplicated += len(found) - 1
        if found[0]["name"] != exp.name:
            count.wrong += 1
            count.note(f"supplier {sid}: vendor name {found[0]['name']!r} != {exp.name!r}")
    count.unexpected = sum(
        len(v) for sid, v in vendors.items() if sid not in expected.suppliers.eligible
    )
    common("suppliers", expected.suppliers, count)

    # F2: one ServiceTitan PO per eligible Fusion PO (found by its memo), right vendor and total
    count = result["purchase_orders"]
    pos: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for po in box.servicetitan.snapshot("purchase_orders"):
        pos[str(po.get("summary") or "")].append(po)
    vendor_of = {sid: int(v[0]["id"]) for sid, v in vendors.items() if v}
    ours = set()
    for po_id, po_exp in expected.purchase_orders.eligible.items():
        memo = po_memo(po_exp.order_number)
        ours.add(memo)
        found = pos.get(memo, [])
        if not found:
            count.lost += 1
            count.note(f"PO {po_exp.order_number} ({po_id}) not in ServiceTitan")
            continue
        count.synced += 1
        count.duplicated += len(found) - 1
        po = found[0]
        items = [i for i in po.get("items") or [] if i.get("status") != "Inactive"]
        total = sum((money(i["quantity"]) * money(i["cost"]) for i in items), Decimal(0))
        if money(total) != money(po_exp.total) or int(po["vendorId"]) != vendor_of.get(
            po_exp.supplier_id
        ):
            count.wrong += 1
            count.note(
                f"PO {po_exp.order_number}: total {total} vs {po_exp.total}, vendor {po['vendorId']}"
            )
    count.unexpected = sum(
        len(v) for memo, v in pos.items() if memo.startswith("Fusion PO ") and memo not in ours
    )
    common("purchase_orders", expected.purchase_orders, count)

    # F4: one Fusion AR invoice per eligible ServiceTitan invoice (CrossReference), right amount
    count = result["invoices"]
    by_ref: dict[str, list[Any]] = defaultdict(list)
    for inv_doc in box.fusion.invoices.values():
        by_ref[str(inv_doc.CrossReference)].append(inv_doc)
    numbers = Counter(d.TransactionNumber for d in box.fusion.invoices.values())
    for ident, inv_exp in expected.invoices.eligible.items():
        found_docs = by_ref.get(str(ident), [])
        if not found_docs:
            count.lost += 1
            count.note(f"invoice {ident} not in Fusion")
            continue
        count.synced += 1
        count.duplicated += len(found_docs) - 1
        invoice_doc = found_docs[0]
        number = PREFIX + inv_exp.reference_number
        if (
            money(invoice_doc.EnteredAmount) != money(inv_exp.total)
            or invoice_doc.TransactionNumber != number
            or invoice_doc.BillToCustomerNumber != inv_exp.account_number
            or invoice_doc.TransactionType != inv_exp.transaction_type
        ):
            count.wrong += 1
            count.note(
                f"invoice {ident}: {invoice_doc.TransactionNumber} {invoice_doc.EnteredAmount} vs {inv_exp.total}"
            )
        if numbers[number] > 1:
            count.note(f"invoice {ident}: TransactionNumber {number} × {numbers[number]}")
    count.unexpected = sum(
        len(v)
        for ref, v in by_ref.items()
        if ref.isdigit() and int(ref) not in expected.invoices.eligible
    )
    common("invoices", expected.invoices, count)

    # F5: one receipt per eligible payment (ReceiptNumber), right amount and applications
    count = result["payments"]
    receipts: dict[str, list[Any]] = defaultdict(list)
    for receipt in box.fusion.receipts.values():
        receipts[receipt.ReceiptNumber].append(receipt)
    applied: dict[int, dict[int, Decimal]] = defaultdict(dict)
    invoice_ref = {
        doc.CustomerTransactionId: doc.CrossReference for doc in box.fusion.invoices.values()
    }
    for app in box.fusion.applications.values():
        if app.ApplicationStatus != "APP":
            continue
        ref = invoice_ref.get(app.ReferenceTransactionId)
        key = int(ref) if ref and str(ref).isdigit() else -app.ReferenceTransactionId
        per = applied[app.StandardReceiptId]
        per[key] = per.get(key, Decimal(0)) + money(app.ApplicationAmount)
    for ident, pay_exp in expected.payments.eligible.items():
        found_receipts = receipts.get(f"{PREFIX}PAY-{ident}", [])
        if not found_receipts:
            count.lost += 1
            count.note(f"payment {ident} has no receipt")
            continue
        count.synced += 1
        count.duplicated += len(found_receipts) - 1
        receipt_doc = found_receipts[0]
        want = {inv: money(amount) for inv, amount in pay_exp.applications}
        got = {k: v for k, v in applied.get(receipt_doc.StandardReceiptId, {}).items() if v}
        if money(receipt_doc.Amount) != money(pay_exp.total) or got != want:
            count.wrong += 1
            count.note(
                f"payment {ident}: receipt {receipt_doc.Amount} applied {got} vs {pay_exp.total} {want}"
            )
    count.unexpected = sum(
        len(v)
        for number, v in receipts.items()
        if number.startswith(f"{PREFIX}PAY-")
        and int(number.removeprefix(f"{PREFIX}PAY-")) not in expected.payments.eligible
    )
    common("payments", expected.payments, count)

    return result, cursor_lines(box, view, result)


def cursor_lines(box: Sandbox, view: StoreView, result: dict[str, FlowCount]) -> list[str]:
    """A cursor may not pass a record that was not written: every eligible Fusion record at or
    before the F1/F2 cursor has its target, and no cursor is later than the source's newest change."""
    lines = []
    fusion = box.fusion
    ds = box.dataset
    assert ds is not None
    sources: dict[str, tuple[dict[int, tuple[datetime, str]], Mapping[int, object], dict[str, str]]]
    sources = {
        "suppliers": (
            {
                sid: (ensure_aware(s.LastUpdateDate), str(sid).zfill(20))
                for sid, s in fusion.suppliers.items()
            },
            ds.expected.suppliers.eligible,
            view.links.get("supplier", {}),
        ),
        "purchase_orders": (
            {
                pid: (ensure_aware(p.LastUpdateDate), str(pid).zfill(20))
                for pid, p in fusion.purchase_orders.items()
            },
            ds.expected.purchase_orders.eligible,
            view.links.get("purchase_order", {}),
        ),
    }
    for flow in sorted(
        {"suppliers", "purchase_orders", "invoices", "payments"} - set(view.cursors)
    ):
        lines.append(
            f"{flow}: no cursor stored — no pass ended without a record held back, so each pass "
            "reads from the start (correct, only slower)"
        )
    for flow, (watermark, tiebreak, token) in sorted(view.cursors.items(), key=lambda kv: kv[0]):
        if flow not in sources or watermark is None:
            lines.append(
                f"{flow}: {'token' if token else 'watermark'} {watermark or ''} — no passed-record check"
            )
            continue
        keys, eligible, linked = sources[flow]
        at = (ensure_aware(watermark), tiebreak or "")
        passed = {ident for ident, key in keys.items() if key <= at}
        unwritten = sorted(i for i in passed & set(eligible) if str(i) not in linked)
        beyond = at > max(keys.values()) if keys else False
        ok = not unwritten and not beyond
        if not ok:
            count = result[flow]
            count.wrong += 1
            count.note(f"cursor {flow} at {at} passed unwritten {unwritten[:5]} (beyond={beyond})")
        lines.append(
            f"{flow}: {at[0].isoformat()} / {at[1].lstrip('0')} — passes {len(passed)} records, "
            f"{len(unwritten)} of them eligible and unwritten{' (beyond the newest change!)' if beyond else ''}"
        )
    return lines


def all_done(box: Sandbox, db: Database) -> tuple[bool, str]:
    counts, _ = check(box, db)
    missing = sum(c.lost + c.attention_missing for c in counts.values())
    queue = db.inbox_counts()
    busy = queue.get("pending", 0) + queue.get("claimed", 0)
    stats = box.emitter.stats()
    in_flight = stats["pending"] + stats["held"]
    pending = db.pending_writes()
    done = missing == 0 and busy == 0 and in_flight == 0 and pending == 0
    return done, (
        f"{missing} records missing, inbox {busy} waiting, {in_flight} webhooks in flight, "
        f"{pending} write intents pending"
    )


# -- the run ------------------------------------------------------------------------------------


@dataclass
class Outcome:
    args: argparse.Namespace
    profile: Profile
    started: float
    ended: float = 0.0
    counts: dict[str, FlowCount] = field(default_factory=dict)
    cursor_lines: list[str] = field(default_factory=list)
    faults: dict[str, dict[str, int]] = field(default_factory=dict)
    webhooks: dict[str, int] = field(default_factory=dict)
    ledger: Counter[str] = field(default_factory=Counter)
    kills: list[str] = field(default_factory=list)
    starts: int = 0
    settled: bool = False
    settle_note: str = ""
    inbox: dict[str, int] = field(default_factory=dict)
    dataset: list[str] = field(default_factory=list)
    exit_code: int | None = None
    tracebacks: int = 0
    nudges: list[int] = field(default_factory=list)
    expired: list[tuple[list[str], int]] = field(default_factory=list)

    @property
    def lost(self) -> int:
        return sum(c.lost for c in self.counts.values())

    @property
    def duplicated(self) -> int:
        return sum(c.duplicated for c in self.counts.values())

    @property
    def ok(self) -> bool:
        return bool(self.counts) and all(c.ok for c in self.counts.values()) and self.settled


def connector_env(box_urls: tuple[str, str], web_port: int, db: Database) -> dict[str, str]:
    fusion, st = box_urls
    env = {k: v for k, v in os.environ.items() if not k.startswith("ML_CONNECTOR_")}
    prefix = "ML_CONNECTOR_CONNECTIONS__DEFAULT__"
    env.update(
        {
            "COLUMNS": "200",
            "PYTHONUNBUFFERED": "1",  # the log says which job ran when the SIGKILL came
            "ML_CONNECTOR_LOG__FORMAT": "json",
            "ML_CONNECTOR_DATABASE_URL": db.url,
            "ML_CONNECTOR_WEB__PORT": str(web_port),
            "ML_CONNECTOR_WEB__DASHBOARD": "false",
            f"{prefix}FUSION__BASE_URL": fusion,
            f"{prefix}FUSION__TOKEN_URL": f"{fusion}/oauth2/v1/token",
            f"{prefix}SERVICETITAN__API_BASE_URL": st,
            f"{prefix}SERVICETITAN__TOKEN_URL": f"{st}/connect/token",
            f"{prefix}SERVICETITAN__WEBHOOKS__ENABLED": "true",
            f"{prefix}SCHEDULES__POSTING": "as_they_arrive",
            f"{prefix}SCHEDULES__SUPPLIERS_MINUTES": "5",
            f"{prefix}SCHEDULES__PURCHASE_ORDERS_MINUTES": "5",
            f"{prefix}SCHEDULES__RECEIPTS_MINUTES": "5",
            f"{prefix}SCHEDULES__JITTER_SECONDS": "0",
        }
    )
    return env


def serving(server: asyncio.Task[None]) -> None:
    """The simulators stop only when this process gets SIGINT/SIGTERM: then the soak ends too."""
    if server.done():
        raise RuntimeError("the simulators stopped (SIGINT or SIGTERM?): the soak ends here")


def kill_times(rng: random.Random, kills: int, chaos: float) -> list[float]:
    """Seconds into the chaos phase: the last kill after the last change (so a restart reads
    every change), the others spread over the phase."""
    times = [rng.uniform(0.9, 0.97) * chaos]
    times += [rng.uniform(0.1, 0.85) * chaos for _ in range(kills - 1)]
    return sorted(times)


async def soak(args: argparse.Namespace, profile: Profile, directory: Path) -> Outcome:
    out = Outcome(args=args, profile=profile, started=time.monotonic())
    rng = random.Random(args.seed)
    say(f"building the data set (seed {args.seed}, scale {profile.scale:g})")
    webhooks = WebhookConfig(
        duplicate_rate=0.1,
        reorder_window=4,
        reorder_max_hold_seconds=1.0,
        time_scale=0.1,  # retries after 1, 3, 6 and 30 s instead of 10 s … 5 min
        max_in_flight=8,
        seed=args.seed,
    )
    box = build_sandbox(seed=args.seed, scale=profile.scale, webhooks=webhooks)
    assert box.dataset is not None
    out.dataset = box.dataset.summary()
    for line in out.dataset:
        say(line)
    fusion_port, st_port, web_port = free_port(), free_port(), free_port()
    started, stop = asyncio.Event(), asyncio.Event()
    server = asyncio.create_task(
        serve_sandbox(box, fusion_port=fusion_port, st_port=st_port, started=started, stop=stop)
    )
    db = Database.postgres(args.database_url) if args.database_url else Database.sqlite(directory)
    connector: Connector | None = None
    try:
        await asyncio.wait_for(started.wait(), timeout=60)
        urls = (f"http://127.0.0.1:{fusion_port}", f"http://127.0.0.1:{st_port}")
        env = connector_env(urls, web_port, db)
        init = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "ml_connector", "init",
            cwd=directory, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        init_out, _ = await asyncio.wait_for(init.communicate(), timeout=120)
        if init.returncode != 0:
            raise RuntimeError(f"ml-connector init failed:\n{init_out.decode()}")
        callback = f"http://127.0.0.1:{web_port}/webhooks/servicetitan/{CONNECTION}"
        box.emitter.config = box.emitter.config.model_copy(update={"callback_urls": [callback]})
        box.fusion_app.set_config(fault_config(args.seed, RateLimitStyle.FUSION_TEXT))
        box.st_app.set_config(fault_config(args.seed + 1, RateLimitStyle.SERVICETITAN))
        box.fusion_app.reset_counts()
        box.st_app.reset_counts()

        connector = Connector(directory=directory, env=env)
        await connector.start()
        say(
            f"connector started (log {connector.log_path}); chaos for {profile.chaos_minutes:g} min"
        )
        changer = Changer(box=box, seed=args.seed, profile=profile)
        chaos = profile.chaos_minutes * 60
        kills = kill_times(rng, args.kills, chaos)
        rounds = [
            chaos * 0.85 * (i + 1) / profile.change_rounds for i in range(profile.change_rounds)
        ]
        events = sorted([(t, "kill") for t in kills] + [(t, "change") for t in rounds])
        begin = time.monotonic()
        for at, what in events:
            await asyncio.sleep(max(0.0, begin + at - time.monotonic()))
            serving(server)
            if what == "change":
                changer.round()
                continue
            during = await connector.kill()
            held, freed = await asyncio.to_thread(db.expire_dead_holders)
            out.expired.append((held, freed))
            say(f"SIGKILL #{len(connector.kills)} during {during} (leases {held}); restarting")
            await asyncio.sleep(rng.uniform(0.0, 1.5))
            await connector.start()
        await asyncio.sleep(max(0.0, begin + chaos - time.monotonic()))
        say(f"chaos over: {dict(changer.ledger)}; waiting until quiescent")
        deadline = time.monotonic() + profile.settle_minutes * 60
        note = ""
        while time.monotonic() < deadline:
            serving(server)
            if not connector.alive():
                say("the connector exited by itself; starting it again")
                await asyncio.to_thread(db.expire_dead_holders)
                await connector.start()
            done, note = all_done(box, db)  # in the loop: the simulators' state is not thread-safe
            if done:
                out.settled = True
                break
            if (
                time.monotonic() - connector.started_at >= NUDGE_AFTER_SECONDS
                and connector.idle_after_first_pass()
            ):
                # a create whose answer was ambiguous waits for the next pass (DESIGN §3.2 rule
                # 2); procurement's next turn is 5 minutes away, so bring it forward
                say(f"idle with {note}: restarting with SIGTERM to run the next pass now")
                await connector.nudge()
            await asyncio.sleep(3)
        out.settle_note = note
        say(f"quiescent: {out.settled} ({note}); stopping the connector with SIGTERM")
        out.exit_code = await connector.stop()
        out.ledger = changer.ledger
        out.counts, out.cursor_lines = check(box, db)
        out.inbox = await asyncio.to_thread(db.inbox_counts)
        out.faults = {"Fusion": box.fusion_app.counts(), "ServiceTitan": box.st_app.counts()}
        out.webhooks = box.emitter.stats()
    finally:
        if connector is not None:
            if connector.alive():
                assert connector.proc is not None
                connector.proc.kill()
                await connector.proc.wait()
            out.kills, out.starts, out.nudges = connector.kills, connector.starts, connector.nudges
            out.tracebacks = connector.tracebacks()
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server, timeout=30)
        db.close()
    out.ended = time.monotonic()
    return out


# -- RESULTS.md ---------------------------------------------------------------------------------


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{platform.node()}: {os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, {platform.system()} {platform.release()}"


def rate(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f} %" if whole else "-"


def render(out: Outcome, command: str) -> str:
    wall = out.ended - out.started
    lines = [
        "# Soak results",
        "",
        f"- **Verdict: {'PASS' if out.ok else 'FAIL'}** — lost = {out.lost}, duplicated = {out.duplicated}",
        f"- Command: `{command}`",
        f"- Date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- Machine: {machine()}",
        f"- Store: {'PostgreSQL' if out.args.database_url else 'SQLite'}",
        f"- Wall time: {wall / 60:.1f} min ({wall:.0f} s): chaos {out.profile.chaos_minutes:g} min, then "
        f"{'quiescent' if out.settled else 'NOT quiescent'} ({out.settle_note})",
        f"- Data set: {out.dataset[0] if out.dataset else ''}",
        "",
        "## Faults injected",
        "",
        "| kind | Fusion | ServiceTitan | share |",
        "|---|---:|---:|---|",
    ]
    fusion, st = out.faults.get("Fusion", {}), out.faults.get("ServiceTitan", {})
    requests = fusion.get("requests", 0) + st.get("requests", 0)
    writes_ = fusion.get("writes", 0) + st.get("writes", 0)
    kinds = [
        ("requests", "API requests (fault-eligible)", None),
        ("5xx", "5xx with an HTML body", requests),
        ("429", "429 with Retry-After", requests),
        ("writes", "writes (POST/PATCH)", None),
        ("drop_after_commit", "write committed, answer dropped", writes_),
        ("revocation", "token revocations (every 250 calls)", None),
        ("latency", "requests with added latency (1 % tail of +1.5 s)", None),
    ]
    for key, label, base in kinds:
        total = fusion.get(key, 0) + st.get(key, 0)
        share = rate(total, base) if base else ""
        lines.append(f"| {label} | {fusion.get(key, 0)} | {st.get(key, 0)} | {share} |")
    hooks = out.webhooks
    lines += [
        "",
        f"Webhooks: {hooks.get('emitted', 0)} events, {hooks.get('duplicates', 0)} sent twice, "
        f"reordered in windows of 4, {hooks.get('attempts', 0)} attempts, "
        f"{hooks.get('delivered', 0)} delivered, {hooks.get('failures', 0)} failed attempts "
        f"(connector down), {hooks.get('dead', 0)} given up after the last retry (polling catches those).",
        "",
        f"## Kills: {len(out.kills)} × SIGKILL, {out.starts} starts",
        "",
        *(
            f"{n}. during {during} (holding {', '.join(held) or 'no lease'}; {freed} inbox claims)"
            for n, (during, (held, freed)) in enumerate(
                zip(out.kills, out.expired, strict=False), start=1
            )
        ),
        "",
        "After each kill the dead process's flow leases and inbox claims were expired (see above).",
        f"After the chaos phase, {len(out.nudges)} graceful restarts (SIGTERM, exit codes "
        f"{sorted(set(out.nudges)) or '-'}) brought the next polling pass forward when the "
        "connector was idle with work left (a create whose answer was lost and not yet found "
        "waits for the next pass; procurement's next turn is 5 minutes away).",
        f"Final stop: SIGTERM, exit code {out.exit_code}. Tracebacks in the connector's logs: {out.tracebacks}.",
        "",
        "## Changes made during the run",
        "",
        *(f"- {kind}: {n}" for kind, n in sorted(out.ledger.items())),
        "",
        "## Records by flow",
        "",
        "| flow | eligible | synced | lost | duplicated | wrong | written, not eligible | attention expected | attention missing | no audit row | skipped w/o audit row |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for flow, c in out.counts.items():
        lines.append(
            f"| {flow} | {c.eligible} | {c.synced} | {c.lost} | {c.duplicated} | {c.wrong} | "
            f"{c.unexpected} | {c.attention_expected} | {c.attention_missing} | {c.without_audit} | "
            f"{c.skipped_without_audit} |"
        )
    lines += [
        "",
        f"**lost = {out.lost}, duplicated = {out.duplicated}**",
        "",
        "## Cursors",
        "",
        *(f"- {line}" for line in out.cursor_lines),
        "",
        f"Inbox at the end: {out.inbox}",
    ]
    notes = [n for c in out.counts.values() for n in c.notes]
    if notes:
        lines += ["", "## Problems (first of each flow)", "", *(f"- {n}" for n in notes)]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--short", action="store_true", help="the CI version (under 3 minutes)")
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument(
        "--kills", type=int, default=None, help="SIGKILLs (default 2 short, 5 full)"
    )
    parser.add_argument("--minutes", type=float, default=None, help="length of the chaos phase")
    parser.add_argument("--scale", type=float, default=None, help="data generator scale")
    parser.add_argument(
        "--settle-minutes", type=float, default=None, help="at most this long to become quiescent"
    )
    parser.add_argument(
        "--database-url",
        default=None,
        help="a PostgreSQL server URL: the soak creates a fresh database there and drops it after",
    )
    parser.add_argument(
        "--results", type=Path, default=None, help="default soak/RESULTS.md (full) "
    )
    parser.add_argument("--keep", action="store_true", help="keep the connector's directory")
    args = parser.parse_args(argv)
    base = SHORT if args.short else FULL
    changes = {}
    if args.scale:  # changes in proportion to the data set
        factor = args.scale / base.scale
        for name in ("new_suppliers", "new_pos", "new_invoices"):
            changes[name] = max(1, round(getattr(base, name) * factor))
    profile = Profile(
        **{
            **base.__dict__,
            **changes,
            **({"scale": args.scale} if args.scale else {}),
            **({"chaos_minutes": args.minutes} if args.minutes else {}),
            **({"settle_minutes": args.settle_minutes} if args.settle_minutes else {}),
        }
    )
    args.kills = args.kills if args.kills is not None else base.kills
    if args.kills < 1:
        parser.error("--kills must be at least 1")
    results = args.results or (HERE / ("RESULTS-short.md" if args.short else "RESULTS.md"))
    command = "python soak/soak.py " + " ".join(sys.argv[1:] if argv is None else argv)
    directory = Path(tempfile.mkdtemp(prefix="mlc-soak-"))
    try:
        out = asyncio.run(soak(args, profile, directory))
    finally:
        if not args.keep:
            shutil.rmtree(directory, ignore_errors=True)
        else:
            say(f"kept {directory}")
    report = render(out, command.strip())
    results.write_text(report)
    print(report)
    say(f"wrote {results}")
    return 0 if out.ok else 1


if __name__ == "__main__":
    sys.exit(main())
