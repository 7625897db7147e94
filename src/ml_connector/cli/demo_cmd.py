"""``demo``: the one-command tour on a fresh machine — no config, no credentials, no edits.

It starts both simulators on 127.0.0.1 with the generated HVAC company, sets up a connector in a
fresh directory on SQLite (starter config, key, schema, sandbox secrets), serves the connector's
web app and subscribes it to the simulator's webhooks, checks both systems and the mapping against
live Fusion data, and runs every flow once:

1. procurement (suppliers, purchase orders) by polling, Fusion → ServiceTitan;
2. receipts by polling, after a technician receives two POs in ServiceTitan;
3. receivables by webhook: the simulator sends an event for every invoice and payment, the web app
   verifies and stores them, and the inbox worker (the daemon's code) posts them to Fusion;
4. invoices and payments once more by polling — the safety net of a posting window, which must
   find nothing new to create.

The summary says what moved each way, what the webhooks did, what is in attention and why,
compared with the data set's manifest. ``--keep-running`` leaves everything up until Ctrl-C.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import typer
import uvicorn
from rich.panel import Panel
from starlette.applications import Starlette

from ml_connector.cli.check_cmd import check_connection, print_check
from ml_connector.cli.common import console
from ml_connector.cli.sync_cmd import summary_table, sync_flow
from ml_connector.errors import ConnectorError
from ml_connector.flows.inbox_worker import InboxWorker
from ml_connector.flows.summary import Outcome, RunSummary
from ml_connector.logging import configure_logging
from ml_connector.runtime.clients import open_clients
from ml_connector.runtime.context import AppContext
from ml_connector.runtime.leases import held
from ml_connector.runtime.setup import prepare, store_sandbox_secrets
from ml_connector.sandbox import credentials as sb
from ml_connector.sandbox.server import LOOPBACK, Sandbox
from ml_connector.sandbox.servicetitan import ReceiptItemInput
from ml_connector.settings import DEFAULT_CONFIG_NAME, DEFAULT_DB_NAME, DEFAULT_KEY_NAME
from ml_connector.store import Store

CONNECTION = "default"
#: How long the webhooks of the receivables step may take in all; each normally takes milliseconds.
WEBHOOK_TIMEOUT_SECONDS = 60.0
#: Deliveries the simulator has on the wire at once (the receiver commits them in groups).
WEBHOOKS_IN_FLIGHT = 16


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def _port(preferred: int) -> int:
    """The preferred port if it is free on loopback, else any free one."""
    with socket.socket() as probe:
        try:
            probe.bind((LOOPBACK, preferred))
            return preferred
        except OSError:
            pass
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def _bound(preferred: int) -> socket.socket:
    """A socket bound to the preferred loopback port if it is free, else to any free one; the
    server listens on this very socket, so nothing can take the port between probe and start."""
    sock = socket.socket()
    try:
        sock.bind((LOOPBACK, preferred))
    except OSError:
        sock.bind((LOOPBACK, 0))
    return sock


def _fresh(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name in (DEFAULT_CONFIG_NAME, DEFAULT_KEY_NAME):
        (directory / name).unlink(missing_ok=True)
    for db in directory.glob(f"{DEFAULT_DB_NAME}*"):
        db.unlink()
    return directory / DEFAULT_CONFIG_NAME


def demo(
    directory: Path = typer.Option(
        Path("ml-connector-demo"),
        "--dir",
        help="Where the demo's config, key and SQLite store go (reset each run).",
    ),
    seed: int = typer.Option(7, "--seed"),
    scale: float = typer.Option(1.0, "--scale", min=0.01, max=100.0),
    keep_running: bool = typer.Option(
        False,
        "--keep-running",
        help="Keep the simulators and the connector's web app up until Ctrl-C.",
    ),
    log_level: str = typer.Option(
        "WARNING",
        "--log-level",
        help="Log level on stderr (DEBUG shows every request; secrets are redacted at any level).",
        case_sensitive=False,
    ),
    log_format: str = typer.Option("text", "--log-format", help="text or json."),
) -> None:
    """Run the tour: simulators + connector on SQLite, check, every flow once, a summary."""
    level, fmt = log_level.upper(), log_format.lower()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR") or fmt not in ("text", "json"):
        raise typer.BadParameter("--log-level DEBUG|INFO|WARNING|ERROR, --log-format text|json")
    configure_logging(level=level, fmt=fmt)
    try:
        asyncio.run(_demo(directory.resolve(), seed=seed, scale=scale, keep_running=keep_running))
    except OSError as exc:
        raise ConnectorError(str(exc)) from None


MANIFEST_KEYS = {
    "suppliers": "suppliers",
    "purchase-orders": "purchase_orders",
    "invoices": "invoices",
    "payments": "payments",
}


def _expected(box: Sandbox, flow: str) -> str:
    key = MANIFEST_KEYS.get(flow)
    if box.dataset is None or key is None:
        return ""
    expected = getattr(box.dataset.expected, key)
    return f" — the data set expects {len(expected.eligible)} synced, {len(expected.attention)} to attention"


def _receive_in_servicetitan(box: Sandbox, count: int = 2) -> int:
    """What a technician does: receive the first synced purchase orders in full in ServiceTitan."""
    received = 0
    for po in box.servicetitan.snapshot("purchase_orders"):
        if received >= count or po["status"] not in ("Pending", "Sent") or not po["summary"]:
            continue
        items = [
            ReceiptItemInput(
                sku_id=item["skuId"],
                quantity=Decimal(str(item["quantity"])),
                cost=Decimal(str(item["cost"])),
                purchase_order_item_id=item["id"],
            )
            for item in po["items"]
            if item.get("status") != "Inactive"
        ]
        box.servicetitan.receive_purchase_order(
            purchase_order_id=po["id"], date_received=box.servicetitan.clock.now(), items=items
        )
        received += 1
    return received


async def _poll(app_ctx: AppContext, box: Sandbox, flow: str) -> tuple[RunSummary, str]:
    """One polling run of ``flow``, its table printed; returns the summary and its line."""
    console.rule(f"sync {flow}")
    summary = await sync_flow(app_ctx, CONNECTION, flow)
    console.print(summary_table(summary))
    line = (
        f"{flow}: {summary.created + summary.adopted} created, {summary.attention} to attention, "
        f"{summary.skipped} skipped, {summary.failed} failed"
    )
    return summary, line + _expected(box, flow)


# -- the connector's web app -----------------------------------------------------------------


async def _web_app(app_ctx: AppContext, store: Store) -> Starlette:
    """The connector's web app as the demo serves it: the one place it is built.

    Webhook endpoints come from the config and the secret store, as ``ml-connector run`` loads them.
    """
    from ml_connector.web.app import create_web_app, load_webhook_endpoints
    from ml_connector.web.dashboard import Dashboard

    endpoints = await load_webhook_endpoints(app_ctx, store)
    return create_web_app(
        store=store,
        clock=app_ctx.clock,
        endpoints=endpoints,
        dashboard=Dashboard(app_ctx=app_ctx, store=store),
    )


class _Server(uvicorn.Server):
    """Leaves SIGINT/SIGTERM to the sandbox's handlers, which set the demo's one ``stop`` event."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def _serve_web(app: Starlette, sock: socket.socket, stop: asyncio.Event) -> None:
    server = _Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on"))

    async def stopper() -> None:
        await stop.wait()
        server.should_exit = True

    watcher = asyncio.create_task(stopper())
    try:
        await server.serve(sockets=[sock])
    except SystemExit:  # uvicorn exits when it cannot start; make that an ordinary error
        raise OSError(f"the connector's web app could not start on {LOOPBACK}") from None
    finally:
        watcher.cancel()
        sock.close()


