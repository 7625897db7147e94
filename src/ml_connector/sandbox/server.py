"""Both simulators, wired together and served on loopback (``ml-connector sandbox``).

:func:`build_sandbox` makes the pair of apps over seeded state, each behind the fault middleware
(all faults off unless asked), with the ServiceTitan state's change listener feeding the webhook
emitter. :func:`serve_sandbox` runs both under uvicorn on 127.0.0.1 (DESIGN §5 ports) plus the
emitter's delivery loop, until SIGINT/SIGTERM.

The same builder serves tests in-process (mount ``sandbox.fusion_app`` / ``sandbox.st_app`` with
``httpx.ASGITransport``), the demo, the soak test and the benchmarks.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import uvicorn

from ml_connector.clock import Clock, SystemClock
from ml_connector.sandbox import credentials as sb
from ml_connector.sandbox.data import DataSet
from ml_connector.sandbox.data import populate as populate_data
from ml_connector.sandbox.faults import FaultConfig, FaultMiddleware, wrap_with_faults
from ml_connector.sandbox.fusion import FusionState
from ml_connector.sandbox.fusion import create_app as create_fusion_app
from ml_connector.sandbox.servicetitan import STState
from ml_connector.sandbox.servicetitan import create_app as create_st_app
from ml_connector.sandbox.webhooks import TransportFactory, WebhookConfig, WebhookEmitter

LOOPBACK = "127.0.0.1"


@dataclass
class Sandbox:
    fusion: FusionState
    servicetitan: STState
    fusion_app: FaultMiddleware
    st_app: FaultMiddleware
    emitter: WebhookEmitter
    dataset: DataSet | None = None

    def emit_existing(self) -> int:
        """Emit one ``invoice.created`` / ``payment.created`` event per invoice and payment that
        exists now (inactive ones too), invoices first; returns how many were emitted.

        A subscriber hears only about changes after it subscribes (servicetitan-api.md §8.2), so
        the seeded records would never reach a receiver that starts after the seeding. The real
        service has no such call — only failed deliveries can be replayed from the portal, and the
        connector's polling pass is what finds records older than the subscription. This exists
        so the demo and tests can show the whole data set arriving by webhook. Events go through
        :meth:`WebhookEmitter.emit`, so the subscription's event-type filter, duplicates and
        reordering apply as to any other event.
        """
        emitted = 0
        for table, kind in (("invoices", "invoice"), ("payments", "payment")):
            for entity in self.servicetitan.snapshot(table):
                if self.emitter.emit(f"{kind}.created", entity) is not None:
                    emitted += 1
        return emitted


def build_sandbox(
    *,
    clock: Clock | None = None,
    seed: int = 7,
    scale: float = 1.0,
    fusion_faults: FaultConfig | None = None,
    st_faults: FaultConfig | None = None,
    webhooks: WebhookConfig | None = None,
    webhook_transport: TransportFactory | None = None,
    populate: bool = True,
    existing_tenant: bool = False,
) -> Sandbox:
    """Seeded states, both apps behind fault middleware, webhooks emitted on invoice/payment changes.

    ``webhook_transport`` makes the emitter's HTTP transport (tests: an in-process receiver).
    ``existing_tenant`` adds hand-entered look-alikes on both sides (``ml-connector match``).
    """
    clock = clock or SystemClock()
    fusion_state = FusionState(clock=clock)
    st_state = STState(clock=clock, tenant_id=sb.SERVICETITAN_TENANT_ID)
    dataset = (
        populate_data(
            fusion_state, st_state, seed=seed, scale=scale, existing_tenant=existing_tenant
        )
        if populate
        else None
    )
    fusion_inner = create_fusion_app(fusion_state, clock=clock)
    st_inner = create_st_app(st_state, clock=clock)
    emitter = WebhookEmitter(
        webhooks or WebhookConfig(), clock=clock, transport_factory=webhook_transport
    )
    st_state.add_listener(emitter.listener)
    st_sim: Any = st_inner.state.servicetitan_sim
    fusion_hook, st_hook = _changes_while_paging(fusion_state, st_state, seed)
    return Sandbox(
        fusion=fusion_state,
        servicetitan=st_state,
        fusion_app=wrap_with_faults(
            fusion_inner,
            fusion_faults,
            clock=clock,
            revoke_tokens=fusion_state.revoke_tokens,
            on_page_served=fusion_hook,
        ),
        st_app=wrap_with_faults(
            st_inner,
            st_faults,
            clock=clock,
            revoke_tokens=st_sim.revoke_tokens,
            on_page_served=st_hook,
        ),
        emitter=emitter,
        dataset=dataset,
    )


def _changes_while_paging(fusion: FusionState, st: STState, seed: int) -> tuple[Any, Any]:
    """Hooks for the ``insert_while_paging`` fault: between two pages, change a row the client is
    reading (it moves to the end of a LastUpdateDate/modifiedOn ordering) or add a new one."""
    rng = random.Random(seed)

    def fusion_hook(path: str, query: str) -> None:
        if "suppliers" in path and fusion.suppliers:
            if rng.random() < 0.5:
                supplier_id = rng.choice(list(fusion.suppliers))
                fusion.update_supplier(supplier_id, AlternateName=f"changed {rng.randrange(10**6)}")
            else:
                fusion.add_supplier(f"Inserted While Paging {rng.randrange(10**6)} Supply")

    def st_hook(path: str, query: str) -> None:
        table = next((t for t in ("invoices", "payments", "vendors") if t in path), None)
        if table is None:
            return
        ids = [record.id for record in st.tables[table]]
        if ids:
            st.update(table, rng.choice(ids))

    return fusion_hook, st_hook


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signal handling to :func:`serve_sandbox` (two servers, one loop)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _server(app: Any, port: int, log_level: str) -> _Server:
    if port < 0 or port > 65535:
        raise ValueError(f"port {port} is out of range")
    config = uvicorn.Config(
        app, host=LOOPBACK, port=port, log_level=log_level, lifespan="off", access_log=False
    )
    return _Server(config)


async def serve_sandbox(
    sandbox: Sandbox,
    *,
    fusion_port: int = sb.FUSION_PORT,
    st_port: int = sb.SERVICETITAN_PORT,
    log_level: str = "warning",
    started: asyncio.Event | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Serve both simulators on 127.0.0.1 until SIGINT/SIGTERM or ``stop`` is set."""
    servers = [
        _server(sandbox.fusion_app, fusion_port, log_level),
        _server(sandbox.st_app, st_port, log_level),
    ]
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)

    async def stopper() -> None:
        await stop.wait()
        for server in servers:
            server.should_exit = True

    async def announce() -> None:
        while not all(s.started for s in servers):
            if any(t.done() for t in serving):
                return
            await asyncio.sleep(0.02)
        if started is not None:
            started.set()

    async def run(server: _Server) -> None:
        try:
            await server.serve()
        except SystemExit:  # uvicorn exits when it cannot bind; make that an ordinary error
            stop.set()
            raise OSError(
                f"could not listen on {LOOPBACK}:{server.config.port} (is another sandbox running?)"
            ) from None

    serving = [asyncio.create_task(run(s)) for s in servers]
    emitter_task = asyncio.create_task(sandbox.emitter.run())
    helpers = [asyncio.create_task(stopper()), asyncio.create_task(announce())]
    try:
        await asyncio.gather(*serving, return_exceptions=False)
    finally:
        for task in serving:
            if not task.done():
                with contextlib.suppress(asyncio.CancelledError, OSError):
                    await task
        stop.set()
        emitter_task.cancel()
        for task in helpers:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await emitter_task
        await sandbox.emitter.aclose()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
