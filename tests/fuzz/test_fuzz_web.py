"""Fuzzing the connector's own HTTP endpoints (issue 8): no 5xx, no exception escapes.

Hypothesis builds requests — methods, paths (real routes and junk), query strings, headers,
cookies, form fields and bodies, with huge and odd values — and sends them through
``httpx.ASGITransport`` to the web app with the dashboard and the webhook receiver enabled, once
anonymous and once with a valid session cookie (so junk POSTs reach the handlers behind the CSRF
check). ``raise_app_exceptions`` stays on: an exception escaping the app fails the test.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "web"))

from dash_kit import csrf_of, log_in, set_up
from ml_connector.clock import FakeClock
from ml_connector.sandbox.credentials import SERVICETITAN_WEBHOOK_KEY
from ml_connector.secrets import Secret
from ml_connector.settings import WebhookSettings
from ml_connector.web.app import create_web_app
from ml_connector.web.dashboard import Dashboard
from ml_connector.web.webhooks import WebhookEndpoint

PATHS = [
    "/", "/login", "/logout", "/dashboard.css", "/attention", "/attention/1",
    "/attention/99999999999999999999", "/attention/1/replay", "/attention/1/ignore", "/audit",
    "/audit/1", "/history", "/reconcile", "/reconcile.csv", "/healthz", "/readyz", "/metrics",
    "/webhooks/servicetitan/default", "/webhooks/servicetitan/nope", "/%2e%2e/etc/passwd",
]  # fmt: skip
KEYS = ["next", "q", "source_id", "flow", "month", "since", "until", "state", "page", "csrf",
        "user", "password", "connection", "format", "id", "audit_id"]  # fmt: skip
ODD = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "",
            "-1",
            "0",
            "1e400",
            "9" * 40,
            "2026-13-45",
            "2026-11",
            "NaN",
            "\x00",
            "https://evil.test/",
            "//evil.test",
            "<script>x</script>",
            "' OR 1=1 --",
            "é" * 300,
            "x" * 5000,
        ]
    ),
)
HEADER_VALUE = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60)


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    junk = st.text(max_size=30).map(lambda t: "/" + quote(t, safe="/%"))
    path = draw(st.one_of(st.sampled_from(PATHS), junk))
    return {
        "method": draw(
            st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"])
        ),
        "path": path,
        "params": draw(st.dictionaries(st.sampled_from(KEYS), ODD, max_size=4)),
        "form": draw(st.dictionaries(st.sampled_from(KEYS), ODD, max_size=5)),
        "body": draw(st.one_of(st.none(), st.binary(max_size=3000))),
        "headers": draw(
            st.dictionaries(
                st.sampled_from(
                    [
                        "content-type",
                        "x-servicetitan-signature",
                        "content-length",
                        "cookie",
                        "x-forwarded-for",
                        "accept",
                        "X-Timestamp",
                    ]
                ),
                HEADER_VALUE,
                max_size=3,
            )
        ),
        "cookies": draw(
            st.dictionaries(
                st.sampled_from(["mlc_session", "mlc_login", "x"]), HEADER_VALUE, max_size=2
            )
        ),
    }


class Rig:
    def __init__(self, tmp: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.clock = FakeClock()
        self.app_ctx = self.loop.run_until_complete(set_up(tmp, self.clock))
        self.store = self.app_ctx.open_store()
        endpoint = WebhookEndpoint(
            connection="default", settings=WebhookSettings(), key=Secret(SERVICETITAN_WEBHOOK_KEY)
        )
        app = create_web_app(
            store=self.store,
            clock=self.clock,
            endpoints={"default": endpoint},
            dashboard=Dashboard(app_ctx=self.app_ctx, store=self.store),
        )
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=("127.0.0.1", 5000)),
            base_url="http://dash.test",
        )
        self.session: dict[str, str] = {}
        self.csrf = ""

    def log_in(self) -> None:
        async def go() -> None:
            assert (await log_in(self.client)).status_code == 303
            self.session = dict(self.client.cookies)
            self.csrf = csrf_of((await self.client.get("/attention")).text)
            self.client.cookies.clear()

        self.loop.run_until_complete(go())

    def send(self, req: dict[str, Any], cookies: dict[str, str]) -> httpx.Response:
        async def go() -> httpx.Response:
            self.client.cookies.clear()
            kw: dict[str, Any] = {"params": req["params"], "headers": req["headers"]}
            if req["body"] is not None:
                kw["content"] = req["body"]
            elif req["form"] and req["method"] not in ("GET", "HEAD"):
                kw["data"] = req["form"]
            headers = {
                **req["headers"],
                "cookie": "; ".join(f"{k}={v}" for k, v in cookies.items()),
            }
            kw["headers"] = headers
            return await self.client.request(req["method"], req["path"], **kw)

        return self.loop.run_until_complete(go())

    def close(self) -> None:
        self.loop.run_until_complete(self.client.aclose())
        self.loop.run_until_complete(self.store.close())
        self.loop.close()


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    made = Rig(tmp_path_factory.mktemp("fuzz"))
    made.log_in()
    try:
        yield made
    finally:
        made.close()


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(requests())
def test_anonymous_requests_never_get_a_5xx(rig: Rig, req: dict[str, Any]) -> None:
    response = rig.send(req, req["cookies"])
    assert response.status_code < 500, (req, response.text[:300])


@FUZZ
@given(requests(), st.booleans())
def test_logged_in_junk_never_gets_a_5xx(rig: Rig, req: dict[str, Any], with_csrf: bool) -> None:
    if with_csrf and req["body"] is None and req["method"] == "POST":
        req["form"] = {**req["form"], "csrf": rig.csrf}
    response = rig.send(req, {**req["cookies"], **rig.session})
    assert response.status_code < 500, (req, response.text[:300])
