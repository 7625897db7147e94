"""``demo``: the one-command tour on a fresh machine — no config, no credentials, no edits.

It starts both simulators on 127.0.0.1 with the generated HVAC company, sets up a connector in a
fresh directory on SQLite (starter config, key, schema, sandbox secrets), checks both systems and
the mapping against live Fusion data, runs every flow that exists once (in dependency order), and
prints a summary: what moved, what is in attention and why, compared with the data set's manifest.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from decimal import Decimal
from pathlib import Path

import typer
from rich.panel import Panel

from ml_connector.cli.check_cmd import check_connection, print_check
from ml_connector.cli.common import console
from ml_connector.cli.sync_cmd import summary_table, sync_flow
from ml_connector.errors import ConnectorError
from ml_connector.flows.registry import FLOWS
from ml_connector.logging import configure_logging
from ml_connector.runtime.context import AppContext
from ml_connector.runtime.setup import prepare, store_sandbox_secrets
from ml_connector.sandbox import credentials as sb
from ml_connector.sandbox.server import Sandbox
from ml_connector.sandbox.servicetitan import ReceiptItemInput
from ml_connector.settings import DEFAULT_CONFIG_NAME, DEFAULT_DB_NAME, DEFAULT_KEY_NAME


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def _port(preferred: int) -> int:
    """The preferred port if it is free on loopback, else any free one."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", preferred))
            return preferred
        except OSError:
            pass
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


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
        False, "--keep-running", help="Keep the simulators up until Ctrl-C."
    ),
) -> None:
    """Run the tour: simulators + connector on SQLite, check, every flow once, a summary."""
    configure_logging(level="WARNING")
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


async def _run_flows(app_ctx: AppContext, box: Sandbox) -> list[str]:
    """Run every flow that exists, in dependency order, and compare with the data set's manifest."""
    dataset = box.dataset
    done: list[str] = []
    for flow in FLOWS:
        if flow == "receipts":
            received = _receive_in_servicetitan(box)
            console.print(f"(a technician receives {received} purchase orders in ServiceTitan)")
        console.rule(f"sync {flow}")
        summary = await sync_flow(app_ctx, "default", flow)
        console.print(summary_table(summary))
        line = f"{flow}: {summary.created + summary.adopted} created, {summary.attention} to attention, {summary.skipped} skipped, {summary.failed} failed"
        key = MANIFEST_KEYS.get(flow)
        if dataset is not None and key is not None:
            expected = getattr(dataset.expected, key)
            line += f" — the data set expects {len(expected.eligible)} synced, {len(expected.attention)} to attention"
        done.append(line)
    return done


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


async def _demo(directory: Path, *, seed: int, scale: float, keep_running: bool) -> None:
    from ml_connector.sandbox.server import build_sandbox, serve_sandbox

    started_at = time.monotonic()
    fusion_port, st_port = _port(sb.FUSION_PORT), _port(sb.SERVICETITAN_PORT)
    box = build_sandbox(seed=seed, scale=scale)
    started, stop = asyncio.Event(), asyncio.Event()
    server = asyncio.create_task(
        serve_sandbox(box, fusion_port=fusion_port, st_port=st_port, started=started, stop=stop)
    )
    try:
        await asyncio.wait_for(started.wait(), timeout=60)
        fusion, st = f"http://127.0.0.1:{fusion_port}", f"http://127.0.0.1:{st_port}"
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
            }
        )
        app_ctx = await asyncio.to_thread(prepare, _fresh(directory), environ, console.print)
        await store_sandbox_secrets(app_ctx, console.print)
        console.rule("3. check: both systems, every resource, mapping against live Fusion data")
        lines, problems = await check_connection(app_ctx, "default")
        failed = print_check("default", lines, problems)
        ok = sum(1 for line in lines if line.ok)
        flows_done = await _run_flows(app_ctx, box)
        attention_lines = await _attention_summary(app_ctx)
        console.rule("summary")
        console.print(
            Panel.fit(
                "\n".join(
                    [
                        f"resources reachable: {ok}/{len(lines)}",
                        f"mapping problems (their records go to attention): {len(problems)}",
                        *flows_done,
                        *attention_lines,
                        f"store: {app_ctx.database_url}",
                        f"config: {app_ctx.config.path}",
                        f"time: {time.monotonic() - started_at:.1f} s",
                    ]
                ),
                title="ml-connector demo",
            )
        )
        if failed:
            raise ConnectorError("the demo's check failed; see the table above")
        if keep_running:
            console.print("Simulators keep running; Ctrl-C stops.")
            await server
    finally:
        stop.set()
        await asyncio.wait_for(server, timeout=30)
