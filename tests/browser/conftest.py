"""Browser tests (issue 7): Playwright for Python driving Debian's Chromium (never a downloaded one).

The sandbox and the connector's web app are served on free loopback ports in the test's event loop;
the browser is a separate process. A failing test saves a screenshot under
``test-artifacts/browser/`` and names it in the report.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from browser_kit import Live, free_port

from ml_connector.runtime.setup import prepare, store_sandbox_secrets
from ml_connector.sandbox.server import build_sandbox, serve_sandbox
from ml_connector.settings import DEFAULT_CONFIG_NAME
from ml_connector.web.app import create_web_app
from ml_connector.web.dashboard import Dashboard

CHROMIUM = os.environ.get("ML_CONNECTOR_TEST_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"

try:
    from playwright.async_api import Browser, Page, async_playwright
except ImportError:  # pragma: no cover - the dev install has it
    async_playwright = None  # type: ignore[assignment]


def _unavailable() -> str | None:
    if async_playwright is None:
        return "playwright is not installed (pip install -e '.[dev]')"
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    return None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    missing = _unavailable()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"browser tests must run in CI: {missing}")
        pytest.skip(missing)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[Live]:
    box = build_sandbox()
    fusion_port, st_port, web_port = free_port(), free_port(), free_port()
    started, stop = asyncio.Event(), asyncio.Event()
    sandbox = asyncio.create_task(
        serve_sandbox(box, fusion_port=fusion_port, st_port=st_port, started=started, stop=stop)
    )
    await asyncio.wait_for(started.wait(), timeout=30)
    fusion, st = f"http://127.0.0.1:{fusion_port}", f"http://127.0.0.1:{st_port}"
    environ = {
        "ML_CONNECTOR_CONNECTIONS__DEFAULT__FUSION__BASE_URL": fusion,
        "ML_CONNECTOR_CONNECTIONS__DEFAULT__FUSION__TOKEN_URL": f"{fusion}/oauth2/v1/token",
        "ML_CONNECTOR_CONNECTIONS__DEFAULT__SERVICETITAN__API_BASE_URL": st,
        "ML_CONNECTOR_CONNECTIONS__DEFAULT__SERVICETITAN__TOKEN_URL": f"{st}/connect/token",
        "ML_CONNECTOR_WEB__PORT": str(web_port),
    }
    app_ctx = prepare(tmp_path / DEFAULT_CONFIG_NAME, environ, lambda _line: None)
    await store_sandbox_secrets(app_ctx, lambda _line: None)
    store = app_ctx.open_store()
    app = create_web_app(
        store=store,
        clock=app_ctx.clock,
        endpoints={},
        dashboard=Dashboard(app_ctx=app_ctx, store=store),
    )
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=web_port, log_level="warning", lifespan="on")
    )
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    web = asyncio.create_task(server.serve())
    try:
        while not server.started:
            assert not web.done(), "the web app did not start"
            await asyncio.sleep(0.02)  # polling a condition, bounded by the test timeout
        yield Live(url=f"http://127.0.0.1:{web_port}", app_ctx=app_ctx, store=store, box=box)
    finally:
        server.should_exit = True
        await asyncio.wait_for(web, timeout=30)
        stop.set()
        await asyncio.wait_for(sandbox, timeout=30)
        await store.close()


@pytest.fixture
async def page(browser: Browser, request: pytest.FixtureRequest) -> AsyncIterator[Page]:
    context = await browser.new_context()
    page = await context.new_page()
    page.set_default_timeout(15_000)
    try:
        yield page
    finally:
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            shot = ARTIFACTS / f"{request.node.name}.png"
            await page.screenshot(path=str(shot), full_page=True)
            print(f"screenshot of the failure: {shot}")
        await context.close()
