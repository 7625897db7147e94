"""Small helpers for the browser tests."""

from __future__ import annotations

import socket
from dataclasses import dataclass

from playwright.async_api import Page

from ml_connector.runtime.context import AppContext
from ml_connector.sandbox.credentials import DASHBOARD_PASSWORD
from ml_connector.sandbox.server import Sandbox
from ml_connector.store import Store


@dataclass
class Live:
    """Both simulators and the connector's web app (dashboard included), all on loopback."""

    url: str
    app_ctx: AppContext
    store: Store
    box: Sandbox


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def log_in(page: Page, base: str, path: str = "/", name: str = "Robin") -> None:
    await page.goto(base + path)
    await page.get_by_label("Your name").fill(name)
    await page.get_by_label("Password").fill(DASHBOARD_PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_url(lambda url: "/login" not in url)