async def _until(
    condition: Callable[[], bool], *, deadline: float, waiting_for: Callable[[], str]
) -> None:
    """Wait until ``condition()`` is true, checking every 20 ms, or fail at ``deadline``
    (monotonic) saying what did not happen and how far it got."""
    while True:
        if condition():
            return
        if time.monotonic() >= deadline:
            raise ConnectorError(f"the demo gave up waiting for {waiting_for()}")
        await asyncio.sleep(0.02)


# -- receivables by webhook --------------------------------------------------------------------


@dataclass(kw_only=True)
class _Tally:
    """What the webhooks did, from the emitter, the receiver and the inbox."""

    existing: int = 0
    emitted: int = 0
    delivered: int = 0
    verified: int = 0
    stored: int = 0
    processed: int = 0
    failed: int = 0
    waiting: int = 0
    outcomes: dict[str, dict[Outcome, set[str]]] = field(default_factory=dict)

    def add(self, summary: RunSummary | None) -> None:
        if summary is None:
            return
        per_flow = self.outcomes.setdefault(summary.flow, {})
        for outcome, ids in summary.ids.items():
            per_flow.setdefault(outcome, set()).update(ids)

    def moved(self, flow: str) -> str:
        """Per record, not per event: a record seen again (an echo) counts once, by what was done."""
        ids = self.outcomes.get(flow, {})
        created = ids.get(Outcome.CREATED, set()) | ids.get(Outcome.ADOPTED, set())
        attention = ids.get(Outcome.ATTENTION, set()) - created
        skipped = ids.get(Outcome.SKIPPED, set()) - created - attention
        failed = ids.get(Outcome.FAILED, set()) - created - attention
        return (
            f"{len(created)} created, {len(attention)} to attention, {len(skipped)} skipped, "
            f"{len(failed)} failed"
        )


