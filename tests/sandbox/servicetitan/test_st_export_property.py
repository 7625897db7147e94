"""Property: an export consumer that follows ``continueFrom`` never misses a change
(servicetitan-api.md §5; DESIGN §3.2 keyset rule), whatever changes happen between its pages."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.datastructures import QueryParams

from ml_connector.clock import FakeClock
from ml_connector.sandbox.servicetitan import STState
from ml_connector.sandbox.servicetitan.paging import export_envelope

# One step between two export pages: add a customer, change one, or let time pass (seconds).
steps = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.integers(0, 0)),
        st.tuples(st.just("change"), st.integers(0, 50)),
        st.tuples(st.just("wait"), st.integers(0, 3)),
    ),
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(initial=st.integers(0, 12), page_size=st.integers(1, 5), between=steps)
def test_following_continue_from_sees_the_last_version_of_every_record(
    initial: int, page_size: int, between: list[tuple[str, int]]
) -> None:
    clock = FakeClock()
    state = STState(clock=clock)
    for n in range(initial):
        state.add_customer(f"C{n}")
    seen: dict[int, str] = {}
    token: str | None = None
    pending = list(between)
    while True:
        query = QueryParams({"from": token} if token else {})
        body = export_envelope(state, "customers", query, page_size)
        for row in body["data"]:
            seen[row["id"]] = row["modifiedOn"]
        assert body["continueFrom"]
        token = body["continueFrom"]
        if pending:
            kind, arg = pending.pop(0)
            ids = [r.id for r in state.table("customers")]
            if kind == "add":
                state.add_customer("late")
            elif kind == "change" and ids:
                state.update("customers", ids[arg % len(ids)], doNotMail=True)
            else:
                clock.advance(arg)
            continue
        if not body["hasMore"]:
            break
    latest = {c["id"]: c["modifiedOn"] for c in state.snapshot("customers")}
    assert seen == latest
