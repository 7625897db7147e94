"""The version hash that decides "unchanged → skip" (DESIGN §3.1 links)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from ml_connector.mapping.decisions import version_hash

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.text(max_size=8),
    st.decimals(min_value=-(10**9), max_value=10**9, places=4),
)
payloads = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=20,
)


def _reorder(value: Any) -> Any:
    """The same payload with every dict's keys reversed and every Decimal given trailing zeros."""
    if isinstance(value, dict):
        return {k: _reorder(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [_reorder(v) for v in value]
    if isinstance(value, Decimal):
        return value.quantize(Decimal("0.000001")) if value.is_finite() else value
    return value


@given(payloads)
def test_hash_is_stable_under_key_order_and_decimal_formatting(payload: Any) -> None:
    assert version_hash(payload) == version_hash(_reorder(payload))


@given(st.dictionaries(st.text(max_size=6), st.integers(), min_size=1, max_size=5))
def test_a_changed_value_changes_the_hash(payload: dict[str, int]) -> None:
    key = next(iter(payload))
    changed = {**payload, key: payload[key] + 1}
    assert version_hash(payload) != version_hash(changed)


def test_decimal_one_and_one_point_zero_zero_hash_equal() -> None:
    assert version_hash({"cost": Decimal("1")}) == version_hash({"cost": Decimal("1.00")})
    assert version_hash({"cost": Decimal("1")}) != version_hash({"cost": Decimal("1.01")})