async def _inbox_counts(store: Store) -> dict[str, int]:
    async with store.transaction() as tx:
        return await tx.inbox.counts(connection=CONNECTION)


async def _receivables_by_webhook(
    app_ctx: AppContext, box: Sandbox, store: Store, web: Starlette
) -> _Tally:
    """Emit an event per existing invoice and payment, let them arrive, and drain the inbox under
    the receivables lease until nothing is left — including the echoes of our own write-backs
    (marking an invoice exported or a payment posted changes it, and ServiceTitan says so)."""
    emitter, tally = box.emitter, _Tally()
    before = emitter.stats()
    deadline = time.monotonic() + WEBHOOK_TIMEOUT_SECONDS
    tally.existing = box.emit_existing()
    console.print(f"(the simulator sends {tally.existing} events: every invoice and payment)")
    guid = app_ctx.config.settings.application_guid
    assert guid, "prepare() writes the starter config, which has an application_guid"
    clients = await open_clients(app_ctx, store, CONNECTION)

    def settled() -> bool:
        stats = emitter.stats()
        return stats["pending"] == 0 and stats["held"] == 0

    def progress() -> str:
        rejected = web.state.webhook_receiver.rejected
        return f"webhook deliveries (emitter {emitter.stats()}, receiver rejected {rejected})"

    try:
        ctx = clients.flow_context(store=store, clock=app_ctx.clock, application_guid=guid)
        while True:
            await _until(settled, deadline=deadline, waiting_for=progress)
            if not (await _inbox_counts(store)).get("pending"):
                break
            async with held(store, CONNECTION, "invoices", holder=f"demo:{os.getpid()}"):
                drained = await InboxWorker(ctx=ctx).drain()
            tally.add(drained.invoices)
            tally.add(drained.payments)
            if drained.claimed == 0:  # only items retried later are left
                break
    finally:
        await clients.aclose()
    after, counts = emitter.stats(), await _inbox_counts(store)
    tally.emitted = after["emitted"] - before["emitted"]
    tally.delivered = after["delivered"] - before["delivered"]
    tally.verified = web.state.inbox_writer.events
    tally.stored = sum(counts.values())
    tally.processed = counts.get("done", 0) + counts.get("ignored", 0)
    tally.failed = counts.get("failed", 0)
    tally.waiting = counts.get("pending", 0) + counts.get("claimed", 0)
    return tally


