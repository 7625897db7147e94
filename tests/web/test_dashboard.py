"""The dashboard (issue 7; DESIGN §3.5): sign-in, session cookie, CSRF, pages, escaping.

Replay and reconciliation against live simulators are driven by the browser tests
(tests/browser); here the app runs in-process over ASGI with a FakeClock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest

from dash_kit import csrf_of, log_in, set_up, web_client
from ml_connector.clock import FakeClock
from ml_connector.runtime.context import AppContext
from ml_connector.sandbox.credentials import DASHBOARD_PASSWORD
from ml_connector.secrets import Secret
from ml_connector.store import Store
from ml_connector.store.records import AuditEntry
from ml_connector.store.states import AttentionState, AuditAction
from ml_connector.web.dashboard import ScheduledRun
from ml_connector.web.dashboard.chart import stacked_bars
from ml_connector.web.dashboard.session import PASSWORD_SECRET, SESSION_COOKIE

PAGES = [
    "/",
    "/attention",
    "/attention/1",
    "/audit",
    "/audit?source_id=1",
    "/audit/1",
    "/history?connection=default&flow=invoices&source_id=1",
    "/reconcile",
    "/reconcile.csv",
    "/matches",
    "/matches/1",
]


@pytest.fixture
async def app_ctx(tmp_path: Path, clock: FakeClock) -> AppContext:
    return await set_up(tmp_path, clock)


@pytest.fixture
async def store(app_ctx: AppContext) -> AsyncIterator[Store]:
    store = app_ctx.open_store()
    yield store
    await store.close()


@pytest.fixture
async def client(app_ctx: AppContext, store: Store) -> AsyncIterator[httpx.AsyncClient]:
    async with web_client(app_ctx, store) as c:
        yield c


async def _seed(store: Store, clock: FakeClock) -> tuple[int, int]:
    """Audit rows over three days and one open attention item with hostile text."""
    now = clock.now()
    async with store.transaction() as tx:
        for days_ago, flow, action, n in [
            (2, "suppliers", AuditAction.CREATE, 3),
            (1, "suppliers", AuditAction.UPDATE, 2),
            (1, "invoices", AuditAction.CREATE, 4),
            (0, "invoices", AuditAction.FAIL, 1),
            (0, "payments", AuditAction.SKIP, 5),
        ]:
            for i in range(n):
                at = now - timedelta(days=days_ago, minutes=i + 1)
                await tx.audit.append(
                    AuditEntry(
                        connection="default",
                        flow=flow,
                        source_system="servicetitan" if flow != "suppliers" else "fusion",
                        source_id=f"{flow[:3]}-{days_ago}-{i}",
                        action=action,
                        started_at=at - timedelta(seconds=1),
                        ended_at=at,
                        target_system="fusion",
                        target_id=f"T{days_ago}{i}" if action is not AuditAction.FAIL else None,
                        decisions=[{"rule": "business_unit", "detail": "BU 12 → 101"}],
                        error_message="Fusion said <b>no</b>"
                        if action is AuditAction.FAIL
                        else None,
                    )
                )
        item = await tx.attention.open(
            connection="default",
            flow="invoices",
            source_system="servicetitan",
            source_id="inv-0-0",
            reason="unmapped_customer",
            message="customer <script>alert(1)</script> has no Fusion account",
            suggestion="add it to [connections.default.mapping.customers]",
            source_record={"id": 77, "customer": {"name": "Zoë & Sons <LLC>"}},
            decisions=[{"rule": "customer", "detail": "no account for 'Zoë & Sons'"}],
        )
        audit_id = (await tx.audit.search(source_id="inv-1-0"))[0].id
    return item.id, audit_id


async def test_every_page_needs_a_session_but_login_and_health(
    client: httpx.AsyncClient,
) -> None:
    for page in PAGES:
        response = await client.get(page)
        assert response.status_code == 303, page
        assert response.headers["location"].startswith("/login?next="), page
    for path in ("/attention/1/replay", "/attention/1/ignore", "/logout"):
        assert (await client.post(path, data={"csrf": "x"})).status_code == 401
    assert (await client.get("/login")).status_code == 200
    assert (await client.get("/healthz")).status_code == 200
    assert (await client.get("/dashboard.css")).status_code == 200


async def test_login_sets_a_signed_httponly_strict_cookie(client: httpx.AsyncClient) -> None:
    response = await log_in(client)
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    cookie = next(
        h for h in response.headers.get_list("set-cookie") if h.startswith(SESSION_COOKIE)
    )
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Secure" not in cookie  # plain http on loopback
    page = await client.get("/")
    assert page.status_code == 200
    assert "Dana" in page.text
    for header in ("Content-Security-Policy", "X-Frame-Options"):
        assert header in page.headers


async def test_the_cookie_is_secure_over_https(app_ctx: AppContext, store: Store) -> None:
    async with web_client(app_ctx, store, base_url="https://dash.test") as c:
        response = await log_in(c)
    cookie = next(
        h for h in response.headers.get_list("set-cookie") if h.startswith(SESSION_COOKIE)
    )
    assert "Secure" in cookie


async def test_a_wrong_password_is_refused_and_repeated_failures_are_throttled(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    for _ in range(5):
        response = await log_in(client, password="guess")
        assert response.status_code == 401
        assert "Wrong name or password" in response.text
    throttled = await log_in(client)  # even the right password waits
    assert throttled.status_code == 429
    clock.advance(15 * 60)
    assert (await log_in(client)).status_code == 303


async def test_the_password_never_appears_in_a_page(
    client: httpx.AsyncClient, store: Store, clock: FakeClock
) -> None:
    await _seed(store, clock)
    await log_in(client)
    for page in PAGES:
        assert DASHBOARD_PASSWORD not in (await client.get(page)).text


async def test_login_needs_the_form_token_and_a_name(client: httpx.AsyncClient) -> None:
    # a login POSTed from another site has no login-form cookie: refused (login CSRF)
    forged = await client.post(
        "/login", data={"csrf": "x", "user": "Dana", "password": DASHBOARD_PASSWORD}
    )
    assert forged.status_code == 403
    assert SESSION_COOKIE not in forged.headers.get("set-cookie", "")
    assert (await log_in(client, user="  ")).status_code == 401


async def test_after_login_only_local_paths_are_followed(client: httpx.AsyncClient) -> None:
    form = await client.get("/login?next=//evil.example/x")
    response = await client.post(
        "/login",
        data={
            "csrf": csrf_of(form.text),
            "user": "Dana",
            "password": DASHBOARD_PASSWORD,
            "next": "//evil.example/x",
        },
    )
    assert response.headers["location"] == "/"
    # a page asked for before login is where login returns
    form = await client.get("/login?next=/audit%3Fsource_id%3D7")
    response = await client.post(
        "/login",
        data={
            "csrf": csrf_of(form.text),
            "user": "Dana",
            "password": DASHBOARD_PASSWORD,
            "next": "/audit?source_id=7",
        },
    )
    assert response.headers["location"] == "/audit?source_id=7"


async def test_a_session_expires_and_a_tampered_cookie_is_refused(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    await log_in(client)
    assert (await client.get("/")).status_code == 200
    value = client.cookies[SESSION_COOKIE]
    client.cookies.set(SESSION_COOKIE, value[:-2] + ("A" if value[-2] != "A" else "B") + value[-1])
    assert (await client.get("/")).status_code == 303
    client.cookies.set(SESSION_COOKIE, value)
    clock.advance(12 * 3600 + 60)
    assert (await client.get("/")).status_code == 303


async def test_a_new_password_ends_every_older_session(
    client: httpx.AsyncClient, app_ctx: AppContext, store: Store
) -> None:
    """docs/security.md: the session remembers a keyed hash of the password it was opened with;
    `secrets set dashboard.password` logs everyone out, and the cookie holds no password."""
    await log_in(client)
    assert (await client.get("/")).status_code == 200
    assert DASHBOARD_PASSWORD not in client.cookies[SESSION_COOKIE]
    async with store.transaction() as tx:
        await tx.secrets.set(app_ctx.cipher(), PASSWORD_SECRET, Secret("a-new-long-password"))
    assert (await client.get("/")).status_code == 303
    async with store.transaction() as tx:  # the old password again: the old session is valid
        await tx.secrets.set(app_ctx.cipher(), PASSWORD_SECRET, Secret(DASHBOARD_PASSWORD))
    assert (await client.get("/")).status_code == 200


async def test_posts_without_the_session_token_change_nothing(
    client: httpx.AsyncClient, store: Store, clock: FakeClock
) -> None:
    item_id, _ = await _seed(store, clock)
    await log_in(client)
    for data in ({"comment": "dup"}, {"comment": "dup", "csrf": "forged"}):
        response = await client.post(f"/attention/{item_id}/ignore", data=data)
        assert response.status_code == 403
        assert "nothing was done" in response.text
    async with store.transaction() as tx:
        item = await tx.attention.get(item_id)
    assert item is not None
    assert item.state is AttentionState.OPEN


async def test_ignore_needs_a_comment_and_records_who(
    client: httpx.AsyncClient, store: Store, clock: FakeClock
) -> None:
    item_id, _ = await _seed(store, clock)
    await log_in(client)
    page = await client.get(f"/attention/{item_id}")
    token = csrf_of(page.text)
    empty = await client.post(f"/attention/{item_id}/ignore", data={"csrf": token, "comment": " "})
    assert empty.status_code == 400
    assert "why to ignore" in empty.text
    done = await client.post(
        f"/attention/{item_id}/ignore", data={"csrf": token, "comment": "duplicate of 76"}
    )
    assert done.status_code == 303
    shown = await client.get(done.headers["location"])
    assert "Ignored." in shown.text
    async with store.transaction() as tx:
        item = await tx.attention.get(item_id)
    assert item is not None
    assert item.state is AttentionState.IGNORED
    assert item.decided_by == "Dana (dashboard)"
    assert item.comment == "duplicate of 76"
    again = await client.post(
        f"/attention/{item_id}/ignore", data={"csrf": token, "comment": "again"}
    )
    assert again.status_code == 409


async def test_attention_pages_escape_what_the_systems_sent(
    client: httpx.AsyncClient, store: Store, clock: FakeClock
) -> None:
    item_id, _ = await _seed(store, clock)
    await log_in(client)
    listing = await client.get("/attention?flow=invoices")
    assert listing.status_code == 200
    assert f'href="/attention/{item_id}"' in listing.text
    assert "<script>alert(1)</script>" not in listing.text
    assert "&lt;script&gt;" in listing.text
    detail = await client.get(f"/attention/{item_id}")
    assert "Zoë &amp; Sons &lt;LLC&gt;" in detail.text
    assert "no account for" in detail.text  # the mapping decisions
    assert "Replay" in detail.text
    assert (await client.get("/attention?flow=suppliers")).text.count('/attention/1"') == 0
    assert (await client.get("/attention?state=bogus")).status_code == 400
    assert (await client.get("/attention/999")).status_code == 404


async def test_overview_shows_flows_counts_schedule_and_a_chart(
    app_ctx: AppContext, store: Store, clock: FakeClock
) -> None:
    await _seed(store, clock)
    nxt = clock.now() + timedelta(minutes=7)
    schedule = [
        ScheduledRun(connection="default", flow="suppliers", next_run=nxt, last_run="ok: 2 updated")
    ]
    async with web_client(app_ctx, store, schedule=schedule) as c:
        await log_in(c)
        page = (await c.get("/")).text
    assert nxt.strftime("%Y-%m-%d %H:%M") in page
    assert "ok: 2 updated" in page
    # moved records only: suppliers on two days, invoices on one; failures and skips move nothing
    assert page.count('class="bar"') == 3
    assert "1 open" in page
    today = clock.now().date()
    assert f"<td>{(today - timedelta(days=1)).isoformat()}</td>" in page


def test_chart_stacks_flows_per_day_on_a_round_scale() -> None:
    d0 = date(2026, 11, 1)
    counts = {d0: {"suppliers": 3}, d0 + timedelta(days=1): {"suppliers": 2, "invoices": 4}}
    chart = stacked_bars(counts)
    assert chart.peak == 6
    assert [t[1] for t in chart.ticks] == [0, 5, 10]
    bars = [b for b in chart.bars if b.title.startswith("2026-11-02")]
    assert [b.title for b in bars] == ["2026-11-02 invoices: 4", "2026-11-02 suppliers: 2"]
    # stacked: the second bar sits on the first, heights proportional to the counts
    assert bars[1].y + bars[1].height == pytest.approx(bars[0].y, abs=0.11)
    assert bars[0].height == pytest.approx(2 * bars[1].height, abs=0.11)
    assert stacked_bars({}).bars == []


async def test_audit_search_and_a_records_history(
    client: httpx.AsyncClient, store: Store, clock: FakeClock
) -> None:
    _, audit_id = await _seed(store, clock)
    await log_in(client)
    found = await client.get("/audit", params={"source_id": "inv-1-0"})
    assert found.status_code == 200
    assert f'href="/audit/{audit_id}"' in found.text
    assert "1 row," in found.text
    by_action = await client.get("/audit", params={"action": "fail"})
    assert "Fusion said &lt;b&gt;no&lt;/b&gt;" in by_action.text
    bad = await client.get("/audit", params={"since": "last tuesday"})
    assert bad.status_code == 400
    assert "is not a date" in bad.text
    entry = await client.get(f"/audit/{audit_id}")
    assert "BU 12 → 101" in entry.text
    history = await client.get(
        "/history", params={"connection": "default", "flow": "invoices", "source_id": "inv-0-0"}
    )
    assert "1 attempt, oldest first" in history.text
    assert "Open attention item" in history.text
    assert (await client.get("/history")).status_code == 400


async def test_logout_ends_the_session(client: httpx.AsyncClient) -> None:
    await log_in(client)
    page = await client.get("/")
    response = await client.post("/logout", data={"csrf": csrf_of(page.text)})
    assert response.status_code == 303
    assert (await client.get("/")).status_code == 303


async def test_an_item_fixed_by_hand_is_resolved_with_a_comment(
    client: httpx.AsyncClient, store: Store, clock: FakeClock
) -> None:
    item_id, _ = await _seed(store, clock)
    await log_in(client)
    token = csrf_of((await client.get(f"/attention/{item_id}")).text)
    empty = await client.post(f"/attention/{item_id}/resolve", data={"csrf": token})
    assert empty.status_code == 400
    assert "what was done to resolve" in empty.text
    done = await client.post(
        f"/attention/{item_id}/resolve", data={"csrf": token, "comment": "applied in Fusion"}
    )
    assert done.status_code == 303
    assert "Resolved." in (await client.get(done.headers["location"])).text
    async with store.transaction() as tx:
        item = await tx.attention.get(item_id)
    assert item is not None
    assert item.state is AttentionState.RESOLVED
    assert (item.decided_by, item.comment) == ("Dana (dashboard)", "applied in Fusion")


async def test_the_sandbox_password_does_not_open_a_dashboard_of_a_real_system(
    tmp_path: Path, clock: FakeClock
) -> None:
    """`init` stores the documented sandbox password; once a connection points at a real system it
    no longer logs anyone in, until a password of the operator's own is set (review finding)."""
    real = {
        "ML_CONNECTOR_CONNECTIONS__DEFAULT__FUSION__BASE_URL": "https://fa-abcd.oraclecloud.com"
    }
    app_ctx = await set_up(tmp_path, clock, real)
    store = app_ctx.open_store()
    try:
        async with web_client(app_ctx, store) as c:
            refused = await log_in(c)
            assert refused.status_code == 503
            assert "still has the sandbox password" in refused.text
            async with store.transaction() as tx:
                await tx.secrets.set(
                    app_ctx.cipher(), "dashboard.password", Secret("a-password-of-our-own")
                )
            assert (await log_in(c, password="a-password-of-our-own")).status_code == 303
    finally:
        await store.close()


async def test_ids_beyond_64_bits_name_no_row(client: httpx.AsyncClient) -> None:
    """Found by the fuzz test: an id too large for the database was a 500."""
    await log_in(client)
    huge = "99999999999999999999"
    assert (await client.get(f"/attention/{huge}")).status_code == 404
    assert (await client.get(f"/audit/{huge}")).status_code == 404
    page = await client.get("/")
    refused = await client.post(
        f"/attention/{huge}/ignore", data={"csrf": csrf_of(page.text), "comment": "x"}
    )
    assert refused.status_code == 404
