"""``STClient.check()``: a token, then one read of each resource, with reasons a person can act on
(DESIGN §5 "ServiceTitan auth errors"; servicetitan-api.md §1.1, §1.2)."""

from __future__ import annotations

import socket
from collections.abc import Callable

import httpx
import pytest
from st_client_kit import Sandbox

from ml_connector.sandbox.servicetitan import STSimConfig
from ml_connector.sandbox.servicetitan.config import ALL_SCOPES
from ml_connector.systems.servicetitan.check import PROBES
from ml_connector.systems.servicetitan.errors import MissingScope


async def test_check_all_ok(box: Sandbox) -> None:
    results = await box.client().check()
    assert [r.name for r in results] == ["token", *(p[0] for p in PROBES)]
    assert all(r.ok for r in results), results
    assert {r.system for r in results} == {"servicetitan"}


async def test_check_wrong_client_secret(box: Sandbox) -> None:
    """Wrong credentials → 400 invalid_client → "check client id/secret"; nothing else tried."""
    results = await box.client(client_secret="cs1.wrong").check()
    assert [r.name for r in results] == ["token", *(p[0] for p in PROBES)]
    assert not any(r.ok for r in results)
    assert "check client id/secret" in results[0].detail
    assert all(r.detail.startswith("not checked: ") for r in results[1:])
    assert "cs1.wrong" not in results[0].detail
    counts = await box.counts()
    assert counts["apiRequestsTotal"] == 0


async def test_check_wrong_app_key(box: Sandbox) -> None:
    """A bad app key is a 401 from the API → "check the app key"; the other probes are skipped."""
    results = await box.client(app_key="ak1.nope").check()
    assert results[0].ok  # the token is fine
    assert results[1].name == "vendors"
    assert not results[1].ok
    assert "check the app key" in results[1].detail
    assert len(results) == 1 + len(PROBES)
    assert all("not checked" in r.detail and "check the app key" in r.detail for r in results[2:])


async def test_check_names_a_missing_scope(make_box: Callable[..., Sandbox]) -> None:
    """403 → "scope missing: tn.…"; the other probes still run."""
    scopes = tuple(s for s in ALL_SCOPES if s != "tn.inv.receipts:r")
    box = make_box(STSimConfig(requests_per_second=100_000, scopes=scopes))
    results = {r.name: r for r in await box.client().check()}
    assert not results["receipts"].ok
    assert results["receipts"].detail == "HTTP 403: scope missing: tn.inv.receipts:r"
    assert results["materials"].ok
    assert results["vendors"].ok


async def test_missing_write_scope_is_typed(make_box: Callable[..., Sandbox]) -> None:
    scopes = tuple(s for s in ALL_SCOPES if s != "tn.acc.payments:w")
    box = make_box(STSimConfig(requests_per_second=100_000, scopes=scopes))
    client = box.client()
    with pytest.raises(MissingScope) as info:
        await client.set_payment_status(box.seed.payments, "Exported")
    assert info.value.scope == "tn.acc.payments:w"
    assert "scope missing: tn.acc.payments:w" in str(info.value)


def closed_port() -> int:
    """A 127.0.0.1 port nobody listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_check_unreachable_api_says_check_base_url(box: Sandbox) -> None:
    """A refused connection to the API host → "check base URL" (the token host works)."""
    port = closed_port()
    client = box.client(
        token_cache=box.shared_cache(),
        transport=httpx.AsyncHTTPTransport(),
        api_base_url=f"http://127.0.0.1:{port}",
    )
    results = await client.check()
    assert results[0].ok
    assert results[1].name == "vendors"
    assert not results[1].ok
    assert results[1].detail == "cannot connect: check base URL"
    assert len(results) == 1 + len(PROBES)
    assert all(r.detail == "not checked: cannot connect: check base URL" for r in results[2:])


async def test_check_wrong_tenant_says_check_tenant_id(box: Sandbox) -> None:
    """§13: a token for another tenant than the path's → 403, explained as a tenant problem."""
    results = await box.client(tenant_id=7654321).check()
    assert results[0].ok
    assert not results[1].ok
    assert (
        results[1].detail == "HTTP 403: the token is not valid for this tenant: check the tenant id"
    )
    assert len(results) == 1 + len(PROBES)
    assert all(r.detail.startswith("not checked: ") for r in results[2:])