def _webhook_lines(tally: _Tally, box: Sandbox) -> list[str]:
    line = (
        f"webhooks: {tally.emitted} sent, {tally.delivered} delivered, {tally.verified} verified, "
        f"{tally.stored} stored, {tally.processed} processed, "
        f"{tally.verified - tally.stored} duplicates dropped"
    )
    if tally.failed or tally.waiting:
        line += f", {tally.failed} failed, {tally.waiting} waiting for a retry"
    why = (
        f"  ({tally.existing} for the invoices and payments, "
        f"{tally.emitted - tally.existing} echoes of our own write-backs to ServiceTitan)"
    )
    return [
        f"invoices by webhook: {tally.moved('invoices')}{_expected(box, 'invoices')}",
        f"payments by webhook: {tally.moved('payments')}{_expected(box, 'payments')}",
        line,
        why,
    ]


async def _safety_net(app_ctx: AppContext, box: Sandbox) -> list[str]:
    """Invoices and payments by polling, as in a posting window: everything came by webhook, so
    this pass must create nothing."""
    lines: list[str] = []
    for flow in ("invoices", "payments"):
        summary, _ = await _poll(app_ctx, box, flow)
        new = summary.created + summary.adopted
        verdict = "nothing new, as expected" if new == 0 else "the webhooks had missed these"
        lines.append(
            f"{flow} polling pass: {summary.read} read, {new} created, "
            f"{summary.unchanged} unchanged — {verdict}"
        )
    return lines


async def _attention_summary(app_ctx: AppContext) -> list[str]:
    store = app_ctx.open_store()
    try:
        async with store.transaction() as tx:
            items = await tx.attention.list(limit=1000)
    finally:
        await store.close()
    reasons: dict[str, int] = {}
    for item in items:
        reasons[f"{item.flow}: {item.reason}"] = reasons.get(f"{item.flow}: {item.reason}", 0) + 1
    return [f"attention {reason} × {n}" for reason, n in sorted(reasons.items())]


async def _reconciliation_lines(app_ctx: AppContext, store: Store, box: Sandbox) -> list[str]:
    """Reconcile every month the generated invoices and payments are dated in, as ``reconcile`` does."""
    from ml_connector.reconcile import Period, reconcile

    dates = [i.get("invoiceDate") for i in box.servicetitan.snapshot("invoices")]
    dates += [p.get("date") for p in box.servicetitan.snapshot("payments")]
    months = sorted({d[:7] for d in dates if isinstance(d, str) and d})
    lines = []
    for month in months:
        result = await reconcile(app_ctx, store, CONNECTION, Period.parse(month))
        parts = [
            f"{kind}s " + ", ".join(f"{n} {status}" for status, n in per_status.items() if n)
            for kind, per_status in result.counts().items()
        ]
        verdict = (
            "no problems" if not result.problems else f"{len(result.problems)} problems to look at"
        )
        lines.append(f"reconciliation {month}: {'; '.join(parts) or 'nothing'} — {verdict}")
    return lines


async def _closing_lines(
    app_ctx: AppContext, store: Store, box: Sandbox, web_url: str
) -> list[str]:
    """The end of the summary, after the flows: the reconciliation and where to look next."""
    return [
        *await _reconciliation_lines(app_ctx, store, box),
        f"dashboard: {web_url}/ — log in with any name and the sandbox dashboard password "
        "(README, Sandbox credentials)",
        f"connector web app: {web_url} (webhooks, /healthz, /readyz, /metrics)",
    ]


