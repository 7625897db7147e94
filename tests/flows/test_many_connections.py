"""Many connections in one installation (issue 9): each (Fusion pod, ServiceTitan tenant) pair has
its own credentials, clients and limits, and one connection's failures never stall another.

Two sandboxes: ``north`` is the stock one; ``south`` is a second ServiceTitan tenant with its own
client id, client secret and app key (stored as ``south.servicetitan.*`` secrets), beside its own
Fusion pod.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ml_connector.clock import Clock, FakeClock
from ml_connector.runtime.clients import ConnectionClients, open_clients
from ml_connector.runtime.context import AppContext
from ml_connector.runtime.daemon import Daemon, JobRun
from ml_connector.sandbox import credentials as sb
from ml_connector.sandbox.data import populate
from ml_connector.sandbox.faults import FaultConfig, wrap_with_faults
from ml_connector.sandbox.fusion import FusionState
from ml_connector.sandbox.fusion import create_app as create_fusion_app
from ml_connector.sandbox.server import Sandbox, build_sandbox, serve_sandbox
from ml_connector.sandbox.servicetitan import STState
from ml_connector.sandbox.servicetitan import create_app as create_st_app
from ml_connector.sandbox.servicetitan.config import STSimConfig
from ml_connector.sandbox.webhooks import WebhookConfig, WebhookEmitter
from ml_connector.secrets import Secret, generate_master_key
from ml_connector.settings import load_config
from ml_connector.starter import render_starter
from ml_connector.store import Store
from ml_connector.store.states import AuditAction

GUID = "0b7c2a9e-1111-4222-8333-444455556666"
SOUTH = STSimConfig(
    tenant_id=7654321,
    client_id="cid.south000000000000000000",
    client_secret="cs1.south-servicetitan-client-secret",
    app_key="ak1.south-app-key-0000000000000",
)
SOUTH_SECRETS = {
    "south.servicetitan.client_secret": SOUTH.client_secret,
    "south.servicetitan.app_key": SOUTH.app_key,
}


#: a third of the stock data set keeps the module fast; the mapping tables still fit it
SCALE = 0.3


def south_sandbox(clock: Clock | None = None) -> Sandbox:
    """The stock data set behind a second ServiceTitan tenant with other credentials."""
    fusion_state = FusionState(clock=clock)
    st_state = STState(clock=clock, tenant_id=SOUTH.tenant_id)
    dataset = populate(fusion_state, st_state, scale=SCALE)
    return Sandbox(
        fusion=fusion_state,
        servicetitan=st_state,
        fusion_app=wrap_with_faults(create_fusion_app(fusion_state, clock=clock), clock=clock),
        st_app=wrap_with_faults(create_st_app(st_state, clock=clock, config=SOUTH), clock=clock),
        emitter=WebhookEmitter(WebhookConfig(), clock=clock),
        dataset=dataset,
    )


def two_connections(north: tuple[str, str], south: tuple[str, str], *, posting: str) -> str:
    """The starter config with its connection as ``north`` and a copy of it as ``south``, each
    pointing at its own (Fusion, ServiceTitan) base URLs."""
    text = render_starter(GUID)
    head, first, rest = text.partition("[connections.default]\n")
    table = first + rest
    stock_fusion = f"http://{sb.FUSION_HOST}:{sb.FUSION_PORT}"
    stock_st = f"http://{sb.SERVICETITAN_HOST}:{sb.SERVICETITAN_PORT}"
    table = table.replace('posting = "windows"', f'posting = "{posting}"')

    def connection(name: str, fusion: str, st: str) -> str:
        part = table.replace("connections.default", f"connections.{name}")
        return part.replace(stock_fusion, fusion).replace(stock_st, st)

    south_part = (
        connection("south", *south)
        .replace(f"tenant_id = {sb.SERVICETITAN_TENANT_ID}", f"tenant_id = {SOUTH.tenant_id}")
        .replace(f'client_id = "{sb.SERVICETITAN_CLIENT_ID}"', f'client_id = "{SOUTH.client_id}"')
    )
    return f"{head}{connection('north', *north)}\n{south_part}"


class Gate(httpx.AsyncBaseTransport):
    """A Fusion pod that stops answering: after ``let_through`` API requests, every request waits
    until :meth:`open` (token requests pass). Counts what it held and the 503s it saw."""

    def __init__(self, inner: httpx.AsyncBaseTransport, *, let_through: int) -> None:
        self.inner = inner
        self.let_through = let_through
        self.opened = asyncio.Event()
        self.held = 0
        self.answers: list[int] = []

    def open(self) -> None:
        self.opened.set()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if "/oauth2/" in request.url.path:
            return await self.inner.handle_async_request(request)
        if self.let_through > 0:
            self.let_through -= 1
        elif not self.opened.is_set():
            self.held += 1
            await self.opened.wait()
        response = await self.inner.handle_async_request(request)
        self.answers.append(response.status_code)
        return response


async def _context(tmp_path: Path, clock: FakeClock, store: Store) -> AppContext:
    path = tmp_path / "ml-connector.toml"
    path.write_text(
        two_connections(
            ("http://north-fusion.test", "http://north-st.test"),
            ("http://south-fusion.test", "http://south-st.test"),
            posting="as_they_arrive",
        )
    )
    environ = {"ML_CONNECTOR_MASTER_KEY": generate_master_key()}
    app_ctx = AppContext(config=load_config(path, environ=environ), environ=environ, clock=clock)
    async with store.transaction() as tx:
        for name, value in (
            ("fusion.client_secret", sb.FUSION_CLIENT_SECRET),
            ("servicetitan.client_secret", sb.SERVICETITAN_CLIENT_SECRET),
            ("servicetitan.app_key", sb.SERVICETITAN_APP_KEY),
            *SOUTH_SECRETS.items(),
        ):
            await tx.secrets.set(app_ctx.cipher(), name, Secret(value))
    return app_ctx


def _vendors_we_made(sandbox: Sandbox) -> list[dict[str, Any]]:
    return [
        v
        for v in sandbox.servicetitan.snapshot("vendors")
        if any(e["key"] == "fusion.SupplierId" for e in v.get("externalData") or [])
    ]


async def test_a_hanging_fusion_pod_stalls_only_its_own_connection(
    tmp_path: Path, clock: FakeClock, sqlite_store: Store
) -> None:
    store = sqlite_store
    app_ctx = await _context(tmp_path, clock, store)
    north = build_sandbox(clock=clock, scale=SCALE)
    south = south_sandbox(clock)
    south.fusion_app.set_config(FaultConfig(rate_5xx=1.0, statuses_5xx=[503]))
    # south's pod answers one 503, then hangs until the test opens the gate
    gate = Gate(httpx.ASGITransport(app=south.fusion_app), let_through=1)
    clock.advance(1)
    clients: dict[str, ConnectionClients] = {
        # south first: a runner that took one job at a time would start with south and wait on it
        "south": await open_clients(
            app_ctx,
            store,
            "south",
            fusion_transport=gate,
            st_transport=httpx.ASGITransport(app=south.st_app),
        ),
        "north": await open_clients(
            app_ctx,
            store,
            "north",
            fusion_transport=httpx.ASGITransport(app=north.fusion_app),
            st_transport=httpx.ASGITransport(app=north.st_app),
        ),
    }
    finished: dict[tuple[str, str], asyncio.Event] = {
        (c, f): asyncio.Event() for c in clients for f in ("suppliers", "invoices")
    }
    first: dict[tuple[str, str], JobRun] = {}

    def on_run(record: JobRun) -> None:
        key = (record.job.connection, record.job.flow)
        first.setdefault(key, record)
        finished.setdefault(key, asyncio.Event()).set()

    daemon = Daemon(
        store=store,
        clock=clock,
        clients=clients,
        application_guid=GUID,
        worker_id="w1",
        only=frozenset({"suppliers", "invoices"}),
        on_run=on_run,
    )
    # isolation: each connection has its own token cache, rate bucket and concurrency cap
    n, s = clients["north"], clients["south"]
    assert n.fusion.concurrency_cap is not s.fusion.concurrency_cap
    assert n.servicetitan.rate_bucket is not s.servicetitan.rate_bucket
    assert n.fusion._token_cache is not s.fusion._token_cache
    assert n.servicetitan._token_cache is not s.servicetitan._token_cache
    assert n.settings.servicetitan.tenant_id != s.settings.servicetitan.tenant_id

    stop = asyncio.Event()
    serving = asyncio.create_task(daemon.serve(stop))
    try:
        for flow in ("suppliers", "invoices"):
            await asyncio.wait_for(finished["north", flow].wait(), timeout=30)
        # north finished both flows while south's pod held its requests, mid-retry
        assert gate.answers[:1] == [503], "south's pod answered 503 and south retried"
        assert gate.held >= 1
        assert not any(finished["south", f].is_set() for f in ("suppliers", "invoices"))
        assert not serving.done()
        suppliers, invoices = first["north", "suppliers"], first["north", "invoices"]
        assert suppliers.summary is not None
        assert invoices.summary is not None
        eligible = north.dataset.expected.suppliers.eligible  # type: ignore[union-attr]
        assert suppliers.summary.created == len(eligible)
        assert invoices.summary.created > 0
        assert invoices.summary.failed == 0
        assert len(_vendors_we_made(north)) == len(eligible)
        assert _vendors_we_made(south) == [], "nothing of north's lands in south's tenant"

        gate.open()
        for flow in ("suppliers", "invoices"):
            await asyncio.wait_for(finished["south", flow].wait(), timeout=30)
    finally:
        gate.open()
        stop.set()
        await asyncio.wait_for(serving, timeout=30)
        for c in clients.values():
            await c.aclose()

    assert "RetriesExhausted" in (first["south", "suppliers"].error or "")
    failed = first["south", "invoices"].summary
    assert failed is not None
    assert failed.failed > 0
    async with store.transaction() as tx:
        rows = await tx.audit.search(limit=100_000)
    fails = [r for r in rows if r.action is AuditAction.FAIL]
    assert {r.connection for r in fails} == {"south"}, "south's failures are south's alone"
    north_runs = {r.run_id for r in rows if r.connection == "north"}
    assert all(r.run_id not in north_runs for r in rows if r.connection == "south")
    assert daemon.metrics.errors.labels("north", "invoices")._value.get() == 0
    assert daemon.metrics.errors.labels("south", "invoices")._value.get() == failed.failed


async def test_one_connection_never_fills_every_slot(
    tmp_path: Path, clock: FakeClock, sqlite_store: Store
) -> None:
    """With two slots and south's jobs both hanging, south gets one slot; north still runs."""
    store = sqlite_store
    app_ctx = await _context(tmp_path, clock, store)
    north, south = build_sandbox(clock=clock, scale=SCALE), south_sandbox(clock)
    gate = Gate(httpx.ASGITransport(app=south.fusion_app), let_through=0)
    clock.advance(1)
    clients = {
        "south": await open_clients(
            app_ctx,
            store,
            "south",
            fusion_transport=gate,
            st_transport=httpx.ASGITransport(app=south.st_app),
        ),
        "north": await open_clients(
            app_ctx,
            store,
            "north",
            fusion_transport=httpx.ASGITransport(app=north.fusion_app),
            st_transport=httpx.ASGITransport(app=north.st_app),
        ),
    }
    ran: list[JobRun] = []
    north_done = asyncio.Event()

    def on_run(record: JobRun) -> None:
        ran.append(record)
        if record.job.connection == "north" and record.job.flow == "suppliers":
            north_done.set()

    daemon = Daemon(
        store=store,
        clock=clock,
        clients=clients,
        application_guid=GUID,
        worker_id="w1",
        only=frozenset({"suppliers", "receipts"}),
        max_parallel=2,
        on_run=on_run,
    )
    stop = asyncio.Event()
    serving = asyncio.create_task(daemon.serve(stop))
    try:
        await asyncio.wait_for(north_done.wait(), timeout=30)
        assert gate.held == 1, "south's second job did not take the last slot"
        assert all(r.job.connection == "north" for r in ran)
    finally:
        gate.open()
        stop.set()
        await asyncio.wait_for(serving, timeout=30)
        for c in clients.values():
            await c.aclose()


