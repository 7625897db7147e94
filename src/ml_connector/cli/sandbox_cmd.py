"""``sandbox``: serve both simulators on 127.0.0.1 with seeded data and print how to connect."""

from __future__ import annotations

import asyncio

import typer
from rich.table import Table

from ml_connector.cli.common import console
from ml_connector.errors import ConnectorError
from ml_connector.logging import configure_logging
from ml_connector.sandbox import credentials as sb


def register(app: typer.Typer) -> None:
    app.command("sandbox")(sandbox)


def sandbox(
    fusion_port: int = typer.Option(sb.FUSION_PORT, "--fusion-port", min=1, max=65535),
    st_port: int = typer.Option(sb.SERVICETITAN_PORT, "--servicetitan-port", min=1, max=65535),
    seed: int = typer.Option(7, "--seed", help="Seed of the generated data set."),
    scale: float = typer.Option(1.0, "--scale", min=0.01, max=5000.0, help="Data volume factor."),
    webhook_url: list[str] = typer.Option(
        [],
        "--webhook-url",
        help="Callback for ServiceTitan webhooks (repeatable), e.g. "
        "http://127.0.0.1:8700/webhooks/servicetitan/default.",
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log every request."),
    existing_tenant: bool = typer.Option(
        False,
        "--existing-tenant",
        help="Add vendors and customers both systems already had, typed by hand with drift, "
        "and look-alike decoys (try `ml-connector match`).",
    ),
) -> None:
    """Serve the Fusion and ServiceTitan simulators on 127.0.0.1 until Ctrl-C."""
    from ml_connector.sandbox.server import build_sandbox, serve_sandbox
    from ml_connector.sandbox.webhooks import WebhookConfig

    configure_logging(level="INFO" if verbose else "WARNING")
    box = build_sandbox(
        seed=seed,
        scale=scale,
        webhooks=WebhookConfig(callback_urls=list(webhook_url)),
        existing_tenant=existing_tenant,
    )
    table = Table(
        "system", "what", "value", title="ml-connector sandbox (sandbox-only credentials)"
    )
    fusion = f"http://127.0.0.1:{fusion_port}"
    st = f"http://127.0.0.1:{st_port}"
    rows = [
        ("Fusion", "base_url", fusion),
        ("Fusion", "token_url", f"{fusion}/oauth2/v1/token"),
        ("Fusion", "client_id", sb.FUSION_CLIENT_ID),
        ("Fusion", "secret fusion.client_secret", sb.FUSION_CLIENT_SECRET),
        ("Fusion", "scope", sb.FUSION_SCOPE),
        ("Fusion", "basic user / fusion.password", f"{sb.FUSION_USERNAME} / {sb.FUSION_PASSWORD}"),
        ("ServiceTitan", "api_base_url", st),
        ("ServiceTitan", "token_url", f"{st}/connect/token"),
        ("ServiceTitan", "tenant_id", str(sb.SERVICETITAN_TENANT_ID)),
        ("ServiceTitan", "client_id", sb.SERVICETITAN_CLIENT_ID),
        ("ServiceTitan", "secret servicetitan.client_secret", sb.SERVICETITAN_CLIENT_SECRET),
        ("ServiceTitan", "secret servicetitan.app_key", sb.SERVICETITAN_APP_KEY),
        ("ServiceTitan", "secret servicetitan.webhook_key", sb.SERVICETITAN_WEBHOOK_KEY),
    ]
    for row in rows:
        table.add_row(*row)
    console.print(table)
    console.print(
        f"admin: {fusion}/__admin/state, {st}/__admin/state, faults at /__admin/faults on each. "
        "`ml-connector init` writes a config with exactly these values. Ctrl-C stops."
    )
    try:
        asyncio.run(serve_sandbox(box, fusion_port=fusion_port, st_port=st_port))
    except OSError as exc:
        raise ConnectorError(str(exc)) from None
