"""Every dashboard page needs a session, every POST its CSRF token (issue 8).

Routes are read from the app itself, so a page added later is checked without editing this test.
Open by design: ``/login`` and ``/dashboard.css`` (the login page needs them), ``/healthz``,
``/readyz`` and ``/metrics`` (probes and Prometheus), and the webhook receiver (HMAC instead).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import httpx
from starlette.routing import Route

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "web"))

from dash_kit import log_in, set_up, web_client
from ml_connector.clock import FakeClock

OPEN = {"/login", "/dashboard.css", "/healthz", "/readyz", "/metrics"}
HMAC = {"/webhooks/servicetitan/{connection}"}


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}:]+:int\}", "1", re.sub(r"\{[^}:]+\}", "x", path))


def _routes(client: httpx.AsyncClient) -> list[tuple[str, str]]:
    app = client._transport.app  # type: ignore[attr-defined]
    out = []
    for route in app.routes:
        assert isinstance(route, Route)
        for method in sorted(route.methods or ()):
            if method != "HEAD":
                out.append((method, route.path))
    return out


async def test_every_page_but_the_open_ones_needs_a_session_and_every_post_csrf(
    tmp_path: Path, clock: FakeClock
) -> None:
    app_ctx = await set_up(tmp_path, clock)
    store = app_ctx.open_store()
    try:
        async with web_client(app_ctx, store) as anonymous, web_client(app_ctx, store) as user:
            routes = _routes(anonymous)
            guarded = [(m, p) for m, p in routes if p not in OPEN | HMAC]
            assert ("GET", "/") in guarded
            assert ("POST", "/attention/{item_id:int}/replay") in guarded
            assert len(guarded) >= 11
            assert (await log_in(user)).status_code == 303
            for method, path in guarded:
                url = _concrete(path)
                answer = await anonymous.request(method, url, data={"csrf": "x"})
                if method == "GET":
                    assert answer.status_code == 303, (method, path)
                    assert answer.headers["location"].startswith("/login?next=")
                else:
                    assert answer.status_code == 401, (method, path)
                    for form in ({}, {"csrf": ""}, {"csrf": "forged-token"}):
                        refused = await user.request(method, url, data=form)
                        assert refused.status_code == 403, (method, path, form)
                        assert "nothing was done" in refused.text
            for path in ("/login", "/dashboard.css", "/healthz"):
                assert (await anonymous.get(path)).status_code == 200
            # the login form itself refuses a POST without its own token
            forged = await anonymous.post(
                "/login", data={"csrf": "x", "user": "a", "password": "b"}
            )
            assert forged.status_code == 403
    finally:
        await store.close()
