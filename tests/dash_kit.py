"""Helpers for the dashboard tests: a connector set up in a directory and a logged-in client."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from pathlib import Path

import httpx

from ml_connector.clock import Clock
from ml_connector.runtime.context import AppContext
from ml_connector.runtime.setup import prepare, store_sandbox_secrets
from ml_connector.sandbox.credentials import DASHBOARD_PASSWORD
from ml_connector.settings import DEFAULT_CONFIG_NAME
from ml_connector.store import Store
from ml_connector.web.app import create_web_app
from ml_connector.web.dashboard import Dashboard, ScheduledRun

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


async def set_up(
    directory: Path, clock: Clock, environ: Mapping[str, str] | None = None
) -> AppContext:
    """Starter config, key, schema and the sandbox secrets (dashboard password included)."""
    app_ctx = prepare(directory / DEFAULT_CONFIG_NAME, dict(environ or {}), lambda _line: None)
    app_ctx = dataclasses.replace(app_ctx, clock=clock)
    await store_sandbox_secrets(app_ctx, lambda _line: None)
    return app_ctx


def web_client(
    app_ctx: AppContext,
    store: Store,
    *,
    base_url: str = "http://dash.test",
    schedule: list[ScheduledRun] | None = None,
) -> httpx.AsyncClient:
    dashboard = Dashboard(
        app_ctx=app_ctx,
        store=store,
        schedule=(lambda: schedule) if schedule is not None else None,
    )
    app = create_web_app(store=store, clock=app_ctx.clock, endpoints={}, dashboard=dashboard)
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=("127.0.0.1", 5000)),
        base_url=base_url,
        follow_redirects=False,
    )


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, "the page has no CSRF field"
    return match.group(1)


async def log_in(
    client: httpx.AsyncClient, *, user: str = "Dana", password: str = DASHBOARD_PASSWORD
) -> httpx.Response:
    form = await client.get("/login")
    assert form.status_code == 200
    return await client.post(
        "/login",
        data={"csrf": csrf_of(form.text), "user": user, "password": password, "next": "/"},
    )
