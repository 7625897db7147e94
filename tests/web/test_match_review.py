"""The dashboard's match review page (issue 11): proposals listed by entity and state, paged; a
person accepts (the proposed target or another stored candidate) or rejects one, recorded and
linked by the same code as ``match apply``; CSRF, sign-in and unknown ids as on every page.

The existing-tenant sandbox runs in-process; the dashboard opens its clients over ASGI.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from dash_kit import csrf_of, log_in, set_up
from ml_connector.clock import FakeClock
from ml_connector.http import SECRETS
from ml_connector.mapping.suppliers import SUPPLIER_KEY
from ml_connector.matching.model import Entity
from ml_connector.matching.run import match_entity, proposal_pages
from ml_connector.runtime.clients import ConnectionClients, open_clients
from ml_connector.runtime.context import AppContext
from ml_connector.sandbox.server import Sandbox, build_sandbox
from ml_connector.store import Store
from ml_connector.store.repos.matches import (
    ACCEPTED,
    PROPOSED,
    REJECTED,
    MatchProposal,
    NewProposal,
)
from ml_connector.store.states import AuditAction
from ml_connector.web import dashboard as dashboard_pkg
from ml_connector.web.app import create_web_app
from ml_connector.web.dashboard import Dashboard

WHO = "Dana (dashboard)"


@pytest.fixture(autouse=True)
def _forget_secrets() -> Iterator[None]:
    yield
    SECRETS.clear()


@pytest.fixture
def sandbox(clock: FakeClock) -> Sandbox:
    box = build_sandbox(clock=clock, existing_tenant=True)
    clock.advance(1)
    return box


@pytest.fixture
async def app_ctx(tmp_path: Path, clock: FakeClock) -> AppContext:
    return await set_up(tmp_path, clock)


@pytest.fixture
async def store(app_ctx: AppContext) -> AsyncIterator[Store]:
    store = app_ctx.open_store()
    yield store
    await store.close()


def opener(sandbox: Sandbox) -> Any:
    async def open_in_process(app_ctx: AppContext, store: Store, name: str) -> ConnectionClients:
        return await open_clients(
            app_ctx,
            store,
            name,
            fusion_transport=httpx.ASGITransport(app=sandbox.fusion_app),
            st_transport=httpx.ASGITransport(app=sandbox.st_app),
        )

    return open_in_process


@pytest.fixture
async def proposed(app_ctx: AppContext, store: Store, sandbox: Sandbox) -> list[MatchProposal]:
    """``match vendors`` over the sandbox: the proposals the page reviews."""
    guid = app_ctx.config.settings.application_guid
    assert guid
    clients = await opener(sandbox)(app_ctx, store, "default")
    try:
        ctx = clients.flow_context(store=store, clock=app_ctx.clock, application_guid=guid)
        report = await match_entity(ctx, Entity.VENDORS)
    finally:
        await clients.aclose()
    assert report.proposed > 3
    return await stored(store)


@pytest.fixture
async def client(
    app_ctx: AppContext, store: Store, sandbox: Sandbox
) -> AsyncIterator[httpx.AsyncClient]:
    dash = Dashboard(app_ctx=app_ctx, store=store, clients=opener(sandbox))
    app = create_web_app(store=store, clock=app_ctx.clock, endpoints={}, dashboard=dash)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=("127.0.0.1", 5000)),
        base_url="http://dash.test",
        follow_redirects=False,
    ) as c:
        yield c


async def stored(store: Store) -> list[MatchProposal]:
    states = (PROPOSED, ACCEPTED, REJECTED)
    return [
        p async for page in proposal_pages(store, "default", Entity.VENDORS, states) for p in page
    ]


async def one(store: Store, pid: int) -> MatchProposal:
    async with store.transaction() as tx:
        found = await tx.matches.get(pid)
    assert found is not None
    return found


def vendor_marks(sandbox: Sandbox) -> dict[str, str]:
    """ServiceTitan vendor id → the Fusion supplier our externalData key names."""
    return {
        str(v["id"]): item["value"]
        for v in sandbox.servicetitan.snapshot("vendors")
        for item in v.get("externalData") or []
        if item["key"] == SUPPLIER_KEY
    }


def listed_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r"<td><a href=\"/matches/(\d+)\">\1</a></td>", html)]


async def signed_in(client: httpx.AsyncClient) -> str:
    assert (await log_in(client)).status_code == 303
    page = await client.get("/matches")
    assert page.status_code == 200
    return csrf_of(page.text)


async def test_signing_in_is_needed_for_every_match_page(
    client: httpx.AsyncClient, store: Store, proposed: list[MatchProposal]
) -> None:
    pid = proposed[0].id
    for path in ("/matches", f"/matches/{pid}", "/matches?entity=vendors&state=all"):
        response = await client.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/login?next="), path
    for path in (f"/matches/{pid}/accept", f"/matches/{pid}/reject"):
        assert (await client.post(path, data={"csrf": "x"})).status_code == 401
    assert (await one(store, pid)).state == PROPOSED


async def test_the_list_shows_source_candidates_evidence_and_ambiguity(
    client: httpx.AsyncClient, proposed: list[MatchProposal]
) -> None:
    await signed_in(client)
    page = await client.get("/matches")
    assert page.status_code == 200
    assert '<a href="/matches" aria-current="page">Match review</a>' in page.text
    assert sorted(listed_ids(page.text)) == sorted(p.id for p in proposed)[:50]
    first = proposed[0]
    detail = await client.get(f"/matches/{first.id}")
    assert detail.status_code == 200
    text = detail.text
    assert first.source_id in text
    assert _html(first.source_label) in text
    for c in first.candidates:
        assert f'value="{c["target_id"]}"' in text  # every stored candidate can be picked
    for key in first.evidence.get("agreed") or []:
        assert key in text
    ambiguous = next(p for p in proposed if p.ambiguous)  # the sandbox has decoys
    shown = await client.get(f"/matches/{ambiguous.id}")
    assert "ambiguous" in shown.text
    assert _html(ambiguous.why_ambiguous or "") in shown.text


def _html(text: str) -> str:
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&#34;")
        .replace("'", "&#39;")
    )


async def test_filters_by_entity_and_state_and_pages(
    client: httpx.AsyncClient,
    store: Store,
    proposed: list[MatchProposal],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    csrf = await signed_in(client)
    none = await client.get("/matches?entity=customers&state=proposed")
    assert none.status_code == 200
    assert listed_ids(none.text) == []
    assert "No proposals here." in none.text

    rejected = proposed[1]
    r = await client.post(f"/matches/{rejected.id}/reject", data={"csrf": csrf})
    assert r.status_code == 303
    only = await client.get("/matches?entity=vendors&state=rejected")
    assert listed_ids(only.text) == [rejected.id]
    still = await client.get("/matches?entity=vendors&state=proposed")
    assert rejected.id not in listed_ids(still.text)
    every = await client.get("/matches?entity=vendors&state=all")
    assert rejected.id in listed_ids(every.text)

    monkeypatch.setattr("ml_connector.web.dashboard.views.MATCH_PAGE", 3)
    seen: list[int] = []
    url: str | None = "/matches?entity=vendors&state=all"
    while url is not None:
        page = await client.get(url.replace("&amp;", "&"))
        assert page.status_code == 200
        ids = listed_ids(page.text)
        assert 0 < len(ids) <= 3
        seen += ids
        found = re.search(r'href="([^"]+)" rel="next"', page.text)
        url = found.group(1) if found else None
    assert seen == sorted(p.id for p in proposed)

    for bad in ("entity=parts", "state=maybe", "after=abc", "after=99999999999999999999"):
        assert (await client.get(f"/matches?{bad}")).status_code == 400, bad


async def test_accepting_links_and_marks_the_vendor_as_match_apply_does(
    client: httpx.AsyncClient, store: Store, sandbox: Sandbox, proposed: list[MatchProposal]
) -> None:
    csrf = await signed_in(client)
    p = next(p for p in proposed if not p.ambiguous)
    response = await client.post(f"/matches/{p.id}/accept", data={"csrf": csrf})
    assert response.status_code == 303
    assert response.headers["location"] == f"/matches/{p.id}?done=accepted"
    decided = await one(store, p.id)
    assert (decided.state, decided.decided_by, decided.target_id) == (ACCEPTED, WHO, p.target_id)
    assert decided.applied_at is not None
    async with store.transaction() as tx:
        link = await tx.links.get("default", "supplier", p.source_id)
        trail = await tx.audit.history("default", "match", p.source_id)
    assert link is not None
    assert link.target_id == p.target_id
    assert vendor_marks(sandbox)[p.target_id] == p.source_id
    assert [r.action for r in trail][-2:] == [AuditAction.ACCEPT, AuditAction.UPDATE]
    assert all(r.decisions[0]["by"] == WHO for r in trail[-2:])

    page = await client.get(response.headers["location"])
    assert "Accepted and linked." in page.text
    assert WHO in page.text
    # a linked proposal has no forms left, and is not undone
    assert f'action="/matches/{p.id}/reject"' not in page.text
    again = await client.post(f"/matches/{p.id}/reject", data={"csrf": csrf})
    assert again.status_code == 409
    assert "already linked" in again.text
    assert (await one(store, p.id)).state == ACCEPTED


async def test_accepting_another_stored_candidate(
    client: httpx.AsyncClient, store: Store, sandbox: Sandbox, proposed: list[MatchProposal]
) -> None:
    csrf = await signed_in(client)
    p = next(p for p in proposed if len(p.candidates) > 1)
    other = str(p.candidates[1]["target_id"])
    assert other != p.target_id
    refused = await client.post(
        f"/matches/{p.id}/accept", data={"csrf": csrf, "target_id": "123456789"}
    )
    assert refused.status_code == 409
    assert "not a candidate" in refused.text
    assert (await one(store, p.id)).state == PROPOSED

    response = await client.post(f"/matches/{p.id}/accept", data={"csrf": csrf, "target_id": other})
    assert response.status_code == 303
    decided = await one(store, p.id)
    assert (decided.state, decided.target_id, decided.decided_by) == (ACCEPTED, other, WHO)
    assert decided.target_label == p.candidates[1]["target_label"]
    async with store.transaction() as tx:
        link = await tx.links.get("default", "supplier", p.source_id)
    assert link is not None
    assert link.target_id == other
    assert vendor_marks(sandbox).get(other) == p.source_id
    assert p.target_id not in vendor_marks(sandbox)


async def test_rejecting_from_the_list_returns_to_it(
    client: httpx.AsyncClient, store: Store, sandbox: Sandbox, proposed: list[MatchProposal]
) -> None:
    csrf = await signed_in(client)
    p = proposed[0]
    here = "/matches?connection=default&entity=vendors&state=proposed"
    response = await client.post(f"/matches/{p.id}/reject", data={"csrf": csrf, "next": here})
    assert response.status_code == 303
    assert response.headers["location"] == here
    decided = await one(store, p.id)
    assert (decided.state, decided.decided_by, decided.applied_at) == (REJECTED, WHO, None)
    async with store.transaction() as tx:
        assert await tx.links.get("default", "supplier", p.source_id) is None
        trail = await tx.audit.history("default", "match", p.source_id)
    assert trail[-1].action is AuditAction.REJECT
    assert vendor_marks(sandbox) == {}
    # elsewhere than the review list, the decision's own page
    outside = await client.post(
        f"/matches/{proposed[2].id}/reject", data={"csrf": csrf, "next": "https://evil.test/"}
    )
    assert outside.headers["location"] == f"/matches/{proposed[2].id}?done=rejected"


async def test_a_post_without_the_sessions_csrf_token_is_refused(
    client: httpx.AsyncClient, store: Store, sandbox: Sandbox, proposed: list[MatchProposal]
) -> None:
    await signed_in(client)
    p = proposed[0]
    for path in (f"/matches/{p.id}/accept", f"/matches/{p.id}/reject"):
        for data in ({"csrf": "forged"}, {}):
            response = await client.post(path, data=data)
            assert response.status_code == 403, (path, data)
    assert (await one(store, p.id)).state == PROPOSED
    assert vendor_marks(sandbox) == {}


async def test_unknown_proposal_ids_are_404(
    client: httpx.AsyncClient, proposed: list[MatchProposal]
) -> None:
    csrf = await signed_in(client)
    missing = max(p.id for p in proposed) + 1000
    for path in (f"/matches/{missing}", "/matches/99999999999999999999", "/matches/0"):
        assert (await client.get(path)).status_code == 404, path
    for path in (f"/matches/{missing}/accept", f"/matches/{missing}/reject"):
        assert (await client.post(path, data={"csrf": csrf})).status_code == 404, path
    assert (await client.get("/matches/abc")).status_code == 404


async def test_names_from_the_systems_are_escaped(client: httpx.AsyncClient, store: Store) -> None:
    hostile = "<script>alert(1)</script> & Sons"
    async with store.transaction() as tx:
        await tx.matches.save(
            NewProposal(
                connection="default",
                entity="supplier",
                source_system="fusion",
                source_id="3001",
                source_label=hostile,
                target_system="servicetitan",
                target_id="77",
                target_label='"><img src=x>',
                score=0.8,
                kind="similar",
                ambiguous=True,
                why_ambiguous="<b>two</b> candidates",
                evidence={"agreed": ["name"], "differed": ["<i>phone</i>"], "missing": []},
                candidates=[{"target_id": "77", "target_label": '"><img src=x>', "score": 0.8}],
            )
        )
        found = await tx.matches.for_source("default", "supplier", "3001")
    assert found is not None
    pid = found.id
    await signed_in(client)
    for path in ("/matches", f"/matches/{pid}"):
        text = (await client.get(path)).text
        for raw in ("<script>", "<img", "<b>two", "<i>phone"):
            assert raw not in text, (path, raw)
        assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Sons" in text


def test_the_dashboard_package_names_the_review_page() -> None:
    assert "match review" in (dashboard_pkg.__doc__ or "").lower()