# --- end to end: the CLI with two [connections.X] tables and two served sandboxes --------------


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def two_sandboxes() -> AsyncIterator[dict[str, tuple[Sandbox, str, str]]]:
    served: dict[str, tuple[Sandbox, str, str]] = {}
    tasks, stops = [], []
    for name, sandbox in (("north", build_sandbox(scale=SCALE)), ("south", south_sandbox())):
        fusion_port, st_port = _free_port(), _free_port()
        started, stop = asyncio.Event(), asyncio.Event()
        tasks.append(
            asyncio.create_task(
                serve_sandbox(
                    sandbox, fusion_port=fusion_port, st_port=st_port, started=started, stop=stop
                )
            )
        )
        stops.append(stop)
        await asyncio.wait_for(started.wait(), timeout=30)
        served[name] = (
            sandbox,
            f"http://127.0.0.1:{fusion_port}",
            f"http://127.0.0.1:{st_port}",
        )
    try:
        yield served
    finally:
        for stop in stops:
            stop.set()
        for task in tasks:
            await asyncio.wait_for(task, timeout=30)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ML_CONNECTOR_")}
    env["COLUMNS"] = "200"
    return env


async def _cli(cwd: Path, *args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ml_connector", *args,
        cwd=cwd, env=_env(), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), 180)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def test_two_connections_end_to_end_each_record_in_its_own_sandbox(
    tmp_path: Path, two_sandboxes: dict[str, tuple[Sandbox, str, str]]
) -> None:
    north, north_fusion, north_st = two_sandboxes["north"]
    south, south_fusion, south_st = two_sandboxes["south"]
    code, out = await _cli(tmp_path, "init")
    assert code == 0, out
    (tmp_path / "ml-connector.toml").write_text(
        two_connections((north_fusion, north_st), (south_fusion, south_st), posting="windows")
    )
    # south's ServiceTitan tenant takes other credentials: without them it is refused
    code, out = await _cli(tmp_path, "sync", "suppliers", "--connection", "south")
    assert code != 0
    assert SOUTH.client_secret not in out
    assert sb.SERVICETITAN_CLIENT_SECRET not in out
    assert _vendors_we_made(south) == []
    # what `ml-connector secrets set south.servicetitan.…` does, without two more processes
    app_ctx = AppContext(config=load_config(tmp_path / "ml-connector.toml", environ={}), environ={})
    store = app_ctx.open_store()
    try:
        async with store.transaction() as tx:
            for name, value in SOUTH_SECRETS.items():
                await tx.secrets.set(app_ctx.cipher(), name, Secret(value))
    finally:
        await store.close()

    code, out = await _cli(tmp_path, "sync", "suppliers", "--connection", "south")
    assert code == 0, out
    eligible = len(south.dataset.expected.suppliers.eligible)  # type: ignore[union-attr]
    assert len(_vendors_we_made(south)) == eligible
    assert _vendors_we_made(north) == [], "south's sync wrote nothing to north's tenant"

    # the runner serves both connections at once until their purchase orders have landed
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ml_connector", "run", "--no-web",
        "--flow", "suppliers", "--flow", "purchase-orders", "--max-parallel", "2",
        cwd=tmp_path, env=_env(), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    assert proc.stdout is not None
    output: list[str] = []

    async def read_until_both_ended() -> None:
        assert proc.stdout is not None
        ended: set[str] = set()
        while ended != {"north", "south"}:
            line = (await proc.stdout.readline()).decode()
            assert line, "the runner exited early:\n" + "".join(output)
            output.append(line)
            found = re.search(r"job ended: (\w+)/procurement \(purchase-orders\)", line)
            if found:
                ended.add(found.group(1))

    try:
        await asyncio.wait_for(read_until_both_ended(), timeout=120)
    finally:
        proc.send_signal(signal.SIGTERM)
        rest, _ = await asyncio.wait_for(proc.communicate(), timeout=60)
        output.append(rest.decode())
    assert proc.returncode == 0, "".join(output)
    for sandbox in (north, south):
        assert len(_vendors_we_made(sandbox)) == eligible, "each vendor once, in its own tenant"
        orders = sandbox.servicetitan.snapshot("purchase_orders")
        assert len(orders) == len(sandbox.dataset.expected.purchase_orders.eligible)  # type: ignore[union-attr]

    code, out = await _cli(tmp_path, "status")
    assert code == 0, out
    created = {
        (cells[0], cells[1]): int(found.group(1)) if found else 0
        for line in out.splitlines()
        if len(cells := [c.strip() for c in line.split("│") if c.strip()]) == 6
        for found in [re.search(r"create (\d+)", cells[4])]
    }
    orders = len(north.dataset.expected.purchase_orders.eligible)  # type: ignore[union-attr]
    assert created == {
        **{(c, f): 0 for c in ("north", "south") for f in ("receipts", "invoices", "payments")},
        **{(c, "suppliers"): eligible for c in ("north", "south")},
        **{(c, "purchase_orders"): orders for c in ("north", "south")},
    }, out
