"""Lenient models: money as strings or numbers, enums as integers, naive timestamps refused.

servicetitan-api.md §3, §6.4, §11.8–§11.9; oracle-fusion-api.md §1.1 (v3 child collections), §3.2, §4.7.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from pydantic import ValidationError

from ml_connector.systems.fusion import models as fusion
from ml_connector.systems.servicetitan import models as st


def test_st_invoice_money_strings_and_null_items() -> None:
    invoice = st.Invoice.model_validate(
        {
            "id": 42,
            "total": "25.69",
            "subTotal": "1.0000000000000000000",
            "items": None,
            "customFields": None,
            "invoiceDate": "2021-07-19T00:00:00Z",
            "modifiedOn": "2021-07-19T20:35:38.2876004Z",
            "reviewStatus": 3,
            "unknownNewField": {"x": 1},
        }
    )
    assert invoice.total == Decimal("25.69")
    assert invoice.subTotal == Decimal("1")
    assert invoice.items == []
    assert invoice.reviewStatus == "3"
    assert invoice.modifiedOn == datetime(2021, 7, 19, 20, 35, 38, 287600, tzinfo=UTC)


def test_st_inventory_money_numbers() -> None:
    po = st.PurchaseOrder.model_validate(
        {
            "id": 1,
            "number": "PO-1",
            "status": "Pending",
            "total": 10.1,
            "items": [{"id": 2, "quantity": 3}],
        }
    )
    assert po.total == Decimal("10.1")
    assert po.items[0].quantity == Decimal(3)


@pytest.mark.parametrize(
    ("sent", "parsed"),
    [
        ("2021-07-19T20:35:38.2876004Z", datetime(2021, 7, 19, 20, 35, 38, 287600, tzinfo=UTC)),
        ("2021-07-19T20:35:38.123456789+02:00", datetime(2021, 7, 19, 18, 35, 38, 123456, UTC)),
        (" 2021-07-19T20:35:38z ", datetime(2021, 7, 19, 20, 35, 38, tzinfo=UTC)),
        ("2021-07-19T20:35:38.5-05:30", datetime(2021, 7, 20, 2, 5, 38, 500000, tzinfo=UTC)),
    ],
)
def test_timestamps_in_every_shape_sent_become_utc(sent: str, parsed: datetime) -> None:
    """servicetitan-api.md §3: 7 fractional digits are cut to 6 (never rounded), offsets and a
    lower-case or padded ``Z`` read, the result is UTC."""
    payment = st.Payment.model_validate({"id": 1, "modifiedOn": sent})
    assert payment.modifiedOn == parsed
    assert payment.modifiedOn is not None
    assert payment.modifiedOn.utcoffset() == timedelta(0)
    assert payment.modifiedOn.isoformat().endswith("+00:00")


@pytest.mark.parametrize(
    ("sent", "parsed"),
    [
        (" 12.50 ", Decimal("12.50")),
        ("1,234.5", Decimal("1234.5")),
        ("-0.01", Decimal("-0.01")),
    ],
)
def test_amounts_as_text_in_every_shape_sent(sent: str, parsed: Decimal) -> None:
    invoice = st.Invoice.model_validate({"id": 1, "total": sent})
    assert invoice.total == parsed


@pytest.mark.parametrize(
    "bad",
    [
        "2021-07-19T20:35:38",
        "not a date",
        "2021-13-01T00:00:00Z",
        "0001-01-01T00:00:00+01:00",
        "1700000000",
        "0",
        1700000000,
    ],
)
def test_naive_or_malformed_timestamps_are_refused(bad: object) -> None:
    """Numbers, even as text, are no timestamps (pydantic-core would read them as Unix times)."""
    with pytest.raises(ValidationError):
        st.Payment.model_validate({"id": 1, "modifiedOn": bad})


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "12,34.5x", True])
def test_bad_amounts_are_refused(bad: object) -> None:
    """One error per field, whichever of the native and the lenient reading refused it last."""
    with pytest.raises(ValidationError) as info:
        st.Payment.model_validate({"id": 1, "total": bad})
    assert info.value.error_count() == 1
    assert info.value.errors()[0]["loc"] == ("total",)
    assert "not an amount" in info.value.errors()[0]["msg"]


def test_enums_as_text_numbers_or_flags_and_nothing_else() -> None:
    """servicetitan-api.md §11.8: enum values arrive as names or integers."""
    assert st.Invoice.model_validate({"id": 1, "reviewStatus": 3}).reviewStatus == "3"
    assert st.Invoice.model_validate({"id": 1, "reviewStatus": "Reviewed"}).reviewStatus == (
        "Reviewed"
    )
    assert st.Invoice.model_validate({"id": " 12 "}).id == 12
    with pytest.raises(ValidationError, match="not text, a number or a flag"):
        st.Invoice.model_validate({"id": 1, "reviewStatus": {"name": "Reviewed"}})


def test_payment_type_id_is_a_string_in_the_spec() -> None:
    payment = st.Payment.model_validate(
        {"id": 5, "typeId": 17, "appliedTo": [{"appliedTo": 42, "appliedAmount": "10.00"}]}
    )
    assert payment.typeId == "17"
    assert payment.appliedTo[0].appliedAmount == Decimal("10.00")


def test_fusion_children_as_array_or_collection() -> None:
    base = {
        "SupplierId": "300100000000001",
        "Supplier": "ACME",
        "SupplierNumber": "1001",
        "LastUpdateDate": "2026-11-02T09:51:46.001+00:00",
    }
    as_array = fusion.Supplier.model_validate({**base, "addresses": [{"SupplierAddressId": 1}]})
    as_collection = fusion.Supplier.model_validate(
        {**base, "addresses": {"items": [{"SupplierAddressId": 1}], "count": 1, "hasMore": False}}
    )
    assert as_array.addresses == as_collection.addresses
    assert as_array.SupplierId == 300100000000001
    assert as_array.LastUpdateDate.tzinfo is not None


def test_fusion_flags_and_account_combination_usability() -> None:
    combo = fusion.AccountCombination.model_validate(
        {"_CODE_COMBINATION_ID": 626955, "EnabledFlag": "Y", "DetailPostingAllowedFlag": "N"}
    )
    assert combo.usable_on(date(2026, 11, 2)) == (False, "detail posting not allowed")
    ended = fusion.AccountCombination.model_validate(
        {"_CODE_COMBINATION_ID": 1, "EnabledFlag": True, "EndDateActive": "2026-01-31"}
    )
    assert ended.usable_on(date(2026, 11, 2)) == (False, "end-dated 2026-01-31")
    ok = fusion.AccountCombination.model_validate({"_CODE_COMBINATION_ID": 2, "EnabledFlag": "Y"})
    assert ok.usable_on(date(2026, 11, 2)) == (True, "usable")


def test_fusion_supplier_activity() -> None:
    base = {
        "SupplierId": 1,
        "Supplier": "A",
        "SupplierNumber": "1",
        "LastUpdateDate": "2026-11-02T00:00:00+00:00",
    }
    assert fusion.Supplier.model_validate(base).active_on(date(2026, 11, 2))
    assert not fusion.Supplier.model_validate({**base, "Status": "INACTIVE"}).active_on(
        date(2026, 11, 2)
    )
    assert not fusion.Supplier.model_validate({**base, "InactiveDate": "2026-11-01"}).active_on(
        date(2026, 11, 2)
    )
    assert fusion.Supplier.model_validate({**base, "InactiveDate": "4712-12-31"}).active_on(
        date(2026, 11, 2)
    )
