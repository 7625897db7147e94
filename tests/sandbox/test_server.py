"""``ml-connector sandbox``: both simulators served on 127.0.0.1 (DESIGN §5 "Sandbox layout")."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest

from ml_connector.sandbox import credentials as sb
from ml_connector.sandbox.server import build_sandbox, serve_sandbox


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_both_simulators_answer_token_and_list_calls_over_loopback() -> None:
    box = build_sandbox()
    fusion_port, st_port = _free_port(), _free_port()
    started, stop = asyncio.Event(), asyncio.Event()
    server = asyncio.create_task(
        serve_sandbox(box, fusion_port=fusion_port, st_port=st_port, started=started, stop=stop)
    )
    try:
        await asyncio.wait_for(started.wait(), timeout=20)
        async with httpx.AsyncClient(timeout=10) as client:
            token = await client.post(
                f"http://127.0.0.1:{fusion_port}/oauth2/v1/token",
                data={"grant_type": "client_credentials", "scope": sb.FUSION_SCOPE},
                auth=(sb.FUSION_CLIENT_ID, sb.FUSION_CLIENT_SECRET),
            )
            assert token.status_code == 200
            suppliers = await client.get(
                f"http://127.0.0.1:{fusion_port}/fscmRestApi/resources/11.13.18.05/suppliers",
                headers={"Authorization": f"Bearer {token.json()['access_token']}"},
            )
            assert suppliers.status_code == 200
            assert suppliers.json()["count"] > 0
            st_token = await client.post(
                f"http://127.0.0.1:{st_port}/connect/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": sb.SERVICETITAN_CLIENT_ID,
                    "client_secret": sb.SERVICETITAN_CLIENT_SECRET,
                },
            )
            assert st_token.status_code == 200
            vendors = await client.get(
                f"http://127.0.0.1:{st_port}/inventory/v2/tenant/{sb.SERVICETITAN_TENANT_ID}/vendors",
                headers={
                    "Authorization": st_token.json()["access_token"],
                    "ST-App-Key": sb.SERVICETITAN_APP_KEY,
                },
            )
            assert vendors.status_code == 200
            assert vendors.json()["data"]
    finally:
        stop.set()
        await asyncio.wait_for(server, timeout=20)


async def test_a_taken_port_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = int(taken.getsockname()[1])
        with pytest.raises(OSError, match="could not listen"):
            await asyncio.wait_for(
                serve_sandbox(build_sandbox(), fusion_port=port, st_port=_free_port()), timeout=20
            )


async def test_changes_while_paging_fault_is_wired_in_the_served_sandbox() -> None:
    """Faults at runtime (issue 3): `insert_while_paging_every` changes rows between two pages."""
    from ml_connector.clock import FakeClock
    from ml_connector.sandbox.faults import FaultConfig

    clock = FakeClock()
    box = build_sandbox(clock=clock, fusion_faults=FaultConfig(insert_while_paging_every=1))
    before = {s.SupplierId: s.LastUpdateDate for s in box.fusion.suppliers.values()}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=box.fusion_app), base_url="http://f"
    ) as client:
        for offset in (0, 25):
            response = await client.get(
                "/fscmRestApi/resources/11.13.18.05/suppliers",
                params={"offset": offset, "onlyData": "true"},
                auth=(sb.FUSION_USERNAME, sb.FUSION_PASSWORD),
            )
            assert response.status_code == 200
    after = {s.SupplierId: s.LastUpdateDate for s in box.fusion.suppliers.values()}
    changed = len(set(after) - set(before)) + sum(1 for k in before if after[k] != before[k])
    assert changed == 2
    assert box.fusion_app.counts()["insert_while_paging"] == 2