async def _demo(directory: Path, *, seed: int, scale: float, keep_running: bool) -> None:
    from ml_connector.sandbox.server import build_sandbox, serve_sandbox

    started_at = time.monotonic()
    fusion_port, st_port = _port(sb.FUSION_PORT), _port(sb.SERVICETITAN_PORT)
    box = build_sandbox(seed=seed, scale=scale)
    started, stop = asyncio.Event(), asyncio.Event()
    server = asyncio.create_task(
        serve_sandbox(box, fusion_port=fusion_port, st_port=st_port, started=started, stop=stop)
    )
    web_task: asyncio.Task[None] | None = None
    store: Store | None = None
    try:
        await asyncio.wait_for(started.wait(), timeout=60)
        fusion, st = f"http://{LOOPBACK}:{fusion_port}", f"http://{LOOPBACK}:{st_port}"
        console.rule("1. sandbox")
        console.print(f"Fusion simulator        {fusion}")
        console.print(f"ServiceTitan simulator  {st}")
        for line in box.dataset.summary() if box.dataset else []:
            console.print(f"  {line}")
        console.rule("2. connector set-up (SQLite, no credentials needed)")
        environ = {k: v for k, v in os.environ.items() if not k.startswith("ML_CONNECTOR_")}
        environ.update(
            {
                "ML_CONNECTOR_CONNECTIONS__DEFAULT__FUSION__BASE_URL": fusion,
                "ML_CONNECTOR_CONNECTIONS__DEFAULT__FUSION__TOKEN_URL": f"{fusion}/oauth2/v1/token",
                "ML_CONNECTOR_CONNECTIONS__DEFAULT__SERVICETITAN__API_BASE_URL": st,
                "ML_CONNECTOR_CONNECTIONS__DEFAULT__SERVICETITAN__TOKEN_URL": f"{st}/connect/token",
                "ML_CONNECTOR_CONNECTIONS__DEFAULT__SERVICETITAN__WEBHOOKS__ENABLED": "true",
            }
        )
        app_ctx = await asyncio.to_thread(prepare, _fresh(directory), environ, console.print)
        await store_sandbox_secrets(app_ctx, console.print)
        store = app_ctx.open_store()
        web = await _web_app(app_ctx, store)
        sock = _bound(app_ctx.config.settings.web.port)
        web_url = f"http://{LOOPBACK}:{sock.getsockname()[1]}"
        web_task = asyncio.create_task(_serve_web(web, sock, stop))
        callback = f"{web_url}/webhooks/servicetitan/{CONNECTION}"
        subscription = {"callback_urls": [callback], "max_in_flight": WEBHOOKS_IN_FLIGHT}
        box.emitter.config = box.emitter.config.model_copy(update=subscription)
        console.print(f"web      {web_url}; the simulator's webhooks go to {callback}")
        console.rule("3. check: both systems, every resource, mapping against live Fusion data")
        lines, problems = await check_connection(app_ctx, CONNECTION)
        failed = print_check(CONNECTION, lines, problems)
        ok = sum(1 for line in lines if line.ok)
        console.rule("4. Fusion → ServiceTitan (polling)")
        outbound = [
            (await _poll(app_ctx, box, flow))[1] for flow in ("suppliers", "purchase-orders")
        ]
        console.rule("5. ServiceTitan → Fusion")
        received = _receive_in_servicetitan(box)
        console.print(f"(a technician receives {received} purchase orders in ServiceTitan)")
        inbound = [(await _poll(app_ctx, box, "receipts"))[1]]
        console.rule("receivables by webhook")
        tally = await _receivables_by_webhook(app_ctx, box, store, web)
        inbound += _webhook_lines(tally, box)
        console.print("\n".join(inbound[1:]))
        console.print("(a posting window's polling pass follows: it must find nothing new)")
        inbound += await _safety_net(app_ctx, box)
        attention_lines = await _attention_summary(app_ctx)
        console.rule("summary")
        console.print(
            Panel.fit(
                "\n".join(
                    [
                        f"resources reachable: {ok}/{len(lines)}",
                        f"mapping problems (their records go to attention): {len(problems)}",
                        "Fusion → ServiceTitan",
                        *(f"  {line}" for line in outbound),
                        "ServiceTitan → Fusion",
                        *(f"  {line}" for line in inbound),
                        *attention_lines,
                        f"store: {app_ctx.database_url}",
                        f"config: {app_ctx.config.path}",
                        *await _closing_lines(app_ctx, store, box, web_url),
                        f"time: {time.monotonic() - started_at:.1f} s",
                    ]
                ),
                title="ml-connector demo",
            )
        )
        if failed:
            raise ConnectorError("the demo's check failed; see the table above")
        if keep_running:
            console.print(
                f"The simulators and the dashboard ({web_url}/) keep running; Ctrl-C stops."
            )
            await server
    finally:
        stop.set()
        if web_task is not None:
            await asyncio.wait_for(web_task, timeout=30)
        await asyncio.wait_for(server, timeout=30)
        if store is not None:
            await store.close()
