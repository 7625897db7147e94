"""Keyset paging and concurrent windows (DESIGN §3.2 rule 1, §4, §5; oracle-fusion-api.md §3.3, §8).

The simulator sorts, filters and pages like a pod (§3.1, §3.3); the fault middleware's
``on_page_served`` hook changes rows between a client's pages, the way a busy pod does.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlencode

import httpx
import pytest
from fusion_client_kit import Pod
from hypothesis import given
from hypothesis import strategies as st

from ml_connector.http import PaginationLoopError, RetriesExhausted
from ml_connector.sandbox import credentials
from ml_connector.systems.fusion.pagination import split_range
from ml_connector.systems.fusion.query import timestamp

EPOCH = datetime(2020, 1, 1, tzinfo=UTC)


def add_suppliers(pod: Pod, n: int, *, step: float = 1.0, prefix: str = "Bulk") -> list[int]:
    ids = []
    for i in range(n):
        pod.clock.advance(step)
        ids.append(
            pod.state.add_supplier(f"{prefix} {i:03d}", number=f"{prefix}{i:03d}").SupplierId
        )
    return ids


def update_first_row_once(pod: Pod) -> Callable[[str, str], None]:
    """A page hook: after the first suppliers page is served, the oldest row on it is updated,
    so it moves to the end of the LastUpdateDate order."""
    done = False

    def hook(path: str, query: str) -> None:
        nonlocal done
        if done or not path.endswith("/suppliers"):
            return
        done = True
        first = min(pod.state.suppliers.values(), key=lambda s: (s.LastUpdateDate, s.SupplierId))
        pod.clock.advance(1)
        pod.state.update_supplier(first.SupplierId, AlternateName="changed mid-read")

    return hook


async def test_rows_updated_mid_read_are_not_skipped(make_pod: Callable[..., Pod]) -> None:
    """§3.2 rule 1: a row updated between pages moves to the end; keyset paging still reads every
    other row. The same change under plain offset paging skips a row for good (contrast below)."""
    pod = make_pod()
    add_suppliers(pod, 20)
    pod.clock.advance(1)
    before = set(pod.state.suppliers)
    pod.faults.on_page_served = update_first_row_once(pod)
    pod.set_faults(insert_while_paging_every=1, paging_paths=["*/suppliers"])

    client = pod.client()
    read = [s.SupplierId async for s in client.suppliers_changed_since(EPOCH)]
    assert len(read) == len(set(read))
    assert set(read) == before  # nothing skipped; the changed row was read before it moved
    assert len(pod.recorder.calls("GET", "/suppliers")) >= 5  # really paged (5 per page)


async def test_offset_paging_would_skip_a_row(make_pod: Callable[..., Pod]) -> None:
    """The contrast for the test above: the same data and the same mid-read update, read with
    plain offset paging, loses a row that was never changed."""
    pod = make_pod()
    add_suppliers(pod, 20)
    pod.clock.advance(1)
    until = pod.clock.now()
    before = set(pod.state.suppliers)
    pod.faults.on_page_served = update_first_row_once(pod)
    pod.set_faults(insert_while_paging_every=1, paging_paths=["*/suppliers"])

    read: list[int] = []
    transport = httpx.ASGITransport(app=pod.recorder)
    auth = (credentials.FUSION_USERNAME, credentials.FUSION_PASSWORD)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://fusion.test", auth=auth
    ) as raw:
        offset = 0
        while True:
            params = {
                "q": f"LastUpdateDate<'{timestamp(until)}'",
                "orderBy": "LastUpdateDate:asc,SupplierId:asc",
                "limit": "5",
                "offset": str(offset),
            }
            body = (
                await raw.get(
                    "/fscmRestApi/resources/11.13.18.05/suppliers?" + urlencode(params),
                    headers={"REST-Framework-Version": "4"},
                )
            ).json()
            read += [item["SupplierId"] for item in body["items"]]
            if not body["hasMore"]:
                break
            offset += body["count"]
    skipped = before - set(read)
    assert len(skipped) == 1
    (lost,) = skipped
    assert pod.state.suppliers[lost].AlternateName is None  # the lost row was never changed


async def test_more_rows_at_one_instant_than_a_page(make_pod: Callable[..., Pod]) -> None:
    """§3.2 rule 1: 12 rows share one LastUpdateDate and a page holds 5; the id tiebreak pages
    within the instant and every row is read once."""
    pod = make_pod()
    pod.clock.advance(10)
    same = add_suppliers(pod, 12, step=0.0, prefix="Same")
    assert len({pod.state.suppliers[i].LastUpdateDate for i in same}) == 1
    pod.clock.advance(1)
    client = pod.client()
    read = [s.SupplierId async for s in client.suppliers_changed_since(EPOCH)]
    assert len(read) == len(set(read)) == len(pod.state.suppliers)
    assert set(same) <= set(read)
    queries = [parse_qs(c.query)["q"][0] for c in pod.recorder.calls("GET", "/suppliers")]
    assert any("SupplierId>" in q for q in queries)


async def test_until_caps_the_read_and_since_is_inclusive(pod: Pod) -> None:
    """§3.2 rule 1: rows changed at or after ``until`` (the run's start) wait for the next run;
    a row exactly at ``since`` is read."""
    pod.clock.advance(5)
    ids = add_suppliers(pod, 3)
    since = pod.state.suppliers[ids[1]].LastUpdateDate
    until = pod.clock.now() + timedelta(seconds=1)
    pod.clock.advance(5)
    pod.state.update_supplier(ids[0], AlternateName="after the run started")
    client = pod.client()
    read = [s.SupplierId async for s in client.suppliers_changed_since(since, until=until)]
    assert read == [ids[1], ids[2]]
    q = parse_qs(pod.recorder.calls("GET", "/suppliers")[0].query)["q"][0]
    assert q == (
        f"(LastUpdateDate>='{timestamp(since)}') and (LastUpdateDate<'{timestamp(until)}')"
    )


async def test_keyset_query_after_the_first_page(make_pod: Callable[..., Pod]) -> None:
    """The next-page expression asks for rows after the last (LastUpdateDate, id) seen."""
    pod = make_pod()
    add_suppliers(pod, 6)
    pod.clock.advance(1)
    client = pod.client()
    read = [s async for s in client.suppliers_changed_since(EPOCH)]
    fifth = read[4]
    q = parse_qs(pod.recorder.calls("GET", "/suppliers")[1].query)["q"][0]
    stamp = timestamp(fifth.LastUpdateDate)
    assert q.startswith(
        f"(LastUpdateDate>'{stamp}' or (LastUpdateDate='{stamp}' and SupplierId>{fifth.SupplierId}))"
    )


async def test_a_server_ignoring_q_raises_instead_of_looping(make_pod: Callable[..., Pod]) -> None:
    """PageGuard: a server that ignores the keyset filter returns page 1 again; the pager stops
    with PaginationLoopError rather than reading it forever."""
    pod = make_pod()
    add_suppliers(pod, 8)
    pod.clock.advance(1)

    def drop_q(path: str, query: str) -> str:
        params = [(k, v) for k, v in _pairs(query) if k != "q"]
        return urlencode(params)

    pod.recorder.rewrite = drop_q
    client = pod.client()
    with pytest.raises(PaginationLoopError):
        [s async for s in client.suppliers_changed_since(EPOCH)]


def _pairs(query: str) -> list[tuple[str, str]]:
    return [(k, v) for k, values in parse_qs(query).items() for v in values]


async def test_purchase_orders_filtered_by_bu_and_status(pod: Pod) -> None:
    """Purchase orders with lines and schedules, filtered by ProcurementBU and StatusCode via q."""
    pod.clock.advance(1)
    client = pod.client()
    west = [
        po.OrderNumber
        async for po in client.purchase_orders_changed_since(
            EPOCH, procurement_bus=["HVAC West BU"], statuses=["OPEN"]
        )
    ]
    assert west == ["1001"]
    closed = [po async for po in client.purchase_orders_changed_since(EPOCH, statuses=["CLOSED"])]
    assert closed == []
    both = [po async for po in client.purchase_orders_changed_since(EPOCH)]
    assert {po.OrderNumber for po in both} == {"1001", "1002"}
    assert all(po.lines and po.lines[0].schedules for po in both)


async def test_windows_read_everything_once_under_the_cap(make_pod: Callable[..., Pod]) -> None:
    """DESIGN §4: 8 disjoint windows read side by side, each by key; at most 4 requests in
    flight at the server (measured), every row once."""
    pod = make_pod()
    start = pod.clock.now()
    add_suppliers(pod, 60)
    pod.clock.advance(1)
    until = pod.clock.now()
    pod.set_faults(latency={"fixed_ms": 200})
    client = pod.client()
    pages = [page async for page in client.read_windows("suppliers", start, until, windows=8)]
    ids = [s.SupplierId for page in pages for s in page.records]
    assert len(ids) == len(set(ids)) == len(pod.state.suppliers) == 63  # 60 + 3 seeded at start
    assert {page.window.index for page in pages} >= set(range(8))
    for page in pages:
        assert all(page.window.since <= s.LastUpdateDate < page.window.until for s in page.records)
    assert 2 <= pod.recorder.peak <= 4
    assert client.concurrency_cap.peak <= 4


async def test_rows_stamped_in_a_burst_are_shared_by_the_readers(
    make_pod: Callable[..., Pod],
) -> None:
    """DESIGN §4 (concurrent windows): 40 rows stamped within 0.4 s of a range of 12 days. Equal
    slices of time would leave them all to one reader; the reader hands the upper part of what
    it has left (up to the newest row) to a new reader while slots are free. Every row once,
    every page inside its window."""
    pod = make_pod()
    start = pod.clock.now()
    pod.clock.advance(3600)
    add_suppliers(pod, 40, step=0.01)
    pod.clock.advance(10**6)
    pod.set_faults(latency={"fixed_ms": 200})  # requests overlap, as over a network
    client = pod.client()
    pages = [page async for page in client.read_windows("suppliers", start, pod.clock.now())]
    ids = [s.SupplierId for page in pages for s in page.records]
    assert len(ids) == len(set(ids)) == len(pod.state.suppliers) == 43  # 40 + 3 seeded
    for page in pages:
        assert all(page.window.since <= s.LastUpdateDate < page.window.until for s in page.records)
    by_window: dict[int, int] = {}
    for page in pages:
        by_window[page.window.index] = by_window.get(page.window.index, 0) + len(page.records)
    assert len(by_window) >= 3, by_window
    assert max(by_window.values()) <= 25, by_window


async def test_leaving_windows_early_cancels_readers(make_pod: Callable[..., Pod]) -> None:
    pod = make_pod()
    start = pod.clock.now()
    add_suppliers(pod, 30)
    pod.clock.advance(1)
    client = pod.client()
    pages = client.read_windows("suppliers", start, pod.clock.now(), windows=3)
    async for _page in pages:
        break
    await pages.aclose()  # type: ignore[attr-defined]
    assert client.concurrency_cap.in_flight == 0


@given(
    seconds=st.integers(min_value=1, max_value=10**7),
    windows=st.integers(min_value=1, max_value=16),
)
def test_split_range_is_disjoint_and_covers(seconds: int, windows: int) -> None:
    since = datetime(2024, 1, 1, tzinfo=UTC)
    until = since + timedelta(seconds=seconds)
    parts = split_range(since, until, windows)
    assert parts[0].since == since
    assert parts[-1].until == until
    assert 1 <= len(parts) <= windows
    for a, b in itertools.pairwise(parts):
        assert a.until == b.since
        assert a.since < a.until


async def test_a_failing_window_fails_the_read(make_pod: Callable[..., Pod]) -> None:
    """An error in one reader reaches the caller (and the other readers are cancelled)."""
    pod = make_pod()
    start = pod.clock.now()
    add_suppliers(pod, 10)
    pod.clock.advance(1)
    client = pod.client()
    await client.purchase_order("1001")  # token first; then every API call fails
    pod.set_faults(rate_5xx=1.0, statuses_5xx=[500])
    with pytest.raises(RetriesExhausted, match="suppliers"):
        async for _page in client.read_windows("suppliers", start, pod.clock.now(), windows=3):
            pass
    assert client.concurrency_cap.in_flight == 0


async def test_pages_follow_the_page_size(make_pod: Callable[..., Pod]) -> None:
    """Flows that commit per page get the pages as the pod served them (5 rows each here)."""
    pod = make_pod()
    add_suppliers(pod, 9)
    pod.clock.advance(1)
    client = pod.client()
    sizes = [len(page) async for page in client.supplier_pages(EPOCH)]
    assert sizes == [5, 5, 2]
    orders = [page async for page in client.purchase_order_pages(EPOCH, statuses=["OPEN"])]
    assert [len(p) for p in orders] == [2]
